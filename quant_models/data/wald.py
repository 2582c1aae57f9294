"""Wald's protocol: build a reduced-resolution pan-sharpening example from one reference cube.

Given a reference cube ``ref`` (H, W, B) at full resolution, the protocol degrades it so that
the original becomes the ground truth:

* **GT**  = ``ref`` (H, W, B).
* **MS**  = each band filtered with an MTF-matched Gaussian and sampled once per ``ratio`` x
  ``ratio`` block of GT pixels, at the block's centre (:func:`decimate`; see *Geometry* below)
  -> (H/ratio, W/ratio, B).
* **LMS** = MS interpolated back to (H, W, B) with bicubic interpolation (``align_corners=False``;
  this is what HyperPanCollection's LMS holds).
* **PAN** = the full-resolution reference collapsed over bands with a spectral response
  (:func:`pan_spectral_response`) -> (H, W). The PAN is *not* blurred: it plays the role of the
  sharp panchromatic sensor.

All arrays here use the image layout (H, W, B) / (H, W) with values in the reference's units
(the caller normalises; see :mod:`quant_models.data.prepare`). The network layout (N, C, H, W)
is produced by :mod:`quant_models.data.prepare` / :mod:`quant_models.data.hpc_format`.

MTF filter (decision)
---------------------
We use the construction of the pan-sharpening toolbox (Vivone et al., ``genMTF.m`` / ``MTF.m``,
and its Python ports), not just a spatial Gaussian: the Gaussian is the filter's *frequency
response*, chosen so that its amplitude at the low-resolution Nyquist frequency
(``0.5 / ratio`` cycles per pixel) equals ``GNyq``::

    fcut  = 1 / ratio
    alpha = sqrt(((N - 1) * (fcut / 2)) ** 2 / (-2 * log(GNyq)))   # std in frequency samples
    Hd    = gaussian(N, alpha) / max                                # N x N frequency response
    h     = fwind1(Hd, kaiser(N, beta=0.5))                         # window method, 2-D Kaiser
    h     = h / sum(h)

``fwind1`` turns the sampled frequency response into a spatial FIR filter (centred inverse 2-D
DFT) and multiplies it by a circularly symmetric Kaiser window made by rotating the 1-D window
(MATLAB's ``kaiser(N)`` default beta = 0.5). ``Hd`` is separable, so the inverse DFT is written
out as ``a(x) a(y)`` with ``a(x) = sum_k g[k] cos(2 pi k x / N) / N`` (``k`` centred): at integer
offsets ``x`` this is fwind1's inverse DFT, at half-integer offsets its trigonometric
interpolation, which the even-ratio decimation needs (*Geometry*). The result is close to a
spatial Gaussian of std ``ratio * sqrt(-2 ln GNyq) / pi`` pixels (1.98 px for ratio 4, GNyq 0.3). Reading ``alpha``
directly as a *spatial* std (3.2 px) would blur much more (amplitude ~0.03 at Nyquist instead of
0.3), so we do not do that. :func:`mtf_gain_at_nyquist` measures the result.

Borders: the blur pads each band by replicating edge pixels (MATLAB ``imfilter(...,
'replicate')``, the toolbox's choice; ``numpy.pad(mode='edge')`` / scipy ``mode='nearest'``) and
is computed exactly with an FFT (float64) of the padded band, keeping only the 'valid' part, so
an odd kernel's output has the input's size (same numbers as ``scipy.ndimage.correlate(band, h,
mode='nearest')``, about 20x faster for 41 taps).

Geometry (decision)
-------------------
Pixel ``i`` of an image covers ``[i, i + 1)`` of its grid. MS pixel ``j`` covers the ``ratio`` x
``ratio`` block of GT/PAN pixels ``j*ratio .. j*ratio + ratio - 1``, so its centre lies at GT pixel
coordinate ``c_j = j*ratio + (ratio - 1)/2`` (a half-integer for even ratios). That is exactly the
geometry of ``torch.nn.functional.interpolate(..., align_corners=False)``, which reads output
pixel ``i`` at input coordinate ``(i + 1/2)/ratio - 1/2``, i.e. puts LR pixel ``j`` at ``c_j``:
the bicubic LMS here, HyperPanCollection's LMS and the hardware model's fixed bilinear upsampler
(``quant_models.layers.BilinearUpsample``, change H1) all assume it. So MS is the MTF-filtered GT
sampled at ``c_j``, which makes GT, PAN, LMS and the upsampled MS share one grid (no shift of LMS
improves its PSNR against GT; ``tests/quant_models/data/test_wald.py``):

* odd ratio: ``c_j`` is a pixel; filter with the ``taps`` x ``taps`` kernel and keep pixels
  ``j*ratio + ratio//2``;
* even ratio: ``c_j`` lies between four pixels; filter with the same continuous MTF filter sampled
  half a pixel off the grid (``half_pixel=True``: ``taps - 1`` taps per axis at offsets +-1/2,
  +-3/2, ...; the Gaussian frequency response is unchanged, only the linear phase of a half-pixel
  shift is added, so the gain at Nyquist stays GNyq) and keep the outputs centred on ``c_j``. This
  is the geometry of the toolboxes' "even" interpolation (``interp23tapGeneral`` with
  even-length filters).

Rejected: decimating at offset 0 (the HS-BiNet paper's "one out of every four pixels"; the
previous version of this module) leaves LMS ``(ratio - 1)/2`` = 1.5 px off GT (Indian Pines test
split: bicubic PSNR 30.32 dB, 31.46 dB registered; docs/benchmarks.md), so every interpolation
baseline and the network's upsampled input start shifted and the classical methods inject PAN
detail at the wrong place; the toolbox's odd geometry (``imresize(.., 'nearest')`` keeps
pixel ``ratio//2``, ``interp23tap`` puts it back there) is half a pixel off ``align_corners=False``
interpolation; blurring then averaging the 2 x 2 central pixels adds a [1/2, 1/2] low-pass that
lowers the gain at Nyquist (0.30 -> 0.28 per axis).
"""

from __future__ import annotations

import math

import numpy as np

from quant_models.common import HsbinetError

#: Flat PAN response band edges in nanometres (inclusive).
PAN_RANGE_NM = (450.0, 900.0)


def _kaiser_radial(x: np.ndarray, n: int, beta: float) -> np.ndarray:
    """Circularly symmetric 2-D window (fwind1's rotation of ``kaiser(n, beta)``) at offsets
    ``x`` [pixels] along both axes: (len(x), len(x)), 0 beyond radius (n - 1)/2."""
    t = np.arange(-(n - 1) / 2, (n + 1) / 2) / np.double(n - 1)
    u = x / np.double(n - 1)
    rho = np.sqrt(u[:, None] ** 2 + u[None, :] ** 2)
    w = np.interp(rho, t, np.kaiser(n, beta))
    w[rho > t[-1]] = 0.0
    return w


def mtf_gaussian_kernel(ratio: int, gnyq: float = 0.3, taps: int = 41,
                        kaiser_beta: float = 0.5, half_pixel: bool = False) -> np.ndarray:
    """MTF-matched low-pass filter of the pan-sharpening toolbox.

    Args:
        ratio: resolution ratio (integer >= 2) between PAN/GT and MS pixels.
        gnyq: amplitude of the filter's frequency response at the MS Nyquist frequency
            (``0.5 / ratio`` cycles per GT pixel), in (0, 1). 0.3 is the usual default.
        taps: kernel size N (odd); 41 in the toolboxes.
        kaiser_beta: beta of the Kaiser window (MATLAB ``kaiser(N)`` default 0.5).
        half_pixel: False: the filter on the pixel grid, N x N taps at offsets
            ``-(N-1)/2 .. (N-1)/2`` pixels (centred on a pixel). True: the same continuous
            filter half a pixel off the grid, (N-1) x (N-1) taps at offsets
            ``-(N-2)/2 .. (N-2)/2`` (+-1/2, +-3/2, ...; centred between four pixels), same
            frequency response up to the half-pixel linear phase.

    Returns:
        float64 array (N, N), or (N-1, N-1) with ``half_pixel``: symmetric (under flips and
        transposition), summing to 1, units: weights per pixel.

    Raises:
        HsbinetError: ratio < 2, gnyq outside (0, 1), taps not an odd number >= 3.
    """
    if int(ratio) != ratio or ratio < 2:
        raise HsbinetError('Invalid resolution ratio for the MTF filter', key='ratio',
                           expected='an integer >= 2', found=repr(ratio))
    if not (0.0 < float(gnyq) < 1.0):
        raise HsbinetError('Invalid MTF gain at Nyquist', key='gnyq',
                           expected='a value in (0, 1), e.g. 0.3', found=repr(gnyq))
    if int(taps) != taps or taps < 3 or taps % 2 == 0:
        raise HsbinetError('Invalid MTF filter size', key='taps',
                           expected='an odd integer >= 3 (41 in the toolboxes)', found=repr(taps))
    n = int(taps)
    fcut = 1.0 / ratio
    alpha = math.sqrt(((n - 1) * (fcut / 2)) ** 2 / (-2.0 * math.log(gnyq)))
    k = np.arange(n) - (n - 1) / 2                  # centred frequency samples
    g1 = np.exp(-0.5 * (k / alpha) ** 2)            # 1-D factor of Hd, max 1
    m = n - 1 if half_pixel else n
    x = np.arange(m) - (m - 1) / 2                  # tap offsets [pixels]
    a = np.cos(2.0 * np.pi * np.outer(x, k) / n) @ g1 / n
    a = (a + a[::-1]) / 2.0                         # exact symmetry despite BLAS summation order
    h = np.outer(a, a) * _kaiser_radial(x, n, kaiser_beta)
    return h / h.sum()


def mtf_gain_at_nyquist(kernel: np.ndarray, ratio: int) -> float:
    """Amplitude of the kernel's frequency response at ``0.5 / ratio`` cycles/pixel (1-D cut)."""
    n = kernel.shape[0]
    x = np.arange(n) - (n - 1) / 2
    f = 0.5 / ratio
    row = kernel.sum(axis=0)  # response along one axis at zero frequency along the other
    return float(abs(np.sum(row * np.exp(-2j * np.pi * f * x))))


def pan_spectral_response(wavelengths_nm, n_bands: int) -> np.ndarray:
    """Band weights that make the simulated PAN: float64 (B,), non-negative, summing to 1.

    With wavelengths (nm): a flat (rectangular) panchromatic response over
    :data:`PAN_RANGE_NM` = 450..900 nm, i.e. equal weight for every band whose centre lies in
    [450, 900] nm and 0 elsewhere (a typical VNIR PAN band such as QuickBird/WorldView). If no
    band falls inside (e.g. a SWIR-only cube), all bands get equal weight. Without wavelengths:
    equal weight over all bands.

    Raises:
        HsbinetError: the wavelength vector's length differs from ``n_bands`` or is not finite.
    """
    if int(n_bands) < 1:
        raise HsbinetError('Invalid band count for the PAN response', key='n_bands',
                           expected='>= 1', found=repr(n_bands))
    n_bands = int(n_bands)
    uniform = np.full(n_bands, 1.0 / n_bands)
    if wavelengths_nm is None:
        return uniform
    wl = np.asarray(wavelengths_nm, dtype=np.float64).reshape(-1)
    if wl.size != n_bands or not np.all(np.isfinite(wl)):
        raise HsbinetError('Wavelength list does not match the cube', key='wavelengths_nm',
                           expected=f'{n_bands} finite band centres in nm',
                           found=f'{wl.size} values, {int(np.sum(~np.isfinite(wl)))} non-finite')
    inside = (wl >= PAN_RANGE_NM[0]) & (wl <= PAN_RANGE_NM[1])
    if not inside.any():
        return uniform
    w = inside.astype(np.float64)
    return w / w.sum()


def mtf_blur(ref: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Filter every band of (H, W, B) with a square (K, K) kernel, edge-replicated borders.

    Exact linear filtering (correlation; equal to convolution for the symmetric MTF kernel) of
    each band padded by K//2 replicated edge pixels, computed in float64 with a 2-D FFT whose
    size covers the padded band, so circular wrap-around only touches discarded samples.

    Returns:
        float64 array. Odd K: (H, W, B), output pixel ``i`` centred on input pixel ``i``. Even K
        (a ``half_pixel`` kernel): (H + 1, W + 1, B), output pixel ``i`` centred at input
        coordinate ``i - 1/2`` (between input pixels ``i - 1`` and ``i``), along both axes.
    """
    import scipy.fft as sfft
    h, w, _ = ref.shape
    kk = kernel.shape[0]
    r = kk // 2
    ho, wo = h + 2 * r - kk + 1, w + 2 * r - kk + 1                 # 'valid' size
    x = np.pad(np.transpose(np.asarray(ref, dtype=np.float64), (2, 0, 1)),
               ((0, 0), (r, r), (r, r)), mode='edge')              # (B, H+2r, W+2r)
    shape = (sfft.next_fast_len(h + 2 * r, real=True), sfft.next_fast_len(w + 2 * r, real=True))
    spec = sfft.rfft2(x, s=shape, workers=-1)
    spec *= sfft.rfft2(kernel[::-1, ::-1], s=shape)                # flip: correlation
    y = sfft.irfft2(spec, s=shape, workers=-1)
    return np.ascontiguousarray(np.transpose(y[:, kk - 1:kk - 1 + ho, kk - 1:kk - 1 + wo],
                                             (1, 2, 0)))


def decimate(img: np.ndarray, ratio: int, gnyq: float = 0.3, taps: int = 41) -> np.ndarray:
    """MTF-filter an image and sample it at the centre of every ``ratio`` x ``ratio`` block.

    Output pixel ``(j, l)`` is the MTF-filtered image (:func:`mtf_gaussian_kernel`, gain
    ``gnyq`` at the LR Nyquist frequency, edge-replicated borders) at GT coordinate
    ``(j*ratio + (ratio-1)/2, l*ratio + (ratio-1)/2)``: on a pixel for odd ratios, between four
    pixels (``half_pixel`` kernel) for even ones (module docstring, *Geometry*). Linear and
    constant-preserving.

    Args:
        img: (H, W, B) image, any real dtype; H and W multiples of ``ratio``.
        ratio, gnyq, taps: as :func:`mtf_gaussian_kernel`.

    Returns:
        float64 array (H/ratio, W/ratio, B).

    Raises:
        HsbinetError: not rank 3, H or W not divisible by ``ratio``, bad ratio/gnyq/taps.
    """
    kernel = mtf_gaussian_kernel(ratio, gnyq, taps, half_pixel=float(ratio) % 2 == 0)
    ratio = int(ratio)
    img = np.asarray(img)
    if img.ndim != 3:
        raise HsbinetError('Decimation needs an image with a band axis', key='img',
                           expected='rank 3 (H, W, B)', found=f'shape {tuple(img.shape)}')
    h, w, _ = img.shape
    if h % ratio or w % ratio:
        raise HsbinetError('Image size does not divide by the ratio', key='img',
                           expected=f'H and W multiples of ratio {ratio}', found=f'H x W = {h} x {w}',
                           hint='crop first (prepare_dataset crops automatically)')
    # odd K: output i is centred on i; even K: on i - 1/2. Both put j*ratio + ratio//2 on c_j.
    off = ratio // 2
    return mtf_blur(img, kernel)[off:off + h:ratio, off:off + w:ratio]


def bicubic_upsample(ms: np.ndarray, ratio: int) -> np.ndarray:
    """(h, w, B) -> (h*ratio, w*ratio, B) float64 with torch bicubic (a=-0.75,
    ``align_corners=False``: LR pixel ``j`` lands on GT coordinate ``j*ratio + (ratio-1)/2``,
    border pixels replicated), computed in float64."""
    import torch
    t = torch.from_numpy(np.ascontiguousarray(np.transpose(ms, (2, 0, 1)), dtype=np.float64))
    up = torch.nn.functional.interpolate(t[None], scale_factor=ratio, mode='bicubic',
                                         align_corners=False)[0]
    return np.ascontiguousarray(up.numpy().transpose(1, 2, 0))


def simulate(ref: np.ndarray, ratio: int = 4, gnyq: float = 0.3, wavelengths_nm=None,
             taps: int = 41) -> dict[str, np.ndarray]:
    """Run Wald's protocol on one reference cube.

    Args:
        ref: reference cube (H, W, B), any real dtype; H and W must be multiples of ``ratio``.
        ratio: integer resolution ratio (default 4).
        gnyq: MTF gain at the MS Nyquist frequency (default 0.3), see :func:`mtf_gaussian_kernel`.
        wavelengths_nm: (B,) band centres in nm, or None; sets the PAN response.
        taps: MTF filter size (default 41).

    Returns:
        dict of float32 arrays in image layout: ``gt`` (H, W, B), ``ms`` (H/r, W/r, B),
        ``lms`` (H, W, B), ``pan`` (H, W); plus ``pan_weights`` float64 (B,).

    Raises:
        HsbinetError: wrong rank, H or W not divisible by ``ratio``, bad ratio/gnyq/taps.
    """
    ref = np.asarray(ref)
    if ref.ndim != 3:
        raise HsbinetError("Wald's protocol needs a cube", key='ref',
                           expected='rank 3 (H, W, B)', found=f'shape {tuple(ref.shape)}')
    gt = np.ascontiguousarray(ref, dtype=np.float32)
    ms = decimate(gt, ratio, gnyq, taps).astype(np.float32)
    lms = bicubic_upsample(ms, ratio).astype(np.float32)
    weights = pan_spectral_response(wavelengths_nm, ref.shape[2])
    pan = np.tensordot(gt.astype(np.float64), weights, axes=([2], [0])).astype(np.float32)
    return {'gt': gt, 'ms': ms, 'lms': lms, 'pan': pan, 'pan_weights': weights}
