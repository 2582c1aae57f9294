"""Run one ``hw.custom_ops`` node through qonnx ``execute_onnx`` (domain resolution included)."""

from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.util.basic import qonnx_make_model

from hw.custom_ops import DOMAIN, OPSET_VERSION


def run_single_node(node, inputs: dict, out_name, out_shape, initializers=None):
    """Execute ``node`` on the float32 ``inputs`` {name: array} (and ``initializers``); return the
    output ``out_name`` of declared shape ``out_shape``."""
    initializers = initializers or {}
    graph = helper.make_graph(
        [node], 'one_node',
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)])
    model = ModelWrapper(qonnx_make_model(graph, opset_imports=[helper.make_opsetid('', 20),
                                                               helper.make_opsetid(DOMAIN, OPSET_VERSION)]))
    for k, v in initializers.items():
        model.set_initializer(k, v)
    return execute_onnx(model, inputs)[out_name]
