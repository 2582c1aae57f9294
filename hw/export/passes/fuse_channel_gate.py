"""Fuse the hardware decoder's channel attention into one ``hw.custom_ops.ChannelGate`` node.

qonnx/hls4ml shortcoming: the squeeze-excite tail (global pool -> 1x1 conv -> gate -> broadcast
Mul) needs the whole frame before the multiply; stock hls4ml io_stream cannot lower it (and qonnx
has no op for it). The fused op is implemented as an hls4ml extension layer with a
C-bit-per-pixel frame buffer (hw/hls/ext/).
"""

from __future__ import annotations

import numpy as np
from onnx import NodeProto
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from hw.custom_ops import DOMAIN, OPSET_VERSION, make_channel_gate_node
from hw.export.graph import QONNX_DOMAIN, QonnxPassError, attr, new_initializer, str_attr


def _scalar(model: ModelWrapper, node: NodeProto, k: int, what: str) -> float:
    """The one-element constant at input ``k`` of ``node``; :class:`QonnxPassError` otherwise."""
    v = model.get_initializer(node.input[k]) if len(node.input) > k else None
    if v is None or v.size != 1:
        raise QonnxPassError(f'Channel attention: {what} is not a constant scalar', key=f'node {node.name}',
                             expected='a one-element initializer', found='dynamic tensor' if v is None
                             else f'shape {list(v.shape)}')
    return float(v.reshape(-1)[0])


class FuseChannelGate(Transformation):
    """The channel-attention subgraph -> ``ChannelGate(b, W, K)`` (NHWC (1, H, W, C) in and out).

    Pattern (NHWC, after :class:`~hw.export.passes.SinkChannelsFirstTransposes`), every constant checked::

        b  = BipolarQuant(x, scale=1)                           (kept; X of the ChannelGate)
        m  = ReduceMean(b, axes=[1, 2], keepdims=1)
        s  = BipolarQuant(m, scale=1)
        z  = Conv1x1(s, BipolarQuant(W_latent, scale=2^K per output channel)), no bias
        g  = Quant(Add(Mul(z, 0.25), 0.5), scale=2^-f, zero_point=0, bit_width=f,
                   signed=0, narrow=0, rounding_mode='ROUND')
        y  = Mul(b, g)                     ==>   y = ChannelGate(b, W=sign(W_latent), K)

    Rounding: Brevitas' ``RoundSte`` is ``torch.round`` and qonnx executes ``rounding_mode='ROUND'``
    with ``np.round``; both round half to even (128.5 -> 128, 129.5 -> 130), so ChannelGate rounds
    half to even too. The fusion is exact: the pooled sum of +-1 values, the +-2^K popcount sum,
    the shift by 1/4 and the +1/2 are exact in float32 for C < 2^15, so the float32 chain in
    PyTorch/qonnx and ChannelGate's exact arithmetic quantise the same number.

    Every ReduceMean in the graph must match this pattern: a mismatching structure or constant
    raises :class:`~hw.export.graph.QonnxPassError` naming the node (stock hls4ml cannot lower a
    ReduceMean anyway).
    """

    def __init__(self, block_rows: int = 0):
        """``block_rows`` > 0 (H8, docs/model.md): the model pools its attention per block of that many
        rows. The traced graph keeps the frame's ReduceMean (hw.export traces the frame pool), and the
        fused ChannelGate gets the block from the model configuration; the final graph is checked
        against the block-pooled model."""
        super().__init__()
        self.block_rows = int(block_rows)

    def apply(self, model):
        for rm in list(model.graph.node):
            if rm.op_type == 'ReduceMean':
                self._fuse(model, rm, self.block_rows)
                return model, True
        return model, False

    @staticmethod
    def _fail(node, what, expected, found):
        raise QonnxPassError(f'Channel attention cannot be fused into ChannelGate: {what}',
                             key=f'node {node.name} ({node.op_type})', expected=expected, found=found)

    @classmethod
    def _only_consumer(cls, model, node, op_type):
        cons = model.find_consumers(node.output[0])
        if len(cons) != 1 or cons[0].op_type != op_type:
            cls._fail(node, f'its output must feed exactly one {op_type}', f'one {op_type}',
                      ', '.join(f'{c.name} ({c.op_type})' for c in cons) or 'no consumer')
        return cons[0]

    @classmethod
    def _check_unit_bipolar(cls, model, node, role):
        if node is None or node.op_type != 'BipolarQuant':
            found = 'graph input' if node is None else f'{node.name} ({node.op_type})'
            raise QonnxPassError(f'Channel attention: {role} must come from a BipolarQuant', key=role,
                                 expected='BipolarQuant with scale 1', found=found)
        scale = model.get_initializer(node.input[1])
        if scale is None or not np.all(scale == 1.0):
            cls._fail(node, f'{role} must be binarised with scale 1', '1.0',
                      'dynamic' if scale is None else str(np.unique(scale).tolist()))

    @classmethod
    def _fuse(cls, model: ModelWrapper, rm: NodeProto, block_rows: int = 0) -> None:
        fail = cls._fail
        # b = BipolarQuant(x) -> ReduceMean
        b_node = model.find_producer(rm.input[0])
        cls._check_unit_bipolar(model, b_node, f'input of {rm.name}')
        b = b_node.output[0]
        b_shape = model.get_tensor_shape(b)
        if b_shape is None or len(b_shape) != 4:
            fail(rm, 'input rank', '4 (NHWC)', str(b_shape))
        C = int(b_shape[3])
        axes = attr(rm, 'axes')
        if axes is None and len(rm.input) > 1 and rm.input[1]:
            axes = model.get_initializer(rm.input[1])
            axes = None if axes is None else axes.reshape(-1).tolist()
        axes = None if axes is None else sorted(int(a) % 4 for a in axes)
        if axes != [1, 2] or int(attr(rm, 'keepdims', 1)) != 1:
            fail(rm, 'pool axes', 'axes [1, 2] (NHWC spatial), keepdims=1',
                 f'axes {axes}, keepdims={attr(rm, "keepdims", 1)}')
        # s = BipolarQuant(mean)
        s_node = cls._only_consumer(model, rm, 'BipolarQuant')
        cls._check_unit_bipolar(model, s_node, f'output of {rm.name}')
        # z = Conv1x1(s, Wq)
        conv = cls._only_consumer(model, s_node, 'Conv')
        if conv.domain != 'qonnx.custom_op.channels_last':
            fail(conv, 'conv is not channels-last', "domain 'qonnx.custom_op.channels_last'", repr(conv.domain))
        if len(conv.input) > 2 and conv.input[2]:
            fail(conv, 'attention conv has a bias', 'no bias', conv.input[2])
        geometry = {'kernel_shape': [1, 1], 'strides': [1, 1], 'dilations': [1, 1], 'pads': [0, 0, 0, 0],
                    'group': 1}
        for name, want in geometry.items():
            got = attr(conv, name, want)
            got = list(got) if isinstance(want, list) else int(got)
            if got != want:
                fail(conv, f'attention conv {name}', str(want), str(got))
        w_sign, k = cls._binary_weights(model, conv, C)
        # g = Quant(Add(Mul(z, 0.25), 0.5))
        mul = cls._only_consumer(model, conv, 'Mul')
        v = _scalar(model, mul, 1 if mul.input[0] == conv.output[0] else 0, 'hard-sigmoid slope')
        if v != 0.25:
            fail(mul, 'hard-sigmoid slope', '0.25', repr(v))
        add = cls._only_consumer(model, mul, 'Add')
        v = _scalar(model, add, 1 if add.input[0] == mul.output[0] else 0, 'hard-sigmoid offset')
        if v != 0.5:
            fail(add, 'hard-sigmoid offset', '0.5', repr(v))
        quant = cls._only_consumer(model, add, 'Quant')
        if quant.input[0] != add.output[0]:
            fail(quant, 'gate quantiser input', add.output[0], quant.input[0])
        f = cls._check_gate_quant(model, quant)
        gmul = cls._only_consumer(model, quant, 'Mul')
        other = [t for t in gmul.input if t != quant.output[0]]
        if other != [b]:
            fail(gmul, 'gate multiply', f'Mul({b}, gate)', f'Mul({", ".join(gmul.input)})')
        # replace
        w_name = new_initializer(model, w_sign.astype(np.float32), 'ChannelGate_W')
        k_name = new_initializer(model, k.astype(np.int64), 'ChannelGate_K')
        idx = model.get_node_index(gmul)
        node = make_channel_gate_node(b, w_name, k_name, gmul.output[0], channels=C, gate_frac_bits=f,
                                      name=f'ChannelGate_{rm.name}', block_rows=block_rows)
        model.graph.node.insert(idx, node)
        w_q = model.find_producer(conv.input[1])
        for n in (gmul, quant, add, mul, conv, s_node, rm):
            model.graph.node.remove(n)
        if w_q is not None and not model.find_consumers(w_q.output[0]):
            model.graph.node.remove(w_q)
        model.set_opset_import(DOMAIN, OPSET_VERSION)

    @classmethod
    def _binary_weights(cls, model, conv, C) -> tuple[np.ndarray, np.ndarray]:
        """(W in {-1,+1} of shape (C, C), K int64 (C,)) from BipolarQuant(latent, 2^K) or a folded initializer."""
        fail = cls._fail
        w_q = model.find_producer(conv.input[1])
        if w_q is not None:
            if w_q.op_type != 'BipolarQuant':
                fail(conv, 'attention weights', 'BipolarQuant(initializer, scale)', f'{w_q.name} ({w_q.op_type})')
            latent, scale = model.get_initializer(w_q.input[0]), model.get_initializer(w_q.input[1])
            if latent is None or scale is None:
                fail(w_q, 'attention weights', 'constant latent weights and scale', 'dynamic input')
            sign = np.where(latent >= 0, 1.0, -1.0)
            if sign.size != C * C:
                fail(conv, 'attention weight shape', f'{C}x{C}x1x1', str(list(latent.shape)))
            sign = sign.reshape(C, C)  # (O,1,1,I) channels-last or (O,I,1,1): same for 1x1
            scale = np.asarray(scale, dtype=np.float64).reshape(-1)
            if scale.size not in (1, C):
                fail(w_q, 'attention weight scale shape', f'1 or {C} values', str(scale.size))
            scale = np.broadcast_to(scale, (C,))
            where = w_q
        else:
            w = model.get_initializer(conv.input[1])
            if w is None or w.size != C * C:
                fail(conv, 'attention weights', f'a {C}x{C} binary weight', 'dynamic' if w is None else str(w.shape))
            w = w.astype(np.float64).reshape(C, C)
            scale = np.abs(w[:, 0])
            if not np.all(np.abs(w) == scale[:, None]):
                fail(conv, 'attention weights', 'entries +-2^K[o] per output channel', 'mixed magnitudes')
            sign = np.where(w >= 0, 1.0, -1.0)
            where = conv
        with np.errstate(divide='ignore', invalid='ignore'):
            k = np.round(np.log2(scale))
        ok = np.isfinite(scale) & (scale > 0) & np.isfinite(k)
        if not np.all(ok) or not np.array_equal(np.ldexp(1.0, k.astype(np.int64)), scale):
            fail(where, 'attention weight scale', 'a power of two per output channel',
                 str(np.unique(scale).tolist()[:8]))
        return sign, k.astype(np.int64)

    @classmethod
    def _check_gate_quant(cls, model, q) -> int:
        fail = cls._fail
        if q.domain != QONNX_DOMAIN:
            fail(q, 'gate quantiser domain', QONNX_DOMAIN, repr(q.domain))
        bw = _scalar(model, q, 3, 'gate bit width')
        if bw != int(bw) or not 1 <= bw <= 30:
            fail(q, 'gate bit width', 'an integer in [1, 30]', repr(bw))
        f = int(bw)
        scale = _scalar(model, q, 1, 'gate scale')
        if scale != 2.0 ** -f:
            fail(q, 'gate scale', f'2^-{f} = {2.0 ** -f!r} (ufixed<{f},0>)', repr(scale))
        zp = _scalar(model, q, 2, 'gate zero point')
        if zp != 0.0:
            fail(q, 'gate zero point', '0', repr(zp))
        for name, want in (('signed', 0), ('narrow', 0)):
            got = int(attr(q, name, 1))
            if got != want:
                fail(q, f'gate quantiser {name}', str(want), str(got))
        rmode = str_attr(q, 'rounding_mode', 'ROUND').upper()
        if rmode not in ('ROUND', 'HALF_EVEN'):
            fail(q, 'gate rounding mode', "'ROUND' (half to even)", repr(rmode))
        return f
