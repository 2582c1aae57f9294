"""``design.json``: the plain description of one lowered hls4ml io_stream project, and its identity.

Written by the lower step (:func:`hw.hls.lower.lower_project`) next to the project; read by the
report, the exploration, the C-simulation and the vendor project, so none of them needs hls4ml or
lowers again::

    {"format": "hsbinet-design/3", "project": "hsbinet", "backend": "Vitis",
     "sha256": content hash of hls4ml_prj/ (see project_sha256): THE design identity,
     "project_dir": "hls4ml_prj" (relative to design.json), "final_onnx": "final.onnx" (the golden
     graph, B bands), "core_onnx": the graph hls4ml lowered (final.onnx, or core.onnx with the bands
     padded to core_bands),
     "io_bits": [W, I] of the fixed<W,I> input/output streams,
     "frame": {"height": H, "width": W, "bands": B on the bus, "core_bands": inside} (PAN pixels),
     "axis": the AXI4-Stream adapter (hw.hls.axis): {"top", "tdata_bits", "sample_bits", "lanes",
             "bands", "core_bands", "tlast", "beats_per_pixel", "pan_beats_per_row", "beats_per_frame"},
     "model": the HSBiNetConfig of the exported model (bands, hidden, blocks, ratio, io_bits, ...),
     "layers": [{"name" (hls4ml), "class", "inputs": [producer layer names], "out_shape": [H, W, C],
                 "result_bits", "in_bits": [...], "attrs": {...},
                 "weights": {name: {"shape", "bits", "precision", "variable"}},
                 "stream_depth": pixels (the FIFO depth written for the layer's output stream),
                 "outputs", "onnx_node", "module" (PyTorch module path or null), "traced"}]}

Shapes are NHWC without the batch axis; bit widths are the total widths of hls4ml's fixed-point
types (1 for binary 1-bit activations / weights).
"""

from __future__ import annotations

import json
from pathlib import Path

from quant_models.common import HsbinetError, atomic_write_json, tree_sha256

DESIGN_FILE = 'design.json'
DESIGN_FORMAT = 'hsbinet-design/3'  # 3: the AXI4-Stream adapter and the core's band padding
BUILD_PRODUCTS = frozenset({'.so', '.o', '.a'})  # what hls4ml's compile() leaves in firmware/


def project_sha256(prj_dir: str | Path) -> str:
    """Content hash of an hls4ml project: firmware/ (sources, weights), the testbench and tb_data/,
    without the C-simulation's build products. The verdict, the report and the vendor project of
    one design all carry this hash."""
    prj_dir = Path(prj_dir)
    top = next((p.name[:-len('_test.cpp')] for p in prj_dir.glob('*_test.cpp')), 'hsbinet')
    return tree_sha256(prj_dir, ['firmware', f'{top}_test.cpp', 'tb_data'], BUILD_PRODUCTS)


def write_design(design: dict, prj_dir: str | Path, path: str | Path) -> dict:
    """Write ``design`` to ``path`` with the project's location and content hash; returns what was written."""
    path = Path(path)
    design = {**design, 'project_dir': str(Path(prj_dir).resolve().relative_to(path.parent.resolve())),
              'sha256': project_sha256(prj_dir)}
    atomic_write_json(path, design)
    return design


def find_in_build(build_dir: str | Path, name: str) -> Path | None:
    """The file ``name`` in ``build_dir`` or the shallowest one below it (e.g. ``run``'s ``hw/``)."""
    found = sorted(Path(build_dir).rglob(name), key=lambda p: len(p.parts))
    return found[0] if found else None


def load_design(build_dir: str | Path) -> tuple[dict, Path]:
    """(design dict, path of design.json) of a lowered build folder (the folder or below it)."""
    build_dir = Path(build_dir)
    if not build_dir.is_dir():
        raise HsbinetError('Build folder not found', file=str(build_dir),
                           hint='pass the folder of `hsbinet run` or `hsbinet lower`')
    path = build_dir / DESIGN_FILE if (build_dir / DESIGN_FILE).is_file() else find_in_build(build_dir, DESIGN_FILE)
    if path is None:
        raise HsbinetError('No lowered design in the build folder', file=str(build_dir),
                           expected=f'{DESIGN_FILE} (written by `hsbinet lower` or `hsbinet run`)', found='none',
                           hint='run `hsbinet export` and `hsbinet lower` first')
    try:
        design = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise HsbinetError('Unreadable design description', file=str(path), found=str(e)) from None
    if 'sha256' not in design or 'layers' not in design or design.get('format') != DESIGN_FORMAT:
        raise HsbinetError('Design description from an older or other tool', file=str(path), key='format',
                           expected=f"{DESIGN_FORMAT} with keys 'sha256', 'layers', 'axis'",
                           found=str(design.get('format') or ', '.join(sorted(design)) or 'an empty mapping'),
                           hint='lower the design again with `hsbinet lower`')
    return design, path


def check_unchanged(design: dict, design_path: Path) -> None:
    """The hls4ml project is still the one ``design`` describes (its content hash is unchanged)."""
    prj = project_dir(design, design_path)
    sha = project_sha256(prj)
    if sha != design['sha256']:
        raise HsbinetError('The hls4ml project changed after it was lowered', file=str(prj), key='sha256',
                           expected=f'{design["sha256"][:16]}... (design.json)', found=f'{sha[:16]}...',
                           hint='lower again (`hsbinet lower`) so that design.json describes the project')


def project_dir(design: dict, design_path: Path) -> Path:
    """The hls4ml project folder a design description belongs to."""
    return (Path(design_path).parent / design.get('project_dir', 'hls4ml_prj')).resolve()
