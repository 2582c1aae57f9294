"""Replace the Haar transform's Conv / ConvTranspose (NCHW) by ``hw.custom_ops.HaarDWT`` /
``HaarIDWT`` (NHWC) between a Transpose pair, before the channels-last conversion.

qonnx/hls4ml shortcoming: BNNPan-style's Haar DWT is a 2x2 stride-2 Conv with groups = C and its
inverse a ConvTranspose (quant_models.bnnpan.haar_dwt / haar_idwt): hls4ml 1.3.0 lowers neither a
grouped (non-depthwise) conv nor a ConvTranspose in io_stream, and as a plain conv the transform
would cost C x 4C x 4 multipliers for what is 8 adders per channel. The custom ops are hls4ml
extension layers (hw/hls/ext/) of exactly that cost. The Transposes around them are cancelled by
qonnx's channels-last conversion and :class:`SinkChannelsFirstTransposes`, like those around any
channels-last Conv.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.transformation.base import Transformation

from hw.custom_ops import DOMAIN, OPSET_VERSION, make_haar_node
from hw.export.graph import TO_NCHW, TO_NHWC, QonnxPassError, attr
from quant_models.bnnpan import HAAR as BNNPAN_HAAR

HAAR = BNNPAN_HAAR.double().numpy()  # the kernels the model convolves with (LL, LH, HL, HH)


class HaarToCustomOps(Transformation):
    """``Conv(X, W)`` with ``group`` = C, kernel 2x2, stride 2, no padding, no bias and W = the Haar
    kernels (4C, 1, 2, 2) -> ``Transpose(0,2,3,1) -> HaarDWT -> Transpose(0,3,1,2)``;
    ``ConvTranspose(Y, W)`` with the same attributes and weights -> the same around ``HaarIDWT``.
    A Conv/ConvTranspose that has the Haar weights but other attributes raises
    :class:`~hw.export.graph.QonnxPassError`; other convs are left alone.
    """

    def apply(self, model):
        for n in list(model.graph.node):
            if n.op_type not in ('Conv', 'ConvTranspose') or len(n.input) < 2:
                continue
            w = model.get_initializer(n.input[1])
            if w is None or w.ndim != 4 or w.shape[1:] != (1, 2, 2) or w.shape[0] % 4:
                continue
            if not np.array_equal(np.asarray(w, dtype=np.float64), np.tile(HAAR, (w.shape[0] // 4, 1, 1))[:, None]):
                continue
            self._check(n, w.shape[0] // 4)
            op = 'HaarDWT' if n.op_type == 'Conv' else 'HaarIDWT'
            base = n.name or f'{op}_{model.get_node_index(n)}'
            x_nhwc, y_nhwc = f'{base}_in_nhwc', f'{base}_out_nhwc'
            idx = model.get_node_index(n)
            model.graph.node.remove(n)
            for k, node in enumerate((
                    helper.make_node('Transpose', [n.input[0]], [x_nhwc], name=f'{base}_to_nhwc', perm=list(TO_NHWC)),
                    make_haar_node(op, x_nhwc, y_nhwc, name=base),
                    helper.make_node('Transpose', [y_nhwc], [n.output[0]], name=f'{base}_to_nchw', perm=list(TO_NCHW)))):
                model.graph.node.insert(idx + k, node)
            shape = model.get_tensor_shape(n.input[0])  # NCHW; the custom ops' shape rules need NHWC inputs
            if shape is not None and len(shape) == 4:
                N, C, H, W = shape
                model.set_tensor_shape(x_nhwc, [N, H, W, C])
                model.set_tensor_shape(y_nhwc, [N, H // 2, W // 2, 4 * C] if op == 'HaarDWT' else [N, 2 * H, 2 * W, C // 4])
            model.set_opset_import(DOMAIN, OPSET_VERSION)
            return model, True
        return model, False

    @staticmethod
    def _check(n, channels: int) -> None:
        def fail(what, expected, found):
            raise QonnxPassError(f'{n.op_type} with Haar weights cannot become a Haar transform: {what}',
                                 key=f'node {n.name}', expected=expected, found=found)

        if len(n.input) > 2 and n.input[2]:
            fail('bias', 'none', n.input[2])
        if int(attr(n, 'group', 1)) != channels:
            fail('group', f'{channels} (one group per channel)', str(attr(n, 'group', 1)))
        for key, want in (('strides', [2, 2]), ('kernel_shape', [2, 2]), ('dilations', [1, 1])):
            got = list(attr(n, key, want))
            if got != want:
                fail(key, str(want), str(got))
        if any(int(p) for p in attr(n, 'pads', [0, 0, 0, 0])):
            fail('pads', '[0, 0, 0, 0]', str(list(attr(n, 'pads'))))
        if any(int(p) for p in attr(n, 'output_padding', [0, 0])):
            fail('output_padding', '[0, 0]', str(list(attr(n, 'output_padding'))))
