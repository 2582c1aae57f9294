"""Raw QONNX export -> final channels-last QONNX graph for hls4ml (:func:`build_final_qonnx`).

qonnx ``cleanup_model`` + ``ConvertToChannelsLastAndClean``, then the project's passes
(:mod:`hw.export.passes`) for what qonnx lacks. The result has no Transpose, both inputs NHWC
(``ms`` (1, h, w, B), ``pan`` (1, H, W, 1)), the output NHWC (``out`` (1, H, W, B)), and the two
fused custom ops ``BilinearResize`` and ``ChannelGate`` (:mod:`hw.custom_ops`) in place of the
bilinear Resize and the channel-attention subgraph. The torch == qonnx check of the result lives in
:mod:`sim.qonnx_check`.
"""

from __future__ import annotations

import json

from pathlib import Path

import onnxruntime
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.cleanup import cleanup_model

from hw.export.check import check_final_graph
from hw.export.brevitas_export import MODEL_CONFIG_KEY
from hw.export.graph import reinfer_shapes, rename_tensor, set_input_shapes
from hw.export.passes import (FillResizeRoi, FuseChannelGate, HaarToCustomOps, MakeInputsChannelsLast, ResizeToBilinearResize,
                              SinkChannelsFirstTransposes, SplitWideConcat, StripEmptyOptionalInputs)
from quant_models.common import HsbinetError

onnxruntime.set_default_logger_severity(3)  # qonnx runs one node per session: silence per-node opset warnings

INPUT_NAMES = ('ms', 'pan')
OUTPUT_NAME = 'out'


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

    Steps: qonnx ``cleanup_model``; :class:`HaarToCustomOps`; qonnx ``ConvertToChannelsLastAndClean(make_input_channels_last=
    True)``; :class:`MakeInputsChannelsLast`, :class:`SinkChannelsFirstTransposes`,
    :class:`ResizeToBilinearResize`, :class:`FuseChannelGate`, :class:`StripEmptyOptionalInputs`,
    :class:`FillResizeRoi` (hw.export.passes); qonnx ``cleanup_model``; inputs renamed ``ms``,
    ``pan``, output ``out``; :func:`check_final_graph`.

    The layout passes do not depend on the image size, but qonnx' InferShapes does: its
    shape stand-ins for channels-last Conv/BatchNormalization are Constant nodes holding a random
    tensor of the full output size, which it stringifies for every node on every call (about
    25 s for a 64-channel 32x32 graph). So the conversion runs on a copy of the graph whose inputs
    are shrunk to a 1x1 MS (r x r PAN), and the real shapes are re-inferred at the end (the
    resulting graph is identical to a full-size conversion apart from the shape annotations).

    Raises :class:`hw.export.passes.QonnxPassError` (an ``HsbinetError``) if a pass meets a node it
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

    model = model.transform(HaarToCustomOps()).transform(InferShapes())
    model = model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
    model = model.transform(MakeInputsChannelsLast(work_inputs))
    model = reinfer_shapes(model)
    model = model.transform(SinkChannelsFirstTransposes())
    model = reinfer_shapes(model)
    model = model.transform(ResizeToBilinearResize())
    carried_cfg = json.loads(raw.get_metadata_prop(MODEL_CONFIG_KEY) or '{}')
    model = model.transform(FuseChannelGate(int(carried_cfg.get('attention_rows', 0))))
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
    carried = raw.get_metadata_prop(MODEL_CONFIG_KEY)
    if carried is not None:  # set explicitly: not every transformation keeps graph metadata
        model.set_metadata_prop(MODEL_CONFIG_KEY, carried)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(out_path))
    return out_path


