"""Locate the first layer where the C-simulated accelerator departs from the QONNX graph.

Runs one patch through hls4ml's layer trace (``ModelGraph.trace``: the C-simulation writes every
traced layer's output stream) and through qonnx ``execute_onnx`` with the full execution context,
then compares the two layer by layer in hls4ml's (topological) order. Both sides are NHWC.

hls4ml keeps some tensors in a different but equivalent representation, undone here before the
exact comparison (``np.array_equal`` in float64, no tolerance):
  - binary activations are stored as 1 bit, 0 meaning -1 (QONNX BipolarQuant gives -1/+1);
  - a binary-weight conv outputs the integer popcount sum: the per-output-channel power-of-two
    weight scale is folded into the following BatchNorm, whereas the QONNX Conv output already
    carries it, so the QONNX value is divided by that scale.
hls4ml's trace cannot hold layers with several output streams (Clone: hls4ml's bridge keys the
trace storage by layer name, so the copies collide); those are skipped, their consumers are not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np


def _enable_trace(hls_model) -> None:
    for layer in hls_model.get_layers():
        layer.set_attr('trace', len(layer.get_variables()) == 1 and layer.class_name != 'Clone')


def _binary_output(layer) -> bool:
    from hls4ml.model.types import XnorPrecisionType
    p = layer.get_output_variable().type.precision
    return isinstance(p, XnorPrecisionType) or (getattr(p, 'width', 0) == 1 and not getattr(p, 'signed', True))


def _torch_module(node) -> str | None:
    """The PyTorch module path recorded by the dynamo exporter (e.g. ``edge.conv.0.conv``)."""
    for prop in node.metadata_props:
        if prop.key == 'pkg.torch.onnx.name_scopes':  # a Python list literal of scope names
            scopes = [s for s in ast.literal_eval(prop.value) if s]
            return scopes[-2] if len(scopes) > 1 else (scopes[0] if scopes else None)
    return None


def _binary_weight_scale(qmodel, node) -> np.ndarray | None:
    """Per-output-channel scale of a Conv whose weights come from a BipolarQuant, else None."""
    if node.op_type != 'Conv' or len(node.input) < 2:
        return None
    producer = qmodel.find_producer(node.input[1])
    if producer is None or producer.op_type != 'BipolarQuant':
        return None
    scale = qmodel.get_initializer(producer.input[1])
    return None if scale is None else np.asarray(scale, dtype=np.float64).reshape(-1)


def trace_layers(hls_model, final_onnx: str | Path, ms_nhwc: np.ndarray, pan_nhwc: np.ndarray) -> list[dict]:
    """Per-layer comparison for one patch (batch 1, NHWC float inputs on the io grid).

    Returns one row per compared hls4ml layer, in dataflow order: ``layer`` (hls4ml name),
    ``onnx_node``, ``module`` (PyTorch path or None), ``elements``, ``mismatches``, ``max_abs_diff``.
    Note: hls4ml's ``trace`` recompiles the project with trace hooks (``#ifndef __SYNTHESIS__``).
    """
    import contextlib
    import io

    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    _enable_trace(hls_model)
    x = [np.ascontiguousarray(ms_nhwc, dtype=np.float64), np.ascontiguousarray(pan_nhwc, dtype=np.float64)]
    with contextlib.redirect_stdout(io.StringIO()):  # "Recompiling ... with tracing"
        _, traced = hls_model.trace(x)
    qmodel = ModelWrapper(str(final_onnx))
    ctx = execute_onnx(qmodel, {'ms': x[0].astype(np.float32), 'pan': x[1].astype(np.float32)},
                       return_full_exec_context=True)
    rows = []
    for layer in hls_model.get_layers():
        if layer.name not in traced or not layer.outputs or layer.outputs[0] not in ctx:
            continue
        tensor = layer.outputs[0]
        node = qmodel.find_producer(tensor)
        hls = np.asarray(traced[layer.name], dtype=np.float64).reshape(-1)
        ref = np.asarray(ctx[tensor], dtype=np.float64)
        if _binary_output(layer):
            hls = np.where(hls > 0, 1.0, -1.0)
        scale = _binary_weight_scale(qmodel, node) if node is not None else None
        if scale is not None:
            ref = ref / scale  # NHWC: channels last
        ref = ref.reshape(-1)
        if hls.size != ref.size:
            continue
        bad = hls != ref
        rows.append({'layer': layer.name, 'class': layer.class_name, 'onnx_node': node.name if node is not None else None,
                     'module': _torch_module(node) if node is not None else None, 'elements': int(ref.size),
                     'mismatches': int(bad.sum()), 'max_abs_diff': float(np.abs(hls - ref).max()) if bad.any() else 0.0})
    return rows


def first_mismatching_layer(rows: list[dict]) -> dict | None:
    """The first row (dataflow order) with a mismatch, or None."""
    return next((r for r in rows if r['mismatches']), None)
