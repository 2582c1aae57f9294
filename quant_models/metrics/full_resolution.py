"""Full-resolution (no-reference) indices of Alparone et al. 2008: D_lambda, D_s and QNR.

``fused`` is the band-first (B, H, W) output on the PAN grid, ``ms`` the original
low-resolution MS (B, H/ratio, W/ratio) or MS already upsampled to (B, H, W), ``pan`` (H, W) or
(1, H, W); :func:`no_reference_metrics` also takes batches (leading N).  All indices are
unitless: D_lambda and D_s are 0 when ideal, QNR is 1 when ideal.
"""

from __future__ import annotations

import numpy as np

from quant_models.data.wald import decimate as wald_decimate
from quant_models.data.wald import mtf_blur, mtf_gaussian_kernel
from quant_models.metrics.inputs import MetricInputError, as_cube, batch_mean, integer_ratio, pan_image
from quant_models.metrics.q_index import Q_BLOCK, q_index, q_index_pairwise

# MTF of the degraded PAN for D_s: the filter that makes the MS (quant_models.data.wald), gain
# PAN_GNYQ at the low-resolution Nyquist frequency, PAN_TAPS taps.
PAN_GNYQ = 0.3
PAN_TAPS = 41


def degrade_pan(pan, ratio, *, gnyq: float = PAN_GNYQ, taps: int = PAN_TAPS,
                decimate: bool = True) -> np.ndarray:
    """Low-resolution PAN for D_s, degraded exactly as the MS are: (H/ratio, W/ratio) float64.

    :func:`quant_models.data.wald.decimate` on the PAN: the toolbox's MTF-matched filter
    (:func:`quant_models.data.wald.mtf_gaussian_kernel`, ``genMTF`` construction: a Gaussian
    frequency response of gain ``gnyq`` at the low-resolution Nyquist frequency 1/(2*ratio),
    Kaiser-windowed (0.283 for 0.3 at ratio 4), ``taps`` taps, edge-replicated borders), sampled at
    the centre of every ``ratio`` x ``ratio`` block, PAN coordinate ``j*ratio + (ratio-1)/2``
    (half a pixel off the grid for even ratios; *Geometry* in :mod:`quant_models.data.wald`). So
    P_LR lies on the grid of the reduced-resolution MS and LMS: a linear ramp is read exactly at
    the block centres (away from the border), and the PAN ``w . cube`` of a cube degrades to
    ``w . MS`` of its MS. (The former ``ratio//2`` phase, MATLAB ``imresize(.., 'nearest')``, was
    half a pixel off that grid for even ratios, and its plain spatial Gaussian was not the MS's
    filter.)

    ``decimate=False`` returns the PAN low-passed by the same filter on the PAN grid (the
    on-grid, odd ``taps`` x ``taps`` kernel, output pixel ``i`` centred on input pixel ``i``),
    (H, W). A ratio of 1 returns the PAN unchanged.

    Raises:
        MetricInputError: ``gnyq`` outside (0, 1), ``taps`` not an odd integer >= 3, or (with
            ``decimate``) H or W not a multiple of ``ratio``.
    """
    p = pan_image(pan)
    r = integer_ratio(ratio)
    if r == 1:
        return p.copy()
    if not 0.0 < gnyq < 1.0:
        raise MetricInputError('PAN MTF gain at Nyquist must lie in (0, 1)', key='gnyq',
                               expected='0 < gnyq < 1', found=repr(gnyq))
    if isinstance(taps, bool) or int(taps) != taps or taps < 3 or taps % 2 == 0:
        raise MetricInputError('PAN MTF filter size must be an odd integer >= 3', key='taps',
                               expected='an odd integer >= 3 (41 in the toolboxes)', found=repr(taps))
    if not decimate:
        return mtf_blur(p[:, :, None], mtf_gaussian_kernel(r, gnyq, int(taps)))[:, :, 0]
    if p.shape[0] % r or p.shape[1] % r:
        raise MetricInputError('PAN size does not divide by the ratio', key='pan',
                               expected=f'H and W multiples of ratio {r}', found=f'pan {p.shape}')
    return wald_decimate(p[:, :, None], r, gnyq, int(taps))[:, :, 0]


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
        gnyq: float = PAN_GNYQ, taps: int = PAN_TAPS) -> float:
    """Spatial distortion D_s (Alparone et al. 2008).

    ``(mean_b |Q(F_b, P) - Q(MS_b, P_LR)|^q)^(1/q)``.  ``P_LR`` is PAN degraded by ``ratio`` with
    :func:`degrade_pan` (the MS's MTF filter, gain ``gnyq`` at Nyquist, ``taps`` taps, then
    block-centre decimation as :func:`quant_models.data.wald.decimate`).  With
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
        pl = degrade_pan(P, r, gnyq=gnyq, taps=taps, decimate=False)
        q_low = q_index(m, np.broadcast_to(pl, m.shape), block)
    else:
        pl = degrade_pan(P, r, gnyq=gnyq, taps=taps)
        q_low = q_index(m, np.broadcast_to(pl, m.shape), _lr_block(block, r))
    diff = np.abs(np.atleast_1d(q_high) - np.atleast_1d(q_low)) ** q
    return float(np.mean(diff) ** (1.0 / q))


def qnr(d_lambda_value: float, d_s_value: float, alpha: float = 1, beta: float = 1) -> float:
    """QNR = (1 - D_lambda)^alpha * (1 - D_s)^beta (1 is ideal)."""
    return float((1.0 - d_lambda_value) ** alpha * (1.0 - d_s_value) ** beta)


def _no_reference_one(fused, ms, pan, ratio, gnyq=PAN_GNYQ, taps=PAN_TAPS) -> dict:
    dl = d_lambda(fused, ms)
    ds = d_s(fused, pan, ms, ratio, gnyq=gnyq, taps=taps)
    return {'d_lambda': dl, 'd_s': ds, 'qnr': qnr(dl, ds)}


def no_reference_metrics(fused, ms, pan, ratio, *, gnyq: float = PAN_GNYQ,
                         taps: int = PAN_TAPS) -> dict[str, float]:
    """{d_lambda, d_s, qnr} at full resolution (no reference); batches averaged per image.

    ``fused`` (B,H,W), ``ms`` (B,H/ratio,W/ratio) or upsampled (B,H,W), ``pan`` (H,W)/(1,H,W);
    with batches: (N,B,H,W), (N,B,h,w), (N,1,H,W) or (N,H,W).  ``gnyq``/``taps``: the MTF with
    which D_s degrades the PAN (:func:`degrade_pan`; use the one the MS were made with).
    """
    return batch_mean(_no_reference_one, fused, ms, pan, ratio=ratio, gnyq=gnyq, taps=taps)
