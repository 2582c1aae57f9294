"""Full-resolution assessment (the paper's Table 2): D_lambda, D_s and QNR of HS-BiNet and the baselines.

One scene (default: ABU urban-3, AVIRIS, 100 x 100 x 191, from ``../shared/data``; any cube
:func:`quant_models.data.readers.load_cube` reads, e.g. ``indian_pines``) is fused by bicubic
interpolation (the LMS), bilinear interpolation (the hardware upsampler), GSA, MTF-GLP
(:mod:`quant_models.baselines`) and, with ``--checkpoint``, HS-BiNet (a model trained on the same
sensor's reduced-resolution data, e.g. the hardware-profile ``last.pt`` of ``hsbinet train``),
and every product is scored with the no-reference indices of
:mod:`quant_models.metrics.full_resolution` only: no ground truth is used anywhere.

    python benchmarks/full_resolution.py [--scene FILE|NAME] [--checkpoint PT] [--pan FILE]
                                         [--ratio 4] [--gnyq 0.3] [--taps 41] [--tile 64] [--out DIR]

Writes DIR/full_resolution.json and DIR/full_resolution.md (the table, in the layout of the
paper's Table 2: method, D_lambda, D_s, QNR, and the ideal values).

What "full resolution" means here (decision)
---------------------------------------------
The paper's Table 2 (PRISMA FR1) follows the full-resolution protocol of the pan-sharpening
toolboxes (Alparone et al. 2008, Vivone et al.): the sensor's own HS and PAN are fused as they
are, with no Wald degradation and no reference, and the product is scored on the PAN grid
(D_lambda: inter-band Q of the product against that of the HS; D_s: Q of every band with the PAN
against Q of the HS band with the PAN degraded to the HS grid; QNR = (1 - D_lambda)(1 - D_s)).
The data here are hyperspectral cubes without a PAN. The project's convention
(:mod:`quant_models.infer`, README ``hsbinet infer``, DESIGN.md *Data and metrics*) is that a
PAN is synthesised only from a cube *at that cube's own resolution* (flat 450-900 nm response,
not blurred: :func:`quant_models.data.wald.simulate`), and that a PAN at ratio x a cube's
resolution must be a real image. The benchmark therefore has two modes:

* **synthesised PAN (default)**: the cube is the scene a PAN + HS sensor pair observes, at the
  cube's own scale, which is the finest scale in the data and the grid of the product. PAN = the
  flat-response PAN of the normalised cube on the cube's grid (as today); the HS input = the
  cube through the MTF and block-centre sampling at 1/ratio (``simulate``'s MS; exactly the
  inputs of ``hsbinet infer --reduced``). Every method fuses that pair to the cube's grid and is
  scored there with D_lambda, D_s and QNR; the cube itself is never compared with anything (no
  GT, no reduced-resolution step, no further degradation of the pair or of the product). The HS
  input has to be made by MTF + decimation because the data hold no HS at 1/ratio of a PAN;
  this is the one departure from a real sensor pair, and it is what makes the QNR of this table
  directly comparable to the QNR columns of the reduced-resolution tables in
  docs/benchmarks.md (same pair, whole scene instead of test patches).
* **real PAN (``--pan FILE``, ratio x the cube's size)**: the cube is the sensor's LR-HS, used
  untouched, and the PAN the real image (``hsbinet infer``'s full mode: HS normalised by its
  maximum, PAN matched to the HS intensity): the toolboxes' protocol exactly, as the paper's FR1.

Rejected: the cube as the LR-HS with a PAN at ratio x its size synthesised from an interpolated
cube. Such a PAN holds no detail the cube lacks, so there is nothing to inject and D_s would
measure agreement with the interpolator (bicubic near-ideal by construction); the project
simulates no such PAN anywhere.

With a checkpoint, HS-BiNet therefore sees the input kind it was trained on (reduced-resolution
pairs of the same sensor, simulated the same way, at the training data's GNyq unless ``--gnyq``
is given). A checkpoint trained on this very scene has seen its training strips: the whole scene
is scored, so that row is not a held-out result.

Processing: the scene is cropped to multiples of the ratio (top-left kept) and normalised by its
maximum (negatives clipped to 0), as ``hsbinet infer`` does (:func:`quant_models.infer.prepare_scene`).
Interpolation and the classical methods run on the whole scene (GSA's and MTF-GLP's regressions
are global, as in the toolboxes); HS-BiNet runs tile by tile in the accelerator's geometry
(:func:`quant_models.infer.run_tiles`: ``--tile`` PAN pixels with the receptive-field halo, mirror
padding, inputs on the io grid). The indices are computed once on the whole product (Q on 32 x 32
PAN-pixel blocks, 32/ratio on the HS grid; D_s degrades the PAN with the same MTF and
block-centre sampling as the HS, :func:`quant_models.metrics.degrade_pan`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from quant_models.baselines import BASELINES  # noqa: E402
from quant_models.common import atomic_write_json  # noqa: E402
from quant_models.metrics import CONVENTIONS, no_reference_metrics  # noqa: E402

DEFAULT_SCENE = ROOT.parent / 'shared' / 'data' / 'abu_urban3_aviris_100x100x191.mat'
DEFAULT_RATIO = 4
DEFAULT_GNYQ = 0.3
DEFAULT_TAPS = 41
DEFAULT_TILE = 64
#: row key -> label of the table, in the table's order.
LABELS = {'bicubic': 'bicubic (LMS)', 'bilinear': 'bilinear', 'gsa': 'GSA', 'mtf_glp': 'MTF-GLP',
          'hsbinet': 'HS-BiNet'}
KEYS = ('d_lambda', 'd_s', 'qnr')


def fuse_baselines(ms: np.ndarray, pan: np.ndarray, lms: np.ndarray, ratio: int, gnyq: float,
                   taps: int) -> dict[str, tuple[np.ndarray, float]]:
    """Every baseline on the whole scene: name -> (fused (B, H, W) float64, seconds).

    ``ms`` (B, h, w), ``pan`` (1, H, W), ``lms`` (B, H, W) band-first, as the metrics take them.
    """
    out: dict[str, tuple[np.ndarray, float]] = {'bicubic': (lms.astype(np.float64), 0.0)}
    t = time.time()
    bil = F.interpolate(torch.from_numpy(ms[None].astype(np.float64)), scale_factor=ratio, mode='bilinear',
                        align_corners=False)[0].numpy()
    out['bilinear'] = (bil, time.time() - t)
    hwb = (1, 2, 0)
    for name, fuse in BASELINES.items():
        t = time.time()
        f = fuse(ms.transpose(hwb), pan[0], lms.transpose(hwb), ratio, gnyq, taps).transpose(2, 0, 1)
        out[name] = (np.ascontiguousarray(f), time.time() - t)
    return out


def fuse_hsbinet(model, ms: np.ndarray, pan: np.ndarray, tile: int, log=print) -> tuple[np.ndarray, dict]:
    """HS-BiNet on the whole scene, tile by tile as ``hsbinet infer`` (PyTorch engine): (fused, tiling)."""
    from quant_models.infer import TorchEngine, on_io_grid, plan_tiles, receptive_radius, run_tiles
    ratio = int(model.cfg.ratio)
    hw = tuple(int(v) for v in pan.shape[1:])
    frame = tuple(min(int(tile), s) for s in hw)
    if frame != (tile, tile):
        log(f'tile {tile} larger than the scene {hw[0]}x{hw[1]}: frame {frame[0]}x{frame[1]}')
    rf = receptive_radius(model)
    plan = plan_tiles(hw, frame, rf['halo'], ratio)
    ms_q, pan_q = on_io_grid(model, ms, pan)
    t = time.time()
    fused = run_tiles(plan, ms_q, pan_q, TorchEngine(model))
    return fused.astype(np.float64), {**plan.to_dict(), 'receptive_field_pan': rf, 'seconds': time.time() - t}


def pan_response(wavelengths_nm, bands: int) -> str:
    """The synthesised PAN's spectral response in words (:func:`quant_models.data.wald.pan_spectral_response`)."""
    from quant_models.data.wald import PAN_RANGE_NM, pan_spectral_response
    w = pan_spectral_response(wavelengths_nm, bands)
    k = int(np.count_nonzero(w))
    if wavelengths_nm is None:
        return f'the mean of all {bands} bands (no wavelengths in the file)'
    if k == bands and not np.all((np.asarray(wavelengths_nm) >= PAN_RANGE_NM[0])
                                 & (np.asarray(wavelengths_nm) <= PAN_RANGE_NM[1])):
        return f'the mean of all {bands} bands (none in {PAN_RANGE_NM[0]:g}-{PAN_RANGE_NM[1]:g} nm)'
    return f'the flat {PAN_RANGE_NM[0]:g}-{PAN_RANGE_NM[1]:g} nm response ({k} of {bands} bands)'


def format_table(rows: dict[str, dict], title: str) -> str:
    """The paper's Table 2 layout: Method | D_lambda | D_s | QNR, then the ideal values."""
    lines = [title, '', '| Method | D_λ | D_s | QNR |', '|---|---|---|---|']
    for name, r in rows.items():
        lines.append(f'| {LABELS.get(name, name)} | {r["d_lambda"]:.3f} | {r["d_s"]:.3f} | {r["qnr"]:.3f} |')
    lines.append('| Ideal values | 0 | 0 | 1.00 |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--scene', default=str(DEFAULT_SCENE),
                   help='cube file (FILE or FILE:KEY) or embedded scene name (default: ABU urban-3)')
    p.add_argument('--checkpoint', default=None, help='HS-BiNet checkpoint (same sensor, reduced-resolution training)')
    p.add_argument('--pan', default=None, help='a real PAN of ratio x the cube\'s size: the toolboxes\' protocol')
    p.add_argument('--ratio', type=int, default=None,
                   help=f'resolution ratio (default: the model\'s, else {DEFAULT_RATIO})')
    p.add_argument('--gnyq', type=float, default=None,
                   help=f'MTF gain at Nyquist (default: the training data\'s with a checkpoint, else {DEFAULT_GNYQ})')
    p.add_argument('--taps', type=int, default=DEFAULT_TAPS)
    p.add_argument('--tile', type=int, default=DEFAULT_TILE, help='HS-BiNet tile, PAN pixels (square)')
    p.add_argument('--out', default=None)
    a = p.parse_args(argv)

    from quant_models.infer import prepare_scene, training_data_gnyq
    model, gnyq_source = None, 'command line' if a.gnyq is not None else 'default'
    ratio, gnyq = a.ratio or DEFAULT_RATIO, a.gnyq if a.gnyq is not None else DEFAULT_GNYQ
    if a.checkpoint:
        from quant_models.train import load_checkpoint, model_from_checkpoint
        ckpt = load_checkpoint(a.checkpoint)
        model = model_from_checkpoint(ckpt)
        if a.ratio is not None and a.ratio != model.cfg.ratio:
            p.error(f'--ratio {a.ratio} differs from the checkpoint\'s ratio {model.cfg.ratio}')
        ratio = int(model.cfg.ratio)
        if a.gnyq is None:
            gnyq, gnyq_source = training_data_gnyq(ckpt)
    inp = prepare_scene(a.scene, ratio, gnyq, reduced=a.pan is None, pan=a.pan,
                        bands=None if model is None else model.cfg.bands, taps=a.taps)
    inp.gt = None  # the synthesised mode's simulate() returns the cube as 'gt': never used here
    mode = 'synthesised PAN' if a.pan is None else 'real PAN'
    ms, pan, lms = inp.ms, inp.pan, inp.lms
    for n in inp.notes:
        print(n)
    print(f'{inp.cube.name}: {mode}, HS {ms.shape[1]}x{ms.shape[2]} -> {pan.shape[1]}x{pan.shape[2]} x '
          f'{ms.shape[0]} bands, ratio {ratio}, GNyq {gnyq} ({gnyq_source}), {a.taps} taps', flush=True)

    fused = fuse_baselines(ms, pan, lms, ratio, gnyq, a.taps)
    tiling = None
    if model is not None:
        f, tiling = fuse_hsbinet(model, ms, pan, a.tile)
        fused['hsbinet'] = (f, tiling.pop('seconds'))
    rows: dict[str, dict] = {}
    for name, (f, secs) in fused.items():
        rows[name] = {**no_reference_metrics(f, ms, pan, ratio, gnyq=gnyq, taps=a.taps),
                      'label': LABELS[name], 'fuse_s': round(secs, 3)}
        print(f'{LABELS[name]:<14} D_lambda {rows[name]["d_lambda"]:.4f}  D_s {rows[name]["d_s"]:.4f}  '
              f'QNR {rows[name]["qnr"]:.4f}', flush=True)

    pan_text = (f'PAN = {pan_response(inp.cube.wavelengths_nm, ms.shape[0])} of the cube on its own grid, '
                f'HS = the cube through the MTF (GNyq {gnyq}, {a.taps} taps) sampled at the block centres at 1/{ratio}'
                if a.pan is None else f'real PAN {inp.pan_source}, HS = the cube as it is')
    title = (f'Full-resolution evaluation on {inp.cube.name} ({mode}: {pan_text}; product '
             f'{pan.shape[1]}x{pan.shape[2]}x{ms.shape[0]}; no reference)')
    text = format_table(rows, title)
    print(text)
    out = Path(a.out or tempfile.mkdtemp(prefix='hsbinet_full_resolution_'))
    out.mkdir(parents=True, exist_ok=True)
    report = {
        'tool': 'benchmarks/full_resolution.py', 'table': 'paper Table 2 layout (Method, D_lambda, D_s, QNR)',
        'mode': mode, 'scene': inp.cube.name, 'source': inp.cube.source, 'source_key': inp.cube.key,
        'source_sha256': inp.cube.sha256, 'ground_truth_used': False,
        'pan': inp.pan_source if a.pan else f'synthesised: {pan_response(inp.cube.wavelengths_nm, ms.shape[0])}, '
                                            'not blurred (quant_models.data.wald.simulate)',
        'decision': 'full resolution = fuse the sensor pair as it is and score the product on the PAN grid with '
                    'no reference; without a real PAN the pair is the cube\'s flat-response PAN on the cube\'s '
                    'own grid and the cube through the MTF at 1/ratio (benchmarks/full_resolution.py docstring)',
        'ratio': ratio, 'gnyq': gnyq, 'gnyq_source': gnyq_source, 'taps': a.taps, 'max_value': inp.max_value,
        'notes': inp.notes, 'checkpoint': a.checkpoint,
        'model': None if model is None else model.cfg.to_dict(), 'tiling': tiling,
        'shapes': {'ms': list(ms.shape), 'pan': list(pan.shape), 'fused': list(lms.shape)},
        'units': 'normalised (source / max_value)', 'conventions': CONVENTIONS, 'rows': rows,
        'ideal': {'d_lambda': 0.0, 'd_s': 0.0, 'qnr': 1.0}}
    atomic_write_json(out / 'full_resolution.json', report)
    (out / 'full_resolution.md').write_text(text + '\n')
    print(f'wrote {out / "full_resolution.md"}, {out / "full_resolution.json"}')
    return report


if __name__ == '__main__':
    main()
