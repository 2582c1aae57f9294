"""Least-squares fits shared by the baselines: intensity weights and injection gains.

Arrays are float64 images in (H, W, B) / (H, W) layout; results are unitless per-band
coefficients.
"""

from __future__ import annotations

import numpy as np

#: A PAN whose standard deviation is at most this fraction of its largest magnitude is flat
#: (float64 rounding of a constant): it carries no spatial detail to inject.
FLAT_RTOL = 1e-12


def is_flat(pan: np.ndarray) -> bool:
    """True when ``pan`` is constant up to float64 rounding (see :data:`FLAT_RTOL`)."""
    return bool(np.std(pan) <= FLAT_RTOL * np.max(np.abs(pan)))


def intensity_weights(ms: np.ndarray, pan_lr: np.ndarray) -> np.ndarray:
    """Least-squares weights ``w`` (B + 1,) with ``pan_lr ~ sum_k w[k] ms[..., k] + w[B]``.

    ``ms`` (h, w, B) and ``pan_lr`` (h, w) share the low-resolution grid (GSA's regression of the
    degraded PAN on the MS bands with a constant, toolbox ``estimation_alpha(.., 'global')``).
    With fewer pixels than B + 1 (or collinear bands) the minimum-norm solution is returned
    (``numpy.linalg.lstsq``), which still fits ``pan_lr`` exactly when it can.
    """
    a = np.concatenate([ms.reshape(-1, ms.shape[2]), np.ones((pan_lr.size, 1))], axis=1)
    return np.linalg.lstsq(a, pan_lr.reshape(-1), rcond=None)[0]


def injection_gains(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Per-band regression gains ``g_k = cov(target_k, source_k) / var(source_k)``, shape (B,).

    ``target`` (H, W, B); ``source`` (H, W) shared by every band or (H, W, B) per band. The
    covariance and the variance use the same normalisation, so the sample/population choice
    cancels. A band whose source has zero variance gets gain 0 (nothing to regress on).
    """
    t = target.reshape(-1, target.shape[2])
    s = source.reshape(t.shape[0], -1)
    t = t - t.mean(axis=0)
    s = s - s.mean(axis=0)
    cov = np.mean(t * s, axis=0)
    var = np.mean(s * s, axis=0)
    return np.divide(cov, var, out=np.zeros_like(cov), where=var > 0)
