"""Move every Transpose(0,3,1,2) downstream until it cancels or reaches the graph output.

qonnx shortcoming: ``ConvertToChannelsLastAndClean`` wraps Conv/BatchNormalization in
channels-last ops with Transposes around them and then moves Transposes only through
Quant/Relu/Selu/LeakyRelu/Sigmoid/Tanh and scalar Mul/Div/Sub/Add. It does not know BipolarQuant,
Pad, Resize, Concat or ReduceMean, so a Transpose pair stays around every binariser, padding, the
upsampler, every concat and the attention pool; it also leaves the graph output NCHW behind a
Transpose. Every left-over Transpose is a full-frame buffer in an io_stream design.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import NodeProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name
from qonnx.util.onnx import is_eltwise_optype

from hw.export.graph import (NCHW_AXIS_IN_NHWC, TO_NCHW, TO_NHWC, attr, bypass, is_transpose, new_initializer, nhwc,
                             replace_input, set_attr)

# qonnx's eltwise_optypes lacks its own BipolarQuant/Trunc, Neg/Abs, and spells Max/Min 'Maximum'/'Minimum'.
_ELEMENTWISE_EXTRA = {'BipolarQuant', 'Trunc', 'Max', 'Min', 'Neg', 'Abs'}
_REDUCE = {'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin'}
_PAIR_TO_NHWC = list(TO_NHWC) + [4 + p for p in TO_NHWC]  # 8 begin/end values (pads, RoI), NCHW -> NHWC


class SinkChannelsFirstTransposes(Transformation):
    """Rules applied to a Transpose(0,3,1,2) ``T`` (NHWC in, NCHW out) feeding node ``X`` (``T`` is
    first duplicated per consumer where its output forks):

    - X = Transpose(0,2,3,1): both cancel;
    - T feeds only a graph output: T is dropped and the output becomes NHWC;
    - X elementwise (Add/Mul/Quant/BipolarQuant/...): X runs on the NHWC tensors, constant
      operands of more than one element are broadcast to 4D and transposed;
    - X = Pad: the 8 pads (or the ``axes`` input) are permuted to NHWC;
    - X = Resize: scales/sizes/RoI (or the ``axes`` attribute) are permuted to NHWC;
    - X = Concat: the axis is remapped (channel axis 1 -> 3);
    - X = ReduceMean/Sum/Max/Min with keepdims=1: the axes are remapped (2,3 -> 1,2);

    after which ``T`` sits behind ``X``. Every dynamic 4D operand of a multi-input X must itself
    come from a Transpose(0,3,1,2), otherwise X is left alone (and
    :func:`hw.export.check.check_final_graph` reports the left-over Transpose).
    """

    def apply(self, model):
        for t in list(model.graph.node):
            if not is_transpose(t, TO_NCHW):
                continue
            if self._split_fork(model, t):
                return model, True
            cons = model.find_consumers(t.output[0])
            if not cons:
                if get_by_name(model.graph.output, t.output[0]) is not None and self._remove(model, t):
                    return model, True
                continue
            x = cons[0]
            if is_transpose(x, TO_NHWC):
                if bypass(model, x.output[0], t.input[0]):
                    model.graph.node.remove(x)
                    model.graph.node.remove(t)
                    return model, True
                continue
            rule = _sink_rule(x)
            if rule is not None and self._sink(model, x, rule):
                return model, True
        return model, False

    @staticmethod
    def _split_fork(model: ModelWrapper, t: NodeProto) -> bool:
        """Give every further reader of ``t``'s output (graph output included) its own copy of ``t``."""
        # not find_consumers/is_fork_node: they list a node once per input slot, so Mul(t, t) would
        # look like a fork and be split forever
        cons = [n for n in model.graph.node if t.output[0] in n.input]
        is_out = get_by_name(model.graph.output, t.output[0]) is not None
        if len(cons) + int(is_out) <= 1:
            return False
        shape = model.get_tensor_shape(t.output[0])
        idx = model.get_node_index(t)
        for c in cons[0 if is_out else 1:]:
            out = model.make_new_valueinfo_name()
            model.graph.node.insert(idx + 1, helper.make_node('Transpose', [t.input[0]], [out], perm=TO_NCHW))
            model.set_tensor_shape(out, shape)
            replace_input(c, t.output[0], out)
        return True

    @staticmethod
    def _remove(model: ModelWrapper, t: NodeProto) -> bool:
        """Drop ``t`` in front of the graph output, which takes ``t``'s NHWC input and shape."""
        if not bypass(model, t.output[0], t.input[0]):
            return False
        model.graph.node.remove(t)
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
                   and is_transpose(model.find_producer(x.input[k]), TO_NCHW)]
        for k, v in enumerate(new_inputs):
            x.input[k] = v
        for name, value in fix_attrs.items():
            set_attr(x, name, value)
        old_out = x.output[0]
        new_out = model.make_new_valueinfo_name()
        x.output[0] = new_out
        model.set_tensor_shape(new_out, nhwc(out_shape))
        model.graph.node.insert(model.get_node_index(x) + 1,
                                helper.make_node('Transpose', [new_out], [old_out], perm=TO_NCHW))
        for p in feeding:
            if p in model.graph.node and not model.find_consumers(p.output[0]) \
                    and get_by_name(model.graph.output, p.output[0]) is None:
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
    if is_transpose(prod, TO_NCHW):
        return prod.input[0]
    const = model.get_initializer(name)
    if const is not None:
        if const.size == 1:
            return name
        if const.ndim > 4:
            return None
        c4 = const.reshape((1,) * (4 - const.ndim) + const.shape)
        return new_initializer(model, np.ascontiguousarray(c4.transpose(TO_NHWC)), 'nhwc')
    shape = model.get_tensor_shape(name)
    if shape is not None and int(np.prod(shape)) == 1:
        return name
    return None


def _sink_rule(x: NodeProto) -> Callable | None:
    """The rule moving ``x`` to NHWC: ``rule(model, x)`` -> (new inputs, attributes to set) or None."""
    if is_eltwise_optype(x.op_type) or x.op_type in _ELEMENTWISE_EXTRA:
        return _rule_elementwise
    if x.op_type in _REDUCE:
        return _rule_reduce
    return {'Pad': _rule_pad, 'Resize': _rule_resize, 'Concat': _rule_concat}.get(x.op_type)


def _nhwc_axes(axes) -> list[int]:
    return [NCHW_AXIS_IN_NHWC[int(a) % 4] for a in axes]


def _rule_elementwise(model, x):
    new = [_layout_operand(model, name) for name in x.input]
    return None if any(v is None for v in new) else (new, {})


def _data_input(model, x) -> str | None:
    prod = model.find_producer(x.input[0])
    return prod.input[0] if is_transpose(prod, TO_NCHW) else None


def _rule_pad(model, x):
    data = _data_input(model, x)
    pads = model.get_initializer(x.input[1]) if len(x.input) > 1 else None
    if data is None or pads is None:
        return None
    new = [data] + list(x.input[1:])
    has_axes = len(x.input) > 3 and x.input[3] != ''
    axes = model.get_initializer(x.input[3]) if has_axes else None
    if has_axes and axes is None:
        return None
    if axes is not None:  # pads are given for these axes only: remap the axes
        new[3] = new_initializer(model, np.array(_nhwc_axes(axes), dtype=axes.dtype), 'axes')
    elif pads.size == 8:
        new[1] = new_initializer(model, pads.reshape(-1)[_PAIR_TO_NHWC].astype(pads.dtype), 'pads')
    else:
        return None
    if len(x.input) > 2 and x.input[2]:
        value = model.get_initializer(x.input[2])
        if value is None or value.size != 1:
            return None
    return new, {}


def _rule_resize(model, x):
    data = _data_input(model, x)
    if data is None:
        return None
    new = [data] + list(x.input[1:])
    if attr(x, 'axes') is not None:
        return new, {'axes': _nhwc_axes(attr(x, 'axes'))}
    for k in (1, 2, 3):  # roi, scales, sizes
        if len(x.input) <= k or x.input[k] == '':
            continue
        v = model.get_initializer(x.input[k])
        if v is None:
            return None
        if v.size == 0:
            continue
        if k == 1 and v.size == 8:
            v = v.reshape(-1)[_PAIR_TO_NHWC]
        elif v.size == 4:
            v = v.reshape(-1)[list(TO_NHWC)]
        elif k != 1:
            return None
        new[k] = new_initializer(model, np.ascontiguousarray(v), ('roi', 'scales', 'sizes')[k - 1])
    return new, {}


def _rule_concat(model, x):
    axis = int(attr(x, 'axis', 1)) % 4
    new = []
    for name in x.input:
        prod = model.find_producer(name)
        if is_transpose(prod, TO_NCHW):
            new.append(prod.input[0])
            continue
        const = model.get_initializer(name)
        if const is None or const.ndim != 4:
            return None
        new.append(new_initializer(model, np.ascontiguousarray(const.transpose(TO_NHWC)), 'nhwc'))
    return new, {'axis': NCHW_AXIS_IN_NHWC[axis]}


def _rule_reduce(model, x):
    data = _data_input(model, x)
    if data is None or int(attr(x, 'keepdims', 1)) != 1:
        return None
    new = [data] + list(x.input[1:])
    if attr(x, 'axes') is not None:
        return new, {'axes': _nhwc_axes(attr(x, 'axes'))}
    if len(x.input) > 1 and x.input[1]:
        axes = model.get_initializer(x.input[1])
        if axes is None:
            return None
        new[1] = new_initializer(model, np.array(_nhwc_axes(axes.reshape(-1)), dtype=np.int64), 'axes')
    return new, {}  # no axes: reduces over everything, layout-agnostic
