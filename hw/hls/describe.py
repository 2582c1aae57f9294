"""The design description of a lowered hls4ml io_stream model (the content of ``design.json``).

:func:`describe` reads an hls4ml ``ModelGraph`` after conversion and the final QONNX graph it came
from; the schema is documented in :mod:`hw.design`. The layer -> PyTorch module map is provenance
carried by the export, not guessed: an hls4ml layer's output stream is the ONNX tensor of the same
name, the node producing it is found with qonnx's ``find_producer``, and the PyTorch exporter
(dynamo) records each node's module path in its ``pkg.torch.onnx.name_scopes`` metadata.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hw.design import DESIGN_FORMAT

ATTRS = ('in_height', 'in_width', 'out_height', 'out_width', 'n_chan', 'n_filt', 'filt_height', 'filt_width',
         'reuse_factor', 'strategy', 'ratio', 'height', 'width', 'block_rows', 'mult_impl', 'in_chan', 'out_chan')


def torch_module(node) -> str | None:
    """The PyTorch module path the exporter recorded for an ONNX node (e.g. ``edge.conv.0.conv``)."""
    for prop in node.metadata_props:
        if prop.key == 'pkg.torch.onnx.name_scopes':  # a Python list literal of scope names
            scopes = [s for s in ast.literal_eval(prop.value) if s]
            return scopes[-2] if len(scopes) > 1 else (scopes[0] if scopes else None)
    return None


def _bits(precision) -> int:
    return int(getattr(precision, 'width', 1))


def _plain(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return str(v)


def _depth(var) -> int | None:
    pragma = getattr(var, 'pragma', None)
    return int(pragma[1]) if isinstance(pragma, tuple) and len(pragma) > 1 else None


def describe(hls_model, final_onnx: str | Path, model_cfg: dict | None = None, io_bits=(16, 2)) -> dict:
    """The design description of ``hls_model`` lowered from ``final_onnx`` (schema: :mod:`hw.design`)."""
    from qonnx.core.modelwrapper import ModelWrapper
    qmodel = ModelWrapper(str(final_onnx))
    var_owner = {}
    for layer in hls_model.get_layers():
        for o in layer.outputs:
            var_owner[o] = layer.name
    layers = []
    for layer in hls_model.get_layers():
        out = layer.get_output_variable()
        ins = [var_owner[i] for i in layer.inputs if i in var_owner] if layer.class_name != 'Input' else []
        in_bits = [_bits(hls_model.get_layer_output_variable(i).type.precision) for i in layer.inputs
                   if i in var_owner] if layer.class_name != 'Input' else []
        node = qmodel.find_producer(layer.outputs[0]) if layer.outputs else None
        in_depths = [_depth(hls_model.get_layer_output_variable(i)) for i in layer.inputs
                     if i in var_owner] if layer.class_name != 'Input' else []
        depth = _depth(out)
        layers.append({
            'name': layer.name, 'class': layer.class_name, 'inputs': ins, 'in_bits': in_bits,
            'out_shape': [int(s) for s in out.shape], 'result_bits': _bits(out.type.precision),
            'attrs': {k: _plain(layer.get_attr(k)) for k in ATTRS if layer.get_attr(k) is not None},
            'weights': {k: {'shape': [int(s) for s in w.data.shape], 'bits': _bits(w.type.precision),
                            'precision': str(w.type.precision), 'variable': w.name}
                        for k, w in layer.weights.items()},
            'onnx_node': node.name if node is not None else None,
            'module': torch_module(node) if node is not None else None,
            'traced': bool(layer.get_attr('trace', False)) and layer.get_attr('function_cpp') is not None,
            'stream_depth': int(depth) if depth is not None else None,
            'in_depths': in_depths,
            'outputs': len(layer.outputs),
        })
    frame = layers[-1]['out_shape']  # the output stream: one HR frame of B bands
    return {'format': DESIGN_FORMAT, 'project': hls_model.config.get_project_name(),
            'backend': str(hls_model.config.backend.name), 'io_bits': [int(b) for b in io_bits],
            'frame': {'height': frame[0], 'width': frame[1], 'bands': frame[2]}, 'model': model_cfg,
            'final_onnx': Path(final_onnx).name, 'layers': layers}


