"""Universal image quality index Q (UIQI, Wang & Bovik 2002) averaged over image blocks.

The building block of :mod:`quant_models.metrics.full_resolution` (D_lambda, D_s).  Images are
(H, W) float arrays or stacks (..., H, W); blocks are non-overlapping ``block`` x ``block``
pixel tiles (the toolbox's ``blockproc``).
"""

from __future__ import annotations

import numpy as np

from quant_models.metrics.inputs import MetricInputError

# Q-index block size [pixels] of the toolbox's D_lambda / D_s.
Q_BLOCK = 32


def _blocks(x: np.ndarray, block: int) -> np.ndarray:
    """(..., H, W) -> (..., nblocks, block*block) over non-overlapping blocks (partial dropped)."""
    H, W = x.shape[-2:]
    bh = min(block, H)
    bw = min(block, W)
    nh, nw = H // bh, W // bw
    x = x[..., :nh * bh, :nw * bw]
    lead = x.shape[:-2]
    x = x.reshape(*lead, nh, bh, nw, bw)
    x = np.moveaxis(x, -3, -2)  # (..., nh, nw, bh, bw)
    return x.reshape(*lead, nh * nw, bh * bw)


def _uqi_from_moments(mx, my, vx, vy, cxy) -> np.ndarray:
    """Q from block means, variances and covariance (broadcast arrays), degenerate cases included."""
    den1 = vx + vy
    den2 = mx * mx + my * my
    with np.errstate(divide='ignore', invalid='ignore'):
        full = 4.0 * cxy * mx * my / (den1 * den2)
        lum = 2.0 * mx * my / den2
        struct = 2.0 * cxy / den1
    q = np.ones(np.broadcast(den1, den2).shape)
    q = np.where((den1 == 0) & (den2 != 0), lum, q)
    q = np.where((den1 != 0) & (den2 == 0), struct, q)
    q = np.where((den1 != 0) & (den2 != 0), full, q)
    return q


def q_index(x, y, block: int = Q_BLOCK) -> float | np.ndarray:
    """Universal image quality index (Wang & Bovik 2002) averaged over blocks.

    ``x`` and ``y`` are (H, W) images, or stacks (..., H, W) of equal shape (then one value per
    leading index is returned).  Blocks are non-overlapping ``block`` x ``block`` tiles (the
    toolbox's ``blockproc``), trailing partial tiles dropped; an image smaller than ``block`` is
    one tile.  Degenerate tiles: zero variances -> ``2 mx my / (mx^2 + my^2)``; zero means ->
    ``2 cov / (vx + vy)``; both -> 1.
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim < 2:
        raise MetricInputError('Q index needs two images of the same shape', key='x/y',
                               expected='equal shapes (..., H, W)',
                               found=f'x {a.shape} vs y {b.shape}')
    if block < 1:
        raise MetricInputError('Q index block size must be >= 1', key='block',
                               expected='an integer >= 1', found=repr(block))
    xa = _blocks(a, int(block))
    ya = _blocks(b, int(block))
    mx = xa.mean(-1)
    my = ya.mean(-1)
    xc = xa - mx[..., None]
    yc = ya - my[..., None]
    q = _uqi_from_moments(mx, my, (xc * xc).mean(-1), (yc * yc).mean(-1), (xc * yc).mean(-1))
    q = q.mean(-1)
    return float(q) if q.ndim == 0 else q


def q_index_pairwise(cube, block: int = Q_BLOCK) -> np.ndarray:
    """(B, B) matrix of block-averaged Q(cube[i], cube[j]) for all band pairs (vectorised)."""
    c = np.asarray(cube, dtype=np.float64)
    xb = _blocks(c, int(block))  # (B, K, P)
    m = xb.mean(-1)  # (B, K)
    xc = xb - m[..., None]
    v = (xc * xc).mean(-1)  # (B, K)
    cov = np.einsum('ikp,jkp->kij', xc, xc, optimize=True) / xb.shape[-1]  # (K, B, B)
    mt = m.T  # (K, B)
    vt = v.T
    q = _uqi_from_moments(mt[:, :, None], mt[:, None, :], vt[:, :, None], vt[:, None, :], cov)
    return q.mean(0)
