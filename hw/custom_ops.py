"""QONNX custom ops of this project: the two fused layers stock hls4ml cannot lower.

Both ops live in the ONNX domain ``hw.custom_ops`` (:data:`DOMAIN`). qonnx 1.0.0 resolves a
custom node by importing the Python module named by the node's domain and looking up a
``CustomOp`` subclass named like the op type in that module's ``__all__``
(``qonnx.custom_op.registry.getCustomOp``), so naming the domain after this module is all the
registration needed: ``qonnx.core.onnx_exec.execute_onnx`` and qonnx's ``InferShapes`` find the
classes below as long as the ``hw`` package is importable. qonnx' installed files are not touched.

Both ops are NHWC (channels last) and batch 1 in the exported graph (the python execution below
also accepts N > 1). Their ``execute_node`` computes exactly (integers / float64 / exact
rationals) and casts the result to float32; the hls4ml extension layers (hw/hls4ml_ext/) implement
the same contract in fixed point.

``BilinearResize`` (attribute ``ratio``, int r >= 1)
    X (N, h, w, C) -> Y (N, r*h, r*w, C), exactly ``torch.nn.functional.interpolate(x,
    scale_factor=r, mode='bilinear', align_corners=False)``: per axis the source coordinate of
    output index d is ``src = (d + 0.5) / r - 0.5``, clamped to ``[0, n_in - 1]``;
    ``i0 = floor(src)``, ``i1 = min(i0 + 1, n_in - 1)``, ``l1 = src - i0``, ``l0 = 1 - l1`` (edge
    replicate); ``Y = l0h * (l0w * X[i0h, i0w] + l1w * X[i0h, i1w]) + l1h * (l0w * X[i1h, i0w] +
    l1w * X[i1h, i1w])``. The weights are multiples of 1/(2r) (1/8 for r = 4), computed from the
    integer numerator ``2d + 1 - r`` so they are exact for a power-of-two r.

``ChannelGate`` (attributes ``channels`` = C, ``gate_frac_bits`` = f, default 8)
    inputs X (N, H, W, C) with values in {-1, +1}, W (C, C) float with entries in {-1, +1}
    (``W[o, c]``), K (C,) int64 power-of-two exponents of the per-output-channel weight scale;
    output Y (N, H, W, C)::

        s_c = +1 if sum_{h,w} X[h, w, c] >= 0 else -1      (binarised global average pool, sign(0)=+1)
        z_o = 2^K[o] * sum_c W[o, c] * s_c                  (binary 1x1 conv)
        g_o = clip(round_half_to_even((z_o / 4 + 1/2) * 2^f), 0, 2^f - 1) / 2^f
        Y[h, w, c] = X[h, w, c] * g_c

    i.e. the hardware decoder's channel attention: GAP -> sign -> binary 1x1 -> hard sigmoid
    ``x/4 + 1/2`` quantised to ufixed<f, 0> -> multiply. ``round_half_to_even`` is the rounding of
    Brevitas' ``RoundSte`` (``torch.round``) and of qonnx' ``Quant`` with ``rounding_mode='ROUND'``
    (``np.round``): ties go to the even integer, e.g. 128.5 -> 128, 129.5 -> 130.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from onnx import NodeProto, helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

DOMAIN = 'hw.custom_ops'
OPSET_VERSION = 1

__all__ = ['BilinearResize', 'ChannelGate', 'DOMAIN', 'OPSET_VERSION', 'bilinear_resize_nhwc',
           'channel_gate_nhwc', 'make_bilinear_resize_node', 'make_channel_gate_node']


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


def channel_gate_nhwc(x: np.ndarray, w: np.ndarray, k: np.ndarray, frac_bits: int = 8) -> np.ndarray:
    """Reference of ``ChannelGate`` (see the module docstring), exact rational arithmetic."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    k = np.asarray(k).astype(np.int64).reshape(-1)
    if x.ndim != 4 or w.shape != (x.shape[3], x.shape[3]) or k.shape != (x.shape[3],):
        raise ValueError(f'ChannelGate shapes: X {x.shape} (N,H,W,C), W {w.shape} (C,C), K {k.shape} (C,)')
    f = int(frac_bits)
    top = 2 ** f - 1
    s = np.where(x.sum(axis=(1, 2)) >= 0, 1, -1).astype(np.int64)  # (N, C): sums of +-1 are exact
    w_int = np.rint(w).astype(np.int64)
    if not np.array_equal(w_int, w) or np.any(np.abs(w_int) != 1):
        raise ValueError('ChannelGate weights must be +-1')
    acc = s @ w_int.T  # (N, C_out): sum_c W[o, c] * s_c, an integer
    gates = np.empty(acc.shape, dtype=np.float64)
    for n in range(acc.shape[0]):
        for o in range(acc.shape[1]):
            z = Fraction(int(acc[n, o])) * Fraction(2) ** int(k[o])
            v = (z / 4 + Fraction(1, 2)) * 2 ** f
            q = min(max(round(v), 0), top)  # round(Fraction) rounds half to even
            gates[n, o] = q / 2 ** f  # q < 2^f: exact in float64
    return x * gates[:, None, None, :]


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


class ChannelGate(CustomOp):
    """Binarised channel attention with a power-of-two hard-sigmoid gate, NHWC (module docstring)."""

    def get_nodeattr_types(self):
        return {'channels': ('i', True, 0), 'gate_frac_bits': ('i', False, 8)}

    def make_shape_compatible_op(self, model):
        node = self.onnx_node
        return helper.make_node('Identity', [node.input[0]], [node.output[0]])

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType['FLOAT32'])

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = context[node.input[0]]
        if x.shape[-1] != self.get_nodeattr('channels'):
            raise ValueError(f'ChannelGate {node.name}: input has {x.shape[-1]} channels, '
                             f'attribute channels={self.get_nodeattr("channels")}')
        y = channel_gate_nhwc(x, context[node.input[1]], context[node.input[2]],
                              self.get_nodeattr('gate_frac_bits'))
        context[node.output[0]] = y.astype(np.float32)

    def verify_node(self):
        msgs = []
        node = self.onnx_node
        if len(node.input) != 3 or len(node.output) != 1:
            msgs.append('ChannelGate needs inputs (X, W, K) and one output')
        if self.get_nodeattr('channels') < 1:
            msgs.append('ChannelGate attribute channels must be >= 1')
        if not 1 <= self.get_nodeattr('gate_frac_bits') <= 30:
            msgs.append('ChannelGate attribute gate_frac_bits must be in [1, 30]')
        return msgs


def make_bilinear_resize_node(x: str, y: str, ratio: int, name: str = '') -> NodeProto:
    return helper.make_node('BilinearResize', [x], [y], name=name, domain=DOMAIN, ratio=int(ratio))


def make_channel_gate_node(x: str, w: str, k: str, y: str, channels: int, gate_frac_bits: int = 8,
                           name: str = '') -> NodeProto:
    return helper.make_node('ChannelGate', [x, w, k], [y], name=name, domain=DOMAIN,
                            channels=int(channels), gate_frac_bits=int(gate_frac_bits))
