"""QONNX graph passes for what qonnx 1.0.0 lacks between a Brevitas export and hls4ml io_stream.

``hw.export.build_final_qonnx`` runs, in this order::

    qonnx cleanup_model -> qonnx ConvertToChannelsLastAndClean(make_input_channels_last=True)
    -> MakeInputsChannelsLast -> SinkChannelsFirstTransposes -> ResizeToBilinearResize
    -> FuseChannelGate -> StripEmptyOptionalInputs -> FillResizeRoi -> cleanup_model
    -> check_final_graph

Every pass says in its docstring which qonnx shortcoming it works around. Passes never guess: a
node that looks like a pattern they own but has an unexpected constant raises
:class:`QonnxPassError` naming the node, the expected and the found value. Layout conventions:
``TO_NCHW`` = Transpose perm (0, 3, 1, 2) (channels-last -> channels-first), ``TO_NHWC`` =
(0, 2, 3, 1). Every left-over Transpose is a full-frame buffer in an io_stream design, so the final
graph must have none.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import NodeProto, helper, shape_inference
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.custom_op.registry import getCustomOp, is_custom_op

from hw.custom_ops import DOMAIN, OPSET_VERSION, make_bilinear_resize_node, make_channel_gate_node
from quant_models.errors import HsbinetError

TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)
_NCHW_AXIS_IN_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}  # NCHW axis index -> same axis in NHWC
QONNX_DOMAIN = 'qonnx.custom_op.general'


class QonnxPassError(HsbinetError):
    """A graph pass met a node it must transform but cannot do so exactly."""


# ----------------------------------------------------------------------------------------------
# small graph helpers
# ----------------------------------------------------------------------------------------------

def _attr(node: NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _set_attr(node: NodeProto, name: str, value) -> None:
    for i, a in enumerate(node.attribute):
        if a.name == name:
            del node.attribute[i]
            break
    node.attribute.append(helper.make_attribute(name, value))


def _perm(node: NodeProto) -> tuple[int, ...] | None:
    p = _attr(node, 'perm')
    return None if p is None else tuple(int(v) for v in p)


def _is_transpose(node: NodeProto | None, perm: tuple[int, ...]) -> bool:
    return node is not None and node.op_type == 'Transpose' and _perm(node) == perm


def _nhwc(shape) -> list[int]:
    n, c, h, w = shape
    return [n, h, w, c]


def _const(model: ModelWrapper, name: str) -> np.ndarray | None:
    return None if name == '' else model.get_initializer(name)


def _consumers(model: ModelWrapper, name: str) -> list[NodeProto]:
    """Nodes reading ``name`` (each node once, even if it reads the tensor twice)."""
    return [n for n in model.graph.node if name in n.input]


def _graph_outputs(model: ModelWrapper) -> set[str]:
    return {o.name for o in model.graph.output}


def _graph_inputs(model: ModelWrapper) -> set[str]:
    return {i.name for i in model.graph.input}


def _node_index(model: ModelWrapper, node: NodeProto) -> int:
    for i, n in enumerate(model.graph.node):
        if n is node:
            return i
    raise ValueError(f'node {node.name} not in graph')


def rename_tensor(model: ModelWrapper, old: str, new: str) -> None:
    """Rename tensor ``old`` to ``new`` everywhere (node inputs/outputs, graph I/O, annotations)."""
    g = model.graph
    for n in g.node:
        for k, t in enumerate(n.input):
            if t == old:
                n.input[k] = new
        for k, t in enumerate(n.output):
            if t == old:
                n.output[k] = new
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.name == old:
            vi.name = new
    for init in g.initializer:
        if init.name == old:
            init.name = new
    for qa in g.quantization_annotation:
        if qa.tensor_name == old:
            qa.tensor_name = new


def _bypass(model: ModelWrapper, old: str, new: str) -> bool:
    """Make every reader of ``old`` read ``new`` instead (``old``'s producer is being removed).

    If ``old`` is a graph output, ``new`` is renamed to ``old`` so the output keeps its name.
    Returns False (and changes nothing) where that is impossible (``new`` is a graph input).
    """
    if old in _graph_outputs(model):
        if new in _graph_inputs(model) or new in _graph_outputs(model):
            return False
        for vi in list(model.graph.value_info):
            if vi.name == new:
                model.graph.value_info.remove(vi)
        shape = model.get_tensor_shape(new)
        rename_tensor(model, new, old)
        if shape is not None:
            model.set_tensor_shape(old, shape)
        return True
    for n in _consumers(model, old):
        for k, t in enumerate(n.input):
            if t == old:
                n.input[k] = new
    return True


def _new_initializer(model: ModelWrapper, value: np.ndarray, hint: str) -> str:
    name = f'{hint}_{model.make_new_valueinfo_name()}'
    model.set_initializer(name, value)
    return name


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


def op_histogram(model: ModelWrapper) -> dict[str, int]:
    hist: dict[str, int] = {}
    for n in model.graph.node:
        hist[n.op_type] = hist.get(n.op_type, 0) + 1
    return dict(sorted(hist.items()))


# ----------------------------------------------------------------------------------------------
# layout passes
# ----------------------------------------------------------------------------------------------

class MakeInputsChannelsLast(Transformation):
    """Declare every 4D graph input NHWC, not just the first one.

    qonnx shortcoming: ``ConvertToChannelsLastAndClean(make_input_channels_last=True)`` calls
    ``MakeInputChannelsLast``, which only converts ``graph.input[0]``; a second input (the PAN
    image) stays NCHW and keeps a Transpose. For each 4D input still at its recorded NCHW shape,
    this pass declares the NHWC shape and inserts Transpose(0,3,1,2) behind it, which
    :class:`SinkChannelsFirstTransposes` then cancels against the Transpose(0,2,3,1) qonnx put in
    front of the first channels-last node.

    ``nchw_shapes``: {input name: NCHW shape} recorded before the channels-last conversion.
    """

    def __init__(self, nchw_shapes: dict[str, list[int]]):
        super().__init__()
        self.nchw_shapes = {k: list(v) for k, v in nchw_shapes.items()}

    def apply(self, model):
        for inp in model.graph.input:
            nchw = self.nchw_shapes.get(inp.name)
            if nchw is None or len(nchw) != 4:
                continue
            cur = list(model.get_tensor_shape(inp.name))
            cons = _consumers(model, inp.name)
            already = cur == _nhwc(nchw) and (cur != nchw or (cons and all(
                _is_transpose(c, TO_NCHW) for c in cons)))
            if already:
                continue
            if cur != nchw:
                raise QonnxPassError('Graph input has an unexpected shape after the channels-last '
                                     'conversion', key=f'input {inp.name}',
                                     expected=f'{nchw} (NCHW) or {_nhwc(nchw)} (NHWC)', found=str(cur))
            inner = f'{inp.name}_nchw'
            for c in cons:
                for k, t in enumerate(c.input):
                    if t == inp.name:
                        c.input[k] = inner
            model.graph.node.insert(0, helper.make_node('Transpose', [inp.name], [inner], perm=TO_NCHW,
                                                        name=f'{inp.name}_to_nchw'))
            model.set_tensor_shape(inp.name, _nhwc(nchw))
            model.set_tensor_shape(inner, nchw)
        return model, False


# Ops whose inputs all broadcast elementwise against each other (layout-agnostic).
_ELEMENTWISE = {'Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Quant', 'BipolarQuant', 'Trunc', 'Relu',
                'Sigmoid', 'Tanh', 'LeakyRelu', 'Clip', 'Identity', 'Neg', 'Abs'}
_REDUCE = {'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin'}


class SinkChannelsFirstTransposes(Transformation):
    """Move every Transpose(0,3,1,2) downstream until it cancels or reaches the graph output.

    qonnx shortcoming: ``ConvertToChannelsLastAndClean`` wraps Conv/BatchNormalization in
    channels-last ops with Transposes around them and then moves Transposes only through
    Quant/Relu/Selu/LeakyRelu/Sigmoid/Tanh and scalar Mul/Div/Sub/Add. It does not know
    BipolarQuant, Pad, Resize, Concat or ReduceMean, so a Transpose pair stays around every
    binariser, padding, the upsampler, every concat and the attention pool; it also leaves the
    graph output NCHW behind a Transpose.

    Rules applied to a Transpose(0,3,1,2) ``T`` feeding node ``X`` (``T`` is first duplicated per
    consumer where its output forks):

    - X = Transpose(0,2,3,1): both cancel;
    - T feeds only a graph output: T is dropped and the output becomes NHWC;
    - X elementwise (Add/Mul/Quant/BipolarQuant/...): X runs on the NHWC tensors, constant
      operands of more than one element are broadcast to 4D and transposed;
    - X = Pad: the 8 pads (or the ``axes`` input) are permuted to NHWC;
    - X = Resize: scales/sizes/RoI (or the ``axes`` attribute) are permuted to NHWC;
    - X = Concat: the axis is remapped (channel axis 1 -> 3);
    - X = ReduceMean/Sum/Max/Min with keepdims=1: the axes are remapped (2,3 -> 1,2);

    after which ``T`` sits behind ``X``. Every dynamic 4D operand of a multi-input X must itself
    come from a Transpose(0,3,1,2), otherwise X is left alone (and :func:`check_final_graph`
    reports the left-over Transpose).
    """

    def apply(self, model):
        for t in list(model.graph.node):
            if not _is_transpose(t, TO_NCHW):
                continue
            if self._split_fork(model, t):
                return model, True
            cons = _consumers(model, t.output[0])
            if not cons:
                if t.output[0] in _graph_outputs(model) and self._absorb_into_output(model, t):
                    return model, True
                continue
            x = cons[0]
            if _is_transpose(x, TO_NHWC):
                if self._cancel(model, t, x):
                    return model, True
                continue
            rule = _sink_rule(x)
            if rule is not None and self._sink(model, x, rule):
                return model, True
        return model, False

    @staticmethod
    def _split_fork(model: ModelWrapper, t: NodeProto) -> bool:
        cons = _consumers(model, t.output[0])
        is_out = t.output[0] in _graph_outputs(model)
        if len(cons) + int(is_out) <= 1:
            return False
        shape = model.get_tensor_shape(t.output[0])
        idx = _node_index(model, t)
        for c in cons[0 if is_out else 1:]:
            out = model.make_new_valueinfo_name()
            model.graph.node.insert(idx + 1, helper.make_node('Transpose', [t.input[0]], [out], perm=TO_NCHW))
            model.set_tensor_shape(out, shape)
            for k, name in enumerate(c.input):
                if name == t.output[0]:
                    c.input[k] = out
        return True

    @staticmethod
    def _cancel(model: ModelWrapper, t: NodeProto, x: NodeProto) -> bool:
        if not _bypass(model, x.output[0], t.input[0]):
            return False
        model.graph.node.remove(x)
        model.graph.node.remove(t)
        return True

    @staticmethod
    def _absorb_into_output(model: ModelWrapper, t: NodeProto) -> bool:
        out, src = t.output[0], t.input[0]
        nhwc_shape = model.get_tensor_shape(src)
        if not _bypass(model, out, src):
            return False
        model.graph.node.remove(t)
        model.set_tensor_shape(out, nhwc_shape)
        return True

    @staticmethod
    def _sink(model: ModelWrapper, x: NodeProto, rule: Callable) -> bool:
        if len(x.output) != 1:
            return False
        out_shape = model.get_tensor_shape(x.output[0])
        if out_shape is None or len(out_shape) != 4:
            return False
        plan = rule(model, x)
        if plan is None:
            return False
        new_inputs, fix_attrs = plan
        feeding = [model.find_producer(x.input[k]) for k, v in enumerate(new_inputs) if v != x.input[k]
                   and _is_transpose(model.find_producer(x.input[k]), TO_NCHW)]
        for k, v in enumerate(new_inputs):
            x.input[k] = v
        for name, value in fix_attrs.items():
            _set_attr(x, name, value)
        old_out = x.output[0]
        new_out = model.make_new_valueinfo_name()
        x.output[0] = new_out
        model.set_tensor_shape(new_out, _nhwc(out_shape))
        model.graph.node.insert(_node_index(model, x) + 1,
                                helper.make_node('Transpose', [new_out], [old_out], perm=TO_NCHW))
        for p in feeding:
            if p in model.graph.node and not _consumers(model, p.output[0]) \
                    and p.output[0] not in _graph_outputs(model):
                model.graph.node.remove(p)
        return True


def _layout_operand(model: ModelWrapper, name: str) -> str | None:
    """An operand of a node that is being moved to NHWC: the NHWC tensor or constant to use.

    ``''`` stays ''; a tensor produced by Transpose(0,3,1,2) -> that Transpose's input; a
    one-element constant or dynamic tensor -> itself; a constant of rank <= 4 -> broadcast to 4D
    and transposed to NHWC; anything else -> None (cannot move).
    """
    if name == '':
        return name
    prod = model.find_producer(name)
    if _is_transpose(prod, TO_NCHW):
        return prod.input[0]
    const = _const(model, name)
    if const is not None:
        if const.size == 1:
            return name
        if const.ndim > 4:
            return None
        c4 = const.reshape((1,) * (4 - const.ndim) + const.shape)
        return _new_initializer(model, np.ascontiguousarray(c4.transpose(TO_NHWC)), 'nhwc')
    shape = model.get_tensor_shape(name)
    if shape is not None and int(np.prod(shape)) == 1:
        return name
    return None


def _sink_rule(x: NodeProto) -> Callable | None:
    if x.op_type in _ELEMENTWISE:
        return _rule_elementwise
    return {'Pad': _rule_pad, 'Resize': _rule_resize, 'Concat': _rule_concat}.get(
        x.op_type, _rule_reduce if x.op_type in _REDUCE else None)


def _rule_elementwise(model, x):
    new = [_layout_operand(model, name) for name in x.input]
    return None if any(v is None for v in new) else (new, {})


def _data_input(model, x) -> str | None:
    prod = model.find_producer(x.input[0])
    return prod.input[0] if _is_transpose(prod, TO_NCHW) else None


def _rule_pad(model, x):
    data = _data_input(model, x)
    pads = _const(model, x.input[1]) if len(x.input) > 1 else None
    if data is None or pads is None:
        return None
    new = [data] + list(x.input[1:])
    axes = _const(model, x.input[3]) if len(x.input) > 3 and x.input[3] else None
    if len(x.input) > 3 and x.input[3] and axes is None:
        return None
    if axes is not None:  # pads are given for these axes only: remap the axes
        new[3] = _new_initializer(model, np.array([_NCHW_AXIS_IN_NHWC[int(a) % 4] for a in axes],
                                                  dtype=axes.dtype), 'axes')
    elif pads.size == 8:
        order = list(TO_NHWC) + [4 + p for p in TO_NHWC]
        new[1] = _new_initializer(model, pads.reshape(-1)[order].astype(pads.dtype), 'pads')
    else:
        return None
    if len(x.input) > 2 and x.input[2]:
        value = _const(model, x.input[2])
        if value is None or value.size != 1:
            return None
    return new, {}


def _rule_resize(model, x):
    data = _data_input(model, x)
    if data is None:
        return None
    new = [data] + list(x.input[1:])
    if _attr(x, 'axes') is not None:
        axes = [_NCHW_AXIS_IN_NHWC[int(a) % 4] for a in _attr(x, 'axes')]
        return new, {'axes': axes}
    for k in (1, 2, 3):  # roi, scales, sizes
        if len(x.input) <= k or x.input[k] == '':
            continue
        v = _const(model, x.input[k])
        if v is None:
            return None
        if v.size == 0:
            continue
        if k == 1 and v.size == 8:
            v = v.reshape(-1)[list(TO_NHWC) + [4 + p for p in TO_NHWC]]
        elif v.size == 4:
            v = v.reshape(-1)[list(TO_NHWC)]
        elif k != 1:
            return None
        new[k] = _new_initializer(model, np.ascontiguousarray(v), ('roi', 'scales', 'sizes')[k - 1])
    return new, {}


def _rule_concat(model, x):
    axis = int(_attr(x, 'axis', 1)) % 4
    new = []
    for name in x.input:
        prod = model.find_producer(name)
        if _is_transpose(prod, TO_NCHW):
            new.append(prod.input[0])
            continue
        const = _const(model, name)
        if const is None or const.ndim != 4:
            return None
        new.append(_new_initializer(model, np.ascontiguousarray(const.transpose(TO_NHWC)), 'nhwc'))
    return new, {'axis': _NCHW_AXIS_IN_NHWC[axis]}


def _rule_reduce(model, x):
    data = _data_input(model, x)
    if data is None or int(_attr(x, 'keepdims', 1)) != 1:
        return None
    new = [data] + list(x.input[1:])
    if _attr(x, 'axes') is not None:
        return new, {'axes': [_NCHW_AXIS_IN_NHWC[int(a) % 4] for a in _attr(x, 'axes')]}
    if len(x.input) > 1 and x.input[1]:
        axes = _const(model, x.input[1])
        if axes is None:
            return None
        new[1] = _new_initializer(model, np.array([_NCHW_AXIS_IN_NHWC[int(a) % 4] for a in axes.reshape(-1)],
                                                  dtype=np.int64), 'axes')
        return new, {}
    return new, {}  # no axes: reduces over everything, layout-agnostic


# ----------------------------------------------------------------------------------------------
# hls4ml parser fixes
# ----------------------------------------------------------------------------------------------

class StripEmptyOptionalInputs(Transformation):
    """Remove trailing empty optional inputs ('') from every node.

    qonnx shortcoming: cleanup_model keeps torch's ``Pad(data, pads, '')``-style trailing empty
    names; hls4ml's ONNX parser looks up a shape for every input name and fails on ''
    ("Could not find the shape for input ").
    """

    def apply(self, model):
        for n in model.graph.node:
            while len(n.input) and n.input[-1] == '':
                del n.input[-1]
        return model, False


class SplitWideConcat(Transformation):
    """Concat of n > 2 tensors -> a left-to-right chain of 2-input Concats (same result).

    hls4ml shortcoming: its ONNX Concat handler accepts exactly two inputs ("Merging more than
    two tensors is not yet supported"); HS-BiNet's MSFE concatenates three branches.
    """

    def apply(self, model):
        for n in model.graph.node:
            if n.op_type != 'Concat' or len(n.input) <= 2:
                continue
            axis = _attr(n, 'axis')
            first = helper.make_node('Concat', list(n.input[:2]), [model.make_new_valueinfo_name()],
                                     axis=axis, name=f'{n.name}_split0')
            model.graph.node.insert(_node_index(model, n), first)
            del n.input[0]
            n.input[0] = first.output[0]
            return model, True
        return model, False


class FillResizeRoi(Transformation):
    """Give every Resize with an empty RoI input a 1-element zero RoI constant.

    qonnx shortcoming: torch exports ``Resize(X, '', scales)`` and qonnx leaves the '' in place;
    hls4ml cannot look up the shape of '', and an empty RoI array crashes hls4ml's
    ResizeRemoveConstants under numpy 2 (``if roi_node.get_attr('value'):`` on an empty array).
    The RoI is ignored unless coordinate_transformation_mode='tf_crop_and_resize', so a
    1-element zero RoI is equivalent. (After :class:`ResizeToBilinearResize` only nearest-mode
    Resize nodes can remain.)
    """

    def apply(self, model):
        for n in model.graph.node:
            if n.op_type == 'Resize' and len(n.input) >= 3 and n.input[1] == '':
                n.input[1] = _new_initializer(model, np.zeros((1,), dtype=np.float32), 'roi')
        return model, False


# ----------------------------------------------------------------------------------------------
# fused custom ops
# ----------------------------------------------------------------------------------------------

def _ensure_domain(model: ModelWrapper) -> None:
    if DOMAIN not in model.get_opset_imports():
        model.set_opset_import(DOMAIN, OPSET_VERSION)


class ResizeToBilinearResize(Transformation):
    """Replace an NHWC bilinear Resize (torch align_corners=False) by ``hw.custom_ops.BilinearResize``.

    qonnx/hls4ml shortcoming: stock hls4ml 1.3.0 lowers Resize only as nearest neighbour and
    silently turns a linear Resize into nearest (a UserWarning "Overriding attribute
    'algorithm'"). The fused op is implemented as an hls4ml extension layer (hw/hls4ml_ext/).

    Converted: ``mode='linear'``, ``coordinate_transformation_mode`` 'half_pixel' or
    'pytorch_half_pixel' (identical for outputs longer than 1), constant NHWC scales
    ``[1, r, r, 1]`` with an integer power-of-two r (weights multiples of 1/(2r), exact in fixed
    point), no ``sizes``, ``exclude_outside=0``. A linear or cubic Resize that does not fit raises
    :class:`QonnxPassError`; nearest Resizes are left to stock hls4ml.
    """

    def apply(self, model):
        for n in list(model.graph.node):
            if n.op_type != 'Resize':
                continue
            mode = _attr(n, 'mode', b'nearest')
            mode = mode.decode() if isinstance(mode, bytes) else mode
            if mode == 'nearest':
                continue
            ratio = self._check(model, n, mode)
            idx = _node_index(model, n)
            model.graph.node.remove(n)
            model.graph.node.insert(idx, make_bilinear_resize_node(n.input[0], n.output[0], ratio,
                                                                   name=n.name or f'BilinearResize_{idx}'))
            _ensure_domain(model)
        return model, False

    @staticmethod
    def _check(model: ModelWrapper, n: NodeProto, mode: str) -> int:
        def fail(what, expected, found):
            raise QonnxPassError(f'Resize cannot become BilinearResize: {what}', key=f'node {n.name}',
                                 expected=expected, found=found,
                                 hint='stock hls4ml would silently turn it into nearest neighbour')

        if mode != 'linear':
            fail('unsupported interpolation mode', "'linear' (or 'nearest', left to hls4ml)", repr(mode))
        ctm = _attr(n, 'coordinate_transformation_mode', b'half_pixel')
        ctm = ctm.decode() if isinstance(ctm, bytes) else ctm
        if ctm not in ('half_pixel', 'pytorch_half_pixel'):
            fail('coordinate transformation mode', "'half_pixel' (torch align_corners=False)", repr(ctm))
        if int(_attr(n, 'exclude_outside', 0)) != 0:
            fail('exclude_outside', '0', str(_attr(n, 'exclude_outside')))
        if len(n.input) > 3 and n.input[3]:
            fail('output given by sizes', 'constant scales', f'sizes input {n.input[3]}')
        scales = _const(model, n.input[2]) if len(n.input) > 2 and n.input[2] else None
        if scales is None or scales.size != 4:
            fail('scales', 'a constant [1, r, r, 1] (NHWC)', 'none' if scales is None else str(scales))
        s = [float(v) for v in scales.reshape(-1)]
        r = s[1]
        if s[0] != 1.0 or s[3] != 1.0 or s[2] != r or r != int(r) or int(r) < 1:
            fail('scales', 'NHWC [1, r, r, 1] with an integer r >= 1', str(s))
        r = int(r)
        if r & (r - 1):
            fail('ratio', 'a power of two (bilinear weights exact in fixed point)', str(r))
        shape = model.get_tensor_shape(n.input[0])
        if shape is None or len(shape) != 4:
            fail('input rank', '4 (NHWC)', str(shape))
        return r


def _scalar(model: ModelWrapper, node: NodeProto, k: int, what: str) -> float:
    v = _const(model, node.input[k]) if len(node.input) > k else None
    if v is None or v.size != 1:
        raise QonnxPassError(f'Channel attention: {what} is not a constant scalar', key=f'node {node.name}',
                             expected='a one-element initializer', found='dynamic tensor' if v is None
                             else f'shape {list(v.shape)}')
    return float(v.reshape(-1)[0])


class FuseChannelGate(Transformation):
    """Fuse the hardware decoder's channel attention into one ``hw.custom_ops.ChannelGate`` node.

    qonnx/hls4ml shortcoming: the squeeze-excite tail (global pool -> 1x1 conv -> gate ->
    broadcast Mul) needs the whole frame before the multiply; stock hls4ml io_stream cannot
    lower it (and qonnx has no op for it). The fused op is implemented as an hls4ml extension
    layer with a C-bit-per-pixel frame buffer (hw/hls4ml_ext/).

    Pattern (NHWC, after :class:`SinkChannelsFirstTransposes`), every constant checked::

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
    raises :class:`QonnxPassError` naming the node (stock hls4ml cannot lower a ReduceMean anyway).
    """

    def apply(self, model):
        for rm in list(model.graph.node):
            if rm.op_type == 'ReduceMean':
                self._fuse(model, rm)
                return model, True
        return model, False

    @staticmethod
    def _fail(node, what, expected, found):
        raise QonnxPassError(f'Channel attention cannot be fused into ChannelGate: {what}',
                             key=f'node {node.name} ({node.op_type})', expected=expected, found=found)

    @classmethod
    def _only_consumer(cls, model, node, op_type):
        cons = _consumers(model, node.output[0])
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
        scale = _const(model, node.input[1])
        if scale is None or not np.all(scale == 1.0):
            cls._fail(node, f'{role} must be binarised with scale 1', '1.0',
                      'dynamic' if scale is None else str(np.unique(scale).tolist()))

    @classmethod
    def _fuse(cls, model: ModelWrapper, rm: NodeProto) -> None:
        fail = cls._fail
        # b = BipolarQuant(x) -> ReduceMean
        b_node = model.find_producer(rm.input[0])
        cls._check_unit_bipolar(model, b_node, f'input of {rm.name}')
        b = b_node.output[0]
        b_shape = model.get_tensor_shape(b)
        if b_shape is None or len(b_shape) != 4:
            fail(rm, 'input rank', '4 (NHWC)', str(b_shape))
        C = int(b_shape[3])
        axes = _attr(rm, 'axes')
        if axes is None and len(rm.input) > 1 and rm.input[1]:
            axes = _const(model, rm.input[1])
            axes = None if axes is None else axes.reshape(-1).tolist()
        axes = None if axes is None else sorted(int(a) % 4 for a in axes)
        if axes != [1, 2] or int(_attr(rm, 'keepdims', 1)) != 1:
            fail(rm, 'pool axes', 'axes [1, 2] (NHWC spatial), keepdims=1',
                 f'axes {axes}, keepdims={_attr(rm, "keepdims", 1)}')
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
            got = _attr(conv, name, want)
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
        w_name = _new_initializer(model, w_sign.astype(np.float32), 'ChannelGate_W')
        k_name = _new_initializer(model, k.astype(np.int64), 'ChannelGate_K')
        idx = _node_index(model, gmul)
        node = make_channel_gate_node(b, w_name, k_name, gmul.output[0], channels=C, gate_frac_bits=f,
                                      name=f'ChannelGate_{rm.name}')
        model.graph.node.insert(idx, node)
        w_q = model.find_producer(conv.input[1])
        for n in (gmul, quant, add, mul, conv, s_node, rm):
            model.graph.node.remove(n)
        if w_q is not None and not _consumers(model, w_q.output[0]):
            model.graph.node.remove(w_q)
        _ensure_domain(model)

    @classmethod
    def _binary_weights(cls, model, conv, C) -> tuple[np.ndarray, np.ndarray]:
        """(W in {-1,+1} of shape (C, C), K int64 (C,)) from BipolarQuant(latent, 2^K) or a folded initializer."""
        fail = cls._fail
        w_q = model.find_producer(conv.input[1])
        if w_q is not None:
            if w_q.op_type != 'BipolarQuant':
                fail(conv, 'attention weights', 'BipolarQuant(initializer, scale)', f'{w_q.name} ({w_q.op_type})')
            latent, scale = _const(model, w_q.input[0]), _const(model, w_q.input[1])
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
            w = _const(model, conv.input[1])
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
            got = int(_attr(q, name, 1))
            if got != want:
                fail(q, f'gate quantiser {name}', str(want), str(got))
        rmode = _attr(q, 'rounding_mode', b'ROUND')
        rmode = (rmode.decode() if isinstance(rmode, bytes) else rmode).upper()
        if rmode not in ('ROUND', 'HALF_EVEN'):
            fail(q, 'gate rounding mode', "'ROUND' (half to even)", repr(rmode))
        return f


# ----------------------------------------------------------------------------------------------
# final checks
# ----------------------------------------------------------------------------------------------

def check_final_graph(model: ModelWrapper, nchw_inputs: dict[str, list[int]],
                      nchw_output: list[int]) -> None:
    """Raise :class:`QonnxPassError` unless the graph is what the hls4ml lowering needs.

    Zero Transpose nodes (each is a full-frame buffer in io_stream), every 4D input NHWC with the
    recorded NCHW shape permuted, the output NHWC, no ReduceMean and no non-nearest Resize left.
    ``nchw_inputs`` maps the final input names, in graph order, to their NCHW shapes.
    """
    transposes = [n for n in model.graph.node if n.op_type == 'Transpose']
    if transposes:
        where = []
        for t in transposes[:6]:
            p = model.find_producer(t.input[0])
            cons = _consumers(model, t.output[0])
            where.append(f'{t.name or t.output[0]} perm={list(_perm(t) or [])} after '
                         f'{p.op_type if p else "graph input"} before '
                         f'{",".join(c.op_type for c in cons) or "graph output"}')
        raise QonnxPassError('Transpose nodes left in the final graph (each is a full-frame buffer in '
                             'io_stream)', expected='0', found=f'{len(transposes)}: ' + '; '.join(where))
    for inp, (name, nchw) in zip(model.graph.input, nchw_inputs.items()):
        shape = list(model.get_tensor_shape(inp.name))
        if len(nchw) == 4 and shape != _nhwc(nchw):
            raise QonnxPassError('Graph input is not channels-last', key=f'input {name}',
                                 expected=str(_nhwc(nchw)), found=str(shape))
    out = list(model.get_tensor_shape(model.graph.output[0].name))
    if out != _nhwc(nchw_output):
        raise QonnxPassError('Graph output is not channels-last', key=f'output {model.graph.output[0].name}',
                             expected=str(_nhwc(nchw_output)), found=str(out))
    for n in model.graph.node:
        mode = _attr(n, 'mode', b'nearest')
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if n.op_type == 'ReduceMean' or (n.op_type == 'Resize' and mode != 'nearest'):
            raise QonnxPassError('Node that stock hls4ml cannot lower was left in the graph',
                                 key=f'node {n.name} ({n.op_type})', expected='fused into a hw.custom_ops node',
                                 found=n.op_type)
