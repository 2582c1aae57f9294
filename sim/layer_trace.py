"""Locate the first layer where the C-simulated accelerator departs from the QONNX graph.

The lowered project carries hls4ml's trace hooks (``nnet::save_layer_output`` under
``#ifndef __SYNTHESIS__``, written by :func:`hw.hls.lower.convert`). :func:`trace_layers` enables
them in the compiled C-simulation library of that very project, runs one patch, collects every
traced layer's output and compares it with qonnx ``execute_onnx``'s full execution context, layer
by layer in dataflow order (``np.array_equal`` in float64, no tolerance). Both sides are NHWC.

Why not ``ModelGraph.trace``: hls4ml offers it only on a ModelGraph it converts itself (its
``FilesystemModelGraph`` for an existing project refuses ``trace``), and re-converting would trace
another project than the one verified. The ctypes calls below are the ones hls4ml's trace makes.

hls4ml keeps some tensors in a different but equivalent representation, undone here first:
  - binary activations are stored as 1 bit, 0 meaning -1 (QONNX BipolarQuant gives -1/+1);
  - a binary-weight conv outputs the integer popcount sum: the per-output-channel power-of-two
    weight scale is folded into the following BatchNorm, whereas the QONNX Conv output already
    carries it, so the QONNX value is divided by that scale.
Layers with several output streams (Clone) are not traced (hls4ml keys trace storage by layer
name, so the copies would collide); their consumers are.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np


class _TraceData(ctypes.Structure):
    _fields_ = [('name', ctypes.c_char_p), ('data', ctypes.c_void_p)]


def _traced_outputs(linked, traced: dict[str, list[int]], x: list[np.ndarray], firmware: Path) -> dict[str, np.ndarray]:
    """Outputs of the traced layers for one sample (``linked``: a compiled hls4ml
    FilesystemModelGraph; ``traced``: layer name -> NHWC output shape; ``x``: float64 inputs)."""
    lib = linked._top_function_lib
    top, ctype = linked._get_top_function(x)
    lib.allocate_trace_storage.argtypes = [ctypes.c_size_t]
    lib.collect_trace_output.argtypes = [ctypes.POINTER(_TraceData)]
    data = (_TraceData * len(traced))()
    out = {}
    cwd = os.getcwd()
    os.chdir(firmware)  # hls4ml's own trace runs there (weights are found through WEIGHTS_DIR)
    try:
        lib.allocate_trace_storage(ctypes.sizeof(ctype))
        preds = [np.zeros(v.size(), dtype=ctype) for v in linked.get_output_variables()]
        top(*[np.ascontiguousarray(xi[0]) for xi in x], *preds)
        lib.collect_trace_output(data)
        for d in data:
            name = d.name.decode()
            arr = np.ctypeslib.as_array(ctypes.cast(d.data, ctypes.POINTER(ctype)), shape=(int(np.prod(traced[name])),))
            out[name] = np.array(arr, dtype=np.float64)
        lib.free_trace_storage()
    finally:
        os.chdir(cwd)
    return out


def _binary_weight_scale(qmodel, node) -> np.ndarray | None:
    """Per-output-channel scale of a Conv whose weights come from a BipolarQuant, else None."""
    if node.op_type != 'Conv' or len(node.input) < 2:
        return None
    producer = qmodel.find_producer(node.input[1])
    if producer is None or producer.op_type != 'BipolarQuant':
        return None
    scale = qmodel.get_initializer(producer.input[1])
    return None if scale is None else np.asarray(scale, dtype=np.float64).reshape(-1)


def trace_layers(linked, design: dict, prj_dir: str | Path, final_onnx: str | Path, ms_nhwc: np.ndarray,
                 pan_nhwc: np.ndarray) -> list[dict]:
    """Per-layer comparison for one patch (batch 1, NHWC inputs on the io grid) on a compiled project.

    Returns one row per compared layer, in dataflow order: ``layer`` (hls4ml name), ``class``,
    ``onnx_node``, ``module`` (PyTorch path or None, from design.json), ``elements``,
    ``mismatches``, ``max_abs_diff``.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    x = [np.ascontiguousarray(ms_nhwc, dtype=np.float64), np.ascontiguousarray(pan_nhwc, dtype=np.float64)]
    layers = [lay for lay in design['layers'] if lay.get('traced')]
    traced = _traced_outputs(linked, {lay['name']: lay['out_shape'] for lay in layers}, x, Path(prj_dir) / 'firmware')
    qmodel = ModelWrapper(str(final_onnx))
    ctx = execute_onnx(qmodel, {'ms': x[0].astype(np.float32), 'pan': x[1].astype(np.float32)},
                       return_full_exec_context=True)
    nodes = {n.name: n for n in qmodel.graph.node}
    rows = []
    for lay in layers:
        node = nodes.get(lay['onnx_node'])
        if lay['name'] not in traced or node is None or node.output[0] not in ctx:
            continue
        hls = traced[lay['name']]
        ref = np.asarray(ctx[node.output[0]], dtype=np.float64)
        if lay['result_bits'] == 1:  # 1-bit XNOR encoding: 0 means -1
            hls = np.where(hls > 0, 1.0, -1.0)
        scale = _binary_weight_scale(qmodel, node)
        if scale is not None:
            ref = ref / scale  # NHWC: channels last
        ref = ref.reshape(-1)
        if hls.size != ref.size:
            continue
        bad = hls != ref
        rows.append({'layer': lay['name'], 'class': lay['class'], 'onnx_node': node.name, 'module': lay.get('module'),
                     'elements': int(ref.size), 'mismatches': int(bad.sum()),
                     'max_abs_diff': float(np.abs(hls - ref).max()) if bad.any() else 0.0})
    return rows


def first_mismatching_layer(rows: list[dict]) -> dict | None:
    """The first row (dataflow order) with a mismatch, or None."""
    return next((r for r in rows if r['mismatches']), None)
