"""Provenance carried through FINN: which final-graph nodes each lowered node implements.

FINN renames every node and replaces most of them (``LowerConvsToMatMul`` turns a Conv into
Transpose/Im2Col/MatMul/Transpose, ``InferBinaryMatrixVectorActivation`` a MatMul + MultiThreshold
into one MVAU, ``SpecializeLayers`` an MVAU into ``MVAU_hls`` ...), so names cannot link the two
graphs. Instead every node of the final graph is tagged, before any FINN transformation, with
its own name in the node's ``metadata_props`` (ONNX ``NodeProto.metadata_props``, key
:data:`SOURCE_KEY`, value: comma-separated final-graph node names). onnxruntime ignores it and
protobuf copies keep it, so it survives every transformation that edits a node in place
(renaming, attribute changes, moving, absorbing a neighbour's constants).

No FINN/qonnx transformation copies ``metadata_props`` onto the nodes it creates, so
:func:`carry` wraps each transformation (and, while it runs, every transformation nested in it):
after a step, the new nodes (no identity from before the step, or an ``op_type`` the step
changed) are grouped when they share a tensor whose value the step may have changed (a new
tensor, or one now written by a node of another kind), and each group is given the tags of the
nodes of the graph *before* the step that computed the same thing: the old nodes on a path from
the group's input tensors to its output tensors (FINN's replacements read the replaced nodes'
inputs and write their outputs). A group that reads no tensor of the old graph (e.g. the Mul/Add
``ConvertBipolarMatMulToXnorPopcount`` appends to the XnorPopcountMatMul's new output) inherits
the tags of the old producers of the tensors it writes. A node for which neither link exists
gets no tag and is reported with an empty source list: unknown, never guessed.

Nodes that disappear by being *absorbed* into a surviving node (a weight quantiser folded into
the Conv weights, a BN Mul/Add absorbed into a MultiThreshold) are not added to the survivor's
tag: the survivor keeps its own tag only.
"""

from __future__ import annotations

import copy
import itertools

from onnx import StringStringEntryProto
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

SOURCE_KEY = 'hsbinet.source_nodes'
_ID_KEY = 'hsbinet.node_id'  # transient node identity while :func:`carry` runs
_ids = itertools.count()


def _get(node, key: str) -> str | None:
    for p in node.metadata_props:
        if p.key == key:
            return p.value
    return None


def _set(node, key: str, value: str | None) -> None:
    """Set (or with ``value=None`` remove) the metadata entry ``key`` of ``node``."""
    for i, p in enumerate(node.metadata_props):
        if p.key == key:
            del node.metadata_props[i]
            break
    if value:
        node.metadata_props.append(StringStringEntryProto(key=key, value=value))


def sources(node) -> list[str]:
    """Final-graph node names carried by ``node`` (sorted; empty when unknown)."""
    return sorted(s for s in (_get(node, SOURCE_KEY) or '').split(',') if s)


def tag_final_nodes(model: ModelWrapper) -> ModelWrapper:
    """Tag every node of the final graph with its own name (in place; returns ``model``)."""
    for n in model.graph.node:
        _set(n, SOURCE_KEY, n.name)
    return model


def _kind(op_type: str) -> str:
    """Op type without FINN's specialisation suffix (``MVAU_hls`` -> ``MVAU``)."""
    return op_type.removesuffix('_hls').removesuffix('_rtl')


def _groups(indices: list[int], nodes, old_producer_kinds: dict[str, str]) -> list[list[int]]:
    """Connected components of ``nodes[i] for i in indices`` through the tensors whose value the
    step may have changed: tensors that did not exist before, and tensors now written by a node
    of another kind than before (FINN's ``MoveScalarMulPastMatMul`` reuses the Mul's output name
    for the output of the new MatMul). ``old_producer_kinds``: tensor -> kind of its producer
    before the step."""
    changed = {t for i in indices for t in nodes[i].output
               if t and old_producer_kinds.get(t) != _kind(nodes[i].op_type)}
    by_tensor: dict[str, list[int]] = {}
    for i in indices:
        for t in list(nodes[i].input) + list(nodes[i].output):
            if t in changed:
                by_tensor.setdefault(t, []).append(i)
    seen: set[int] = set()
    groups = []
    for start in indices:
        if start in seen:
            continue
        comp, stack = [], [start]
        seen.add(start)
        while stack:
            i = stack.pop()
            comp.append(i)
            for t in list(nodes[i].input) + list(nodes[i].output):
                for j in by_tensor.get(t, ()):
                    if j not in seen:
                        seen.add(j)
                        stack.append(j)
        groups.append(comp)
    return groups


def _replaced_tags(old_nodes, group_inputs: set[str], group_outputs: set[str]) -> set[str]:
    """Tags of the old nodes on a path from ``group_inputs`` to ``group_outputs`` (tensor names);
    when no group input existed before, tags of the old producers of ``group_outputs``."""
    producers = {o: n for n in old_nodes for o in n.output}
    consumers: dict[str, list] = {}
    for n in old_nodes:
        for t in n.input:
            consumers.setdefault(t, []).append(n)
    old_tensors = set(producers) | set(consumers)
    ins = group_inputs & old_tensors
    outs = group_outputs & old_tensors
    if not ins:
        return {s for t in outs if t in producers for s in sources(producers[t])}
    below: set[int] = set()  # ids of old nodes downstream of the group inputs
    stack = [c for t in ins for c in consumers.get(t, ())]
    while stack:
        n = stack.pop()
        if id(n) in below:
            continue
        below.add(id(n))
        stack.extend(c for t in n.output for c in consumers.get(t, ()))
    between, stack, seen = [], [producers[t] for t in outs if t in producers], set()
    while stack:  # upstream of the group outputs, staying below the group inputs
        n = stack.pop()
        if id(n) in seen or id(n) not in below:
            continue
        seen.add(id(n))
        between.append(n)
        stack.extend(producers[t] for t in n.input if t in producers and t not in ins)
    return {s for n in between for s in sources(n)}


def _carry_step(model: ModelWrapper, run) -> ModelWrapper:
    """``run(model)`` with the tags carried onto the nodes it created (see :func:`carry`)."""
    # Nodes without an id here were created by the enclosing step and are not tagged yet (qonnx'
    # ModelWrapper.transform runs cleanup transformations on its new graph): marked pending, they
    # are left to that step.
    pending = f'pending{next(_ids)}'
    for n in model.graph.node:
        if _get(n, _ID_KEY) is None:
            _set(n, _ID_KEY, pending)
    old_ops = {_get(n, _ID_KEY): n.op_type for n in model.graph.node}
    old_nodes = [copy.deepcopy(n) for n in model.graph.node]  # the step may edit nodes in place
    new = run(model)
    nodes = list(new.graph.node)
    ids = [_get(n, _ID_KEY) for n in nodes]
    for n in nodes + list(model.graph.node):
        if _get(n, _ID_KEY) == pending:
            _set(n, _ID_KEY, None)
    # created here: no id, or an id from before whose op_type changed; a node whose id is not in
    # old_ops was created (and tagged) by a transformation nested in this one
    fresh = [i for i, n in enumerate(nodes) if ids[i] is None
             or (ids[i] != pending and old_ops.get(ids[i], n.op_type) != n.op_type)]
    if not fresh:
        return new
    old_producer_kinds = {t: _kind(n.op_type) for n in old_nodes for t in n.output}
    graph_outputs = {o.name for o in new.graph.output}
    for group in _groups(fresh, nodes, old_producer_kinds):
        members = set(group)
        produced = {t for i in group for t in nodes[i].output if t}
        consumed = {t for i in group for t in nodes[i].input if t}
        outside = {t for j, n in enumerate(nodes) if j not in members for t in n.input}
        outputs = {t for t in produced if t in outside or t in graph_outputs}
        tags = _replaced_tags(old_nodes, consumed - produced, outputs)
        for i in group:
            _set(nodes[i], SOURCE_KEY, ','.join(sorted(tags)))  # none: unknown, the node stays untagged
            _set(nodes[i], _ID_KEY, str(next(_ids)))
    return new


_plain_transform = ModelWrapper.transform


def _carried_transform(self, transformation, make_deepcopy=True, cleanup=True, **kwargs):
    if not make_deepcopy:
        # in-place calls are qonnx' own cleanup (RemoveUnusedTensors, SortGraph, ...), which only
        # removes or reorders nodes; the calling step carries the tags of what it created
        return _plain_transform(self, transformation, make_deepcopy, cleanup, **kwargs)
    return _carry_step(self, lambda m: _plain_transform(m, transformation, make_deepcopy, cleanup, **kwargs))


def carry(model: ModelWrapper, step) -> ModelWrapper:
    """Apply ``step`` (a qonnx ``Transformation``, or a function ModelWrapper -> ModelWrapper such
    as ``qonnx.util.cleanup.cleanup_model``) and carry the provenance tags onto the nodes it
    created (module docstring).

    While ``step`` runs, ``ModelWrapper.transform`` itself carries the tags, so every
    transformation nested in a composite one (FINN's ``Streamline``, ``ConvertQONNXtoFINN``) is a
    step of its own and new nodes are compared with the graph just before the sub-step that made
    them (FINN's ``MoveScalarMulPastMatMul`` reuses the Mul's output name for the new MatMul's
    output; later sub-steps absorb the moved Mul, so only the sub-step itself shows the swap).
    A node whose ``op_type`` a step changed counts as created (qonnx'
    ``ConvertBipolarMatMulToXnorPopcount`` turns a MatMul into an XnorPopcountMatMul in place).
    Node identity across steps is a transient ``metadata_props`` entry, removed at the end.
    """
    for n in model.graph.node:
        _set(n, _ID_KEY, str(next(_ids)))
    ModelWrapper.transform = _carried_transform
    try:
        run = (lambda m: _plain_transform(m, step)) if isinstance(step, Transformation) else step
        new = _carry_step(model, run)
    finally:
        ModelWrapper.transform = _plain_transform
    for n in list(new.graph.node) + list(model.graph.node):
        _set(n, _ID_KEY, None)
    return new
