"""QONNX passes on their own: clear errors where the channel attention does not fit ChannelGate,
the Resize -> BilinearResize conversion and the hls4ml parser fixes of a nearest Resize (NHWC)."""

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model
from qonnx.util.cleanup import cleanup_model

from hw.custom_ops import DOMAIN
from hw.export import build_final_qonnx, export_qonnx
from hw.export.passes import FillResizeRoi, QonnxPassError, ResizeToBilinearResize, StripEmptyOptionalInputs
from quant_models.common import HsbinetError
from tests.conftest import QUIET, SMALL


@pytest.fixture(scope='module')
def raw_small(small_model, tmp_path_factory):
    """Raw (NCHW) Brevitas export of the small model at PAN 16 x 16."""
    return export_qonnx(small_model, tmp_path_factory.mktemp('raw_small') / 'raw.onnx',
                        patch=(SMALL['pan'], SMALL['pan']), **QUIET)


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
    """One Resize(x (1, 4, 4, 3) NHWC, '', scales, '') -> y."""
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
