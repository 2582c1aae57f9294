"""A plain description of a lowered hls4ml io_stream design: the input of the analytical model.

:func:`describe` reads an hls4ml ``ModelGraph`` (after conversion, before or after ``compile``)
and returns a JSON-serialisable dict, written as ``design.json`` next to the hls4ml project, so
reports and explorations never need hls4ml or a re-conversion::

    {"project": "hsbinet", "backend": "Vitis", "frame": {"height": H, "width": W},
     "layers": [{"name", "class", "inputs": [producer layer names], "out_shape": [H, W, C],
                 "result_bits", "in_bits": [...], "attrs": {...}, "weights": {name: {"shape", "bits"}},
                 "stream_depth": pixels (the FIFO depth hls4ml wrote for the layer's output stream)}]}

Shapes are NHWC without the batch axis; bit widths are the total widths of hls4ml's fixed-point
types (1 for binary 1-bit activations / weights).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from quant_models.atomic import atomic_write_text
from quant_models.errors import HsbinetError

ATTRS = ('in_height', 'in_width', 'out_height', 'out_width', 'n_chan', 'n_filt', 'filt_height', 'filt_width',
         'reuse_factor', 'strategy', 'ratio', 'height', 'width')


def _bits(precision) -> int:
    return int(getattr(precision, 'width', 1))


def _plain(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return str(v)


def describe(hls_model) -> dict:
    """The design description of ``hls_model`` (see the module docstring)."""
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
        pragma = getattr(out, 'pragma', None)
        depth = pragma[1] if isinstance(pragma, tuple) and len(pragma) > 1 else None
        layers.append({
            'name': layer.name, 'class': layer.class_name, 'inputs': ins, 'in_bits': in_bits,
            'out_shape': [int(s) for s in out.shape], 'result_bits': _bits(out.type.precision),
            'attrs': {k: _plain(layer.get_attr(k)) for k in ATTRS if layer.get_attr(k) is not None},
            'weights': {k: {'shape': [int(s) for s in w.data.shape], 'bits': _bits(w.type.precision)}
                        for k, w in layer.weights.items()},
            'stream_depth': int(depth) if depth is not None else None,
            'outputs': len(layer.outputs),
        })
    frame = layers[-1]['out_shape']  # the output stream: one HR frame of B bands
    return {'project': hls_model.config.get_project_name(), 'backend': str(hls_model.config.backend.name),
            'frame': {'height': frame[0], 'width': frame[1], 'bands': frame[2]}, 'layers': layers}


def write_design(hls_model, path: str | Path) -> Path:
    return atomic_write_text(path, json.dumps(describe(hls_model), indent=1))


def find_in_build(build_dir: str | Path, name: str) -> Path | None:
    """The file ``name`` in ``build_dir`` or the shallowest one below it (e.g. ``run``'s ``hw/``)."""
    found = sorted(Path(build_dir).rglob(name), key=lambda p: len(p.parts))
    return found[0] if found else None


def load_design(build_dir: str | Path, log: Callable[[str], None] = print) -> tuple[dict, Path]:
    """design.json of the build folder; made from its final.onnx (hls4ml conversion only) if missing."""
    build_dir = Path(build_dir)
    if not build_dir.is_dir():
        raise HsbinetError('Build folder not found', file=str(build_dir),
                           hint='Pass the folder of `hsbinet run`, `hsbinet csim` or `hsbinet lower`')
    path = find_in_build(build_dir, 'design.json')
    if path is None:
        final = find_in_build(build_dir, 'final.onnx')
        if final is None:
            raise HsbinetError('No lowered design in the build folder', file=str(build_dir),
                               expected='design.json (written by `hsbinet lower`/`csim`/`run`) or final.onnx',
                               found='neither', hint='run `hsbinet export` and `hsbinet lower` first')
        from hw.hls4ml_lower import lower_hls4ml
        log(f'no design.json: lowering {final} (hls4ml conversion only)')
        hm, _ = lower_hls4ml(final, final.parent / 'hls4ml_prj')
        path = write_design(hm, final.parent / 'design.json')
    try:
        return json.loads(path.read_text()), path
    except (OSError, json.JSONDecodeError) as e:
        raise HsbinetError('Unreadable design description', file=str(path), found=str(e)) from None
