"""The inference engines that need a lowered design: the C-simulated accelerator, and the choice of
engine and tile geometry for ``hsbinet infer`` (:mod:`quant_models.infer` does the tiling).

:class:`CsimEngine` compiles the lowered hls4ml project as it is on disk (g++, the same
``link_existing_project`` build as :mod:`sim.csim`, content hash checked first) and runs every tile
through the AXI4-Stream adapter + core (:func:`hw.hls.axis.run_frame`): inputs are the tiles'
fixed<io_bits> integers, outputs the stream integers / 2^frac, so they are on the output grid the
PyTorch engine's outputs lie on, and the TLAST of every output beat is checked against the
adapter's specification.

:func:`make_engine` picks the engine and the frame: ``csim`` and ``qonnx`` need the lowered design
(``--build``: design.json, final.onnx, hls4ml_prj/) and tile at its frame; ``torch`` tiles at the
design's frame when one is given, else at ``--tile`` (default 32). The checkpoint must be the model
the design was lowered from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from quant_models.common import HsbinetError
from quant_models.infer import DEFAULT_TILE, QonnxEngine, TorchEngine

ENGINES = ('torch', 'qonnx', 'csim')


class CsimEngine:
    """The compiled C-simulation of a lowered design, one frame (tile) at a time."""

    name = 'csim'
    batch = 1

    def __init__(self, design: dict, design_path: Path, log=print):
        from hw.design import check_unchanged, project_dir
        from hw.hls.axis import expected_out_last, geometry_of
        from sim.csim import compile_project
        check_unchanged(design, design_path)
        self.design = design
        self.geo = geometry_of(design, design['axis']['tdata_bits'], design['axis']['tlast'])
        self.want_last = expected_out_last(self.geo)
        self.frac = int(design['io_bits'][0]) - int(design['io_bits'][1])
        prj = project_dir(design, design_path)
        cached = fresh_library(prj, design['project'])
        if cached is not None:
            import ctypes
            self.lib = ctypes.cdll.LoadLibrary(str(cached))
            self.library = f'reused {cached} (newer than every source of the project)'
        else:
            log(f'compiling the lowered project {prj} (design {design["sha256"][:16]}) for C-simulation')
            self.lib = compile_project(prj)._top_function_lib
            self.library = f'compiled {prj} with g++ (build_lib.sh)'
        log(f'C-simulation library: {self.library}')
        self.tlast_mismatches = 0

    def __call__(self, ms: np.ndarray, pan: np.ndarray) -> np.ndarray:
        from hw.hls.axis import run_frame
        from sim.compare import to_fixed_ints
        lib, top, scale = self.lib, self.design['project'], float(2 ** self.frac)
        ys = []
        for m, p in zip(ms, pan):
            ms_int = to_fixed_ints(np.transpose(m, (1, 2, 0)), self.frac, 'ms')
            pan_int = to_fixed_ints(p[0], self.frac, 'pan')
            y, last = run_frame(lib, top, self.geo, ms_int, pan_int)
            bad = int(np.count_nonzero(np.asarray(last) != self.want_last))
            if bad:
                self.tlast_mismatches += bad
                raise HsbinetError('The accelerator\'s output TLAST departs from the adapter specification',
                                   key='m_out TLAST', expected='0 mismatching beats', found=f'{bad} beats')
            ys.append(np.transpose(y, (2, 0, 1)) / scale)
        return np.stack(ys).astype(np.float32)


def fresh_library(prj: Path, project: str) -> Path | None:
    """The C-simulation library ``firmware/<project>-<stamp>.so`` that ``build_lib.sh`` built, if it
    is newer than every file it is built from (firmware/ sources and weights, the bridges, the build
    script), else None: as make decides, so an unchanged project is not compiled again."""
    import re
    script = prj / 'build_lib.sh'
    stamp = re.search(r'^LIB_STAMP=(\S+)$', script.read_text(), re.M) if script.is_file() else None
    lib = prj / 'firmware' / f'{project}-{stamp.group(1)}.so' if stamp else None
    if lib is None or not lib.is_file():
        return None
    sources = [script, *prj.glob('*.cpp'), *(p for p in (prj / 'firmware').rglob('*')
                                             if p.is_file() and p.suffix not in ('.so', '.o'))]
    built = lib.stat().st_mtime_ns
    return lib if all(p.stat().st_mtime_ns <= built for p in sources) else None


def check_model(model, design: dict, design_path: Path, checkpoint) -> None:
    """The checkpoint's model is the one the design was lowered from (as :mod:`sim.csim` checks)."""
    lowered, ours = design.get('model') or {}, model.cfg.to_dict()
    differ = sorted(k for k in lowered if k in ours and json.dumps(lowered[k]) != json.dumps(ours[k]))
    if differ:
        k = differ[0]
        raise HsbinetError('The checkpoint is not the model this design was lowered from', file=str(checkpoint),
                           key=f'model.{k}', expected=f'{lowered[k]!r} (from {design_path})', found=repr(ours[k]))


def make_engine(name: str, model, build=None, tile: int | None = None, checkpoint=None, log=print):
    """(engine, frame (H, W) in PAN pixels, record for infer.json) for ``hsbinet infer``."""
    if name not in ENGINES:
        raise HsbinetError('Unknown inference engine', key='--engine', expected=' or '.join(ENGINES), found=repr(name))
    if build is None:
        if name != 'torch':
            raise HsbinetError(f'The {name} engine needs the lowered design', key='--build',
                               expected='a folder with design.json, final.onnx and hls4ml_prj/ (from `hsbinet lower` '
                                        'or `hsbinet run`)', found='no --build',
                               hint='or use --engine torch with --tile')
        t = int(tile or DEFAULT_TILE)
        return TorchEngine(model), (t, t), {'design': None, 'frame_source': '--tile' if tile else 'default tile'}
    from hw.design import load_design
    design, design_path = load_design(build)
    check_model(model, design, design_path, checkpoint)
    frame = (int(design['frame']['height']), int(design['frame']['width']))
    if tile is not None and (int(tile), int(tile)) != frame:
        raise HsbinetError('The tile size is the frame the design was lowered for', key='--tile',
                           expected=f'omitted, or {frame[0]} (design {design_path})', found=str(tile))
    record = {'design': str(design_path), 'design_sha256': design['sha256'], 'backend': design.get('backend'),
              'frame_source': f'design.json frame {frame[0]}x{frame[1]}'}
    if name == 'torch':
        return TorchEngine(model), frame, record
    if name == 'qonnx':
        final = design_path.parent / design.get('final_onnx', 'final.onnx')
        if not final.is_file():
            raise HsbinetError('The lowered design has no final QONNX graph', file=str(final), key='final_onnx',
                               expected='final.onnx beside design.json', found='missing')
        return QonnxEngine(final), frame, {**record, 'final_onnx': str(final)}
    engine = CsimEngine(design, design_path, log=log)
    return engine, frame, {**record, 'csim_library': engine.library}
