"""Replace an NHWC bilinear Resize (torch align_corners=False) by ``hw.custom_ops.BilinearResize``.

qonnx/hls4ml shortcoming: stock hls4ml 1.3.0 lowers Resize only as nearest neighbour and silently
turns a linear Resize into nearest (a UserWarning "Overriding attribute 'algorithm'"); qonnx has
no op for it. The fused op is implemented as an hls4ml extension layer (hw/hls/ext/).
"""

from __future__ import annotations

from onnx import NodeProto
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hw.custom_ops import DOMAIN, OPSET_VERSION, make_bilinear_resize_node
from hw.export.graph import QonnxPassError, attr, str_attr


class ResizeToBilinearResize(Transformation):
    """NHWC ``Resize(X (1, h, w, C), roi, scales [1, r, r, 1], mode='linear')`` ->
    ``BilinearResize(X, ratio=r)`` (1, r*h, r*w, C).

    Converted: ``mode='linear'``, ``coordinate_transformation_mode`` 'half_pixel' or
    'pytorch_half_pixel' (identical for outputs longer than 1), constant NHWC scales
    ``[1, r, r, 1]`` with an integer power-of-two r (weights multiples of 1/(2r), exact in fixed
    point), no ``sizes``, ``exclude_outside=0``. A linear or cubic Resize that does not fit raises
    :class:`~hw.export.graph.QonnxPassError`; nearest Resizes are left to stock hls4ml.
    """

    def apply(self, model):
        for n in list(model.graph.node):
            if n.op_type != 'Resize':
                continue
            mode = str_attr(n, 'mode', 'nearest')
            if mode == 'nearest':
                continue
            ratio = self._check(model, n, mode)
            idx = model.get_node_index(n)
            model.graph.node.remove(n)
            model.graph.node.insert(idx, make_bilinear_resize_node(n.input[0], n.output[0], ratio,
                                                                   name=n.name or f'BilinearResize_{idx}'))
            model.set_opset_import(DOMAIN, OPSET_VERSION)
        return model, False

    @staticmethod
    def _check(model: ModelWrapper, n: NodeProto, mode: str) -> int:
        """The ratio r of a convertible Resize; :class:`QonnxPassError` naming what does not fit."""
        def fail(what, expected, found):
            raise QonnxPassError(f'Resize cannot become BilinearResize: {what}', key=f'node {n.name}',
                                 expected=expected, found=found,
                                 hint='stock hls4ml would silently turn it into nearest neighbour')

        if mode != 'linear':
            fail('unsupported interpolation mode', "'linear' (or 'nearest', left to hls4ml)", repr(mode))
        ctm = str_attr(n, 'coordinate_transformation_mode', 'half_pixel')
        if ctm not in ('half_pixel', 'pytorch_half_pixel'):
            fail('coordinate transformation mode', "'half_pixel' (torch align_corners=False)", repr(ctm))
        if int(attr(n, 'exclude_outside', 0)) != 0:
            fail('exclude_outside', '0', str(attr(n, 'exclude_outside')))
        if len(n.input) > 3 and n.input[3]:
            fail('output given by sizes', 'constant scales', f'sizes input {n.input[3]}')
        scales = model.get_initializer(n.input[2]) if len(n.input) > 2 else None
        if scales is None or scales.size != 4:
            fail('scales', 'a constant [1, r, r, 1] (NHWC)', 'none' if scales is None else str(scales))
        s = [float(v) for v in scales.reshape(-1)]
        r = s[1]
        if s[0] != 1.0 or s[3] != 1.0 or s[2] != r or r != int(r) or int(r) < 1:
            fail('scales', 'NHWC [1, r, r, 1] with an integer r >= 1', str(s))
        r = int(r)
        if r & (r - 1):
            fail('ratio', 'a power of two (bilinear weights exact in fixed point)', str(r))
        shape = model.get_tensor_shape(n.input[0])
        if shape is None or len(shape) != 4:
            fail('input rank', '4 (NHWC)', str(shape))
        return r
