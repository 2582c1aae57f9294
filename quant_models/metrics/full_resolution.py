"""Full-resolution (no-reference) indices of Alparone et al. 2008: D_lambda, D_s and QNR.

``fused`` is the band-first (B, H, W) output on the PAN grid, ``ms`` the original
low-resolution MS (B, H/ratio, W/ratio) or MS already upsampled to (B, H, W), ``pan`` (H, W) or
(1, H, W); :func:`no_reference_metrics` also takes batches (leading N).  All indices are
unitless: D_lambda and D_s are 0 when ideal, QNR is 1 when ideal.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from quant_models.metrics.inputs import MetricInputError, as_cube, batch_mean, integer_ratio, pan_image
from quant_models.metrics.q_index import Q_BLOCK, q_index, q_index_pairwise

# Degraded-PAN Gaussian for D_s: MTF-matched, gain PAN_GNYQ at the low-resolution Nyquist
# frequency, PAN_TAPS taps.
PAN_GNYQ = 0.3
PAN_TAPS = 41


def _mtf_sigma(ratio: int, gnyq: float) -> float:
    """Spatial sigma of the Gaussian whose frequency response is ``gnyq`` at 1/(2*ratio)."""
    return ratio * np.sqrt(-2.0 * np.log(gnyq)) / np.pi


def degrade_pan(pan, ratio, *, gnyq: float = PAN_GNYQ, taps: int = PAN_TAPS,
                decimate: bool = True, offset: int | None = None) -> np.ndarray:
    """Low-resolution PAN for D_s: MTF-matched Gaussian low-pass, then decimation by ``ratio``.

    The Gaussian has gain ``gnyq`` at the low-resolution Nyquist frequency 1/(2*ratio) cycles/pixel
    (sigma = ratio*sqrt(-2 ln gnyq)/pi), ``taps`` taps, edge-replicate borders.  Decimation keeps
    rows/columns ``offset, offset+ratio, ...`` with ``offset = ratio // 2`` by default (MATLAB
    ``imresize(..., 1/ratio, 'nearest')``).  ``decimate=False`` returns the low-passed PAN on the
    PAN grid.  A ratio of 1 returns the PAN unchanged.
    """
    p = pan_image(pan)
    r = integer_ratio(ratio)
    if r == 1:
        return p.copy()
    if not 0.0 < gnyq < 1.0:
        raise MetricInputError('PAN MTF gain at Nyquist must lie in (0, 1)', key='gnyq',
                               expected='0 < gnyq < 1', found=repr(gnyq))
    sigma = _mtf_sigma(r, gnyq)
    radius = (int(taps) - 1) // 2
    lp = gaussian_filter(p, sigma=sigma, truncate=(radius + 0.25) / sigma, mode='nearest')
    if not decimate:
        return lp
    off = r // 2 if offset is None else int(offset)
    return lp[off::r, off::r]


def _ms_scale(fused: np.ndarray, ms: np.ndarray) -> int:
    """Resolution ratio between fused (B,H,W) and ms (B,h,w); 1 when ms is on the PAN grid."""
    (B, H, W), (Bm, h, w) = fused.shape, ms.shape
    if B != Bm or h == 0 or w == 0 or H % h or W % w or H // h != W // w:
        raise MetricInputError('MS does not match the fused image', key='fused/ms',
                               expected='the same band count and H/h == W/w integer '
                                        '(MS at low resolution) or equal sizes (MS upsampled)',
                               found=f'fused {fused.shape} vs ms {ms.shape}')
    return H // h


def _lr_block(block: int, ratio: int) -> int:
    """Q block size [low-resolution pixels] covering the same area as ``block`` PAN pixels."""
    return max(1, int(round(block / ratio)))


def d_lambda(fused, ms, p: float = 1, *, block: int = Q_BLOCK) -> float:
    """Spectral distortion D_lambda (Alparone et al. 2008).

    ``(mean_{i<j} |Q(F_i, F_j) - Q(MS_i, MS_j)|^p)^(1/p)`` with Q on ``block`` tiles for the fused
    image ``F`` (B, H, W).  ``ms`` is either the original low-resolution MS (B, H/r, W/r) (Q on
    ``block/r`` tiles, as in the original paper) or MS already upsampled to (B, H, W) (Q on
    ``block`` tiles, as toolbox 1.0).  A single band gives 0.
    """
    f = as_cube(fused, 'fused')
    m = as_cube(ms, 'ms')
    r = _ms_scale(f, m)
    B = f.shape[0]
    if B < 2:
        return 0.0
    qf = q_index_pairwise(f, block)
    qm = q_index_pairwise(m, _lr_block(block, r))
    iu = np.triu_indices(B, k=1)
    diff = np.abs(qf[iu] - qm[iu]) ** p
    return float(np.mean(diff) ** (1.0 / p))


def d_s(fused, pan, ms, ratio, q: float = 1, *, block: int = Q_BLOCK,
        gnyq: float = PAN_GNYQ) -> float:
    """Spatial distortion D_s (Alparone et al. 2008).

    ``(mean_b |Q(F_b, P) - Q(MS_b, P_LR)|^q)^(1/q)``.  ``P_LR`` is PAN degraded by ``ratio`` with
    :func:`degrade_pan` (MTF-matched Gaussian, gain ``gnyq`` at Nyquist, then decimation).  With
    low-resolution ``ms`` (B, H/ratio, W/ratio) the low-resolution Q uses ``block/ratio`` tiles
    (original paper); with ``ms`` on the PAN grid (B, H, W) P_LR is the low-passed PAN without
    decimation and Q uses ``block`` tiles.
    """
    f = as_cube(fused, 'fused')
    m = as_cube(ms, 'ms')
    P = pan_image(pan)
    r = integer_ratio(ratio)
    if P.shape != f.shape[1:]:
        raise MetricInputError('PAN and fused image must share the spatial grid', key='pan',
                               expected=f'PAN of shape {f.shape[1:]}',
                               found=f'pan {P.shape} vs fused {f.shape}')
    s = _ms_scale(f, m)
    if s not in (1, r):
        raise MetricInputError('MS is neither at low resolution nor on the PAN grid', key='ms',
                               expected=f'ms of shape {(f.shape[0], f.shape[1] // r, f.shape[2] // r)}'
                                        f' or {f.shape}',
                               found=f'ms {m.shape} (ratio {r})')
    q_high = q_index(f, np.broadcast_to(P, f.shape), block)
    if s == 1:
        pl = degrade_pan(P, r, gnyq=gnyq, decimate=False)
        q_low = q_index(m, np.broadcast_to(pl, m.shape), block)
    else:
        pl = degrade_pan(P, r, gnyq=gnyq)
        q_low = q_index(m, np.broadcast_to(pl, m.shape), _lr_block(block, r))
    diff = np.abs(np.atleast_1d(q_high) - np.atleast_1d(q_low)) ** q
    return float(np.mean(diff) ** (1.0 / q))


def qnr(d_lambda_value: float, d_s_value: float, alpha: float = 1, beta: float = 1) -> float:
    """QNR = (1 - D_lambda)^alpha * (1 - D_s)^beta (1 is ideal)."""
    return float((1.0 - d_lambda_value) ** alpha * (1.0 - d_s_value) ** beta)


def _no_reference_one(fused, ms, pan, ratio) -> dict:
    dl = d_lambda(fused, ms)
    ds = d_s(fused, pan, ms, ratio)
    return {'d_lambda': dl, 'd_s': ds, 'qnr': qnr(dl, ds)}


def no_reference_metrics(fused, ms, pan, ratio) -> dict[str, float]:
    """{d_lambda, d_s, qnr} at full resolution (no reference); batches averaged per image.

    ``fused`` (B,H,W), ``ms`` (B,H/ratio,W/ratio) or upsampled (B,H,W), ``pan`` (H,W)/(1,H,W);
    with batches: (N,B,H,W), (N,B,h,w), (N,1,H,W) or (N,H,W).
    """
    return batch_mean(_no_reference_one, fused, ms, pan, ratio=ratio)
