"""Declare every 4D graph input NHWC, not just the first one.

qonnx shortcoming: ``ConvertToChannelsLastAndClean(make_input_channels_last=True)`` calls
``MakeInputChannelsLast``, which only converts ``graph.input[0]``; a second input (the PAN image)
stays NCHW and keeps a Transpose.
"""

from __future__ import annotations

from onnx import helper
from qonnx.transformation.base import Transformation

from hw.export.graph import TO_NCHW, QonnxPassError, is_transpose, nhwc, replace_input


class MakeInputsChannelsLast(Transformation):
    """For each 4D input still at its recorded NCHW shape (N, C, H, W), declare the NHWC shape
    (N, H, W, C) and insert Transpose(0,3,1,2) behind it, which
    :class:`~hw.export.passes.SinkChannelsFirstTransposes` then cancels against the
    Transpose(0,2,3,1) qonnx put in front of the first channels-last node. Inputs qonnx already
    converted (NHWC shape, read only through Transpose(0,3,1,2)) are left alone.

    ``nchw_shapes``: {input name: NCHW shape} recorded before the channels-last conversion.
    """

    def __init__(self, nchw_shapes: dict[str, list[int]]):
        super().__init__()
        self.nchw_shapes = {k: list(v) for k, v in nchw_shapes.items()}

    def apply(self, model):
        for inp in model.graph.input:
            nchw = self.nchw_shapes.get(inp.name)
            if nchw is None or len(nchw) != 4:
                continue
            cur = list(model.get_tensor_shape(inp.name))
            cons = model.find_consumers(inp.name)
            already = cur == nhwc(nchw) and (cur != nchw or (cons and all(
                is_transpose(c, TO_NCHW) for c in cons)))
            if already:
                continue
            if cur != nchw:
                raise QonnxPassError('Graph input has an unexpected shape after the channels-last '
                                     'conversion', key=f'input {inp.name}',
                                     expected=f'{nchw} (NCHW) or {nhwc(nchw)} (NHWC)', found=str(cur))
            inner = f'{inp.name}_nchw'
            for c in cons:
                replace_input(c, inp.name, inner)
            model.graph.node.insert(0, helper.make_node('Transpose', [inp.name], [inner], perm=TO_NCHW,
                                                        name=f'{inp.name}_to_nchw'))
            model.set_tensor_shape(inp.name, nhwc(nchw))
            model.set_tensor_shape(inner, nchw)
        return model, False
