"""QONNX graph passes for what qonnx 1.0.0 lacks between a Brevitas export and hls4ml io_stream.

One qonnx ``Transformation`` per module (``apply(model) -> (model, changed)``), each saying in
its module docstring which qonnx (or hls4ml) shortcoming it works around.
:func:`hw.export.final_graph.build_final_qonnx` runs, in this order::

    qonnx cleanup_model -> HaarToCustomOps                              (hw.custom_ops nodes, NHWC)
    -> qonnx ConvertToChannelsLastAndClean(make_input_channels_last=True)
    -> MakeInputsChannelsLast -> SinkChannelsFirstTransposes             (layout: NCHW -> NHWC)
    -> ResizeToBilinearResize -> FuseChannelGate                         (hw.custom_ops nodes)
    -> SplitWideConcat -> StripEmptyOptionalInputs -> FillResizeRoi      (hls4ml parser fixes)
    -> qonnx cleanup_model -> hw.export.check.check_final_graph

The lower step (:func:`hw.hls.lower.lower_project`) runs two more on the final graph, writing
``core.onnx``, the graph hls4ml lowers: :class:`PadBands` (B -> the core's band count, zero bands)
and :class:`UpsampleSkipAgain` (the global residual's own upsampler, so its skip FIFO holds LR
pixels); both exact.

Passes never guess: a node that looks like a pattern they own but has an unexpected constant
raises :class:`QonnxPassError` naming the node, the expected and the found value. Every
left-over Transpose is a full-frame buffer in an io_stream design, so the final graph must have
none.
"""

from hw.export.graph import QonnxPassError
from hw.export.passes.fill_resize_roi import FillResizeRoi
from hw.export.passes.fuse_channel_gate import FuseChannelGate
from hw.export.passes.haar_to_custom_ops import HaarToCustomOps
from hw.export.passes.make_inputs_channels_last import MakeInputsChannelsLast
from hw.export.passes.pad_bands import PadBands
from hw.export.passes.resize_to_bilinear_resize import ResizeToBilinearResize
from hw.export.passes.sink_channels_first_transposes import SinkChannelsFirstTransposes
from hw.export.passes.split_wide_concat import SplitWideConcat
from hw.export.passes.upsample_skip_again import UpsampleSkipAgain
from hw.export.passes.strip_empty_optional_inputs import StripEmptyOptionalInputs

__all__ = ['FillResizeRoi', 'FuseChannelGate', 'HaarToCustomOps', 'MakeInputsChannelsLast', 'PadBands', 'QonnxPassError', 'ResizeToBilinearResize',
           'SinkChannelsFirstTransposes', 'SplitWideConcat', 'StripEmptyOptionalInputs', 'UpsampleSkipAgain']
