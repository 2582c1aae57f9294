"""Evaluate a checkpoint on a HyperPanCollection test file against interpolation and classical baselines.

Writes ``metrics.json`` (every method's reference metrics averaged over the test patches, the
no-reference indices, the per-band PSNR, whether HS-BiNet beats each baseline in PSNR and SAM, the
conventions used) and PNGs: pseudo-colour comparison (reference / bicubic / MTF-GLP / HS-BiNet on
one stretch), absolute-error maps on one colour scale, per-band PSNR curves, spectral curves at a
few pixels, and the training curves when the checkpoint has a history.

Baselines, each scored exactly like the model (whole patches, same metrics, no border cropped):
``bicubic`` = the file's LMS (HyperPanCollection's bicubic-interpolated MS), ``bilinear`` =
bilinear x ratio interpolation of MS (what the hardware upsampler computes), and the classical
pan-sharpening methods of :mod:`quant_models.baselines` (``gsa``, ``mtf_glp``), run patch by
patch on the file's MS, PAN and LMS with the file's MTF (``gnyq`` / ``mtf_taps`` attributes as
written by :mod:`quant_models.data.prepare`; 0.3 / 41 taps when absent, e.g. HyperPanCollection's
own files).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from quant_models import metrics, plots
from quant_models.archs import display_name
from quant_models.baselines import BASELINES
from quant_models.common import atomic_write_json
from quant_models.data.hpc_format import read_hpc
from quant_models.train import load_checkpoint, model_from_checkpoint

#: MTF of the classical baselines when the test file does not record its own.
DEFAULT_GNYQ = 0.3
DEFAULT_TAPS = 41


def predict(model, ms: np.ndarray, pan: np.ndarray, batch: int = 4) -> np.ndarray:
    """Run the eval-mode model over (N,B,h,w) MS and (N,1,H,W) PAN; returns (N,B,H,W) float32."""
    outs = []
    with torch.no_grad():
        for i in range(0, ms.shape[0], batch):
            outs.append(model(torch.from_numpy(ms[i:i + batch]), torch.from_numpy(pan[i:i + batch])).numpy())
    return np.concatenate(outs, axis=0)


def classical(data, ratio: int, gnyq: float, taps: int) -> dict[str, np.ndarray]:
    """Every :data:`quant_models.baselines.BASELINES` method on every patch: name -> (N, B, H, W) float64."""
    hwb = (1, 2, 0)
    return {name: np.stack([fuse(ms.transpose(hwb), pan[0], lms.transpose(hwb), ratio, gnyq, taps).transpose(2, 0, 1)
                            for ms, pan, lms in zip(data.ms, data.pan, data.lms)])
            for name, fuse in BASELINES.items()}


def evaluate(checkpoint: str | Path, test_h5: str | Path, out_dir: str | Path, log=print) -> dict:
    """Metrics and figures of ``checkpoint`` on ``test_h5``; returns the metrics dict."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = load_checkpoint(checkpoint)
    model = model_from_checkpoint(ckpt)
    cfg = model.cfg
    data = read_hpc(test_h5, require_gt=True, expected_bands=cfg.bands, expected_ratio=cfg.ratio)
    ratio = cfg.ratio
    gnyq = float(data.attrs.get('gnyq', DEFAULT_GNYQ))
    taps = int(data.attrs.get('mtf_taps', DEFAULT_TAPS))
    fused = predict(model, data.ms, data.pan)
    bilinear = F.interpolate(torch.from_numpy(data.ms), scale_factor=ratio, mode='bilinear',
                             align_corners=False).numpy()
    methods = {'hsbinet': fused, 'bicubic': data.lms, 'bilinear': bilinear, **classical(data, ratio, gnyq, taps)}
    results = {}
    for name, cube in methods.items():
        results[name] = metrics.reference_metrics(data.gt, cube, ratio)
        results[name].update(metrics.no_reference_metrics(cube, data.ms, data.pan, ratio))
    band_psnr = {name: np.mean([metrics.psnr_per_band(g, c) for g, c in zip(data.gt, cube)], axis=0)
                 for name, cube in methods.items()}
    beats = {base: {k: _better(k, results['hsbinet'][k], results[base][k]) for k in ('psnr', 'sam')}
             for base in results if base != 'hsbinet'}
    report = {
        'checkpoint': str(checkpoint), 'test_file': str(test_h5), 'patches': int(data.gt.shape[0]),
        'patch_shape_nchw': list(data.gt.shape[1:]), 'model': cfg.to_dict(),
        # the trained network is the row 'hsbinet' of every table whatever its model.arch (a stable
        # key for scripts); 'network' names it
        'network': display_name(cfg),
        'epochs_trained': len(ckpt.get('history', [])), 'methods': results,
        'psnr_per_band': {k: v.tolist() for k, v in band_psnr.items()},
        'beats_bicubic': beats['bicubic'], 'beats': beats,
        'baselines': {'bicubic': 'LMS of the test file', 'bilinear': 'bilinear x ratio of MS, align_corners=False',
                      **{name: _summary(fuse) for name, fuse in BASELINES.items()}},
        'baseline_mtf': {'gnyq': gnyq, 'taps': taps,
                         'source': 'test file attributes' if 'gnyq' in data.attrs else 'default'},
        'conventions': metrics.CONVENTIONS,
    }

    wl = data.attrs.get('wavelengths_nm')
    wl = None if wl is None else np.asarray(wl, dtype=float)
    bands = plots.rgb_bands(wl, cfg.bands)
    k = 0  # figures show the first test patch
    shown = {'bicubic': data.lms[k], 'MTF-GLP': methods['mtf_glp'][k], display_name(cfg): fused[k]}
    figs = {
        'composite': plots.comparison_png({'reference': data.gt[k], **shown}, bands, out_dir / 'composite.png',
                                          reference='reference'),
        'error_map': plots.error_map_png(data.gt[k], shown, out_dir / 'error_map.png',
                                         units='normalised reflectance', title='|method - reference|, band mean'),
        'band_psnr': plots.band_psnr_png(band_psnr, wl, out_dir / 'band_psnr.png',
                                         title=f'PSNR per band, mean over {data.gt.shape[0]} test patches'),
        'spectra': plots.spectral_curves_png(data.gt[k], shown, plots.choose_pixels(data.gt[k], 3), wl,
                                             out_dir / 'spectra.png', units='normalised reflectance'),
    }
    if ckpt.get('history'):
        figs['training'] = plots.training_curves_png(ckpt['history'], out_dir / 'training.png')
    report['figures'] = {k: str(v) for k, v in figs.items()}
    atomic_write_json(out_dir / 'metrics.json', report, indent=2)  # once, after the figures: never a partial record
    log(format_table(results, beats, network=display_name(cfg)))
    return report


def _summary(fuse) -> str:
    """First line of the docstring of the module that defines ``fuse``."""
    return sys.modules[fuse.__module__].__doc__.strip().splitlines()[0]


def _better(metric: str, model: float, base: float) -> bool:
    return model > base if metric in ('psnr', 'cc', 'ssim', 'qnr') else model < base


def format_table(results: dict, beats: dict | None = None, network: str = 'HS-BiNet') -> str:
    """One row per method; with ``beats`` (baseline -> {psnr, sam} -> bool) a last line saying which
    baselines the trained network (row ``hsbinet``, named ``network``) beats in PSNR and SAM."""
    keys = ('psnr', 'cc', 'ssim', 'sam', 'ergas', 'qnr')
    head = f'{"method":<14}' + ''.join(f'{k.upper():>9}' for k in keys)
    rows = [head] + [f'{network if name == "hsbinet" else name:<14}' + ''.join(f'{r[k]:9.3f}' for k in keys)
                     for name, r in results.items()]
    if beats:
        rows.append(f'{network} beats (PSNR/SAM): ' + ', '.join(
            f'{base} {"yes" if b["psnr"] else "no"}/{"yes" if b["sam"] else "no"}' for base, b in beats.items()))
    return '\n'.join(rows)
