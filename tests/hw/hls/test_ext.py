"""hls4ml extension layers (hw/hls4ml_ext): BilinearResize and ChannelGate, bit-exact in C-simulation.

Each case builds a tiny NHWC ONNX model by hand (input -> custom node -> output), converts it with
hls4ml (io_stream), compiles the C-simulation with g++ and compares ``predict()`` with a numpy
reference of the node's semantics using ``np.array_equal`` (no tolerance).
"""

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

hls4ml = pytest.importorskip('hls4ml')

from hw.hls.ext import HlsExtensionError, annotate_shapes, register_extensions  # noqa: E402

DOMAIN = 'hw.custom_ops'  # any domain works: the handlers key on op_type only


@pytest.fixture(scope='module', autouse=True)
def _registered():
    register_extensions()
    register_extensions()  # idempotent


# ----------------------------------------------------------------------------------- references

def ref_bilinear(x, r):
    """torch interpolate(bilinear, align_corners=False) on NHWC, float64 (exact on these grids)."""
    def taps(n_in):
        out = []
        for d in range(n_in * r):
            src = max((d + 0.5) / r - 0.5, 0.0)
            i0 = min(int(np.floor(src)), n_in - 1)
            i1 = min(i0 + 1, n_in - 1)
            l1 = src - i0
            out.append((i0, i1, 1.0 - l1, l1))
        return out

    _, h, w, c = x.shape
    y = np.zeros((1, h * r, w * r, c))
    for oy, (y0, y1, a0, a1) in enumerate(taps(h)):
        for ox, (x0, x1, b0, b1) in enumerate(taps(w)):
            y[0, oy, ox] = (a0 * (b0 * x[0, y0, x0] + b1 * x[0, y0, x1])
                            + a1 * (b0 * x[0, y1, x0] + b1 * x[0, y1, x1]))
    return y


def ref_gate(x, w, k, f=8, sign_of_zero=1.0):
    """s_c = sign(sum X) (sign(0) = +1); z = 2^K * W s; g = clip(rne((z/4 + 1/2) 2^f), 0, 2^f-1) / 2^f."""
    sums = x.sum(axis=(0, 1, 2))
    s = np.where(sums > 0, 1.0, np.where(sums < 0, -1.0, sign_of_zero))
    z = 2.0 ** k.astype(np.float64) * (w.astype(np.float64) @ s)
    g = np.clip(np.round((z / 4 + 0.5) * 2 ** f), 0, 2 ** f - 1) / 2 ** f  # np.round: half to even
    return x * g[None, None, None, :]


def on_grid(rng, shape, width=16, integer=2):
    frac = width - integer
    lo, hi = -(2 ** (width - 1)), 2 ** (width - 1)
    return rng.integers(lo, hi, size=shape).astype(np.float64) / 2 ** frac


# ----------------------------------------------------------------------------------- model builders

def _model(nodes, inp_shape, out_name, out_shape, initializers=(), value_info=()):
    graph = helper.make_graph(
        nodes, 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, inp_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)],
        list(initializers), value_info=list(value_info))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13), helper.make_opsetid(DOMAIN, 1)])
    model.ir_version = 8
    return model


def resize_model(h, w, c, r):
    node = helper.make_node('BilinearResize', ['x'], ['y'], name='up', domain=DOMAIN, ratio=r)
    return _model([node], [1, h, w, c], 'y', [1, r * h, r * w, c])


def gate_model(w, k, h=8, wd=8, f=8, bipolar=False):
    c = w.shape[0]
    inits = [numpy_helper.from_array(w.astype(np.float32), 'gate_W'),
             numpy_helper.from_array(k.astype(np.int64), 'gate_K')]
    nodes, x_name = [], 'x'
    if bipolar:  # stock QONNX layer first: hls4ml turns it into binary_tanh with a 1-bit XNOR output
        inits.append(numpy_helper.from_array(np.array(1.0, np.float32), 'bq_scale'))
        nodes.append(helper.make_node('BipolarQuant', ['x', 'bq_scale'], ['xb'], name='bq',
                                      domain='qonnx.custom_op.general'))
        x_name = 'xb'
    nodes.append(helper.make_node('ChannelGate', [x_name, 'gate_W', 'gate_K'], ['y'], name='gate', domain=DOMAIN,
                                  channels=c, gate_frac_bits=f))
    model = _model(nodes, [1, h, wd, c], 'y', [1, h, wd, c], inits)
    if bipolar:
        model.graph.value_info.append(helper.make_tensor_value_info('xb', TensorProto.FLOAT, [1, h, wd, c]))
        model.graph.value_info.append(helper.make_tensor_value_info('bq_scale', TensorProto.FLOAT, []))
    return annotate_shapes(model)  # value_info of W and K (hls4ml needs a shape for every node input)


def convert(model, tmp_path, backend='Vitis', hls_config=None, name='prj'):
    hls_config = hls_config or {'Model': {'Precision': 'ap_fixed<16,6>', 'ReuseFactor': 1}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        hm = hls4ml.converters.convert_from_onnx_model(
            model, output_dir=str(tmp_path / name), io_type='io_stream', backend=backend, hls_config=hls_config)
    overriding = [str(w.message) for w in caught if 'Overriding attribute' in str(w.message)]
    assert not overriding, overriding
    return hm


def precision_of(hm, layer_name):
    return str(hm.graph[layer_name].get_output_variable().type.precision)


# ----------------------------------------------------------------------------------- BilinearResize

@pytest.mark.parametrize('h,w,c,r', [(4, 4, 3, 4), (5, 3, 8, 4), (3, 2, 2, 2)])
def test_bilinear_resize_is_bit_exact(tmp_path, h, w, c, r):
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    x = on_grid(rng, (1, h, w, c))
    # extremes of ap_fixed<16,2> on the borders: edge replication and full range
    x[0, 0, :, 0] = -2.0
    x[0, -1, :, 0] = 2.0 - 2.0 ** -14
    x[0, :, 0, -1] = 2.0 - 2.0 ** -14
    x[0, :, -1, -1] = -2.0
    x[0, 0, 0, :] = x[0, -1, -1, :] = 2.0 - 2.0 ** -14

    hm = convert(resize_model(h, w, c, r), tmp_path,
                 hls_config={'Model': {'Precision': 'ap_fixed<16,2>', 'ReuseFactor': 1}})
    extra = 2 * (int(np.log2(r)) + 1)  # 6 for r = 4: 2-D weights are multiples of 1/64
    assert precision_of(hm, 'up').startswith(f'fixed<{16 + extra},2,')
    hm.compile()
    y = np.asarray(hm.predict(np.ascontiguousarray(x))).reshape(1, r * h, r * w, c)

    expected = ref_bilinear(x, r)
    assert np.array_equal(y, expected), np.argwhere(y != expected)[:5]

    torch = pytest.importorskip('torch')  # the semantics really are torch's (float32 is exact here)
    t = torch.nn.functional.interpolate(torch.from_numpy(x.transpose(0, 3, 1, 2)).float(), scale_factor=r,
                                        mode='bilinear', align_corners=False)
    assert np.array_equal(t.numpy().transpose(0, 2, 3, 1).astype(np.float64), expected)


def test_bilinear_resize_configured_precision_wins_and_narrow_one_warns(tmp_path):
    cfg = {'Model': {'Precision': 'ap_fixed<16,2>', 'ReuseFactor': 1},
           'LayerName': {'up': {'Precision': {'result': 'ap_fixed<20,2>'}}}}
    with pytest.warns(UserWarning, match='does not hold the exact output'):
        hm = hls4ml.converters.convert_from_onnx_model(
            resize_model(2, 2, 1, 4), output_dir=str(tmp_path / 'p'), io_type='io_stream', backend='Vitis',
            hls_config=cfg)
    assert precision_of(hm, 'up').startswith('fixed<20,2')


def test_bilinear_resize_rejects_non_power_of_two_ratio_and_io_parallel(tmp_path):
    cfg = {'Model': {'Precision': 'ap_fixed<16,2>', 'ReuseFactor': 1}}
    with pytest.raises(HlsExtensionError, match='power of two'):
        hls4ml.converters.convert_from_onnx_model(resize_model(2, 2, 1, 3), output_dir=str(tmp_path / 'a'),
                                                  io_type='io_stream', backend='Vitis', hls_config=cfg)
    with pytest.raises(HlsExtensionError, match='io_stream'):
        hls4ml.converters.convert_from_onnx_model(resize_model(2, 2, 1, 4), output_dir=str(tmp_path / 'b'),
                                                  io_type='io_parallel', backend='Vitis', hls_config=cfg)


# ----------------------------------------------------------------------------------- ChannelGate

C, H, W = 8, 8, 8
# per output channel: target d = sum_c W[o,c] s_c and exponent K, chosen to hit every branch
#   o0: z = 64   -> saturates at 2^f - 1      o1: z = -64 -> saturates at 0
#   o2: 128.5 -> 128 (tie, to even)          o3: 127.5 -> 128 (tie, to even)    o4: 129.5 -> 130
#   o5: d = 0                                o6: z = -2 -> exactly 0             o7: z = 4 -> saturates
TARGET_D = np.array([8, -8, 2, -2, 6, 0, -4, 4])
GATE_K = np.array([3, 3, -8, -8, -8, 0, -1, 0])


def gate_case(seed):
    """X in {-1,+1} (1,8,8,8) with channel 0 summing to exactly 0, and W built to give TARGET_D."""
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(1, H, W, C))
    flat = np.array([1.0] * 32 + [-1.0] * 32)
    x[0, :, :, 0] = rng.permutation(flat).reshape(H, W)           # sum exactly 0 -> s = +1
    x[0, :, :, 1] = rng.permutation(np.r_[flat[1:], -1.0]).reshape(H, W)  # sum -2 -> s = -1
    sums = x.sum(axis=(0, 1, 2))
    assert sums[0] == 0 and sums[1] == -2
    s = np.where(sums >= 0, 1.0, -1.0)
    w = np.empty((C, C))
    for o, d in enumerate(TARGET_D):
        agree = np.zeros(C, bool)
        agree[rng.permutation(C)[:(C + d) // 2]] = True
        w[o] = np.where(agree, s, -s)
    assert np.array_equal(w @ s, TARGET_D)
    return x, w


def check_gate(hm, x, w, k):
    hm.compile()
    y = np.asarray(hm.predict(np.ascontiguousarray(x))).reshape(x.shape)
    expected = ref_gate(np.where(x >= 0, 1.0, -1.0), w, k)
    assert np.array_equal(y, expected), np.argwhere(y != expected)[:5]
    # the case is sensitive to the sign(0) convention and covers both ends of the clip
    assert not np.array_equal(expected, ref_gate(np.where(x >= 0, 1.0, -1.0), w, k, sign_of_zero=-1.0))
    g = np.abs(expected[0, 0, 0])
    assert g.min() == 0 and g.max() == 255 / 256 and {128 / 256, 130 / 256} <= set(g)


def test_channel_gate_signed_input_is_bit_exact(tmp_path):
    x, w = gate_case(1)
    cfg = {'Model': {'Precision': 'ap_fixed<16,6>', 'ReuseFactor': 1}, 'LayerName': {'x': {'Precision': 'ap_int<2>'}}}
    hm = convert(gate_model(w, GATE_K), tmp_path, hls_config=cfg)
    layer = hm.graph['gate']
    assert precision_of(hm, 'gate').startswith('fixed<9,1,')  # exact: |Y| <= 1 - 2^-8
    assert layer.frame_buffer_bits() == H * W * C
    assert not any(n.class_name == 'Constant' for n in hm.get_layers())
    check_gate(hm, x, w, GATE_K)
    # W / K are weight arrays of the generated project (fault-injection target)
    wname, kname = layer.get_weights('gate_w').name, layer.get_weights('gate_k').name
    wtxt = (tmp_path / 'prj' / 'firmware' / 'weights' / f'{wname}.txt').read_text()
    assert [int(v) for v in wtxt.split(',')] == [int(v) for v in (w.reshape(-1) > 0)]
    ktxt = (tmp_path / 'prj' / 'firmware' / 'weights' / f'{kname}.txt').read_text()
    assert [int(v) for v in ktxt.split(',')] == list(GATE_K)
    params = (tmp_path / 'prj' / 'firmware' / 'parameters.h').read_text()
    assert 'xnor_input = false;' in params and 'frame_bits = 512;' in params


def test_channel_gate_after_bipolar_quant_xnor_input_is_bit_exact(tmp_path):
    x, w = gate_case(2)
    x = x * np.random.default_rng(3).integers(1, 4, size=x.shape)  # BipolarQuant sees magnitudes too
    model = gate_model(w, GATE_K, bipolar=True)
    cfg = hls4ml.utils.config_from_onnx_model(model, granularity='name', backend='Vitis',
                                              default_precision='ap_fixed<16,6>')
    cfg['LayerName']['x']['Precision'] = 'ap_fixed<8,4>'
    hm = convert(model, tmp_path, hls_config=cfg)
    assert str(hm.graph['gate'].get_input_variable().type.precision) == 'uint<1>'  # hls4ml XNOR encoding
    check_gate(hm, x, w, GATE_K)
    assert 'xnor_input = true;' in (tmp_path / 'prj' / 'firmware' / 'parameters.h').read_text()


def test_channel_gate_vivado_backend_is_bit_exact(tmp_path):
    x, w = gate_case(4)
    cfg = {'Model': {'Precision': 'ap_fixed<16,6>', 'ReuseFactor': 1}, 'LayerName': {'x': {'Precision': 'ap_int<2>'}}}
    hm = convert(gate_model(w, GATE_K), tmp_path, backend='Vivado', hls_config=cfg)
    check_gate(hm, x, w, GATE_K)


@pytest.mark.parametrize('shape', [(C, C - 1), (C * C,), (C, C, 1)])
def test_channel_gate_wrong_weight_shape_fails_at_conversion(tmp_path, shape):
    w = np.ones(shape)
    model = gate_model(np.ones((C, C)), GATE_K)
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(w.astype(np.float32), 'gate_W'))
    vi = next(v for v in model.graph.value_info if v.name == 'gate_W')
    vi.CopyFrom(helper.make_tensor_value_info('gate_W', TensorProto.FLOAT, list(shape)))
    with pytest.raises(HlsExtensionError, match=r"weight W \('gate_W'\) must have shape \(C, C\) = \(8, 8\)"):
        hls4ml.converters.convert_from_onnx_model(model, output_dir=str(tmp_path / 'p'), io_type='io_stream',
                                                  backend='Vitis')


def test_channel_gate_rejects_non_binary_weights_and_unsigned_input(tmp_path):
    w = np.ones((C, C))
    w[2, 3] = 0.5
    with pytest.raises(HlsExtensionError, match='entries must be -1 or \\+1'):
        hls4ml.converters.convert_from_onnx_model(gate_model(w, GATE_K), output_dir=str(tmp_path / 'a'),
                                                  io_type='io_stream', backend='Vitis')
    cfg = {'Model': {'Precision': 'ap_fixed<16,6>'}, 'LayerName': {'x': {'Precision': 'ap_uint<2>'}}}
    with pytest.raises(HlsExtensionError, match='must hold \\+-1'):
        hls4ml.converters.convert_from_onnx_model(gate_model(np.ones((C, C)), GATE_K), output_dir=str(tmp_path / 'b'),
                                                  io_type='io_stream', backend='Vitis', hls_config=cfg)


def test_annotate_shapes_adds_value_info_for_custom_outputs_and_initializers():
    model = gate_model(np.ones((C, C)), GATE_K)
    node = helper.make_node('BilinearResize', ['y'], ['z'], name='up2', domain=DOMAIN, ratio=4)
    model.graph.node.append(node)
    annotate_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.value_info}
    assert shapes['gate_W'] == [C, C] and shapes['gate_K'] == [C]
    assert shapes['z'] == [1, 4 * H, 4 * W, C]
    onnx.checker.check_model(model)  # (custom domain nodes are not schema-checked)


def test_bilinear_resize_between_stock_layers_with_config_from_onnx_model(tmp_path):
    """Quant -> BilinearResize -> Relu: the exact type follows the Quant's precision (known only after
    hls4ml's QONNX passes), the custom output's shape comes from annotate_shapes (value_info)."""
    h, w, c, r = 3, 4, 2, 4
    inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (('qs', 2.0 ** -14), ('qz', 0.0),
                                                                              ('qb', 16.0))]
    nodes = [helper.make_node('Quant', ['x', 'qs', 'qz', 'qb'], ['xq'], name='q', domain='qonnx.custom_op.general',
                              signed=1, narrow=0, rounding_mode='ROUND'),
             helper.make_node('BilinearResize', ['xq'], ['u'], name='up', domain=DOMAIN, ratio=r),
             helper.make_node('Relu', ['u'], ['y'], name='relu')]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, []) for n in ('qs', 'qz', 'qb')]
    vi.append(helper.make_tensor_value_info('xq', TensorProto.FLOAT, [1, h, w, c]))
    model = annotate_shapes(_model(nodes, [1, h, w, c], 'y', [1, r * h, r * w, c], inits, vi))
    assert any(v.name == 'u' for v in model.graph.value_info)
    cfg = hls4ml.utils.config_from_onnx_model(model, granularity='name', backend='Vitis',
                                              default_precision='ap_fixed<16,6>')
    cfg['LayerName']['x']['Precision'] = 'ap_fixed<16,2>'
    cfg['LayerName']['relu']['Precision']['result'] = 'ap_fixed<22,2>'
    hm = convert(model, tmp_path, hls_config=cfg)
    assert precision_of(hm, 'q_act').startswith('fixed<16,2,')
    assert precision_of(hm, 'up').startswith('fixed<22,2,')
    hm.compile()
    x = on_grid(np.random.default_rng(7), (1, h, w, c))
    y = np.asarray(hm.predict(x)).reshape(1, r * h, r * w, c)
    assert np.array_equal(y, np.maximum(ref_bilinear(x, r), 0.0))


# ----------------------------------------------------------------------------------- HaarDWT / HaarIDWT

def haar_model(op, h, w, c):
    out = [1, h // 2, w // 2, 4 * c] if op == 'HaarDWT' else [1, 2 * h, 2 * w, c // 4]
    return _model([helper.make_node(op, ['x'], ['y'], name='haar', domain=DOMAIN)], [1, h, w, c], 'y', out)


@pytest.mark.parametrize('op,h,w,c', [('HaarDWT', 4, 6, 3), ('HaarDWT', 2, 2, 1), ('HaarIDWT', 3, 2, 8),
                                      ('HaarIDWT', 1, 1, 4)])
def test_haar_transforms_are_bit_exact(tmp_path, op, h, w, c):
    from hw.custom_ops import haar_dwt_nhwc, haar_idwt_nhwc
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    x = on_grid(rng, (1, h, w, c))
    x.reshape(-1)[:4] = [-2.0, -2.0, 2.0 - 2.0 ** -14, 2.0 - 2.0 ** -14]  # extremes of ap_fixed<16,2>
    hm = convert(haar_model(op, h, w, c), tmp_path, hls_config={'Model': {'Precision': 'ap_fixed<16,2>',
                                                                           'ReuseFactor': 1}})
    assert precision_of(hm, 'haar').startswith('fixed<18,3,')  # exact: W + 2, I + 1
    hm.compile()
    expected = haar_dwt_nhwc(x) if op == 'HaarDWT' else haar_idwt_nhwc(x)
    y = np.asarray(hm.predict(np.ascontiguousarray(x))).reshape(expected.shape)
    assert np.array_equal(y, expected), np.argwhere(y != expected)[:5]


def test_haar_transforms_refuse_odd_frames_and_partial_subbands(tmp_path):
    with pytest.raises(HlsExtensionError, match='even height and width'):
        convert(_model([helper.make_node('HaarDWT', ['x'], ['y'], name='haar', domain=DOMAIN)], [1, 3, 4, 2], 'y',
                       [1, 1, 2, 8]), tmp_path)
    with pytest.raises(HlsExtensionError, match='multiple of 4'):
        convert(_model([helper.make_node('HaarIDWT', ['x'], ['y'], name='haar', domain=DOMAIN)], [1, 2, 2, 6], 'y',
                       [1, 4, 4, 1]), tmp_path, name='prj2')
