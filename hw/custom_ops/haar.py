"""``HaarDWT`` and ``HaarIDWT``: one-level orthonormal Haar transform and its inverse, NHWC.

``HaarDWT``: X (N, H, W, C) -> Y (N, H/2, W/2, 4C), H and W even. With a = X[2i, 2j], b = X[2i, 2j+1],
c = X[2i+1, 2j], d = X[2i+1, 2j+1] (per channel), output channel 4c + k is sub-band k of input
channel c: LL = (a+b+c+d)/2, LH = (a-b+c-d)/2, HL = (a+b-c-d)/2, HH = (a-b-c+d)/2.
``HaarIDWT``: the inverse, Y (N, h, w, 4C) -> X (N, 2h, 2w, C): a = (LL+LH+HL+HH)/2,
b = (LL-LH+HL-HH)/2, c = (LL+LH-HL-HH)/2, d = (LL-LH-HL+HH)/2.

This is :func:`quant_models.bnnpan.haar_dwt` / ``haar_idwt`` (a 2x2 stride-2 conv / transposed
conv with groups = C and the kernels ``quant_models.bnnpan.HAAR``) in channels-last layout. Both
are exact in fixed point: a fixed<W, I> input gives fixed<W+2, I+1> outputs (sums of four values,
halved). The references compute in float64 (exact for these inputs) and the ops return float32.
"""

from __future__ import annotations

import numpy as np
from onnx import NodeProto, helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

from hw.custom_ops import DOMAIN


def haar_dwt_nhwc(x: np.ndarray) -> np.ndarray:
    """Reference of ``HaarDWT``: (N, H, W, C) -> (N, H/2, W/2, 4C), float64."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4 or x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f'HaarDWT expects a 4D NHWC tensor with even H and W, got shape {x.shape}')
    a, b = x[:, 0::2, 0::2], x[:, 0::2, 1::2]
    c, d = x[:, 1::2, 0::2], x[:, 1::2, 1::2]
    bands = np.stack([a + b + c + d, a - b + c - d, a + b - c - d, a - b - c + d], axis=-1) / 2  # (N,h,w,C,4)
    return bands.reshape(*bands.shape[:3], -1)  # channel 4c + k


def haar_idwt_nhwc(y: np.ndarray) -> np.ndarray:
    """Reference of ``HaarIDWT``: (N, h, w, 4C) -> (N, 2h, 2w, C), float64."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 4 or y.shape[3] % 4:
        raise ValueError(f'HaarIDWT expects a 4D NHWC tensor with 4C channels, got shape {y.shape}')
    n, h, w, c4 = y.shape
    s = y.reshape(n, h, w, c4 // 4, 4)
    ll, lh, hl, hh = (s[..., k] for k in range(4))
    out = np.empty((n, 2 * h, 2 * w, c4 // 4), dtype=np.float64)
    out[:, 0::2, 0::2] = (ll + lh + hl + hh) / 2
    out[:, 0::2, 1::2] = (ll - lh + hl - hh) / 2
    out[:, 1::2, 0::2] = (ll + lh - hl - hh) / 2
    out[:, 1::2, 1::2] = (ll - lh - hl + hh) / 2
    return out


class HaarDWT(CustomOp):
    """One-level Haar DWT, NHWC (module docstring)."""

    def get_nodeattr_types(self):
        return {}

    def make_shape_compatible_op(self, model):
        n, h, w, c = model.get_tensor_shape(self.onnx_node.input[0])
        return self.make_const_shape_op([n, h // 2, w // 2, 4 * c])

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType['FLOAT32'])

    def execute_node(self, context, graph):
        node = self.onnx_node
        context[node.output[0]] = haar_dwt_nhwc(context[node.input[0]]).astype(np.float32)

    def verify_node(self):
        node = self.onnx_node
        return [] if len(node.input) == 1 and len(node.output) == 1 else ['HaarDWT needs one input and one output']


class HaarIDWT(CustomOp):
    """Inverse one-level Haar DWT, NHWC (module docstring)."""

    def get_nodeattr_types(self):
        return {}

    def make_shape_compatible_op(self, model):
        n, h, w, c4 = model.get_tensor_shape(self.onnx_node.input[0])
        return self.make_const_shape_op([n, 2 * h, 2 * w, c4 // 4])

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType['FLOAT32'])

    def execute_node(self, context, graph):
        node = self.onnx_node
        context[node.output[0]] = haar_idwt_nhwc(context[node.input[0]]).astype(np.float32)

    def verify_node(self):
        node = self.onnx_node
        return [] if len(node.input) == 1 and len(node.output) == 1 else ['HaarIDWT needs one input and one output']


def make_haar_node(op_type: str, x: str, y: str, name: str = '') -> NodeProto:
    """A ``HaarDWT`` or ``HaarIDWT`` node reading NHWC ``x``, writing NHWC ``y``."""
    if op_type not in ('HaarDWT', 'HaarIDWT'):
        raise ValueError(f'not a Haar op: {op_type}')
    return helper.make_node(op_type, [x], [y], name=name, domain=DOMAIN)
