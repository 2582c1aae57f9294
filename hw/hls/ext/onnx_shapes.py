"""value_info for the custom nodes, which ``onnx.shape_inference`` does not know.

hls4ml's ONNX reader (``get_input_shape``) looks up the shape of *every* node input in
``graph.value_info``, then ``graph.output``, then ``graph.input``, and raises "Could not find the
shape for input ..." otherwise. So a model handed to hls4ml needs, for the custom nodes:

- the shape of X (ordinary shape inference gives it);
- the shapes of the ChannelGate's initializers W and K (qonnx ``InferShapes`` adds value_info for
  initializers; plain ``onnx.shape_inference`` does not);
- the shape of the custom node's output whenever another node consumes it (a graph output
  carries its own shape).

qonnx ``InferShapes`` provides all of them when ``hw.custom_ops`` is importable (the domain of
the nodes names that module). :func:`annotate_shapes` provides them without qonnx.
"""

from __future__ import annotations

import onnx
from onnx import helper


def _known_shapes(graph) -> dict[str, tuple[int, list[int]]]:
    shapes = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        t = vi.type.tensor_type
        if t.HasField('shape'):
            shapes[vi.name] = (t.elem_type, [d.dim_value for d in t.shape.dim])
    return shapes


def annotate_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Add value_info for BilinearResize/ChannelGate/HaarDWT/HaarIDWT outputs and ChannelGate initializers (in place).

    Nodes are visited in graph order, so chains of custom nodes are handled. Returns the model.
    """
    graph = model.graph
    shapes = _known_shapes(graph)
    have_vi = {vi.name for vi in graph.value_info} | {vi.name for vi in graph.output} | {vi.name for vi in graph.input}
    inits = {t.name: t for t in graph.initializer}

    def add(name, elem_type, shape):
        if name not in have_vi:
            graph.value_info.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
            have_vi.add(name)
        shapes[name] = (elem_type, list(shape))

    for node in graph.node:
        if node.op_type not in ('BilinearResize', 'ChannelGate', 'HaarDWT', 'HaarIDWT'):
            continue
        for name in node.input[1:]:
            if name in inits:
                add(name, inits[name].data_type, inits[name].dims)
        if node.input[0] not in shapes:
            continue  # run ordinary shape inference first
        elem, (n, h, w, c) = shapes[node.input[0]]
        if node.op_type == 'BilinearResize':
            r = next((a.i for a in node.attribute if a.name == 'ratio'), 1)
            add(node.output[0], elem, [n, r * h, r * w, c])
        elif node.op_type == 'HaarDWT':
            add(node.output[0], elem, [n, h // 2, w // 2, 4 * c])
        elif node.op_type == 'HaarIDWT':
            add(node.output[0], elem, [n, 2 * h, 2 * w, c // 4])
        else:
            add(node.output[0], elem, [n, h, w, c])
    return model
