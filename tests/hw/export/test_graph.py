"""The graph helpers kept next to qonnx's ModelWrapper: where they differ from qonnx's own."""

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.util.basic import qonnx_make_model

from hw.export.graph import TO_NCHW, rename_tensor
from hw.export.passes import SinkChannelsFirstTransposes


def _square_graph(transpose: bool) -> ModelWrapper:
    """x (1, 2, 3, 4) NHWC [-> Transpose(0,3,1,2) -> t (1, 4, 2, 3)] -> y = Mul(t, t)."""
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 2, 3, 4])
    nodes = [helper.make_node('Transpose', ['x'], ['t'], perm=TO_NCHW)] if transpose else []
    nodes.append(helper.make_node('Mul', ['t' if transpose else 'x'] * 2, ['y']))
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 4, 2, 3] if transpose else [1, 2, 3, 4])
    return ModelWrapper(qonnx_make_model(helper.make_graph(nodes, 'g', [x], [y]),
                                         opset_imports=[helper.make_opsetid('', 20)]))


def test_rename_tensor_renames_every_input_slot_of_a_node():
    qonnx_only = _square_graph(transpose=False)
    qonnx_only.rename_tensor('x', 'ms')
    assert list(qonnx_only.graph.node[0].input) == ['ms', 'x']  # why hw.export.graph keeps its own
    model = _square_graph(transpose=False)
    rename_tensor(model, 'x', 'ms')
    assert model.graph.input[0].name == 'ms' and list(model.graph.node[0].input) == ['ms', 'ms']


def test_sinking_a_transpose_read_twice_by_one_node_terminates():
    model = _square_graph(transpose=True).transform(SinkChannelsFirstTransposes())
    ops = [n.op_type for n in model.graph.node]
    assert ops == ['Mul'] and model.get_tensor_shape('y') == [1, 2, 3, 4]
    x = np.random.default_rng(0).random((1, 2, 3, 4)).astype(np.float32)
    assert np.array_equal(execute_onnx(model, {'x': x})['y'], x * x)
