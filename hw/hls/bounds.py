"""Bounds-derived fixed-point types for every layer of an hls4ml layer graph (interval arithmetic).

hls4ml cannot infer types behind binary inputs and its automatic types are either too narrow
(silent wrap-around: a 72-term popcount in fixed<16,6>) or balloon (fixed<79,41>). So every layer's
result/accumulator (and BN/conv parameter) type is derived from worst-case bounds, as tight as they
allow, by interval arithmetic over the hls4ml layer graph:

* a value is tracked as (lo, hi, f): its range and the number of fractional bits it needs;
* binary conv (1-bit XNOR input and weights): integer sum of n = k*k*Cin terms -> [-n, n], f = 0;
* fixed-point conv: sum_c |w_oc| * max|x| (worst channel), f = f_x + f_w (+ bias);
* BatchNormalization (weight scale folded in by hls4ml): y = s*x + b, exact f = f_x + f_s, f_b;
* Add: ranges add, f = max; Concatenate: union; ZeroPadding/Clone: unchanged (0 included);
* Quant (Activation with a quantizer type): its own saturating type, as exported by Brevitas; a
  Quant that hls4ml merged into the layer in front (first conversion) is what that layer's
  consumers read;
* BilinearResize / ChannelGate (hw.hls.ext): their own exact derivations;
* HaarDWT / HaarIDWT: sums of four terms halved, f + 1; the DWT's range [min(2lo, lo-hi),
  max(2hi, hi-lo)], the IDWT's twice the largest magnitude of its input (sub-bands mix signs).
A type is ``fixed<W,I>`` with the fewest integer bits I that hold [lo, hi] and W = I + f: exact,
never wrapping.

The same bounds say whether the float32 PyTorch golden model is exact by construction: every
row's ``golden_bits`` is the significand a float32 needs to hold any value of that layer's
arithmetic on its grid (its result; a conv's accumulator bound covers its partial sums; a
BatchNorm's per channel, product s_c * x and sum s_c * x + b_c each on that channel's own grid). Within 24 bits
PyTorch computes exactly what the hardware computes, on any CPU and in any summation order; above
it, float32 may round where the fixed-point hardware does not (reported by
the lower step and in design.json: :func:`golden_float32`). One refinement keeps the check from flagging exact designs: an
Add read only by saturating quantisers counts only the values inside their range, because a single
correctly rounded add is monotone and the range's ends are floats, so whatever lies beyond
saturates to the same end (the global residual of an untrained model: bilinear +-2 on 2^-20 plus a
decoder output on 2^-23 needs 25 bits only where the output quantiser saturates anyway).

The derivation needs the layer graph exactly as hls4ml builds it (after QONNX parsing, BN folding,
io_stream Clone/ZeroPadding insertion, pointwise-conv conversion), and hls4ml's structural passes
depend on the configured types (e.g. whether a Quant merges into the preceding layer's output), so
it runs on a first conversion with every type at :data:`SENTINEL_DEFAULT` and the result is given to
the real conversion as its per-layer configuration (:func:`hw.hls.lower.convert`). Running it as an
optimizer pass inside one conversion was tried: the passes before it then see other types and
build a different graph (measured: merged Quant layers, wider accumulators), so it is not done.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hw.hls.ext.precision import bilinear_extra_frac_bits
from quant_models.common import HsbinetError

SENTINEL_DEFAULT = 'fixed<3,3>'  # the model default at conversion: no layer may keep it
FLOAT32_SIGNIFICAND_BITS = 24  # every integer up to 2^24 is a float32
# layers that compute nothing: their values are their producers' (checked there); their common grid
# over channels from different producers would flag a width no single value has
DATA_MOVES = ('Concatenate', 'ZeroPadding2D', 'Clone', 'Input')


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


def golden_bits(*ivs: Interval) -> int:
    """Significand bits a float holds every value of ``ivs`` with: the largest magnitude on its grid,
    max(|lo|, |hi|) * 2^frac <= 2^bits (at least 1)."""
    m = max(max(abs(iv.lo), abs(iv.hi)) * 2.0 ** iv.frac for iv in ivs)
    return math.ceil(math.log2(m)) if m > 1 else 1


def golden_float32(table: list[dict]) -> dict:
    """Whether the float32 golden model of a derivation table is exact by construction:
    {exact, largest_bits, inexact_layers}, the layers as ``"name (class, N bits)"`` (layers that
    compute something; there float32 may round where the hardware does not)."""
    rows = [row for row in table if row['class'] not in DATA_MOVES]
    inexact = [f"{row['layer']} ({row['class']}, {row['golden_bits']} bits)" for row in rows
               if row['golden_bits'] > FLOAT32_SIGNIFICAND_BITS]
    return {'exact': not inexact, 'largest_bits': max(row['golden_bits'] for row in rows), 'inexact_layers': inexact}


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
        bn_bits = None  # a BatchNorm's golden_bits, per channel
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
            # golden_bits per channel: each channel's s_c * x + b_c on its own grid (the type's common
            # grid would count the fine LSB of a small scale at the magnitude of a large one)
            xmax = max(abs(src.lo), abs(src.hi))
            per_channel = []
            for sc, bc in zip(s.ravel(), np.broadcast_to(bb.ravel(), s.ravel().shape)):
                fs = src.frac + frac_bits_of(np.array([sc]))
                per_channel.append(golden_bits(Interval(-abs(sc) * xmax, abs(sc) * xmax, fs),
                                               Interval(-abs(sc) * xmax - abs(bc), abs(sc) * xmax + abs(bc),
                                                        max(fs, frac_bits_of(np.array([bc]))))))
            bn_bits = max(per_channel)
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
        elif cls in ('HaarDWT', 'HaarIDWT'):  # (+-x0 +-x1 +-x2 +-x3) / 2: one more fractional bit
            src = out_of(layer)
            lo, hi = min(src.lo, -src.hi), max(src.hi, -src.lo)  # a term enters with either sign
            if cls == 'HaarDWT':  # the LL band adds four same-signed terms, the others two of each sign
                lo, hi = min(2 * src.lo, src.lo - src.hi), max(2 * src.hi, src.hi - src.lo)
            else:
                lo, hi = 2 * lo, 2 * hi
            iv = Interval(lo, hi, src.frac + 1)
            prec['result'] = iv.fixed()
        elif cls == 'ChannelGate':  # exact type derived by hw.hls.ext
            iv = _prec_interval(layer.get_output_variable().type.precision)
        else:
            raise HsbinetError('No precision rule for this hls4ml layer', key=f'{layer.name} ({cls})',
                               hint='add a rule in hw/hls/bounds.py before lowering this graph')
        row = {'layer': layer.name, 'class': cls, 'range': [iv.lo, iv.hi], 'frac_bits': iv.frac,
               'golden_bits': golden_bits(iv) if bn_bits is None else bn_bits, **prec}
        merged = layer.get_attr('quantizer') if cls != 'Activation' else None
        if merged is not None:
            # hls4ml's MergeLinearActivation folded the Quant behind this layer into its output type
            # in this (first) conversion only: the real one sets this layer's type, so the Quant stays
            # a layer of its own there, and what the consumers read is the Quant's saturating type
            # (measured: a tail conv's 2^-24 grid made the global residual add "need" 25 bits and a
            # type 4 bits too wide, although it adds the quantised fixed<16,2> output)
            q = _prec_interval(layer.get_output_variable().type.precision)
            row['read_as'] = str(layer.get_output_variable().type.precision)
            if 'result' in prec and q.lo <= iv.lo and iv.hi <= q.hi and iv.frac <= q.frac:
                # the Quant changes no value this layer can produce: the layer's result takes its
                # type, so the real conversion drops it as a cast-free linear activation (no logic)
                prec['result'] = row['result'] = row['read_as']
            g = 2.0 ** -q.frac  # rounding to the Quant's grid moves a value by up to half a step
            iv = Interval(max(q.lo, math.floor(iv.lo / g) * g), min(q.hi, math.ceil(iv.hi / g) * g),
                          min(iv.frac, q.frac))
        ranges[layer.name] = iv
        if prec:
            config[layer.name] = {'Precision': prec}
        table.append(row)
    _clip_adds_before_saturation(hls_model, ranges, table)
    return config, table


def _clip_adds_before_saturation(hls_model, ranges: dict[str, Interval], table: list[dict]) -> None:
    """golden_bits of an Add read only by saturating quantisers: its values inside their range."""
    readers: dict[str, list] = {}
    for layer in hls_model.get_layers():
        for v in layer.inputs:
            src = layer.get_input_node(v)
            if src is not None:  # an Input layer names its own stream
                readers.setdefault(src.name, []).append(layer)
    by_name = {row['layer']: row for row in table}
    for row in table:
        rd = readers.get(row['layer'], [])
        # a saturating quantiser is an Activation with its own fixed type ('result'); a sign has none
        if row['class'] != 'Merge' or not rd or not all(r.class_name == 'Activation' and 'result' in by_name[r.name]
                                                        for r in rd):
            continue
        iv = ranges[row['layer']]
        lo, hi = min(ranges[r.name].lo for r in rd), max(ranges[r.name].hi for r in rd)
        row['golden_bits'] = golden_bits(Interval(max(iv.lo, lo), min(iv.hi, hi), iv.frac))


def _parse(prec: str):
    from hls4ml.model.types import FixedPrecisionType
    p = prec.replace(' ', '')
    signed = not p.startswith('u')
    w, i = p[p.index('<') + 1:p.index('>')].split(',')[:2]
    return FixedPrecisionType(int(w), int(i), signed)
