"""Graph helpers shared by the QONNX passes (:mod:`hw.export.passes`), the final-graph check
(:mod:`hw.export.check`) and :mod:`hw.export.final_graph`.

Everything qonnx 1.0.0's ``ModelWrapper`` already does (``find_producer``, ``find_consumers``,
``get_initializer``, ``get_node_index``, ``set_opset_import``...) is called directly; this module
holds only what qonnx lacks, each helper saying why.

Layout conventions: ``TO_NCHW`` = Transpose perm (0, 3, 1, 2) (channels-last -> channels-first),
``TO_NHWC`` = (0, 2, 3, 1); :data:`NCHW_AXIS_IN_NHWC` maps an NCHW axis index to the same axis
of the NHWC tensor.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from onnx import TensorProto, NodeProto, helper, shape_inference
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp, is_custom_op
from qonnx.util.basic import get_by_name, remove_by_name

from quant_models.common import HsbinetError

TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)
NCHW_AXIS_IN_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}  # NCHW axis index -> same axis in NHWC
QONNX_DOMAIN = 'qonnx.custom_op.general'


class QonnxPassError(HsbinetError):
    """A graph pass met a node it must transform but cannot do so exactly."""


# qonnx reads attributes only through CustomOp.get_nodeattr; these three serve plain ONNX nodes.
def attr(node: NodeProto, name: str, default=None):
    """Value of attribute ``name`` of ``node`` (``default`` if absent)."""
    a = get_by_name(node.attribute, name)
    return default if a is None else helper.get_attribute_value(a)


def str_attr(node: NodeProto, name: str, default: str) -> str:
    """String attribute ``name`` of ``node`` as ``str`` (onnx hands strings back as bytes)."""
    value = attr(node, name, default)
    return value.decode() if isinstance(value, bytes) else value


def set_attr(node: NodeProto, name: str, value) -> None:
    """Set (add or replace) attribute ``name`` of ``node``."""
    remove_by_name(node.attribute, name)
    node.attribute.append(helper.make_attribute(name, value))


def is_transpose(node: NodeProto | None, perm: tuple[int, ...]) -> bool:
    """``node`` is a Transpose with exactly ``perm`` (None, e.g. a graph input's producer -> False)."""
    return node is not None and node.op_type == 'Transpose' and tuple(attr(node, 'perm', ())) == perm


def nhwc(shape) -> list[int]:
    """NCHW shape -> the same tensor's NHWC shape."""
    n, c, h, w = shape
    return [n, h, w, c]


# qonnx has no input rewiring of one node (remove_node_and_rewire also deletes the node).
def replace_input(node: NodeProto, old: str, new: str) -> None:
    """Make every input slot of ``node`` that reads ``old`` read ``new``."""
    for k, t in enumerate(node.input):
        if t == old:
            node.input[k] = new


# ModelWrapper.rename_tensor renames only the first input slot of a node that reads ``old`` twice.
def rename_tensor(model: ModelWrapper, old: str, new: str) -> None:
    """``ModelWrapper.rename_tensor`` (graph I/O, value_info, initializer, annotation, node I/O),
    and every further input slot reading ``old``."""
    model.rename_tensor(old, new)
    for n in model.graph.node:
        replace_input(n, old, new)


# qonnx remove_node_and_rewire renames the producer's output[0] (wrong for a multi-output
# producer), asserts where a graph input feeds the graph output and leaves stale value_info.
def bypass(model: ModelWrapper, old: str, new: str) -> bool:
    """Make every reader of ``old`` read ``new`` instead (``old``'s producer is being removed).

    If ``old`` is a graph output, ``new`` is renamed to ``old`` so the output keeps its name, and
    the output takes ``new``'s shape (e.g. the NHWC shape when an NCHW-making Transpose is dropped).
    Returns False (and changes nothing) where that is impossible (``new`` is a graph input).
    """
    if get_by_name(model.graph.output, old) is None:
        for n in model.find_consumers(old):
            replace_input(n, old, new)
        return True
    if get_by_name(model.graph.input, new) is not None or get_by_name(model.graph.output, new) is not None:
        return False
    shape = model.get_tensor_shape(new)
    remove_by_name(model.graph.value_info, new)
    rename_tensor(model, new, old)
    if shape is not None:
        model.set_tensor_shape(old, shape)
    return True


# qonnx has no fresh-initializer helper: make_new_valueinfo_name + set_initializer, with a readable hint.
def new_initializer(model: ModelWrapper, value: np.ndarray, hint: str) -> str:
    """Add ``value`` as an initializer under a new unique name starting with ``hint``; return the name."""
    name = f'{hint}_{model.make_new_valueinfo_name()}'
    model.set_initializer(name, value)
    return name


def _shape_of(vi) -> list[int]:
    return [d.dim_value for d in vi.type.tensor_type.shape.dim]


def _channels_last_shape(node, known: dict, inits: dict) -> list[int] | None:
    """Output shape of a qonnx channels-last Conv / BatchNormalization computed here, or None.

    qonnx's shape stand-ins for these ops are Constant nodes holding a random tensor of the whole
    output (``make_shape_compatible_op``): for a 544 x 1,032 x 64 feature map that is 36 M numbers
    built and serialised per node, minutes per graph. The arithmetic is the ONNX rule (qonnx's
    ``compute_conv_output_dim``), so the annotations are the same."""
    if not node.domain.endswith('channels_last') or node.op_type not in ('Conv', 'BatchNormalization'):
        return None
    if node.input[0] not in known:
        return None
    ishape = _shape_of(known[node.input[0]])
    if node.op_type == 'BatchNormalization':
        return ishape
    if node.input[1] in inits:
        out_ch = int(inits[node.input[1]].dims[0])
    elif node.input[1] in known:  # weights quantised in the graph (a Quant / BipolarQuant node)
        out_ch = _shape_of(known[node.input[1]])[0]
    else:
        return None
    if len(ishape) != 4:
        return None
    a = {x.name: list(x.ints) for x in node.attribute}
    k, st, dl, pads = a['kernel_shape'], a['strides'], a.get('dilations') or [1, 1], a.get('pads') or [0, 0, 0, 0]
    out = [(ishape[1 + i] + pads[i] + pads[i + 2] - dl[i] * (k[i] - 1) - 1) // st[i] + 1 for i in range(2)]
    return [ishape[0], out[0], out[1], out_ch]


def reinfer_shapes(model: ModelWrapper) -> ModelWrapper:
    """Recompute every intermediate shape annotation from the graph inputs, node by node.

    qonnx' ConvertToChannelsLastAndClean leaves stale value_info behind (e.g. an NHWC Mul whose
    output is annotated with its (1,1,1,C) operand's shape), and qonnx' InferShapes cannot simply
    be rerun from scratch: ONNX shape inference keeps existing annotations, and the shape-compatible
    stand-ins of qonnx custom ops (channels-last Conv, Quant, ...) need their input shapes *before*
    inference runs. So this walks the (topologically sorted) graph and infers each node on its own,
    custom nodes through their ``make_shape_compatible_op``; graph output annotations are updated
    too, and every initializer gets a value_info.
    """
    g = model.graph
    del g.value_info[:]
    inits = {t.name: t for t in g.initializer}
    # qonnx expects a value_info for every initializer too (GiveUniqueTensorNames only renames
    # tensors that have one)
    g.value_info.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits.values())
    known = {vi.name: vi for vi in g.input}
    outputs = {vi.name: vi for vi in g.output}
    for node in g.node:
        direct = _channels_last_shape(node, known, inits)
        if direct is not None:
            vi = helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, direct)
            known[node.output[0]] = vi
            if node.output[0] in outputs:
                outputs[node.output[0]].type.CopyFrom(vi.type)
            else:
                g.value_info.append(vi)
            continue
        work = getCustomOp(node).make_shape_compatible_op(model) if is_custom_op(node.domain, node.op_type) \
            else node
        names = [t for t in work.input if t]
        missing = [t for t in names if t not in inits and t not in known]
        if missing:
            raise QonnxPassError('Shape inference reached a tensor without a producer', key=f'node {node.name}',
                                 expected='a topologically sorted graph', found=f'unknown inputs {missing}')
        mini = helper.make_model(
            helper.make_graph([work], 'shape_probe', [known[t] for t in names if t in known and t not in inits], [],
                              initializer=[inits[t] for t in dict.fromkeys(names) if t in inits]),
            opset_imports=[o for o in model.model.opset_import if o.domain in ('', 'ai.onnx')])
        inferred = {vi.name: vi for vi in shape_inference.infer_shapes(mini, strict_mode=True).graph.value_info}
        for out in node.output:
            if out not in inferred:
                raise QonnxPassError('Shape inference failed', key=f'node {node.name} ({node.op_type})',
                                     expected=f'a shape for {out}', found='none')
            known[out] = inferred[out]
            if out in outputs:
                outputs[out].type.CopyFrom(inferred[out].type)
            else:
                g.value_info.append(inferred[out])
    return model


def set_input_shapes(model: ModelWrapper, shapes: dict[str, list[int]]) -> ModelWrapper:
    """Set the shapes of the named graph inputs and re-infer every other shape from them."""
    for name, shape in shapes.items():
        model.set_tensor_shape(name, list(shape))
    return reinfer_shapes(model)


# qonnx has per-op-type lookups (get_nodes_by_op_type) but no count of all op types.
def op_histogram(model: ModelWrapper) -> dict[str, int]:
    """{op_type: number of nodes}, sorted by op type."""
    return dict(sorted(Counter(n.op_type for n in model.graph.node).items()))
