"""Evaluate a checkpoint on a HyperPanCollection test file against interpolation baselines.

Writes ``metrics.json`` (every method's reference metrics averaged over the test patches, the
no-reference indices, the conventions used) and PNGs: pseudo-colour comparison, absolute-error
map, spectral curves at a few pixels, and the training curves when the checkpoint has a history.
Baselines: ``bicubic`` = the file's LMS (HyperPanCollection's bicubic-interpolated MS) and
``bilinear`` = bilinear x ratio interpolation of MS (what the hardware upsampler computes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from quant_models import metrics, plots
from quant_models.common import atomic_write_json
from quant_models.data.hpc_format import read_hpc
from quant_models.train import load_checkpoint, model_from_checkpoint


def predict(model, ms: np.ndarray, pan: np.ndarray, batch: int = 4) -> np.ndarray:
    """Run the eval-mode model over (N,B,h,w) MS and (N,1,H,W) PAN; returns (N,B,H,W) float32."""
    outs = []
    with torch.no_grad():
        for i in range(0, ms.shape[0], batch):
            outs.append(model(torch.from_numpy(ms[i:i + batch]), torch.from_numpy(pan[i:i + batch])).numpy())
    return np.concatenate(outs, axis=0)


def evaluate(checkpoint: str | Path, test_h5: str | Path, out_dir: str | Path, log=print) -> dict:
    """Metrics and figures of ``checkpoint`` on ``test_h5``; returns the metrics dict."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = load_checkpoint(checkpoint)
    model = model_from_checkpoint(ckpt)
    cfg = model.cfg
    data = read_hpc(test_h5, require_gt=True, expected_bands=cfg.bands, expected_ratio=cfg.ratio)
    ratio = cfg.ratio
    fused = predict(model, data.ms, data.pan)
    bilinear = F.interpolate(torch.from_numpy(data.ms), scale_factor=ratio, mode='bilinear',
                             align_corners=False).numpy()
    methods = {'hsbinet': fused, 'bicubic': data.lms, 'bilinear': bilinear}
    results = {}
    for name, cube in methods.items():
        results[name] = metrics.reference_metrics(data.gt, cube, ratio)
        results[name].update(metrics.no_reference_metrics(cube, data.ms, data.pan, ratio))
    report = {
        'checkpoint': str(checkpoint), 'test_file': str(test_h5), 'patches': int(data.gt.shape[0]),
        'patch_shape_nchw': list(data.gt.shape[1:]), 'model': cfg.to_dict(),
        'epochs_trained': len(ckpt.get('history', [])), 'methods': results,
        'beats_bicubic': {k: _better(k, results['hsbinet'][k], results['bicubic'][k]) for k in ('psnr', 'sam')},
        'conventions': metrics.CONVENTIONS,
    }

    wl = data.attrs.get('wavelengths_nm')
    wl = None if wl is None else np.asarray(wl, dtype=float)
    bands = plots.rgb_bands(wl, cfg.bands)
    k = 0  # figures show the first test patch
    figs = {
        'composite': plots.comparison_png({'bicubic': data.lms[k], 'HS-BiNet': fused[k], 'reference': data.gt[k]},
                                          bands, out_dir / 'composite.png', reference='reference'),
        'error_map': plots.error_map_png(data.gt[k], fused[k], out_dir / 'error_map.png',
                                         units='normalised reflectance', title='|HS-BiNet - reference|, band mean'),
        'spectra': plots.spectral_curves_png(data.gt[k], {'HS-BiNet': fused[k], 'bicubic': data.lms[k]},
                                             plots.choose_pixels(data.gt[k], 3), wl, out_dir / 'spectra.png',
                                             units='normalised reflectance'),
    }
    if ckpt.get('history'):
        figs['training'] = plots.training_curves_png(ckpt['history'], out_dir / 'training.png')
    report['figures'] = {k: str(v) for k, v in figs.items()}
    atomic_write_json(out_dir / 'metrics.json', report, indent=2)  # once, after the figures: never a partial record
    log(format_table(results))
    return report


def _better(metric: str, model: float, base: float) -> bool:
    return model > base if metric in ('psnr', 'cc', 'ssim', 'qnr') else model < base


def format_table(results: dict) -> str:
    keys = ('psnr', 'cc', 'ssim', 'sam', 'ergas', 'qnr')
    head = f'{"method":<10}' + ''.join(f'{k.upper():>9}' for k in keys)
    rows = [head] + [f'{name:<10}' + ''.join(f'{r[k]:9.3f}' for k in keys) for name, r in results.items()]
    return '\n'.join(rows)

