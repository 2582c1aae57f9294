"""Final QONNX graph -> FINN dataflow graph (finn-plus 1.6.1 as a library, no Vivado) + FINN estimates.

:func:`lower_finn` takes ``final.onnx`` (hw/export.py: NHWC, inputs ``ms`` (1, h, w, B) and
``pan`` (1, H, W, 1), output ``out`` (1, H, W, B)) through FINN's own transformations:

1. layout adaptation (:mod:`hw.finn.passes`: qonnx channels-last Conv/BN -> standard ops between
   Transposes, because FINN only knows NCHW Conv/BN);
2. ``ConvertQONNXtoFINN`` (Quant/BipolarQuant activations of <= 8 bits -> MultiThreshold, weight
   quantisers folded), tidy-up, ``BatchNormToAffine``, ``LowerConvsToMatMul`` (Im2Col + MatMul),
   transpose clean-up (all cancel), streamlining with ``ConvertBipolarMatMulToXnorPopcount``;
3. conversion to HW layers (MVAU, ConvolutionInputGenerator, Thresholding, FMPadding,
   StreamingConcat, ElementwiseAdd/Mul, DuplicateStreams, ...) and ``SpecializeLayers``;
4. folding: FINN ``SetFolding`` for a target cycles/frame, or a folding JSON (``ApplyConfig``),
   or none (FINN's conversion defaults);
5. FINN's analytical estimates per HW layer: ``exp_cycles_per_layer`` (cycles per frame) and
   ``res_estimation`` (LUT, BRAM_18K, URAM, DSP), plus ``dataflow_performance``.

Nodes FINN cannot turn into HW layers stay in the graph as they are (they still execute in
qonnx' ``execute_onnx``) and are listed in ``not_converted`` with the reason. Everything is
checked bit-exact against the final graph by tests/test_finn_lower.py. docs/finn.md describes the
flow, the node mapping and the finn-plus bugs worked around.

Outputs in ``out_dir`` (each written to a temporary name and renamed when complete):
``finn_lowered.onnx``, ``finn_estimates.json``, ``folding.json`` (FINN folding-config format).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from hw.finn import env as finn_env
from quant_models.atomic import atomic_write, atomic_write_text
from quant_models.errors import HsbinetError

DEFAULT_PART = 'xqrku060-cna1509-1-b'
FOLDING_ATTRS = ('PE', 'SIMD', 'parallel_window', 'ram_style', 'ram_style_thresholds', 'resType',
                 'mem_mode', 'impl_style', 'depth_trigger_uram', 'depth_trigger_bram')
FINAL_INPUTS = ('ms', 'pan')
FINAL_OUTPUT = 'out'
FINN_DOMAIN = 'finn.custom_op.fpgadataflow'

# Why each kind of node that FINN leaves in the graph could not become a HW layer.
_REASONS = {
    'Quant': 'fixed-point requantiser wider than 8 bits (16-bit fixed point here): FINN only turns '
             'Quant of <= 8 bits into MultiThreshold (max_multithreshold_bit_width=8; a 16-bit one would '
             'need 65535 thresholds per channel), and finn-plus Requant rounds half-up whereas QONNX Quant '
             'ROUND rounds half-to-even, so a Requant would not be bit-exact',
    'BilinearResize': 'project custom op (hw.custom_ops): FINN has no bilinear upsampler (its Upsample '
                      'layer is nearest-neighbour)',
    'ChannelGate': 'project custom op (hw.custom_ops): global binary pooling + binary 1x1 + hard-sigmoid '
                   'gate needs a whole-frame buffer; no FINN HW layer',
    'MatMul': 'MVAU needs integer input and weight datatypes; this MatMul reads a FLOAT32 tensor (output '
              'of an unconverted 16-bit Quant or of a project custom op)',
    'MultiThreshold': 'Thresholding needs an integer input datatype (input is a scaled fixed-point '
                      'FLOAT32 tensor) or out_scale 1',
    'Pad': 'not a constant zero padding of H and W only',
    'Concat': 'StreamingConcat needs integer inputs; inputs are FLOAT32 (BN affine on fixed point)',
    'Mul': 'elementwise op FINN could not map (non-constant or unsupported broadcast)',
    'Add': 'elementwise op FINN could not map (non-constant or unsupported broadcast)',
}


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


def _cancel_transposes(model, transforms, rounds: int = 200):
    """Apply ``transforms`` in turn until no Transpose is left or the graph stops changing (qonnx'
    MoveChanFirstDownstream moves one Transpose per call)."""
    for _ in range(rounds):
        if not model.get_nodes_by_op_type('Transpose'):
            break
        before = model.model.SerializeToString()
        for t in transforms:
            model = model.transform(t)
        if model.model.SerializeToString() == before:
            break
    return model


def _streamline(model, log):
    """QONNX -> FINN-ONNX, tidy-up, conv lowering and streamlining; returns an NHWC graph with no
    Transpose, binary MatMuls as XnorPopcountMatMul and thresholds absorbed where FINN can."""
    from qonnx.transformation.batchnorm_to_affine import BatchNormToAffine
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.channels_last import MoveChanFirstDownstream
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import (GiveReadableTensorNames, GiveUniqueNodeNames,
                                              RemoveStaticGraphInputs, RemoveUnusedTensors, SortGraph)
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul
    from qonnx.util.cleanup import cleanup_model

    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.remove import RemoveIdentityTranspose

    from hw.finn.passes import AnnotateNHWC, UnwrapChannelsLastOps

    model = model.transform(UnwrapChannelsLastOps())
    model = model.transform(SortGraph())
    model = cleanup_model(model)
    model = model.transform(ConvertQONNXtoFINN())
    for t in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(), InferDataTypes(),
              RemoveStaticGraphInputs(), BatchNormToAffine(), LowerConvsToMatMul()):
        model = model.transform(t)
    # FINN's lowering wraps each Im2Col/MatMul in NHWC<->NCHW Transposes; with the Transposes of
    # UnwrapChannelsLastOps they cancel once the per-channel Mul/Add between them are moved.
    model = _cancel_transposes(model, [MoveChanFirstDownstream(), absorb.AbsorbConsecutiveTransposes(),
                                        RemoveIdentityTranspose()], rounds=200)
    model = model.transform(SortGraph())
    model = model.transform(AnnotateNHWC())
    model = model.transform(absorb.AbsorbScalarBiasIntoMultiThreshold())
    model = model.transform(Streamline())
    # binary MatMuls -> XnorPopcountMatMul (+ Mul 2 / Add -K); FINN's only exact binary MVAU path
    # (the python model of a BIPOLAR x BIPOLAR MVAU without xnor mode is wrong, see docs/finn.md)
    model = model.transform(ConvertBipolarMatMulToXnorPopcount())
    model = model.transform(AnnotateNHWC())
    model = model.transform(Streamline())
    model = model.transform(InferDataLayouts())
    model = model.transform(RemoveUnusedTensors())
    left = [n.name for n in model.graph.node if n.op_type == 'Transpose']
    if left:
        raise RuntimeError(f'FINN streamlining left Transpose nodes {left}: every Transpose would be a '
                           'whole-frame buffer')
    log(f'  streamlined: {dict(Counter(n.op_type for n in model.graph.node))}')
    return model


def _convert_to_hw(model, part: str, log):
    """FINN's convert-to-HW transformations (the subset that applies to HS-BiNet) and
    ``SpecializeLayers``. A transformation that raises is reported and skipped: the nodes it would
    have converted stay and show up in ``not_converted``."""
    from qonnx.transformation.general import GiveUniqueNodeNames, SortGraph
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import \
        InferBinaryMatrixVectorActivation
    from finn.transformation.fpgadataflow.convert_to_hw.concat import InferConcatLayer
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
    from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import \
        InferElementwiseBinaryOperation
    from finn.transformation.fpgadataflow.convert_to_hw.fm_padding import InferFMPadding
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import \
        InferQuantizedMatrixVectorActivation
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    from hw.finn.passes import SpatialPadToAxes

    skipped = []
    steps = [InferBinaryMatrixVectorActivation(), InferQuantizedMatrixVectorActivation(), InferThresholdingLayer(),
             SpatialPadToAxes(), InferFMPadding(), InferConvInpGen(), InferConcatLayer(),
             InferElementwiseBinaryOperation(), InferDuplicateStreamsLayer()]
    for t in steps:
        try:
            model = model.transform(t)
        except Exception as e:  # noqa: BLE001  (FINN raises FINNUserError/AssertionError per node)
            skipped.append(f'{type(t).__name__}: {type(e).__name__}: {str(e).splitlines()[0][:200]}')
            log(f'  {type(t).__name__} skipped: {skipped[-1]}')
    for t in (SortGraph(), GiveUniqueNodeNames(), InferDataLayouts(), InferShapes(), InferDataTypes(),
              SpecializeLayers(part), GiveUniqueNodeNames(), InferShapes(), InferDataTypes()):
        model = model.transform(t)
    log(f'  HW layers: {dict(Counter(n.op_type for n in model.graph.node if n.domain.startswith(FINN_DOMAIN)))}')
    return model, skipped


def _is_hw(node) -> bool:
    return node.domain.startswith(FINN_DOMAIN)


def _extract_folding(model) -> dict:
    """Folding actually set on the HW layers, in FINN's folding-config format."""
    from qonnx.custom_op.registry import getCustomOp

    cfg = {'Defaults': {}}
    for n in model.graph.node:
        if not _is_hw(n):
            continue
        inst = getCustomOp(n)
        types = inst.get_nodeattr_types()
        attrs = {a: inst.get_nodeattr(a) for a in FOLDING_ATTRS if a in types}
        cfg[n.name] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    return cfg


def _weight_signature(model, node) -> np.ndarray | None:
    """Sign pattern (w >= 0) of a Conv's weights as the (K*K*Cin, Cout) matrix FINN's
    LowerConvsToMatMul builds from them (NHWC patch order)."""
    w = model.get_initializer(node.input[1])
    if w is None:
        prod = model.find_producer(node.input[1])
        if prod is None:
            return None
        w = model.get_initializer(prod.input[0])
        if w is None:
            return None
    # channels-last Conv weights are OHWI -> (kh, kw, Cin, Cout) -> (kh*kw*Cin, Cout)
    w = np.transpose(w, (1, 2, 3, 0)).reshape(-1, w.shape[0])
    return w >= 0


def _source_nodes(final_model, lowered) -> dict[str, list[str]]:
    """HW layer name -> names of the final-graph nodes it implements (traceability for a second,
    analytical resource model). FINN renames every node, so the link is rebuilt from content:
    an MVAU is matched to the final Conv whose binarised weights have the same sign pattern (and
    shape); the ConvolutionInputGenerator / Thresholding / FMPadding chain feeding that MVAU is
    attributed to the same Conv and to its input quantiser/Pad. Other HW layers are matched by
    op kind and topological order and marked as such."""
    from qonnx.custom_op.registry import getCustomOp

    convs = [n for n in final_model.graph.node if n.op_type == 'Conv']
    sigs = {c.name: _weight_signature(final_model, c) for c in convs}
    used: set[str] = set()
    out: dict[str, list[str]] = {}
    for n in lowered.graph.node:
        if not n.op_type.startswith('MVAU'):
            continue
        w = lowered.get_initializer(n.input[1])
        if w is None:
            continue
        inst = getCustomOp(n)
        sign = (w > 0) if inst.get_nodeattr('binaryXnorMode') else (w >= 0)
        best, score = None, -1.0
        for c in convs:
            s = sigs[c.name]
            if c.name in used or s is None or s.shape != sign.shape:
                continue
            agree = float(np.mean(s == sign))
            if agree > score:
                best, score = c.name, agree
        if best is None:
            continue
        used.add(best)
        conv = next(c for c in convs if c.name == best)
        srcs = [best]
        act = final_model.find_producer(conv.input[0])
        if act is not None:
            srcs.append(act.name)
            pad = final_model.find_producer(act.input[0]) if act.op_type == 'BipolarQuant' else None
            if pad is not None and pad.op_type == 'Pad':
                srcs.append(pad.name)
        wq = final_model.find_producer(conv.input[1])
        if wq is not None:
            srcs.append(wq.name)
        out[n.name] = sorted(srcs)
        # walk up the stream feeding this MVAU: ConvInpGen, Thresholding, FMPadding belong to it
        p = lowered.find_producer(n.input[0])
        while p is not None and _is_hw(p) and p.op_type.split('_')[0] in (
                'ConvolutionInputGenerator', 'Thresholding', 'FMPadding'):
            out[p.name] = sorted(srcs)
            p = lowered.find_producer(p.input[0])
    return out


def _dataflow_performance(model, cycles: dict[str, int]) -> dict:
    """Bottleneck and critical path in cycles per frame.

    Written here because FINN's ``dataflow_performance`` analysis assumes every node is a HW layer
    and raises ``KeyError`` on the first non-HW predecessor (here e.g. ``BilinearResize_0``;
    finn/analysis/fpgadataflow/dataflow_performance.py, line 78). Same definition as FINN's: the
    latency at a node's output is its own cycles plus the largest latency at its predecessors'
    outputs; nodes that stay outside the dataflow count 0 cycles (they have no FINN estimate).
    """
    lat: dict[str, int] = {}
    producers = {o: n for n in model.graph.node for o in n.output}
    for n in model.graph.node:  # topologically sorted
        preds = [producers[i].name for i in n.input if i in producers]
        lat[n.name] = int(cycles.get(n.name, 0)) + max((lat[p] for p in preds), default=0)
    hw = {k: v for k, v in cycles.items()}
    bottleneck = max(hw, key=hw.get) if hw else None
    return {'max_cycles': hw[bottleneck] if bottleneck else 0, 'max_cycles_node_name': bottleneck,
            'critical_path_cycles': max(lat.values(), default=0)}


def _estimates(model, part: str, clock_mhz: float, target, final_model, skipped) -> dict:
    from qonnx.custom_op.registry import getCustomOp

    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation

    cycles = model.analysis(exp_cycles_per_layer)
    res = model.analysis(lambda m: res_estimation(m, part))
    folding = _extract_folding(model)
    sources = _source_nodes(final_model, model)
    layers = []
    for n in model.graph.node:
        if not _is_hw(n):
            continue
        inst = getCustomOp(n)
        r = res.get(n.name, {})
        fold = {k: v for k, v in folding.get(n.name, {}).items() if k in ('PE', 'SIMD', 'parallel_window')}
        entry = {'name': n.name, 'op_type': n.op_type, 'cycles': int(cycles.get(n.name, 0)),
                 'LUT': float(r.get('LUT', 0)), 'BRAM_18K': float(r.get('BRAM_18K', 0)),
                 'URAM': float(r.get('URAM', 0)), 'DSP': float(r.get('DSP', 0)), 'folding': fold,
                 'source_nodes': sources.get(n.name, []),
                 'input_dtype': inst.get_input_datatype(0).name, 'output_dtype': inst.get_output_datatype(0).name}
        layers.append(entry)
    perf = _dataflow_performance(model, cycles)
    max_cycles = int(perf.get('max_cycles', 0))
    total = {k: float(sum(e[k] for e in layers)) for k in ('LUT', 'BRAM_18K', 'URAM', 'DSP')}
    total.update({'layers': len(layers), 'max_cycles_per_frame': max_cycles,
                  'critical_path_cycles': int(perf.get('critical_path_cycles', 0)),
                  'bottleneck_layer': perf.get('max_cycles_node_name'),
                  'throughput_fps': (clock_mhz * 1e6 / max_cycles) if max_cycles else None,
                  'latency_us': int(perf.get('critical_path_cycles', 0)) / clock_mhz})
    not_converted = []
    for n in model.graph.node:
        if _is_hw(n):
            continue
        not_converted.append({'name': n.name, 'op_type': n.op_type,
                              'reason': _REASONS.get(n.op_type, 'no FINN HW layer for this op')})
    return {'layers': layers, 'total': total, 'not_converted': not_converted, 'skipped_transforms': skipped,
            'clock_mhz': float(clock_mhz), 'target_cycles_per_frame': target, 'part': part,
            'finn_plus_version': finn_env.finn_plus_version(),
            'source': 'FINN analytical estimates (finn.analysis.fpgadataflow: exp_cycles_per_layer, '
                      'res_estimation, dataflow_performance); cycles per frame, LUT/BRAM_18K/URAM/DSP counts'}


def lower_finn(final_onnx, out_dir, *, target_cycles_per_frame: int | None = None, folding_file=None,
               clock_mhz: float = 200.0, part: str = DEFAULT_PART, log: Callable[[str], None] = print) -> dict:
    """Lower a final QONNX graph (NHWC, see module docstring) with finn-plus; write
    ``finn_lowered.onnx``, ``finn_estimates.json`` and ``folding.json`` into ``out_dir``.

    ``target_cycles_per_frame``: FINN ``SetFolding`` target (clock cycles per frame; e.g.
    ``clock_hz / fps``). ``folding_file``: a FINN folding JSON (layer name -> {PE, SIMD, ...}),
    such as the ``folding.json`` of an earlier run; applied after ``SetFolding`` if both are given.
    Neither: FINN's conversion defaults (MVAU/Thresholding PE = SIMD = 1, FMPadding and
    ConvolutionInputGenerator SIMD = channels). ``clock_mhz`` only scales the reported
    throughput (frames/s) and latency (us). ``part``: FPGA part for ``SpecializeLayers`` and the
    resource estimates.

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
    folding_cfg = _read_folding(folding_file) if folding_file is not None else None
    model = _load_final(final_onnx)
    final_model = _load_final(final_onnx)
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
        model = _streamline(model, log)
        model, skipped = _convert_to_hw(model, part, log)
    finally:
        finn_logger.setLevel(level)
    if target_cycles_per_frame is not None:
        # two_pass_relaxation=False: the second pass calls FINN's dataflow_performance, which raises
        # KeyError on the first non-HW node (see _dataflow_performance)
        model = model.transform(SetFolding(target_cycles_per_frame, two_pass_relaxation=False))
        model = model.transform(GiveUniqueNodeNames())
    if folding_cfg is not None:
        hw_names = {n.name for n in model.graph.node if _is_hw(n)}
        unknown = sorted(k for k in folding_cfg if k != 'Defaults' and k not in hw_names)
        if unknown:
            raise HsbinetError('Folding file names layers that are not in the lowered graph', file=str(folding_file),
                               expected=f'names among {sorted(hw_names)}', found=', '.join(unknown))
        model = model.transform(ApplyConfig(folding_cfg))
    est = _estimates(model, part, clock_mhz, target_cycles_per_frame, final_model, skipped)

    files = {'lowered': out_dir / 'finn_lowered.onnx', 'estimates': out_dir / 'finn_estimates.json',
             'folding': out_dir / 'folding.json'}
    atomic_write(files['lowered'], lambda p: model.save(str(p)))
    atomic_write_text(files['folding'], json.dumps(_extract_folding(model), indent=1))
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
