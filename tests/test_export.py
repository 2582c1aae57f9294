"""QONNX export: raw Brevitas export -> final channels-last graph with the two fused custom ops,
and the bit-exact contract eval-mode PyTorch == qonnx execute_onnx (np.array_equal)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.general.intquant import int_quant
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model
from qonnx.util.cleanup import cleanup_model

from hw.custom_ops import DOMAIN, bilinear_resize_nhwc, make_bilinear_resize_node, make_channel_gate_node
from hw.export import build_final_qonnx, export_and_verify, export_qonnx
from hw.qonnx_passes import FillResizeRoi, QonnxPassError, ResizeToBilinearResize, StripEmptyOptionalInputs
from quant_models.errors import HsbinetError
from quant_models.hsbinet import Decoder, HSBiNetConfig, build_model
from quant_models.layers import HardSigmoidPo2

QUIET = {'log': lambda s: None}
LSB = 2.0 ** -14  # fixed<16,2> of the ms/pan inputs and of the output


def _hardware_model(bands, hidden, blocks, pan=16, seed=0):
    """Hardware-profile model with BN running statistics from a few train-mode forwards."""
    torch.manual_seed(seed)
    model = build_model(HSBiNetConfig(bands=bands, hidden=hidden, blocks=blocks, profile='hardware'))
    model.train()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(2, bands, pan // 4, pan // 4, generator=g), torch.rand(2, 1, pan, pan, generator=g))
    return model.eval()


def _inputs(bands, pan, seed=0):
    """Random inputs plus inputs on the saturation limits and on rounding ties of the input quantisers."""
    g = torch.Generator().manual_seed(seed)
    h = pan // 4
    plain = (torch.rand(1, bands, h, h, generator=g), torch.rand(1, 1, pan, pan, generator=g))
    wide = (torch.rand(1, bands, h, h, generator=g) * 6 - 3, torch.rand(1, 1, pan, pan, generator=g) * 6 - 3)
    ties_ms = (torch.randint(-2 ** 15, 2 ** 15, (1, bands, h, h), generator=g).float() + 0.5) * LSB
    ties_ms.view(-1)[:5] = torch.tensor([2.0, -2.0, 2 - LSB, 2 - LSB / 2, -2 - LSB / 2])
    ties_pan = (torch.randint(-2 ** 15, 2 ** 15, (1, 1, pan, pan), generator=g).float() + 0.5) * LSB
    near_top = (torch.full((1, bands, h, h), 1.99), torch.full((1, 1, pan, pan), -0.5))
    cases = [plain, wide, (ties_ms, ties_pan), near_top]
    return torch.cat([c[0] for c in cases]), torch.cat([c[1] for c in cases])


@pytest.fixture(scope='module')
def small_model():
    return _hardware_model(8, 8, 1)


def _verified(model, tmp_path_factory, pan, source=None):
    ms, x_pan = _inputs(8, pan, seed=pan)
    out = tmp_path_factory.mktemp(f'pan{pan}')
    return export_and_verify(model if source is None else source, out, ms, x_pan, **QUIET), ms, x_pan


@pytest.fixture(scope='module')
def small_run_16(small_model, tmp_path_factory):
    # exported from a checkpoint dict (as `hsbinet train` writes it) to exercise that path too
    ckpt = {'model_config': small_model.cfg.to_dict(), 'state_dict': small_model.state_dict()}
    return _verified(small_model, tmp_path_factory, 16, source=ckpt)


@pytest.fixture(scope='module')
def small_run_32(small_model, tmp_path_factory):
    return _verified(small_model, tmp_path_factory, 32)


def _check_final_graph(result, bands, pan):
    ops = result['ops']
    assert result['transposes'] == 0 and 'Transpose' not in ops
    assert ops['BilinearResize'] == 1 and ops['ChannelGate'] == 1
    for gone in ('Resize', 'ReduceMean', 'Mul'):
        assert gone not in ops, ops
    assert result['inputs'] == {'ms': [1, pan // 4, pan // 4, bands], 'pan': [1, pan, pan, 1]}
    assert result['output'] == [1, pan, pan, bands]


@pytest.mark.parametrize('pan', [16, 32])
def test_final_graph_is_channels_last_fused_and_bit_exact(small_model, request, pan):
    result, ms, x_pan = request.getfixturevalue(f'small_run_{pan}')
    _check_final_graph(result, 8, pan)
    assert result['bit_exact'], result['first_mismatch']
    assert result['mismatches'] == 0 and result['max_abs_diff'] == 0.0
    assert result['n_elements'] == ms.shape[0] * 8 * pan * pan
    # the outputs really reach both saturation limits of fixed<16,2>
    with torch.no_grad():
        y = small_model(ms, x_pan)
    assert y.max().item() == 2 - LSB and y.min().item() == -2.0
    final = ModelWrapper(result['final'])
    assert DOMAIN in final.get_opset_imports()
    assert [i.name for i in final.graph.input] == ['ms', 'pan'] and final.graph.output[0].name == 'out'


def test_large_model_191_bands_64_channels_is_bit_exact(tmp_path):
    model = _hardware_model(191, 64, 2, pan=32, seed=1)
    g = torch.Generator().manual_seed(5)
    ms = torch.cat([torch.rand(1, 191, 8, 8, generator=g), torch.rand(1, 191, 8, 8, generator=g) * 5 - 2.5])
    pan = torch.cat([torch.rand(1, 1, 32, 32, generator=g), torch.rand(1, 1, 32, 32, generator=g) * 5 - 2.5])
    result = export_and_verify(model, tmp_path, ms, pan, **QUIET)
    _check_final_graph(result, 191, 32)
    assert result['bit_exact'] and result['mismatches'] == 0, result['first_mismatch']


# ---------------------------------------------------------------------------------------------
# custom ops against direct references
# ---------------------------------------------------------------------------------------------

def _run_single_node(node, inputs: dict, out_name, out_shape, initializers=None):
    """Execute one custom node through qonnx execute_onnx (domain resolution included)."""
    initializers = initializers or {}
    graph = helper.make_graph(
        [node], 'one_node',
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)])
    model = ModelWrapper(qonnx_make_model(graph, opset_imports=[helper.make_opsetid('', 20),
                                                               helper.make_opsetid(DOMAIN, 1)]))
    for k, v in initializers.items():
        model.set_initializer(k, v)
    return execute_onnx(model, inputs)[out_name]


@pytest.mark.parametrize('ratio,h,w', [(4, 3, 5), (2, 4, 4), (8, 2, 3), (4, 1, 1)])
def test_bilinear_resize_equals_torch_interpolate(ratio, h, w):
    g = torch.Generator().manual_seed(ratio * 10 + h)
    # inputs on the fixed<16,2> grid the hardware feeds it (the ms input quantiser's output)
    x = torch.randint(-2 ** 15, 2 ** 15, (2, 5, h, w), generator=g).float() * LSB
    ref = F.interpolate(x, scale_factor=ratio, mode='bilinear', align_corners=False).numpy()
    ref = ref.transpose(0, 2, 3, 1)
    x_nhwc = np.ascontiguousarray(x.numpy().transpose(0, 2, 3, 1))
    assert np.array_equal(bilinear_resize_nhwc(x_nhwc, ratio).astype(np.float32), ref)
    for n in range(2):
        y = _run_single_node(make_bilinear_resize_node('x', 'y', ratio), {'x': x_nhwc[n:n + 1]}, 'y',
                             [1, ratio * h, ratio * w, 5])
        assert y.dtype == np.float32 and np.array_equal(y, ref[n:n + 1])


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
    with torch.no_grad():
        return (x_nchw * dec.gate(dec.att(dec.pool(x_nchw)))).numpy()


def _gate_inputs(dec, C):
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
        y = _run_single_node(node, {'x': x_nhwc[n:n + 1]}, 'y', [1, 4, 6, C], {'w': w, 'k': k})
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


def test_custom_ops_are_resolved_by_the_qonnx_registry():
    node = make_channel_gate_node('x', 'w', 'k', 'y', channels=4)
    op = getCustomOp(node)
    assert type(op).__name__ == 'ChannelGate' and op.get_nodeattr('gate_frac_bits') == 8
    assert op.verify_node() == []
    assert type(getCustomOp(make_bilinear_resize_node('x', 'y', 4))).__name__ == 'BilinearResize'


# ---------------------------------------------------------------------------------------------
# passes: clear errors, hls4ml parser fixes
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def raw_small(small_run_16):
    return small_run_16[0]['raw']


def _tampered(raw_path, tmp_path, edit):
    model = cleanup_model(ModelWrapper(str(raw_path)))  # unique parameter tensors per node
    edit(model)
    path = tmp_path / 'tampered.onnx'
    model.save(str(path))
    return path


def _scalar_input(model, node, value):
    for name in node.input:
        init = model.get_initializer(name)
        if init is not None and init.size == 1 and float(init.reshape(-1)[0]) == value:
            return name
    return None


def test_fusion_rejects_an_altered_hard_sigmoid_slope(raw_small, tmp_path):
    def edit(model):
        hits = [(n, _scalar_input(model, n, 0.25)) for n in model.graph.node if n.op_type == 'Mul']
        hits = [(n, t) for n, t in hits if t]
        assert len(hits) == 1
        model.set_initializer(hits[0][1], np.array(0.3, dtype=np.float32))

    with pytest.raises(QonnxPassError, match=r'hard-sigmoid slope.*Expected: 0\.25.*Found: 0\.3') as err:
        build_final_qonnx(_tampered(raw_small, tmp_path, edit), tmp_path / 'final.onnx')
    assert 'Mul_' in str(err.value) and isinstance(err.value, HsbinetError)


def test_fusion_rejects_a_gate_quantiser_that_is_not_ufixed_8_0(raw_small, tmp_path):
    def edit(model):
        gate_q = [n for n in model.graph.node if n.op_type == 'Quant'
                  and model.find_producer(n.input[0]) is not None
                  and model.find_producer(n.input[0]).op_type == 'Add'
                  and _scalar_input(model, model.find_producer(n.input[0]), 0.5)]
        assert len(gate_q) == 1
        model.set_initializer(gate_q[0].input[1], np.array(2.0 ** -7, dtype=np.float32))

    with pytest.raises(QonnxPassError, match=r'gate scale.*Quant_'):
        build_final_qonnx(_tampered(raw_small, tmp_path, edit), tmp_path / 'final.onnx')


def _resize_graph(mode, scales):
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 4, 4, 3])
    out = [int(a * b) for a, b in zip([1, 4, 4, 3], scales)]
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, out)
    node = helper.make_node('Resize', ['x', '', 'scales', ''], ['y'], name='Resize_0', mode=mode,
                            coordinate_transformation_mode='half_pixel')
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], 'r', [x], [y]),
                                          opset_imports=[helper.make_opsetid('', 20)]))
    model.set_initializer('scales', np.array(scales, dtype=np.float32))
    return model


def test_resize_pass_converts_bilinear_x4_and_rejects_ratio_3():
    model = _resize_graph('linear', [1, 4, 4, 1]).transform(ResizeToBilinearResize())
    (node,) = model.graph.node
    assert (node.op_type, node.domain) == ('BilinearResize', DOMAIN)
    assert getCustomOp(node).get_nodeattr('ratio') == 4
    with pytest.raises(QonnxPassError, match='power of two'):
        _resize_graph('linear', [1, 3, 3, 1]).transform(ResizeToBilinearResize())
    with pytest.raises(QonnxPassError, match='NHWC'):
        _resize_graph('linear', [1, 1, 4, 4]).transform(ResizeToBilinearResize())


def test_nearest_resize_gets_parseable_inputs_for_hls4ml():
    model = _resize_graph('nearest', [1, 2, 2, 1])
    model = model.transform(ResizeToBilinearResize()).transform(StripEmptyOptionalInputs())
    model = model.transform(FillResizeRoi())
    (node,) = model.graph.node
    assert node.op_type == 'Resize' and '' not in node.input and len(node.input) == 3
    assert model.get_initializer(node.input[1]).shape == (1,)
    x = np.random.default_rng(0).random((1, 4, 4, 3)).astype(np.float32)
    assert np.array_equal(execute_onnx(model, {'x': x})['y'], x.repeat(2, 1).repeat(2, 2))


def test_export_rejects_a_patch_that_is_not_a_multiple_of_the_ratio(small_model, tmp_path):
    with pytest.raises(HsbinetError, match='multiple of the ratio'):
        export_qonnx(small_model, tmp_path / 'raw.onnx', patch=(18, 16), **QUIET)
