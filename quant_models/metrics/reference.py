"""Reduced-resolution indices (Wald's protocol): the fused image against a reference.

``ref`` and ``out`` are band-first ``(B, H, W)`` cubes of equal shape (float64 internally);
:func:`reference_metrics` also takes ``(N, B, H, W)`` batches and averages per image.
Units: :func:`psnr` in dB, :func:`sam` in degrees; :func:`cc`, :func:`ssim` are unitless in
[-1, 1]; :func:`ergas` is unitless (0 is ideal).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from quant_models.metrics.inputs import MetricInputError, batch_mean, cube_pair

# SSIM constants (Wang et al. 2004): window taps, Gaussian sigma [pixels], K1, K2.
SSIM_WIN = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _band_mse(r: np.ndarray, o: np.ndarray) -> np.ndarray:
    """(B,) mean squared error per band of two (B, H, W) cubes."""
    d = r - o
    return np.mean(d * d, axis=(1, 2))


def psnr_per_band(ref, out, data_range=None) -> np.ndarray:
    """(B,) PSNR of every band in dB: ``10*log10(L_b**2 / MSE_b)``.

    ``L_b = max(ref[b])`` (the band's reference max, as HyperPanCollection / DLPan) unless a
    scalar ``data_range`` is given; ``MSE_b == 0`` gives ``+inf`` for that band.
    """
    r, o = cube_pair(ref, out)
    mse = _band_mse(r, o)
    if data_range is None:
        peak = np.max(r, axis=(1, 2))
    else:
        peak = np.full(r.shape[0], float(data_range))
    with np.errstate(divide='ignore', invalid='ignore'):
        val = 10.0 * np.log10(peak * peak / mse)
    return np.where(mse == 0, np.inf, val)


def psnr(ref, out, data_range=None) -> float:
    """Mean over bands of the per-band PSNR in dB (:func:`psnr_per_band`).

    ``ref == out`` gives ``inf``.
    """
    return float(np.mean(psnr_per_band(ref, out, data_range)))


def cc(ref, out) -> float:
    """Mean over bands of the Pearson correlation coefficient between reference and output band.

    A band where either image has zero variance scores 1 if the two bands are identical and 0
    otherwise (the plain formula is 0/0 there).
    """
    r, o = cube_pair(ref, out)
    B = r.shape[0]
    rc = r.reshape(B, -1)
    oc = o.reshape(B, -1)
    rc = rc - rc.mean(axis=1, keepdims=True)
    oc = oc - oc.mean(axis=1, keepdims=True)
    num = np.sum(rc * oc, axis=1)
    den = np.sqrt(np.sum(rc * rc, axis=1) * np.sum(oc * oc, axis=1))
    same = np.all(r.reshape(B, -1) == o.reshape(B, -1), axis=1)
    with np.errstate(divide='ignore', invalid='ignore'):
        val = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(same, 1.0, 0.0))
    return float(np.mean(np.clip(val, -1.0, 1.0)))


def _ssim_bands(r: np.ndarray, o: np.ndarray, data_range=None) -> np.ndarray:
    """(B,) mean SSIM per band of two (B, H, W) cubes (see :func:`ssim`)."""
    if data_range is None:
        L = np.max(r, axis=(1, 2)) - np.min(r, axis=(1, 2))
        L = np.where(L > 0, L, 1.0)
    else:
        L = np.full(r.shape[0], float(data_range))
    C1 = (SSIM_K1 * L) ** 2
    C2 = (SSIM_K2 * L) ** 2
    H, W = r.shape[1:]
    radius = (SSIM_WIN - 1) // 2
    # scipy's kernel radius is int(truncate*sigma + 0.5) -> exactly 5, i.e. an 11-tap window.
    trunc = (radius + 0.25) / SSIM_SIGMA
    sig = (0.0, SSIM_SIGMA, SSIM_SIGMA)

    def filt(x):
        return gaussian_filter(x, sigma=sig, truncate=trunc, mode='reflect')

    mu_r = filt(r)
    mu_o = filt(o)
    rr = filt(r * r) - mu_r * mu_r
    oo = filt(o * o) - mu_o * mu_o
    ro = filt(r * o) - mu_r * mu_o
    c1 = C1[:, None, None]
    c2 = C2[:, None, None]
    smap = ((2 * mu_r * mu_o + c1) * (2 * ro + c2)) / ((mu_r ** 2 + mu_o ** 2 + c1) * (rr + oo + c2))
    if H >= SSIM_WIN and W >= SSIM_WIN:  # 'valid' part: windows fully inside the image
        smap = smap[:, radius:H - radius, radius:W - radius]
    return np.mean(smap, axis=(1, 2))


def ssim(ref, out, data_range=None) -> float:
    """Mean over bands of SSIM (Wang et al. 2004) computed band by band.

    Gaussian window 11x11, sigma 1.5, K1 = 0.01, K2 = 0.03, population local moments; ``L_b`` =
    max - min of the reference band (1.0 when that is 0) unless a scalar ``data_range`` is given.
    The SSIM map is averaged over its 'valid' part (5-pixel border dropped, as Wang's ``ssim.m``
    with ``filter2(..., 'valid')``); when H or W < 11 the whole (reflect-padded) map is used.
    """
    r, o = cube_pair(ref, out)
    return float(np.mean(_ssim_bands(r, o, data_range)))


def sam(ref, out) -> float:
    """Mean spectral angle in **degrees** over pixels.

    Per pixel: ``arccos(<r, o> / (|r| |o|))`` with the cosine clipped to [-1, 1].  Pixels where
    either spectrum has zero norm are excluded (as the toolbox's SAM.m); 0.0 if none remain.
    """
    r, o = cube_pair(ref, out)
    B = r.shape[0]
    rp = r.reshape(B, -1)
    op = o.reshape(B, -1)
    dot = np.einsum('bp,bp->p', rp, op)
    nrm = np.sqrt(np.einsum('bp,bp->p', rp, rp) * np.einsum('bp,bp->p', op, op))
    ok = nrm > 0
    if not np.any(ok):
        return 0.0
    cosang = np.clip(dot[ok] / nrm[ok], -1.0, 1.0)
    return float(np.degrees(np.mean(np.arccos(cosang))))


def ergas(ref, out, ratio) -> float:
    """ERGAS = 100/ratio * sqrt(mean_b(MSE_b / mu_b^2)), ``mu_b`` = mean of the reference band.

    ``ratio`` is the PAN/MS resolution ratio (e.g. 4).  A band with zero reference mean gives
    inf (or nan when its MSE is also 0).
    """
    r, o = cube_pair(ref, out)
    if not (np.isfinite(ratio) and ratio > 0):
        raise MetricInputError('ERGAS needs a positive resolution ratio', key='ratio',
                               expected='a number > 0', found=repr(ratio))
    mse = _band_mse(r, o)
    mu = np.mean(r, axis=(1, 2))
    with np.errstate(divide='ignore', invalid='ignore'):
        val = 100.0 / float(ratio) * np.sqrt(np.mean(mse / (mu * mu)))
    return float(val)


def _reference_one(ref, out, ratio) -> dict:
    r, o = cube_pair(ref, out)
    return {'psnr': psnr(r, o), 'cc': cc(r, o), 'ssim': ssim(r, o), 'sam': sam(r, o),
            'ergas': ergas(r, o, ratio)}


def reference_metrics(ref, out, ratio) -> dict[str, float]:
    """{psnr, cc, ssim, sam, ergas} of ``out`` against ``ref`` ((B,H,W) or (N,B,H,W) batches)."""
    r = np.asarray(ref)
    o = np.asarray(out)
    if r.shape != o.shape:
        raise MetricInputError('ref and out must have the same shape', key='ref/out',
                               expected='equal (B, H, W) or (N, B, H, W) shapes',
                               found=f'ref {r.shape} vs out {o.shape}')
    return batch_mean(_reference_one, r, o, ratio=ratio)
