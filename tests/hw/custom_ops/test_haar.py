"""``HaarDWT`` / ``HaarIDWT`` (NHWC) against BNNPan-style's torch transform, and the export pass
that puts them in place of its Conv / ConvTranspose."""

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from hw.custom_ops import haar_dwt_nhwc, haar_idwt_nhwc, make_haar_node
from hw.export.graph import QonnxPassError
from hw.export.passes import HaarToCustomOps
from hw.export.passes.haar_to_custom_ops import HAAR
from quant_models.bnnpan import haar_dwt, haar_idwt
from tests.hw.custom_ops.single_node import run_single_node

LSB = 2.0 ** -10  # fixed<16,6>, the feature grid the transform sees in the hardware profile


def _grid(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-2 ** 15, 2 ** 15, shape, generator=g).float() * LSB


def test_references_equal_the_torch_transform_and_the_single_node_execution():
    x = _grid((2, 3, 6, 4), 0)  # NCHW
    y = haar_dwt(x)
    x_nhwc = np.ascontiguousarray(x.numpy().transpose(0, 2, 3, 1))
    ref = haar_dwt_nhwc(x_nhwc)
    assert np.array_equal(ref, y.double().numpy().transpose(0, 2, 3, 1))
    back = haar_idwt_nhwc(ref)
    assert np.array_equal(back, x_nhwc) and np.array_equal(back, haar_idwt(y).double().numpy().transpose(0, 2, 3, 1))
    out = run_single_node(make_haar_node('HaarDWT', 'x', 'y'), {'x': x_nhwc[:1]}, 'y', [1, 3, 2, 12])
    assert out.dtype == np.float32 and np.array_equal(out, ref[:1])
    out = run_single_node(make_haar_node('HaarIDWT', 'x', 'y'), {'x': ref[:1].astype(np.float32)}, 'y', [1, 6, 4, 3])
    assert np.array_equal(out, x_nhwc[:1])
    assert type(getCustomOp(make_haar_node('HaarIDWT', 'x', 'y'))).__name__ == 'HaarIDWT'


def _conv_model(op, c=2, weight=None, **attrs):
    w = np.tile(HAAR, (c, 1, 1))[:, None].astype(np.float32) if weight is None else weight
    attrs = {'group': c, 'kernel_shape': [2, 2], 'strides': [2, 2], **attrs}
    shape_in, shape_out = ([1, c, 4, 4], [1, 4 * c, 2, 2]) if op == 'Conv' else ([1, 4 * c, 2, 2], [1, c, 4, 4])
    node = helper.make_node(op, ['x', 'w'], ['y'], name='t', **attrs)
    graph = helper.make_graph([node], 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, shape_in)],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, shape_out)],
                              [numpy_helper.from_array(w, 'w')])
    return ModelWrapper(qonnx_make_model(graph, opset_imports=[helper.make_opsetid('', 13)]))


@pytest.mark.parametrize('op,custom', [('Conv', 'HaarDWT'), ('ConvTranspose', 'HaarIDWT')])
def test_pass_replaces_the_haar_conv_between_transposes(op, custom):
    model = _conv_model(op).transform(HaarToCustomOps())
    assert [n.op_type for n in model.graph.node] == ['Transpose', custom, 'Transpose']
    # inputs on a fixed-point grid: the Conv and the custom op are both exact there (bit for bit)
    x = (np.random.default_rng(0).integers(-2 ** 15, 2 ** 15, model.get_tensor_shape('x')) * LSB).astype(np.float32)
    from qonnx.core.onnx_exec import execute_onnx
    ref = execute_onnx(_conv_model(op), {'x': x})['y']
    assert np.array_equal(execute_onnx(model, {'x': x})['y'], ref)


def test_pass_leaves_other_convs_and_refuses_haar_weights_with_other_attributes():
    other = np.ones((8, 1, 2, 2), np.float32)
    model = _conv_model('Conv', weight=other).transform(HaarToCustomOps())
    assert [n.op_type for n in model.graph.node] == ['Conv']
    with pytest.raises(QonnxPassError) as e:
        _conv_model('Conv', pads=[1, 1, 1, 1]).transform(HaarToCustomOps())
    assert 'pads' in str(e.value)
