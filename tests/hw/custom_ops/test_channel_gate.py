"""``ChannelGate`` (NHWC) against the decoder's torch attention path, and the half-to-even
rounding it relies on."""

import numpy as np
import pytest
import torch
from qonnx.custom_op.general.intquant import int_quant
from qonnx.custom_op.registry import getCustomOp

from hw.custom_ops import make_channel_gate_node
from quant_models.hsbinet import Decoder, HSBiNetConfig
from quant_models.layers import HardSigmoidPo2
from tests.hw.custom_ops.single_node import run_single_node


def _decoder_with_attention_weights(C, exps):
    """Decoder whose binary attention weights are +-2^k per row (k from ``exps``; None =
    random latent weights, scale from mean|W| as in training)."""
    torch.manual_seed(C)
    dec = Decoder(HSBiNetConfig(bands=3, hidden=C, blocks=0, profile='hardware')).eval()
    with torch.no_grad():
        w = dec.att.conv.weight
        signs = torch.where(torch.rand(w.shape) < 0.5, -1.0, 1.0)
        for o, k in enumerate(exps):
            if k is not None:
                w[o] = signs[o] * 2.0 ** k
    return dec


def _torch_attention(dec, x_nchw):
    """The decoder's attention on NCHW ``x_nchw`` (N, C, H, W): x * gate(att(pool(x)))."""
    with torch.no_grad():
        return (x_nchw * dec.gate(dec.att(dec.pool(x_nchw)))).numpy()


def _gate_inputs(dec, C):
    """ChannelGate's W (C, C) in {-1, +1} and K (C,) from the decoder's quantised attention weights."""
    qw = dec.att.conv.quant_weight()
    scale = qw.scale.detach().reshape(-1).double().numpy()
    k = np.log2(scale)
    assert np.array_equal(k, np.round(k))
    w = (qw.value.detach().double() / qw.scale.detach().double()).reshape(C, C).numpy()
    assert set(np.unique(w)) <= {-1.0, 1.0}
    return w.astype(np.float32), k.astype(np.int64)


@pytest.mark.parametrize('C,exps', [
    (7, [-7, -7, -7, -5, 0, -9, -7]),  # C odd and K=-7: (z/4 + 1/2) * 256 = n/2 + 128 hits .5 ties
    (8, [None] * 8),  # latent weights as initialised, scales from mean|W|
])
def test_channel_gate_equals_the_torch_attention_path(C, exps):
    dec = _decoder_with_attention_weights(C, exps)
    w, k = _gate_inputs(dec, C)
    g = torch.Generator().manual_seed(C)
    x = torch.where(torch.rand(3, C, 4, 6, generator=g) < 0.5, -1.0, 1.0)
    if C == 7:  # pooled signs = -/+ the K=0 row of W: that gate saturates low / high
        row = torch.from_numpy(w[4]).view(C, 1, 1)
        x[1], x[2] = -row.expand(C, 4, 6), row.expand(C, 4, 6)
    x[:, 0] = torch.tensor([1.0, -1.0]).repeat(12).reshape(4, 6)  # channel 0: sum exactly 0 -> +1
    ref = _torch_attention(dec, x).transpose(0, 2, 3, 1)
    x_nhwc = np.ascontiguousarray(x.numpy().transpose(0, 2, 3, 1))
    for n in range(3):
        node = make_channel_gate_node('x', 'w', 'k', 'y', channels=C)
        y = run_single_node(node, {'x': x_nhwc[n:n + 1]}, 'y', [1, 4, 6, C], {'w': w, 'k': k})
        assert y.dtype == np.float32 and np.array_equal(y, ref[n:n + 1]), n
    if C == 7:  # the test really exercises ties, saturation and a zero-sum channel
        with torch.no_grad():
            z = dec.att(dec.pool(x)) * 0.25 + 0.5
        v = (z * 256).double().numpy()
        assert np.any(v - np.floor(v) == 0.5) and np.any(v >= 256) and np.any(v <= 0)
        assert x[0, 0].sum().item() == 0


def test_quant_round_is_half_to_even_in_torch_and_qonnx():
    """Brevitas' ROUND (RoundSte = torch.round) and qonnx' Quant ROUND (np.round) both round ties
    to even; ChannelGate relies on it."""
    k = torch.arange(0, 255, dtype=torch.float64)
    x = ((k + 0.5) / 256).float().reshape(1, -1, 1, 1)  # every tie of ufixed<8,0>
    expected = np.round((k + 0.5).numpy()) / 256  # np.round: half to even
    assert np.array_equal(expected[:3] * 256, [0.0, 2.0, 2.0])
    with torch.no_grad():
        y_torch = HardSigmoidPo2(8).quant(x).double().reshape(-1).numpy()
    y_qonnx = int_quant(x.numpy(), np.float32(2.0 ** -8), np.float32(0), np.float32(8), 0, 0, 'ROUND')
    assert np.array_equal(y_torch, expected)
    assert np.array_equal(y_qonnx.astype(np.float64).reshape(-1), expected)


def test_channel_gate_is_resolved_by_the_qonnx_registry():
    node = make_channel_gate_node('x', 'w', 'k', 'y', channels=4)
    op = getCustomOp(node)
    assert type(op).__name__ == 'ChannelGate' and op.get_nodeattr('gate_frac_bits') == 8
    assert op.verify_node() == []
