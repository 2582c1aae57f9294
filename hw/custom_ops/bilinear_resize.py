"""``BilinearResize`` (attribute ``ratio``, int r >= 1): bilinear x r upsampling, NHWC.

X (N, h, w, C) -> Y (N, r*h, r*w, C), exactly ``torch.nn.functional.interpolate(x,
scale_factor=r, mode='bilinear', align_corners=False)``: per axis the source coordinate of output
index d is ``src = (d + 0.5) / r - 0.5``, clamped to ``[0, n_in - 1]``; ``i0 = floor(src)``,
``i1 = min(i0 + 1, n_in - 1)``, ``l1 = src - i0``, ``l0 = 1 - l1`` (edge replicate);
``Y = l0h * (l0w * X[i0h, i0w] + l1w * X[i0h, i1w]) + l1h * (l0w * X[i1h, i0w] + l1w * X[i1h, i1w])``.
The weights are multiples of 1/(2r) (1/8 for r = 4), computed from the integer numerator
``2d + 1 - r`` so they are exact for a power-of-two r.
"""

from __future__ import annotations

import numpy as np
from onnx import NodeProto, helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

from hw.custom_ops import DOMAIN


def _bilinear_taps(n_in: int, ratio: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-axis (i0, i1, l0, l1) of bilinear x``ratio`` with half-pixel centres, edge replicate.

    src = (d + 0.5) / r - 0.5 = (2d + 1 - r) / (2r): the numerator is an integer, so the clamp and
    the floor are exact integer operations and l1 = numerator remainder / (2r).
    """
    d = np.arange(n_in * ratio, dtype=np.int64)
    num = np.clip(2 * d + 1 - ratio, 0, 2 * ratio * (n_in - 1))  # src * 2r, clamped to [0, n_in-1]
    i0 = num // (2 * ratio)
    i1 = np.minimum(i0 + 1, n_in - 1)
    l1 = (num - i0 * 2 * ratio).astype(np.float64) / (2 * ratio)
    return i0, i1, 1.0 - l1, l1


def bilinear_resize_nhwc(x: np.ndarray, ratio: int) -> np.ndarray:
    """Reference of ``BilinearResize``: (N, h, w, C) -> (N, r*h, r*w, C), computed in float64."""
    if x.ndim != 4:
        raise ValueError(f'BilinearResize expects a 4D NHWC tensor, got shape {x.shape}')
    if int(ratio) < 1:
        raise ValueError(f'BilinearResize ratio must be >= 1, got {ratio}')
    x = np.asarray(x, dtype=np.float64)
    hi0, hi1, hl0, hl1 = _bilinear_taps(x.shape[1], int(ratio))
    wi0, wi1, wl0, wl1 = _bilinear_taps(x.shape[2], int(ratio))
    wl0, wl1 = wl0[None, None, :, None], wl1[None, None, :, None]
    top = x[:, hi0][:, :, wi0] * wl0 + x[:, hi0][:, :, wi1] * wl1
    bot = x[:, hi1][:, :, wi0] * wl0 + x[:, hi1][:, :, wi1] * wl1
    return hl0[None, :, None, None] * top + hl1[None, :, None, None] * bot


class BilinearResize(CustomOp):
    """Bilinear x``ratio`` upsampling, NHWC, torch ``align_corners=False`` semantics (module docstring)."""

    def get_nodeattr_types(self):
        return {'ratio': ('i', True, 0)}

    def make_shape_compatible_op(self, model):
        n, h, w, c = model.get_tensor_shape(self.onnx_node.input[0])
        r = self.get_nodeattr('ratio')
        return self.make_const_shape_op([n, r * h, r * w, c])

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType['FLOAT32'])

    def execute_node(self, context, graph):
        node = self.onnx_node
        y = bilinear_resize_nhwc(context[node.input[0]], self.get_nodeattr('ratio'))
        context[node.output[0]] = y.astype(np.float32)

    def verify_node(self):
        msgs = []
        node = self.onnx_node
        if len(node.input) != 1 or len(node.output) != 1:
            msgs.append('BilinearResize needs exactly one input and one output')
        if self.get_nodeattr('ratio') < 1:
            msgs.append('BilinearResize attribute ratio must be >= 1')
        return msgs


def make_bilinear_resize_node(x: str, y: str, ratio: int, name: str = '') -> NodeProto:
    """``BilinearResize`` node reading NHWC ``x`` (N, h, w, C), writing ``y`` (N, r*h, r*w, C)."""
    return helper.make_node('BilinearResize', [x], [y], name=name, domain=DOMAIN, ratio=int(ratio))
