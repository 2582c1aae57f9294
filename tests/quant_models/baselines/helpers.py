"""Synthetic scenes whose pan-sharpening answer is known by construction (float64, (H, W, B))."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from quant_models.data.wald import bicubic_upsample, decimate

GAINS = np.array([0.5, 1.0, 2.0, -0.7])
OFFSETS = np.array([0.1, -0.2, 0.0, 1.5])


def smooth_pan(h=72, w=48, seed=0) -> np.ndarray:
    """A textured (H, W) PAN: smoothed noise with detail above the MS Nyquist frequency."""
    rng = np.random.default_rng(seed)
    return 1.0 + gaussian_filter(rng.standard_normal((h, w)), 1.2, mode='wrap') * 3.0


def degraded(gt: np.ndarray, ratio: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(MS, LMS) of ``gt`` exactly as the reduced-resolution data makes them, in float64."""
    ms = decimate(gt, ratio)
    return ms, bicubic_upsample(ms, ratio)


def pan_like_scene(ratio: int = 4, seed: int = 0) -> dict:
    """Every band = a gain and an offset of the PAN (GT_k = a_k P + b_k); MS/LMS = its exact degradation."""
    pan = smooth_pan(seed=seed)
    gt = pan[:, :, None] * GAINS + OFFSETS
    ms, lms = degraded(gt, ratio)
    return {'gt': gt, 'pan': pan, 'ms': ms, 'lms': lms, 'ratio': ratio}
