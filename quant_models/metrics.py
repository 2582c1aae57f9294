"""Pan-sharpening quality indices, as the pan-sharpening toolboxes define them.

Conventions follow Vivone's pansharpening toolbox / DLPan-Toolbox / HyperPanCollection (see
:data:`CONVENTIONS`, which callers copy into ``metrics.json``).

Array layout
------------
Every image is a numpy array in **band-first** layout ``(B, H, W)`` (bands, rows, columns).  A
batch ``(N, B, H, W)`` is accepted by :func:`reference_metrics`, :func:`no_reference_metrics` and
:func:`batch_mean`: the index is computed per image and the per-image results are averaged (the
HyperPanCollection convention).  A PAN image is ``(H, W)`` or ``(1, H, W)``.  Everything is
computed in float64.

Reference (reduced-resolution, Wald's protocol) indices: :func:`psnr`, :func:`cc`, :func:`ssim`,
:func:`sam`, :func:`ergas`.  No-reference (full-resolution, Alparone et al. 2008) indices:
:func:`q_index`, :func:`d_lambda`, :func:`d_s`, :func:`qnr`.

Invalid inputs (shape mismatch, wrong number of dimensions, non-finite values, bad ratio) raise
:class:`MetricInputError`, which is both a :class:`ValueError` and a
:class:`~quant_models.errors.HsbinetError` (so the CLI prints one paragraph, no traceback).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.ndimage import gaussian_filter

from quant_models.errors import HsbinetError

__all__ = [
    'CONVENTIONS', 'MetricInputError', 'psnr', 'cc', 'ssim', 'sam', 'ergas', 'q_index',
    'q_index_pairwise', 'degrade_pan', 'd_lambda', 'd_s', 'qnr', 'reference_metrics',
    'no_reference_metrics', 'batch_mean',
]

# SSIM constants (Wang et al. 2004).
SSIM_WIN = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
# Q-index block size of the toolbox's D_lambda / D_s.
Q_BLOCK = 32
# Degraded-PAN Gaussian for D_s: MTF-matched (gain at the low-resolution Nyquist), 41 taps.
PAN_GNYQ = 0.3
PAN_TAPS = 41

CONVENTIONS = (
    "Layout: arrays are band-first (B,H,W), float64; a batch (N,B,H,W) is scored per image and "
    "the per-image values are averaged. "
    "PSNR [dB]: per band 10*log10(L_b^2/MSE_b) with L_b = max of the reference band (unless a "
    "scalar data_range is given), averaged over bands; a band with MSE 0 gives +inf. "
    "CC: Pearson correlation per band, averaged over bands (a zero-variance band scores 1 if "
    "reference and output are identical there, else 0). "
    "SSIM: Wang et al. 2004 per band, Gaussian window 11x11 sigma 1.5, K1=0.01, K2=0.03, "
    "population (biased) local moments, L_b = max-min of the reference band (1.0 if that is 0, "
    "or a scalar data_range), mean over the 'valid' part of the SSIM map (5-pixel border "
    "dropped; whole map when H or W < 11), averaged over bands. "
    "SAM [degrees]: per-pixel angle arccos(<r,o>/(|r||o|)) (cosine clipped to [-1,1]), averaged "
    "over pixels; pixels where either spectrum has zero norm are excluded (0 if none is left). "
    "ERGAS: 100/ratio*sqrt(mean_b(MSE_b/mu_b^2)), mu_b = mean of the reference band, ratio = "
    "PAN/MS resolution ratio. "
    "Q (UIQI, Wang-Bovik 2002): 4*cov*mx*my/((vx+vy)*(mx^2+my^2)) on non-overlapping 32x32 "
    "blocks (toolbox blockproc; trailing partial blocks dropped, whole image if smaller), "
    "averaged over blocks; degenerate blocks: vx+vy=0 -> 2*mx*my/(mx^2+my^2), mx^2+my^2=0 -> "
    "2*cov/(vx+vy), both 0 -> 1. "
    "D_lambda (p=1): (mean over band pairs i<j of |Q(F_i,F_j) - Q(MS_i,MS_j)|^p)^(1/p); F on "
    "32-pixel blocks, MS at its own (low) resolution on 32/ratio-pixel blocks (original QNR "
    "paper), or on 32-pixel blocks when MS is given already upsampled to the PAN grid "
    "(toolbox 1.0). "
    "D_s (q=1): (mean_b |Q(F_b,P) - Q(MS_b,P_LR)|^q)^(1/q), P_LR = PAN low-passed by an "
    "MTF-matched Gaussian (41 taps, gain 0.3 at the low-resolution Nyquist 1/(2*ratio), "
    "sigma = ratio*sqrt(-2 ln 0.3)/pi, edge-replicate) then decimated by ratio starting at "
    "pixel ratio//2 (MATLAB imresize 'nearest'); not decimated when MS is given on the PAN grid. "
    "QNR = (1-D_lambda)^alpha * (1-D_s)^beta, alpha = beta = 1."
)


class MetricInputError(HsbinetError, ValueError):
    """Invalid metric input: wrong shape / dimensionality, mismatched shapes, non-finite values."""


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------

def _as_cube(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 3:
        raise MetricInputError(f'{name} must be a band-first cube', key=name,
                               expected='an array of shape (B, H, W)',
                               found=f'shape {a.shape}')
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise MetricInputError(f'{name} contains non-finite values', key=name,
                               expected='finite values only',
                               found=f'{bad} NaN/inf values in an array of shape {a.shape}')
    return a


def _pair(ref, out, names=('ref', 'out')) -> tuple[np.ndarray, np.ndarray]:
    r = _as_cube(ref, names[0])
    o = _as_cube(out, names[1])
    if r.shape != o.shape:
        raise MetricInputError(f'{names[0]} and {names[1]} must have the same shape',
                               key=f'{names[0]}/{names[1]}',
                               expected='equal (B, H, W) shapes',
                               found=f'{names[0]} {r.shape} vs {names[1]} {o.shape}')
    return r, o


def _pan(pan, name='pan') -> np.ndarray:
    a = np.asarray(pan, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise MetricInputError('PAN must be a single-band image', key=name,
                               expected='shape (H, W) or (1, H, W)', found=f'shape {a.shape}')
    if not np.all(np.isfinite(a)):
        raise MetricInputError('PAN contains non-finite values', key=name,
                               expected='finite values only', found=f'shape {a.shape}')
    return a


def _ratio(ratio) -> int:
    try:
        r = int(ratio)
    except (TypeError, ValueError):
        r = -1
    if r < 1 or r != ratio:
        raise MetricInputError('the resolution ratio must be a positive integer', key='ratio',
                               expected='an integer >= 1', found=repr(ratio))
    return r


# ----------------------------------------------------------------------------------------------
# reference indices
# ----------------------------------------------------------------------------------------------

def _band_mse(r: np.ndarray, o: np.ndarray) -> np.ndarray:
    d = r - o
    return np.mean(d * d, axis=(1, 2))


def psnr(ref, out, data_range=None) -> float:
    """Mean over bands of the per-band PSNR in dB.

    Per band ``b``: ``10*log10(L_b**2 / MSE_b)`` where ``L_b = max(ref[b])`` (the band's reference
    max, as HyperPanCollection / DLPan) unless a scalar ``data_range`` is given.  ``MSE_b == 0``
    gives ``+inf`` for that band (so ``ref == out`` gives ``inf``).
    """
    r, o = _pair(ref, out)
    mse = _band_mse(r, o)
    if data_range is None:
        peak = np.max(r, axis=(1, 2))
    else:
        peak = np.full(r.shape[0], float(data_range))
    with np.errstate(divide='ignore', invalid='ignore'):
        val = 10.0 * np.log10(peak * peak / mse)
    val = np.where(mse == 0, np.inf, val)
    return float(np.mean(val))


def cc(ref, out) -> float:
    """Mean over bands of the Pearson correlation coefficient between reference and output band.

    A band where either image has zero variance scores 1 if the two bands are identical and 0
    otherwise (the plain formula is 0/0 there).
    """
    r, o = _pair(ref, out)
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
    r, o = _pair(ref, out)
    return float(np.mean(_ssim_bands(r, o, data_range)))


def sam(ref, out) -> float:
    """Mean spectral angle in **degrees** over pixels.

    Per pixel: ``arccos(<r, o> / (|r| |o|))`` with the cosine clipped to [-1, 1].  Pixels where
    either spectrum has zero norm are excluded (as the toolbox's SAM.m); 0.0 if none remain.
    """
    r, o = _pair(ref, out)
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
    r, o = _pair(ref, out)
    if not (np.isfinite(ratio) and ratio > 0):
        raise MetricInputError('ERGAS needs a positive resolution ratio', key='ratio',
                               expected='a number > 0', found=repr(ratio))
    mse = _band_mse(r, o)
    mu = np.mean(r, axis=(1, 2))
    with np.errstate(divide='ignore', invalid='ignore'):
        val = 100.0 / float(ratio) * np.sqrt(np.mean(mse / (mu * mu)))
    return float(val)


# ----------------------------------------------------------------------------------------------
# Q index (UIQI) on blocks
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# full-resolution no-reference indices (QNR)
# ----------------------------------------------------------------------------------------------

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
    p = _pan(pan)
    r = _ratio(ratio)
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
    return max(1, int(round(block / ratio)))


def d_lambda(fused, ms, p: float = 1, *, block: int = Q_BLOCK) -> float:
    """Spectral distortion D_lambda (Alparone et al. 2008).

    ``(mean_{i<j} |Q(F_i, F_j) - Q(MS_i, MS_j)|^p)^(1/p)`` with Q on ``block`` tiles for the fused
    image ``F`` (B, H, W).  ``ms`` is either the original low-resolution MS (B, H/r, W/r) (Q on
    ``block/r`` tiles, as in the original paper) or MS already upsampled to (B, H, W) (Q on
    ``block`` tiles, as toolbox 1.0).  A single band gives 0.
    """
    f = _as_cube(fused, 'fused')
    m = _as_cube(ms, 'ms')
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
    f = _as_cube(fused, 'fused')
    m = _as_cube(ms, 'ms')
    P = _pan(pan)
    r = _ratio(ratio)
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


# ----------------------------------------------------------------------------------------------
# aggregates
# ----------------------------------------------------------------------------------------------

def batch_mean(fn: Callable[..., float | dict], *arrays, **kwargs):
    """Apply ``fn`` image by image and average the results.

    Arrays with 4 dimensions are (N, B, H, W) batches and are indexed per image (all 4-D arrays
    must share N); lower-dimensional arrays (e.g. a (H, W) PAN shared by all) are passed
    unchanged.  A PAN batch may be (N, H, W) or (N, 1, H, W) when another argument is 4-D:
    3-D arrays whose first axis equals N are then indexed too.  ``fn`` may return a float or a
    dict of floats; the mean is taken per key.  With no 4-D argument ``fn`` is called once.
    """
    arrs = [np.asarray(a) for a in arrays]
    n_set = {a.shape[0] for a in arrs if a.ndim == 4}
    if not n_set:
        return fn(*arrs, **kwargs)
    if len(n_set) != 1:
        raise MetricInputError('batched inputs disagree on the number of images', key='N',
                               expected='the same N in every (N, B, H, W) array',
                               found=f'shapes {[a.shape for a in arrs]}')
    n = n_set.pop()
    if n == 0:
        raise MetricInputError('empty batch', key='N', expected='N >= 1', found='N = 0')
    results = []
    for i in range(n):
        args = [a[i] if a.ndim == 4 or (a.ndim == 3 and a.shape[0] == n and n > 1) else a
                for a in arrs]
        results.append(fn(*args, **kwargs))
    if isinstance(results[0], dict):
        return {k: float(np.mean([res[k] for res in results])) for k in results[0]}
    return float(np.mean(results))


def _reference_one(ref, out, ratio) -> dict:
    r, o = _pair(ref, out)
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
