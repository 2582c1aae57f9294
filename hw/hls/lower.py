"""Lower the final QONNX graph to an hls4ml io_stream project: the ``lower`` step's work.

:func:`lower_project` converts ``final.onnx`` with hls4ml (io_stream, Vitis or Vivado backend),
with every layer's type derived from worst-case bounds (:mod:`hw.hls.bounds`), writes the project
and describes it::

    <out>/hls4ml_prj/      the hls4ml project (firmware/, testbench, build_lib.sh), written, not compiled
    <out>/precisions.json  the bounds derivation: one row per layer (range, fractional bits, types)
    <out>/core.onnx        the graph hls4ml lowers: final.onnx with the bands padded for the core
                           (hw.export.passes.pad_bands) and the global residual's own upsampler
                           (hw.export.passes.upsample_skip_again); both exact
    <out>/design.json      the design description (hw.design): layers, shapes, widths, reuse, DSP binding, FIFO
                           depths, the model configuration, the layer -> PyTorch module map and
                           the content hash of hls4ml_prj/ that identifies this design; golden_float32:
                           whether the float32 PyTorch model is exact by construction (hw.hls.bounds)

The binary convs get the XNOR-popcount dense kernel of :mod:`hw.hls.xnor_kernel` (FINN's
matrix-vector unit in hls4ml's kernel slot), the products the plan names are bound to DSP48s
(:mod:`hw.hls.dsp_binding`); both are edits of the written project, checked as they are made.
An AXI4-Stream adapter (:mod:`hw.hls.axis`: TDATA width conversion, band padding, TLAST) is
written around hls4ml's top function, so the verified and shipped top is ``<project>_axis``.

The project is written with hls4ml's trace hooks (``#ifndef __SYNTHESIS__``; off unless a C
simulation enables them), so the layer trace of :mod:`sim.layer_trace` runs on this very project.

Two hls4ml behaviours are refused rather than tolerated: the optimizer
``merge_batch_norm_quantized_tanh`` folds BN + sign into ``x >= -b/s``, which is wrong for a
negative BN scale (hls4ml ignores the sign of s), so it is taken out of the flows; and any warning
that means a silent fallback (e.g. "Overriding attribute") is an error.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Callable

from hw.design import write_design
from hw.export.passes import PadBands, UpsampleSkipAgain
from hw.hls.axis import geometry_of, write_adapter
from hw.hls.bounds import FLOAT32_SIGNIFICAND_BITS, SENTINEL_DEFAULT, derive_precisions, golden_float32
from hw.hls.dsp_binding import bind_dsp_products
from hw.hls.xnor_kernel import use_xnor_kernels
from hw.hls.describe import describe
from quant_models.common import HsbinetError, atomic_write_json

BACKENDS = ('Vitis', 'Vivado')
PROJECT = 'hsbinet'
UNSAFE_PASSES = ('vivado:merge_batch_norm_quantized_tanh',)  # ignores the sign of the BN scale
DEFAULT_BAND_MULTIPLE = 8  # 16-bit samples: 8 per 128-bit word; every power of two up to 8 divides B
RESIDUAL_DELAYS = ('lr', 'hr')  # what the global residual's skip FIFO holds: LR-HS or upsampled pixels
DEFAULT_TDATA_BITS = 512   # the widest AXI4-Stream a payload bus carries (see hw/hls/axis.py)
FALLBACK_WARNINGS = ('Overriding attribute', 'not supported', 'default precision')


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


def _convert_once(qmodel, out_dir: Path, backend: str, layer_cfg: dict, part: str | None, project: str,
                  chatter: io.StringIO):
    import hls4ml
    with contextlib.redirect_stdout(chatter):
        config = hls4ml.utils.config_from_onnx_model(qmodel, granularity='name', backend=backend,
                                                     default_precision=SENTINEL_DEFAULT)
    for name, c in layer_cfg.items():
        entry = config['LayerName'].setdefault(name, {})
        entry.setdefault('Precision', {}).update(c.get('Precision', {}))
        entry.update({k: v for k, v in c.items() if k in ('ReuseFactor', 'Strategy')})
    kwargs = {'part': part} if part else {}
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(chatter):
        warnings.simplefilter('always')
        hm = hls4ml.converters.convert_from_onnx_model(qmodel, output_dir=str(out_dir), io_type='io_stream',
                                                       backend=backend, hls_config=config, project_name=project,
                                                       **kwargs)
    bad = [str(w.message) for w in caught if any(k in str(w.message) for k in FALLBACK_WARNINGS)]
    if bad:
        raise HsbinetError('hls4ml fell back silently while converting', key='hls4ml warning',
                           found=bad[0][:300], hint='a silent fallback breaks the bit-exact contract')
    return hm


def _config_names(hm, qmodel, derived: dict) -> dict:
    """hls4ml reads a layer's configuration under the name it has when it is created, the ONNX
    node's name, and some passes rename layers afterwards (Conv_2 -> Conv2D_Conv_2). So each
    derived entry is keyed by the ONNX node that produces the layer's output stream (the layer's
    provenance), or by the layer's own name for layers hls4ml inserts (Clone, ZeroPadding)."""
    out = {}
    for layer in hm.get_layers():
        if layer.name not in derived:
            continue
        node = qmodel.find_producer(layer.outputs[0]) if layer.outputs and layer.class_name != 'Input' else None
        out[node.name if node is not None and node.name != layer.name else layer.name] = derived[layer.name]
    return out


def convert(final_onnx: str | Path, out_dir: str | Path, backend: str = 'Vitis', io_bits=(16, 2),
            part: str | None = None, project: str = PROJECT, folding=None, replan=None, model_cfg: dict | None = None):
    """(hls4ml ModelGraph of ``final_onnx`` (io_stream) with bounds-derived types, derivation table).

    The input streams carry fixed<io_bits> values (the host sends sensor data already on that
    grid); every other type comes from :func:`hw.hls.bounds.derive_precisions` on a first
    conversion at :data:`SENTINEL_DEFAULT` (see hw.hls.bounds for why it is not a pass).
    ``folding``: None (reuse 1, hls4ml's FIFO depths) or a function from the design description of
    a conversion with the derived types (reuse 1) to a plan of :mod:`hw.estimates.folding` (per-layer ReuseFactor and
    strategy), which the real conversion is given; ``replan(design, plan)`` then plans the FIFO
    depth of every stream of the real conversion, and the project is written with them.
    Returns (model, derivation table, plan or None).
    """
    from qonnx.core.modelwrapper import ModelWrapper

    from hw.hls.ext import register_extensions

    if backend not in BACKENDS:
        raise HsbinetError('Unsupported hls4ml backend', key='backend', expected=' or '.join(BACKENDS), found=backend)
    register_extensions()
    _drop_unsafe_passes()
    qmodel = ModelWrapper(str(final_onnx))
    out_dir = Path(out_dir)
    chatter = io.StringIO()  # hls4ml prints every layer; keep it in a log file, not on the console
    with tempfile.TemporaryDirectory(prefix='hsbinet_bounds_') as tmp:
        first = _convert_once(qmodel, Path(tmp), backend, {}, part, project, chatter)
    derived, table = derive_precisions(first, f'fixed<{io_bits[0]},{io_bits[1]}>')
    plan = None
    if folding is not None:
        # The plan is made on a conversion with the derived types (not the first one's sentinel
        # types): accumulator widths and the DSP binding rule depend on them, so a plan made on the
        # first conversion can claim a fit that the written project misses by a few per cent.
        with tempfile.TemporaryDirectory(prefix='hsbinet_typed_') as tmp:
            typed = _convert_once(qmodel, Path(tmp), backend, _config_names(first, qmodel, derived), part, project,
                                  chatter)
        plan = folding(describe(typed, final_onnx, model_cfg=model_cfg, io_bits=io_bits))
        for name, r in plan['reuse'].items():
            entry = derived.setdefault(name, {'Precision': {}})
            entry['ReuseFactor'] = int(r)
            if r > 1:
                entry['Strategy'] = plan['strategy'][name]
    hm = _convert_once(qmodel, out_dir, backend, _config_names(first, qmodel, derived), part, project, chatter)
    if plan is not None:
        for name, impl in (plan.get('mult_impl') or {}).items():  # written by hw.hls.dsp_binding after hm.write()
            hm.graph[name].set_attr('mult_impl', impl)
        plan = replan(describe(hm, final_onnx, model_cfg=model_cfg, io_bits=io_bits), plan)
        _write_fifo_depths(hm, plan['fifo_depths'])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / 'hls4ml_convert.log').write_text(chatter.getvalue())
    left = [layer.name for layer in hm.get_layers()
            if str(layer.get_output_variable().type.precision).startswith(SENTINEL_DEFAULT[:-1])]
    if left:
        raise HsbinetError('A layer kept the default precision', key=left[0],
                           hint='add a precision rule in hw/hls/bounds.py')
    hm.config.trace_output = True  # trace hooks in the C++ (not synthesised), see the module docstring
    for layer in hm.get_layers():  # every single-stream layer can be traced (hls4ml's trace keys by name)
        layer.set_attr('trace', len(layer.get_variables()) == 1 and layer.class_name != 'Clone')
    if plan is not None:
        got = {layer.name: int(layer.get_attr('reuse_factor')) for layer in hm.get_layers() if layer.name in plan['reuse']}
        if got != {k: int(v) for k, v in plan['reuse'].items()}:
            bad = next(k for k in plan['reuse'] if got.get(k) != int(plan['reuse'][k]))
            raise HsbinetError('hls4ml did not take the planned reuse factor', key=bad,
                               expected=str(plan['reuse'][bad]), found=str(got.get(bad)))
    return hm, table, plan


def _write_fifo_depths(hm, depths: dict[str, int]) -> None:
    """Give every stream between two layers its planned depth (``"producer -> consumer"``); io_stream
    gives each stream exactly one consumer (hls4ml inserts Clone layers at fan-outs)."""
    owner = {o: layer.name for layer in hm.get_layers() for o in layer.outputs}
    missing = []
    for layer in hm.get_layers():
        if layer.class_name == 'Input':
            continue
        for v in layer.inputs:
            edge = f'{owner.get(v)} -> {layer.name}'
            if edge not in depths:
                missing.append(edge)
                continue
            hm.get_layer_output_variable(v).pragma = ('stream', int(depths[edge]))
    if missing:
        raise HsbinetError('The FIFO plan does not cover a stream of the design', key=missing[0],
                           hint='plan the folding on the design being lowered')


def core_bands_for(bands: int, multiple: int) -> int:
    """Bands of the accelerator core: ``bands`` rounded up to a multiple of ``multiple`` (1: none)."""
    if int(multiple) < 1:
        raise HsbinetError('Bad band multiple', key='hw.band_multiple', expected='an integer >= 1', found=str(multiple))
    return -(-int(bands) // int(multiple)) * int(multiple)


def lower_project(final_onnx: str | Path, out_dir: str | Path, backend: str = 'Vitis', part: str | None = None,
                  folding=None, replan=None, band_multiple: int = DEFAULT_BAND_MULTIPLE,
                  tdata_bits: int = DEFAULT_TDATA_BITS, tlast: str = 'line', residual_delay: str = 'lr',
                  log: Callable[[str], None] = print) -> dict:
    """The lowered project in ``out_dir`` (see the module docstring); returns its design description
    (as written to design.json, with the content hash ``sha256``).

    The model configuration and the io type ``fixed<io_bits>`` come from the configuration the
    export recorded in ``final_onnx`` (:func:`hw.export.model_config_of`), never from the graph.
    ``band_multiple``: the core's bands are B rounded up to this multiple (zero bands, exact; see
    :mod:`hw.export.passes.pad_bands`); the graph hls4ml lowers is then ``core.onnx`` beside
    ``final.onnx``. ``tdata_bits``/``tlast``: the AXI4-Stream adapter written around the core
    (:mod:`hw.hls.axis`).
    """
    from qonnx.core.modelwrapper import ModelWrapper

    from hw.export import model_config_of
    model_cfg = model_config_of(final_onnx)
    if model_cfg is None:
        raise HsbinetError('The QONNX graph carries no model configuration', file=str(final_onnx),
                           key='metadata hsbinet.model_config', expected='a graph written by `hsbinet export`',
                           found='none')
    io_bits = tuple(model_cfg['io_bits'])
    out_dir = Path(out_dir)
    prj = out_dir / 'hls4ml_prj'
    if Path(final_onnx).resolve() != (out_dir / 'final.onnx').resolve():  # the folder holds what it was lowered from
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(final_onnx, out_dir / 'final.onnx')
        final_onnx = out_dir / 'final.onnx'
    bands = int(model_cfg['bands'])
    core_bands = core_bands_for(bands, band_multiple)
    if residual_delay not in RESIDUAL_DELAYS:
        raise HsbinetError('Unknown residual delay', key='hw.residual_delay', expected=' or '.join(RESIDUAL_DELAYS),
                           found=repr(residual_delay))
    core_onnx = out_dir / 'core.onnx'
    core = ModelWrapper(str(final_onnx)).transform(PadBands(core_bands))
    if residual_delay == 'lr':
        core = core.transform(UpsampleSkipAgain())
    core.save(str(core_onnx))

    def interface(d: dict) -> dict:  # the description as the estimates see it: B on the bus, adapter included
        d = {**d, 'frame': {**d['frame'], 'bands': bands, 'core_bands': core_bands}}
        return {**d, 'axis': {'top': f'{d["project"]}_axis', **geometry_of(d, tdata_bits, tlast).to_dict()}}

    hm, table, plan = convert(core_onnx, prj, backend=backend, io_bits=io_bits, part=part,
                              folding=folding and (lambda d: folding(interface(d))),
                              replan=replan and (lambda d, p: replan(interface(d), p)), model_cfg=model_cfg)
    with contextlib.redirect_stdout(io.StringIO()):
        hm.write()
    bind_dsp_products(prj, hm.config.get_project_name(), [k for k, v in ((plan or {}).get('mult_impl') or {}).items() if v == 'dsp'])
    use_xnor_kernels(prj)
    atomic_write_json(out_dir / 'precisions.json', table)
    if plan is not None:
        atomic_write_json(out_dir / 'folding.json', plan)
    design = interface(describe(hm, core_onnx, model_cfg=model_cfg, io_bits=io_bits))
    design['final_onnx'], design['core_onnx'] = Path(final_onnx).name, Path(core_onnx).name
    design['golden_float32'] = golden = golden_float32(table)
    write_adapter(prj, design['project'], geometry_of(design, tdata_bits, tlast))
    design = write_design({**design, 'folding': plan}, prj, out_dir / 'design.json')
    log(f'{len(table)} layers, every precision derived from worst-case bounds -> {out_dir / "precisions.json"}; '
        f'hls4ml {backend} io_stream project {prj} (design {design["sha256"][:16]})')
    if not golden['exact']:
        # A warning, not an error: QONNX == C-simulation is still checked, and the csim verdict turns
        # red where PyTorch departs. The fix belongs in the model (e.g. quant_models.layers.bn_scale_bits).
        log(f'warning: the float32 PyTorch golden model is not exact by construction: at the worst case of '
            f'their derived ranges these layers need more than float32\'s {FLOAT32_SIGNIFICAND_BITS} significand '
            f'bits: {", ".join(golden["inexact_layers"])}. Where such values occur PyTorch may round where the '
            f'hardware does not (torch vs csim then differs, and qonnx vs csim too where onnxruntime rounds '
            f'alike); the C-simulation verdict is the measured evidence on the verified patches. Narrow what '
            f'widens them (BatchNorm scales: bn_scale_bits) for exactness by construction.')
    else:
        log(f'float32 golden model exact by construction (widest layer arithmetic: '
            f'{golden["largest_bits"]} of float32\'s {FLOAT32_SIGNIFICAND_BITS} significand bits)')
    return design
