"""Lower the final QONNX graph to an hls4ml io_stream project with bounds-derived precisions.

hls4ml cannot infer types behind binary inputs and its automatic types are either too narrow
(silent wrap-around: a 72-term popcount in fixed<16,6>) or balloon (fixed<79,41>). So every layer's
result/accumulator (and BN/conv parameter) type is derived here from worst-case bounds, as tight as
they allow, by interval arithmetic over the hls4ml layer graph of a first conversion:

* a value is tracked as (lo, hi, f): its range and the number of fractional bits it needs;
* binary conv (1-bit XNOR input and weights): integer sum of n = k*k*Cin terms -> [-n, n], f = 0;
* fixed-point conv: sum_c |w_oc| * max|x| (worst channel), f = f_x + f_w (+ bias);
* BatchNormalization (weight scale folded in by hls4ml): y = s*x + b, exact f = f_x + f_s, f_b;
* Add: ranges add, f = max; Concatenate: union; ZeroPadding/Clone: unchanged (0 included);
* Quant (Activation with a quantizer type): its own saturating type, as exported by Brevitas;
* BilinearResize / ChannelGate (hw.hls4ml_ext): their own exact derivations.
A type is ``fixed<W,I>`` with the fewest integer bits I that hold [lo, hi] and W = I + f: exact,
never wrapping. The table of every decision is returned and written into the build folder.

Two hls4ml behaviours are refused rather than tolerated: the optimizer
``merge_batch_norm_quantized_tanh`` folds BN + sign into ``x >= -b/s``, which is wrong for a
negative BN scale (hls4ml ignores the sign of s), so it is skipped; and any warning that means a
silent fallback (e.g. "Overriding attribute") is turned into an error.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw.hls4ml_ext.precision import bilinear_extra_frac_bits
from quant_models.errors import HsbinetError

UNSAFE_PASSES = ('vivado:merge_batch_norm_quantized_tanh',)  # ignores the sign of the BN scale
FALLBACK_WARNINGS = ('Overriding attribute', 'not supported', 'default precision')
SENTINEL_DEFAULT = 'fixed<3,3>'  # no layer may keep it: any layer left at this type is an error


@dataclass
class Interval:
    lo: float
    hi: float
    frac: int

    def fixed(self) -> str:
        """Smallest signed fixed<W,I> holding [lo, hi] on the 2^-frac grid (or unsigned if lo >= 0)."""
        f = max(self.frac, 0)
        ulp = 2.0 ** -f
        if self.lo >= 0:
            i = 0
            while self.hi > 2.0 ** i - ulp:
                i += 1
            while i > -f + 1 and self.hi <= 2.0 ** (i - 1) - ulp:
                i -= 1
            return f'ufixed<{max(i + f, 1)},{i}>'
        i = 1
        while self.hi > 2.0 ** (i - 1) - ulp or self.lo < -(2.0 ** (i - 1)):
            i += 1
        return f'fixed<{i + f},{i}>'


def frac_bits_of(values: np.ndarray, limit: int = 40) -> int:
    """Fewest fractional bits f with every value an integer multiple of 2^-f (error beyond limit)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    for f in range(0, limit + 1):
        s = v * 2.0 ** f
        if np.array_equal(s, np.round(s)):
            return f
    raise HsbinetError('A parameter is not exactly representable in fixed point', key='weights',
                       expected=f'values on a 2^-f grid with f <= {limit}', found=f'e.g. {v[0]!r}')


def _prec_interval(prec) -> Interval:
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType, XnorPrecisionType
    if isinstance(prec, XnorPrecisionType):
        return Interval(-1.0, 1.0, 0)
    if isinstance(prec, IntegerPrecisionType):
        w = prec.width
        return Interval(-(2.0 ** (w - 1)) if prec.signed else 0.0, 2.0 ** (w - 1) - 1 if prec.signed else 2.0 ** w - 1, 0)
    if isinstance(prec, FixedPrecisionType):
        f = prec.width - prec.integer
        lo = -(2.0 ** (prec.integer - 1)) if prec.signed else 0.0
        hi = (2.0 ** (prec.integer - 1) if prec.signed else 2.0 ** prec.integer) - 2.0 ** -f
        return Interval(lo, hi, f)
    raise HsbinetError('Unknown hls4ml precision type', key=str(prec))


def _param(values: np.ndarray) -> tuple[str, Interval]:
    v = np.asarray(values, dtype=np.float64)
    iv = Interval(float(min(v.min(), 0.0)), float(max(v.max(), 0.0)), frac_bits_of(v))
    return iv.fixed(), iv


def derive_precisions(hls_model, input_precision: str) -> tuple[dict, list[dict]]:
    """Per-layer precision config (hls4ml 'LayerName' entries) and the derivation table."""
    from hls4ml.model.types import XnorPrecisionType

    ranges: dict[str, Interval] = {}
    config: dict[str, dict] = {}
    table: list[dict] = []

    def out_of(layer) -> Interval:
        return ranges[layer.get_input_node(layer.inputs[0]).name] if layer.inputs else None

    for layer in hls_model.get_layers():
        cls = layer.class_name
        prec = {}
        if cls == 'Input':
            iv = _prec_interval(_parse(input_precision))
            prec['result'] = input_precision
        elif cls == 'Activation':
            out_prec = layer.get_output_variable().type.precision
            if isinstance(out_prec, XnorPrecisionType):
                iv = Interval(-1.0, 1.0, 0)
            else:  # a Quant: its own saturating type
                iv = _prec_interval(out_prec)
                prec['result'] = str(out_prec)
        elif cls in ('ZeroPadding2D', 'Clone'):
            src = out_of(layer)
            iv = Interval(min(src.lo, 0.0), max(src.hi, 0.0), src.frac)
            prec['result'] = iv.fixed()
        elif cls in ('Conv2D', 'PointwiseConv2D'):
            src = out_of(layer)
            w = layer.weights['weight']
            b = layer.weights.get('bias')
            bias = np.zeros(1) if b is None else b.data
            if isinstance(w.type.precision, XnorPrecisionType):
                n = int(np.prod(w.data.shape[:-1]))
                iv = Interval(-n + float(bias.min()), n + float(bias.max()), max(0, frac_bits_of(bias)))
            else:
                wd = np.asarray(w.data, dtype=np.float64)  # (kh, kw, cin, cout)
                wp, wiv = _param(wd)
                prec['weight'] = wp
                xmax = max(abs(src.lo), abs(src.hi))
                per_out = np.abs(wd).reshape(-1, wd.shape[-1]).sum(axis=0) * xmax
                bp, biv = _param(bias)
                prec['bias'] = bp
                iv = Interval(-float(per_out.max()) + min(biv.lo, 0), float(per_out.max()) + biv.hi,
                              max(src.frac + wiv.frac, biv.frac))
            prec['accum'] = prec['result'] = iv.fixed()
        elif cls == 'BatchNormalization':
            src = out_of(layer)
            s = np.asarray(layer.weights['scale'].data, dtype=np.float64)
            bb = np.asarray(layer.weights['bias'].data, dtype=np.float64)
            prec['scale'], siv = _param(s)
            prec['bias'], biv = _param(bb)
            cand = np.stack([s * src.lo, s * src.hi]) + bb
            iv = Interval(float(cand.min()), float(cand.max()), max(src.frac + siv.frac, biv.frac))
            prec['result'] = iv.fixed()
        elif cls == 'Merge':  # Add
            a = ranges[layer.get_input_node(layer.inputs[0]).name]
            c = ranges[layer.get_input_node(layer.inputs[1]).name]
            iv = Interval(a.lo + c.lo, a.hi + c.hi, max(a.frac, c.frac))
            prec['result'] = iv.fixed()
        elif cls == 'Concatenate':
            a = ranges[layer.get_input_node(layer.inputs[0]).name]
            c = ranges[layer.get_input_node(layer.inputs[1]).name]
            iv = Interval(min(a.lo, c.lo), max(a.hi, c.hi), max(a.frac, c.frac))
            prec['result'] = iv.fixed()
        elif cls == 'BilinearResize':  # a convex combination: input range, more fractional bits
            src = out_of(layer)
            iv = Interval(src.lo, src.hi, src.frac + bilinear_extra_frac_bits(int(layer.get_attr('ratio'))))
            prec['result'] = iv.fixed()
        elif cls == 'ChannelGate':  # exact type derived by hw.hls4ml_ext
            iv = _prec_interval(layer.get_output_variable().type.precision)
        else:
            raise HsbinetError('No precision rule for this hls4ml layer', key=f'{layer.name} ({cls})',
                               hint='add a rule in hw/hls4ml_lower.py before lowering this graph')
        ranges[layer.name] = iv
        if prec:
            config[layer.name] = {'Precision': prec}
        table.append({'layer': layer.name, 'class': cls, 'range': [iv.lo, iv.hi], 'frac_bits': iv.frac, **prec})
    return config, table


def _parse(prec: str):
    from hls4ml.model.types import FixedPrecisionType
    p = prec.replace(' ', '')
    signed = not p.startswith('u')
    w, i = p[p.index('<') + 1:p.index('>')].split(',')[:2]
    return FixedPrecisionType(int(w), int(i), signed)


def _drop_unsafe_passes() -> None:
    """Remove UNSAFE_PASSES from hls4ml's registered flows.

    hls4ml's own ``SkipOptimizers`` config is not honoured by its flows in 1.3.0 (its source says
    "this is now effectively broken"), so the pass is taken out of the flow that lists it.
    """
    from hls4ml.model.flow.flow import flow_map
    for flow in flow_map.values():
        opts = getattr(flow, '_optimizers', None)
        if isinstance(opts, list):
            opts[:] = [o for o in opts if o not in UNSAFE_PASSES]


def _convert(qmodel, out_dir: Path, backend: str, layer_cfg: dict | None, part: str | None, project: str):
    import hls4ml
    from hw.hls4ml_ext import register_extensions

    register_extensions()
    _drop_unsafe_passes()
    chatter = io.StringIO()  # hls4ml prints every layer; keep it in a log file, not on the console
    with contextlib.redirect_stdout(chatter):
        config = hls4ml.utils.config_from_onnx_model(qmodel, granularity='name', backend=backend,
                                                     default_precision=SENTINEL_DEFAULT)
    for name, c in (layer_cfg or {}).items():
        # hls4ml renames ONNX Conv nodes (Conv_2 -> Conv2D_Conv_2) after reading the config by the
        # ONNX name, so a rule is written under both names
        for key in {name, name.removeprefix('Conv2D_')}:
            config['LayerName'].setdefault(key, {}).setdefault('Precision', {}).update(c['Precision'])
    kwargs = {'part': part} if part else {}
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(chatter):
        warnings.simplefilter('always')
        hm = hls4ml.converters.convert_from_onnx_model(qmodel, output_dir=str(out_dir), io_type='io_stream',
                                                       backend=backend, hls_config=config, project_name=project,
                                                       **kwargs)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / 'hls4ml_convert.log').write_text(chatter.getvalue())
    bad = [str(w.message) for w in caught if any(k in str(w.message) for k in FALLBACK_WARNINGS)]
    if bad:
        raise HsbinetError('hls4ml fell back silently while converting', key='hls4ml warning',
                           found=bad[0][:300], hint='a silent fallback breaks the bit-exact contract')
    return hm


def lower_hls4ml(final_onnx: str | Path, out_dir: str | Path, backend: str = 'Vitis', io_bits=(16, 2),
                 part: str | None = None, project: str = 'hsbinet') -> tuple[object, list[dict]]:
    """Convert ``final_onnx`` into an hls4ml io_stream project in ``out_dir``; returns (model, table).

    The input streams carry fixed<io_bits> values (the host sends sensor data already on that grid).
    """
    from qonnx.core.modelwrapper import ModelWrapper

    if backend not in ('Vitis', 'Vivado'):
        raise HsbinetError('Unsupported hls4ml backend', key='backend', expected='Vitis or Vivado', found=backend)
    qmodel = ModelWrapper(str(final_onnx))
    out_dir = Path(out_dir)
    first = _convert(qmodel, out_dir / '_probe', backend, None, part, project)
    layer_cfg, table = derive_precisions(first, f'fixed<{io_bits[0]},{io_bits[1]}>')
    hm = _convert(qmodel, out_dir, backend, layer_cfg, part, project)
    left = [layer.name for layer in hm.get_layers()
            if str(layer.get_output_variable().type.precision).startswith(SENTINEL_DEFAULT[:-1])]
    if left:
        raise HsbinetError('A layer kept the default precision', key=left[0], hint='add a precision rule')
    shutil.rmtree(out_dir / '_probe', ignore_errors=True)
    return hm, table
