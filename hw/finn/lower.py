"""Final QONNX graph -> FINN dataflow graph (finn-plus 1.6.1 as a library, no Vivado) + FINN estimates.

:func:`lower_finn` takes ``final.onnx`` (:mod:`hw.export`: NHWC, inputs ``ms`` (1, h, w, B) and
``pan`` (1, H, W, 1), output ``out`` (1, H, W, B)) through FINN's own transformations:

1. every final-graph node is tagged with its own name (:mod:`hw.finn.provenance`); each later
   transformation carries the tags onto the nodes it creates;
2. streamlining and conversion to HW layers (:mod:`hw.finn.steps`);
3. folding: FINN ``SetFolding`` for a target cycles/frame, or a folding JSON (``ApplyConfig``),
   or none (FINN's conversion defaults);
4. FINN's analytical estimates per HW layer (:mod:`hw.finn.estimates`).

Nodes FINN cannot turn into HW layers stay in the graph as they are (they still execute in
qonnx' ``execute_onnx``) and are listed in ``not_converted`` with the reason. Everything is
checked bit-exact against the final graph by tests/hw/finn/test_lower.py. docs/finn.md describes
the flow, the node mapping and the finn-plus bugs worked around.

Outputs in ``out_dir`` (each written to a temporary name and renamed when complete):
``finn_lowered.onnx`` (its nodes keep the provenance tags), ``finn_estimates.json``,
``folding.json`` (FINN folding-config format).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from hw.finn import env as finn_env
from hw.finn import provenance
from hw.finn.estimates import estimates, extract_folding
from hw.finn.steps import FINN_DOMAIN, convert_to_hw, is_hw, streamline
from hw.parts import DEFAULT_PART, get_part
from quant_models.common import HsbinetError, atomic_write, atomic_write_text

FINAL_INPUTS = ('ms', 'pan')
FINAL_OUTPUT = 'out'


def _load_final(final_onnx):
    """Load and check that ``final_onnx`` is a final QONNX graph (hw/export.py)."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

    path = Path(final_onnx)
    if not path.is_file():
        raise HsbinetError('Final QONNX file not found', file=str(path), expected='final.onnx written by '
                           '`hsbinet export`', found='no such file')
    try:
        model = ModelWrapper(str(path))
    except Exception as e:  # noqa: BLE001  (protobuf raises several types for a non-ONNX file)
        raise HsbinetError('Not an ONNX model', file=str(path), expected='final.onnx written by `hsbinet export`',
                           found=f'{type(e).__name__}: {str(e)[:120]}') from None
    if not isinstance(model.model, onnx.ModelProto) or len(model.graph.node) == 0:
        raise HsbinetError('Not an ONNX model', file=str(path), expected='final.onnx written by `hsbinet export`',
                           found='an empty graph')
    inits = {t.name for t in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in inits]
    outputs = [o.name for o in model.graph.output]
    if tuple(inputs) != FINAL_INPUTS or outputs != [FINAL_OUTPUT]:
        raise HsbinetError('Not a final QONNX graph', file=str(path), key='graph inputs/outputs',
                           expected=f'inputs {list(FINAL_INPUTS)}, output [{FINAL_OUTPUT!r}]',
                           found=f'inputs {inputs}, outputs {outputs}')
    ops = Counter(n.op_type for n in model.graph.node)
    if ops.get('Transpose', 0) or not (ops.get('BipolarQuant', 0) and ops.get('Conv', 0)):
        raise HsbinetError('Not a final QONNX graph', file=str(path), key='nodes',
                           expected='a channels-last binary HS-BiNet graph (BipolarQuant, Conv, no Transpose)',
                           found=', '.join(f'{k}: {v}' for k, v in sorted(ops.items())))
    for name in FINAL_INPUTS:
        shape = model.get_tensor_shape(name)
        if shape is None or len(shape) != 4 or shape[0] != 1:
            raise HsbinetError('Not a final QONNX graph', file=str(path), key=f'input {name!r}',
                               expected='an NHWC tensor (1, H, W, C)', found=str(shape))
    return model


def _read_folding(folding_file) -> dict:
    """The folding JSON ``folding_file`` (layer name -> {attribute: value}), checked."""
    path = Path(folding_file)
    if not path.is_file():
        raise HsbinetError('Folding file not found', file=str(path), expected='a FINN folding JSON '
                           '({"<HW layer name>": {"PE": .., "SIMD": ..}, ...}), e.g. folding.json of an earlier run',
                           found='no such file')
    try:
        cfg = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HsbinetError('Folding file is not JSON', file=str(path), found=str(e)) from None
    if not isinstance(cfg, dict) or not all(isinstance(v, dict) for v in cfg.values()):
        raise HsbinetError('Bad folding file', file=str(path), expected='an object of layer name -> attribute object',
                           found=type(cfg).__name__)
    return cfg


def lower_finn(final_onnx, out_dir, *, target_cycles_per_frame: int | None = None, folding_file=None,
               clock_mhz: float = 200.0, part: str = DEFAULT_PART, log: Callable[[str], None] = print) -> dict:
    """Lower a final QONNX graph (NHWC, see module docstring) with finn-plus; write
    ``finn_lowered.onnx``, ``finn_estimates.json`` and ``folding.json`` into ``out_dir``.

    ``target_cycles_per_frame``: FINN ``SetFolding`` target (clock cycles per frame; e.g.
    ``clock_hz / fps``). ``folding_file``: a FINN folding JSON (layer name -> {PE, SIMD, ...}),
    such as the ``folding.json`` of an earlier run; applied after ``SetFolding`` if both are given.
    Neither: FINN's conversion defaults (MVAU/Thresholding PE = SIMD = 1, FMPadding and
    ConvolutionInputGenerator SIMD = channels). ``clock_mhz`` only scales the reported
    throughput (frames/s) and latency (us). ``part``: FPGA part (a :mod:`hw.parts` key, alias or
    vendor part string; default :data:`hw.parts.DEFAULT_PART`) whose vendor part string FINN uses
    for ``SpecializeLayers`` and the resource estimates.

    Returns the estimates dict (the content of ``finn_estimates.json``) plus ``'files'`` and
    ``'seconds'``. Raises :class:`HsbinetError` for a missing/invalid input or folding file or a
    bad target.
    """
    t0 = time.time()
    out_dir = Path(out_dir)
    if target_cycles_per_frame is not None:
        try:
            target_cycles_per_frame = int(target_cycles_per_frame)
        except (TypeError, ValueError):
            target_cycles_per_frame = -1
        if target_cycles_per_frame < 1:
            raise HsbinetError('Bad folding target', key='target_cycles_per_frame',
                               expected='a positive number of clock cycles per frame', found=repr(target_cycles_per_frame))
    if clock_mhz is None or not float(clock_mhz) > 0:
        raise HsbinetError('Bad clock', key='clock_mhz', expected='a positive frequency in MHz', found=repr(clock_mhz))
    fpga = get_part(part)
    folding_cfg = _read_folding(folding_file) if folding_file is not None else None
    model = provenance.tag_final_nodes(_load_final(final_onnx))
    out_dir.mkdir(parents=True, exist_ok=True)
    finn_env.prepare(out_dir / 'finn_build')
    import onnxruntime
    onnxruntime.set_default_logger_severity(3)  # qonnx runs one node per session: silence opset chatter

    from qonnx.transformation.general import GiveUniqueNodeNames

    from finn.transformation.fpgadataflow.set_folding import SetFolding
    from finn.transformation.general import ApplyConfig

    log(f'FINN (finn-plus {finn_env.finn_plus_version()}) lowering {final_onnx}')
    # FINN warns once per node and pass about the 16-bit Quants it leaves alone; those nodes are
    # reported in not_converted instead
    finn_logger = logging.getLogger('finn_logger')
    level = finn_logger.level
    finn_logger.setLevel(logging.ERROR)
    try:
        model = streamline(model, log)
        model, skipped = convert_to_hw(model, fpga.vendor_part, log)
    finally:
        finn_logger.setLevel(level)
    if target_cycles_per_frame is not None:
        # two_pass_relaxation=False: the second pass calls FINN's dataflow_performance, which raises
        # KeyError on the first non-HW node (see hw.finn.estimates.dataflow_performance)
        model = provenance.carry(model, SetFolding(target_cycles_per_frame, two_pass_relaxation=False))
        model = provenance.carry(model, GiveUniqueNodeNames())
    if folding_cfg is not None:
        hw_names = {n.name for n in model.graph.node if is_hw(n)}
        unknown = sorted(k for k in folding_cfg if k != 'Defaults' and k not in hw_names)
        if unknown:
            raise HsbinetError('Folding file names layers that are not in the lowered graph', file=str(folding_file),
                               expected=f'names among {sorted(hw_names)}', found=', '.join(unknown))
        model = provenance.carry(model, ApplyConfig(folding_cfg))
    est = estimates(model, fpga, clock_mhz, target_cycles_per_frame, skipped)

    files = {'lowered': out_dir / 'finn_lowered.onnx', 'estimates': out_dir / 'finn_estimates.json',
             'folding': out_dir / 'folding.json'}
    atomic_write(files['lowered'], lambda p: model.save(str(p)))
    atomic_write_text(files['folding'], json.dumps(extract_folding(model), indent=1))
    atomic_write_text(files['estimates'], json.dumps(est, indent=1))
    build_dir = out_dir / 'finn_build'
    if build_dir.is_dir() and not any(build_dir.iterdir()):
        build_dir.rmdir()  # estimate-only: FINN generated no code there
    est['files'] = {k: str(v) for k, v in files.items()}
    est['seconds'] = round(time.time() - t0, 2)
    t = est['total']
    log(f'  {t["layers"]} HW layers, {len(est["not_converted"])} nodes not converted; max {t["max_cycles_per_frame"]} '
        f'cycles/frame ({t["bottleneck_layer"]}), LUT {t["LUT"]:.0f}, BRAM_18K {t["BRAM_18K"]:.0f}, '
        f'DSP {t["DSP"]:.0f} -> {files["estimates"]} ({est["seconds"]} s)')
    return est


def finn_python_model(lowered):
    """The lowered graph with every specialised HW layer (``*_hls`` / ``*_rtl``) turned back into
    its generic FINN HW layer, so that qonnx ``execute_onnx`` runs FINN's python model of each
    layer. Specialised layers themselves only execute through cppsim/rtlsim, which need Xilinx
    headers and Vivado XSI (not available; docs/finn.md). Node names, attributes (folding) and
    parameter tensors are unchanged."""
    from qonnx.core.modelwrapper import ModelWrapper

    model = lowered if isinstance(lowered, ModelWrapper) else ModelWrapper(str(lowered))
    model = ModelWrapper(model.model.__deepcopy__())
    for n in model.graph.node:
        for suffix in ('hls', 'rtl'):
            if n.domain == f'{FINN_DOMAIN}.{suffix}' and n.op_type.endswith(f'_{suffix}'):
                n.op_type = n.op_type[:-len(suffix) - 1]
                n.domain = FINN_DOMAIN
    return model
