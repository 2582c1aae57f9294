"""``ChannelGate`` (attributes ``channels`` = C, ``gate_frac_bits`` = f, default 8, ``block_rows`` = L,
default 0): the hardware decoder's binarised channel attention, NHWC.

Inputs X (N, H, W, C) with values in {-1, +1}, W (C, C) float with entries in {-1, +1}
(``W[o, c]``), K (C,) int64 power-of-two exponents of the per-output-channel weight scale;
output Y (N, H, W, C)::

    s_c = +1 if sum_{h,w} X[h, w, c] >= 0 else -1      (binarised global average pool, sign(0)=+1)
    z_o = 2^K[o] * sum_c W[o, c] * s_c                  (binary 1x1 conv)
    g_o = clip(round_half_to_even((z_o / 4 + 1/2) * 2^f), 0, 2^f - 1) / 2^f
    Y[h, w, c] = X[h, w, c] * g_c

i.e. GAP -> sign -> binary 1x1 -> hard sigmoid ``x/4 + 1/2`` quantised to ufixed<f, 0> ->
multiply. With ``block_rows`` L > 0 (H8, block-pooled attention) the sums, gates and products are
taken per block of L rows (rows b L .. b L + L - 1, all columns) instead of per frame; L must divide H. ``round_half_to_even`` is the rounding of Brevitas' ``RoundSte`` (``torch.round``) and
of qonnx' ``Quant`` with ``rounding_mode='ROUND'`` (``np.round``): ties go to the even integer,
e.g. 128.5 -> 128, 129.5 -> 130.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from onnx import NodeProto, helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

from hw.custom_ops import DOMAIN


def channel_gate_nhwc(x: np.ndarray, w: np.ndarray, k: np.ndarray, frac_bits: int = 8,
                      block_rows: int = 0) -> np.ndarray:
    """Reference of ``ChannelGate`` (see the module docstring), exact rational arithmetic.

    ``x`` (N, H, W, C) in {-1, +1}, ``w`` (C, C) in {-1, +1}, ``k`` (C,) -> (N, H, W, C) float64;
    ``block_rows`` L > 0: one gate per block of L rows.
    """
    x = np.asarray(x, dtype=np.float64)
    L = int(block_rows)
    if L and L != x.shape[1]:
        if L < 0 or x.ndim != 4 or x.shape[1] % L:
            raise ValueError(f'ChannelGate block_rows={L} must divide the frame height {x.shape[1:2]}')
        n, h = x.shape[0], x.shape[1]
        blocks = x.reshape(n * (h // L), L, *x.shape[2:])  # block-major: each block is its own frame
        return channel_gate_nhwc(blocks, w, k, frac_bits).reshape(x.shape)
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


class ChannelGate(CustomOp):
    """Binarised channel attention with a power-of-two hard-sigmoid gate, NHWC (module docstring)."""

    def get_nodeattr_types(self):
        return {'channels': ('i', True, 0), 'gate_frac_bits': ('i', False, 8), 'block_rows': ('i', False, 0)}

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
                              self.get_nodeattr('gate_frac_bits'), self.get_nodeattr('block_rows'))
        context[node.output[0]] = y.astype(np.float32)

    def verify_node(self):
        msgs = []
        node = self.onnx_node
        if len(node.input) != 3 or len(node.output) != 1:
            msgs.append('ChannelGate needs inputs (X, W, K) and one output')
        if self.get_nodeattr('channels') < 1:
            msgs.append('ChannelGate attribute channels must be >= 1')
        if self.get_nodeattr('block_rows') < 0:
            msgs.append('ChannelGate attribute block_rows must be >= 0 (0: the whole frame)')
        if not 1 <= self.get_nodeattr('gate_frac_bits') <= 30:
            msgs.append('ChannelGate attribute gate_frac_bits must be in [1, 30]')
        return msgs


def make_channel_gate_node(x: str, w: str, k: str, y: str, channels: int, gate_frac_bits: int = 8,
                           name: str = '', block_rows: int = 0) -> NodeProto:
    """``ChannelGate`` node: NHWC ``x`` (N, H, W, C), weight initializer ``w`` (C, C), exponents ``k``
    (C,) -> ``y`` (N, H, W, C); ``block_rows`` > 0: one gate per block of that many rows."""
    extra = {'block_rows': int(block_rows)} if block_rows else {}
    return helper.make_node('ChannelGate', [x, w, k], [y], name=name, domain=DOMAIN,
                            channels=int(channels), gate_frac_bits=int(gate_frac_bits), **extra)
