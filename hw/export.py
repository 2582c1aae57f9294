"""HS-BiNet (hardware profile, Brevitas) -> raw QONNX -> final channels-last QONNX for hls4ml.

- :func:`export_qonnx`: raw Brevitas QONNX export at batch 1 for a PAN patch (H, W); the MS input
  is (H/ratio, W/ratio). The raw graph is NCHW, as PyTorch.
- :func:`build_final_qonnx`: qonnx ``cleanup_model`` + ``ConvertToChannelsLastAndClean``, then the
  project's passes (:mod:`hw.qonnx_passes`) for what qonnx lacks. The result has no Transpose,
  both inputs NHWC (``ms`` (1, h, w, B), ``pan`` (1, H, W, 1)), the output NHWC (``out``
  (1, H, W, B)), and the two fused custom ops ``BilinearResize`` and ``ChannelGate``
  (:mod:`hw.custom_ops`) in place of the bilinear Resize and the channel-attention subgraph.
- :func:`export_and_verify`: both exports plus the bit-exact check eval-mode PyTorch == qonnx
  ``execute_onnx`` of the final graph (``np.array_equal``, no tolerance).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime
import torch
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
from qonnx.util.cleanup import cleanup_model

from hw.qonnx_passes import (FillResizeRoi, FuseChannelGate, MakeInputsChannelsLast, ResizeToBilinearResize,
                             SinkChannelsFirstTransposes, SplitWideConcat, StripEmptyOptionalInputs, rename_tensor,
                             check_final_graph, op_histogram, reinfer_shapes, set_input_shapes)
from quant_models.errors import HsbinetError
from sim.compare import compare_exact

onnxruntime.set_default_logger_severity(3)  # qonnx runs one node per session: silence per-node opset warnings

INPUT_NAMES = ('ms', 'pan')
OUTPUT_NAME = 'out'


def _load_model(model_or_checkpoint) -> torch.nn.Module:
    if isinstance(model_or_checkpoint, torch.nn.Module):
        model = model_or_checkpoint
    else:
        from quant_models.train import model_from_checkpoint
        model = model_from_checkpoint(model_or_checkpoint)
    cfg = getattr(model, 'cfg', None)
    if cfg is None or not hasattr(cfg, 'ratio') or not hasattr(cfg, 'bands'):
        raise HsbinetError('Not an HS-BiNet model', key='model', expected='an HSBiNet (quant_models.hsbinet) '
                           'or a checkpoint written by `hsbinet train`', found=type(model).__name__)
    if cfg.profile != 'hardware':
        raise HsbinetError('Only the hardware profile can be exported to hardware', key='model.profile',
                           expected="'hardware'", found=repr(cfg.profile),
                           hint='the paper profile has a deformable upsampler and float layers')
    return model


def _check_patch(patch, ratio: int) -> tuple[int, int]:
    try:
        H, W = (int(v) for v in patch)
    except (TypeError, ValueError):
        raise HsbinetError('Bad patch size', key='patch', expected='(H, W) of the PAN patch',
                           found=repr(patch)) from None
    if H < ratio or W < ratio or H % ratio or W % ratio:
        raise HsbinetError('PAN patch size must be a positive multiple of the ratio', key='patch',
                           expected=f'H and W multiples of {ratio}', found=f'({H}, {W})')
    return H, W


def export_qonnx(model_or_checkpoint, out_path, patch=(64, 64), log: Callable[[str], None] = print) -> Path:
    """Raw Brevitas QONNX export (NCHW, batch 1) of a hardware-profile HS-BiNet.

    ``model_or_checkpoint``: an ``HSBiNet`` module or a checkpoint (path or loaded dict).
    ``patch``: (H, W) of the PAN input; MS is (H/ratio, W/ratio). The model is exported in eval
    mode and put back into its previous mode afterwards.
    """
    model = _load_model(model_or_checkpoint)
    cfg = model.cfg
    H, W = _check_patch(patch, cfg.ratio)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    ms = torch.rand(1, cfg.bands, H // cfg.ratio, W // cfg.ratio, generator=gen)
    pan = torch.rand(1, 1, H, W, generator=gen)
    from brevitas.export import export_qonnx as brevitas_export_qonnx

    was_training = model.training
    model.eval()
    try:  # torch.onnx prints its progress to stdout and warns about unrelated ops: keep it quiet
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter('ignore')
            brevitas_export_qonnx(model, args=(ms, pan), export_path=str(out_path))
    finally:
        model.train(was_training)
    log(f'exported raw QONNX (B={cfg.bands}, C={cfg.hidden}, PAN {H}x{W}) -> {out_path}')
    return out_path


def _small_spatial_shapes(nchw_inputs: dict[str, list[int]]) -> dict[str, list[int]] | None:
    """NCHW input shapes with the smallest input cut to 1x1 pixel and the others keeping their
    integer size ratio to it (MS 1x1, PAN r x r); None if the ratios are not integers."""
    shapes = [s for s in nchw_inputs.values() if len(s) == 4]
    if len(shapes) != len(nchw_inputs):
        return None
    h0, w0 = min(s[2] for s in shapes), min(s[3] for s in shapes)
    if any(s[2] % h0 or s[3] % w0 for s in shapes):
        return None
    return {k: [s[0], s[1], s[2] // h0, s[3] // w0] for k, s in nchw_inputs.items()}


def build_final_qonnx(raw_path, out_path) -> Path:
    """Raw Brevitas export -> final channels-last QONNX graph for hls4ml (see module docstring).

    Steps: qonnx ``cleanup_model``; qonnx ``ConvertToChannelsLastAndClean(make_input_channels_last=
    True)``; :class:`MakeInputsChannelsLast`, :class:`SinkChannelsFirstTransposes`,
    :class:`ResizeToBilinearResize`, :class:`FuseChannelGate`, :class:`StripEmptyOptionalInputs`,
    :class:`FillResizeRoi` (hw.qonnx_passes); qonnx ``cleanup_model``; inputs renamed ``ms``,
    ``pan``, output ``out``; :func:`check_final_graph`.

    The layout passes do not depend on the image size, but qonnx' InferShapes does: its
    shape stand-ins for channels-last Conv/BatchNormalization are Constant nodes holding a random
    tensor of the full output size, which it stringifies for every node on every call (about
    25 s for a 64-channel 32x32 graph). So the conversion runs on a copy of the graph whose inputs
    are shrunk to a 1x1 MS (r x r PAN), and the real shapes are re-inferred at the end (the
    resulting graph is identical to a full-size conversion apart from the shape annotations).

    Raises :class:`hw.qonnx_passes.QonnxPassError` (an ``HsbinetError``) if a pass meets a node it
    cannot transform exactly, or if any Transpose, NCHW input/output, ReduceMean or bilinear Resize
    is left.
    """
    raw = ModelWrapper(str(raw_path))
    inits = {t.name for t in raw.graph.initializer}
    raw_inputs = [i.name for i in raw.graph.input if i.name not in inits]
    model = cleanup_model(raw)
    if len(model.graph.input) != len(raw_inputs) or len(model.graph.output) != 1:
        raise HsbinetError('Unexpected graph interface after qonnx cleanup', file=str(raw_path),
                           expected=f'{len(raw_inputs)} inputs and 1 output',
                           found=f'{len(model.graph.input)} inputs, {len(model.graph.output)} outputs')
    nchw_inputs = {i.name: list(model.get_tensor_shape(i.name)) for i in model.graph.input}
    nchw_output = list(model.get_tensor_shape(model.graph.output[0].name))
    small = _small_spatial_shapes(nchw_inputs)
    work_inputs = small or nchw_inputs
    if small:
        model = set_input_shapes(model, small)

    model = model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
    model = model.transform(MakeInputsChannelsLast(work_inputs))
    model = reinfer_shapes(model)
    model = model.transform(SinkChannelsFirstTransposes())
    model = reinfer_shapes(model)
    model = model.transform(ResizeToBilinearResize())
    model = model.transform(FuseChannelGate())
    model = model.transform(SplitWideConcat())
    model = model.transform(StripEmptyOptionalInputs())
    model = model.transform(FillResizeRoi())
    model = reinfer_shapes(model)
    model = cleanup_model(model)

    names = list(INPUT_NAMES) if len(raw_inputs) == len(INPUT_NAMES) else list(raw_inputs)
    for inp, name in zip(list(model.graph.input), names):
        if inp.name != name:
            rename_tensor(model, inp.name, name)
    if model.graph.output[0].name != OUTPUT_NAME:
        rename_tensor(model, model.graph.output[0].name, OUTPUT_NAME)
    real = dict(zip(names, nchw_inputs.values()))
    model = set_input_shapes(model, {k: [s[0], s[2], s[3], s[1]] for k, s in real.items()})
    check_final_graph(model, real, nchw_output)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(out_path))
    return out_path


def nhwc(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> contiguous (N, H, W, C)."""
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))


def execute_final(model_or_path, ms_nhwc: np.ndarray, pan_nhwc: np.ndarray) -> np.ndarray:
    """Run the final graph with qonnx ``execute_onnx``, one sample at a time (the export fixes
    batch 1); inputs and output are NHWC float32."""
    model = model_or_path if isinstance(model_or_path, ModelWrapper) else ModelWrapper(str(model_or_path))
    in_ms, in_pan = (i.name for i in model.graph.input)
    out = model.graph.output[0].name
    ys = []
    for n in range(ms_nhwc.shape[0]):
        feed = {in_ms: np.ascontiguousarray(ms_nhwc[n:n + 1], dtype=np.float32),
                in_pan: np.ascontiguousarray(pan_nhwc[n:n + 1], dtype=np.float32)}
        ys.append(execute_onnx(model, feed)[out])
    return np.concatenate(ys, axis=0)


def export_and_verify(model, out_dir, ms, pan, log: Callable[[str], None] = print) -> dict:
    """Export ``model`` (raw.onnx, final.onnx in ``out_dir``) and check torch == qonnx bit for bit.

    ``ms`` (N, B, h, w) and ``pan`` (N, 1, H, W) are NCHW (torch tensors or arrays); the export is
    made for the PAN size (H, W). The final graph runs on the NHWC-transposed inputs, sample by
    sample, and its NHWC output is compared with the eval-mode PyTorch output transposed to NHWC.
    Compared on the output's fixed-point grid (sim.compare). Returns ``{'bit_exact', 'mismatches',
    'n_elements', 'max_abs_diff', 'first_mismatch', 'ops',
    'transposes', 'inputs', 'output', 'raw', 'final'}``.
    """
    model = _load_model(model)
    ms_t = torch.as_tensor(np.asarray(ms, dtype=np.float32))
    pan_t = torch.as_tensor(np.asarray(pan, dtype=np.float32))
    cfg = model.cfg
    if ms_t.ndim != 4 or pan_t.ndim != 4 or pan_t.shape[1] != 1 or ms_t.shape[1] != cfg.bands \
            or ms_t.shape[0] != pan_t.shape[0] \
            or tuple(pan_t.shape[2:]) != (ms_t.shape[2] * cfg.ratio, ms_t.shape[3] * cfg.ratio):
        raise HsbinetError('Input shapes do not fit the model', key='ms/pan',
                           expected=f'ms (N, {cfg.bands}, h, w) and pan (N, 1, {cfg.ratio}h, {cfg.ratio}w)',
                           found=f'ms {list(ms_t.shape)}, pan {list(pan_t.shape)}')
    out_dir = Path(out_dir)
    raw = export_qonnx(model, out_dir / 'raw.onnx', patch=tuple(pan_t.shape[2:]), log=log)
    final = build_final_qonnx(raw, out_dir / 'final.onnx')

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            y_torch = model(ms_t, pan_t)
    finally:
        model.train(was_training)
    y_torch = nhwc(y_torch.detach().numpy())

    qmodel = ModelWrapper(str(final))
    y_qonnx = execute_final(qmodel, nhwc(ms_t.numpy()), nhwc(pan_t.numpy()))
    frac_bits = cfg.io_bits[0] - cfg.io_bits[1]
    cmp = compare_exact(y_torch, y_qonnx, frac_bits, 'torch', 'qonnx')
    result = {'bit_exact': cmp.exact, 'mismatches': cmp.mismatches, 'n_elements': cmp.elements,
              'max_abs_diff': cmp.max_abs_diff, 'first_mismatch': None if cmp.exact else {
                  'index': cmp.first_index, 'reference': cmp.reference_value, 'candidate': cmp.candidate_value}}
    ops = op_histogram(qmodel)
    result.update({
        'ops': ops, 'transposes': ops.get('Transpose', 0),
        'inputs': {i.name: list(qmodel.get_tensor_shape(i.name)) for i in qmodel.graph.input},
        'output': list(qmodel.get_tensor_shape(qmodel.graph.output[0].name)),
        'raw': str(raw), 'final': str(final),
    })
    log(f'torch vs qonnx: {"bit-exact" if result["bit_exact"] else "MISMATCH"} '
        f'({result["mismatches"]}/{result["n_elements"]} elements differ, max |diff| {result["max_abs_diff"]:.3g})')
    return result
