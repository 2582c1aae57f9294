"""Wald's protocol: MTF-matched Gaussian kernels, blur, degradation and the PAN spectral response."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import shift as subpixel_shift

from quant_models.data.readers import load_cube
from quant_models.data.wald import (bicubic_upsample, decimate, mtf_blur, mtf_gain_at_nyquist, mtf_gaussian_kernel,
                                    pan_spectral_response, simulate)
from quant_models.common import HsbinetError
from quant_models.layers import BilinearUpsample
from quant_models.metrics import psnr
from tests.conftest import SHARED_DATA
from tests.quant_models.data.helpers import assert_error, needs_shared


# ------------------------------------------------------------------------------------- MTF/Wald

@pytest.mark.parametrize('ratio', [2, 3, 4, 8])
def test_mtf_kernel_sums_to_one_and_is_symmetric(ratio):
    k = mtf_gaussian_kernel(ratio)
    assert k.shape == (41, 41) and k.dtype == np.float64
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.array_equal(k, k.T)
    assert np.array_equal(k, k[::-1, :]) and np.array_equal(k, k[:, ::-1])
    assert np.unravel_index(np.argmax(k), k.shape) == (20, 20)
    # toolbox construction: gain at the MS Nyquist frequency close to GNyq = 0.3
    assert 0.25 < mtf_gain_at_nyquist(k, ratio) < 0.32


@pytest.mark.parametrize('ratio', [2, 4])
def test_mtf_kernel_is_the_toolbox_fwind1_construction(ratio):
    """Pixel-grid kernel = genMTF: centred inverse DFT of the Gaussian response, 2-D Kaiser window."""
    n, gnyq = 41, 0.3
    alpha = np.sqrt(((n - 1) * (1 / ratio / 2)) ** 2 / (-2 * np.log(gnyq)))
    g = np.exp(-0.5 * ((np.arange(n) - 20) / alpha) ** 2)
    h = np.real(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(np.outer(g, g)))))
    t = np.arange(-20, 21) / 40
    rho = np.hypot(*np.meshgrid(t, t))
    h *= np.where(rho > 0.5, 0.0, np.interp(rho, t, np.kaiser(n, 0.5)))
    np.testing.assert_allclose(mtf_gaussian_kernel(ratio), h / h.sum(), rtol=0, atol=1e-15)


@pytest.mark.parametrize('ratio', [2, 4, 8])
def test_half_pixel_kernel_has_the_same_response(ratio):
    k = mtf_gaussian_kernel(ratio, half_pixel=True)
    assert k.shape == (40, 40) and k.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.array_equal(k, k.T) and np.array_equal(k, k[::-1, :]) and np.array_equal(k, k[:, ::-1])
    assert mtf_gain_at_nyquist(k, ratio) == pytest.approx(mtf_gain_at_nyquist(mtf_gaussian_kernel(ratio), ratio),
                                                          abs=1e-3)


def test_mtf_kernel_rejects_bad_arguments():
    with pytest.raises(HsbinetError) as e:
        mtf_gaussian_kernel(4, gnyq=1.5)
    assert_error(e, 'gnyq', 'Expected: a value in (0, 1)', 'Found: 1.5')
    with pytest.raises(HsbinetError):
        mtf_gaussian_kernel(1)
    with pytest.raises(HsbinetError):
        mtf_gaussian_kernel(4, taps=40)


def test_blur_equals_ndimage_correlate_nearest():
    from scipy.ndimage import correlate
    rng = np.random.default_rng(0)
    cube = rng.random((24, 20, 3))
    k = mtf_gaussian_kernel(4)
    ref = np.stack([correlate(cube[:, :, b], k, mode='nearest') for b in range(3)], -1)
    np.testing.assert_allclose(mtf_blur(cube, k), ref, atol=1e-12)


def test_even_kernel_blur_is_centred_half_a_pixel_before():
    k = mtf_gaussian_kernel(4, half_pixel=True)
    ramp = np.broadcast_to(np.arange(96.0)[:, None, None], (96, 90, 1))
    out = mtf_blur(ramp, k)
    assert out.shape == (97, 91, 1)
    centres = np.broadcast_to(np.arange(20, 77)[:, None] - 0.5, (57, 91))
    np.testing.assert_allclose(out[20:77, :, 0], centres, atol=1e-10)


@pytest.mark.parametrize('ratio', [2, 3, 4])
def test_decimate_samples_the_block_centres(ratio):
    """A symmetric low-pass reproduces a linear ramp, so the samples read off its phase: away from the
    (edge-replicated) borders, MS pixel j holds the value at GT coordinate j*ratio + (ratio-1)/2."""
    h = 40 * ratio
    y, x = np.meshgrid(np.arange(h, dtype=float), np.arange(h, dtype=float), indexing='ij')
    ms = decimate(np.stack([y, 2 * x + 1], axis=-1), ratio)
    assert ms.shape == (40, 40, 2) and ms.dtype == np.float64
    c = np.arange(40) * ratio + (ratio - 1) / 2
    inner = slice(21 // ratio + 1, 40 - 21 // ratio - 1)
    cy, cx = np.meshgrid(c[inner], c[inner], indexing='ij')
    np.testing.assert_allclose(ms[inner, inner, 0], cy, atol=1e-9)
    np.testing.assert_allclose(ms[inner, inner, 1], 2 * cx + 1, atol=1e-9)


def test_decimate_odd_ratio_keeps_the_middle_pixel_of_each_block():
    img = np.random.default_rng(3).random((30, 27, 2))
    np.testing.assert_allclose(decimate(img, 3), mtf_blur(img, mtf_gaussian_kernel(3))[1::3, 1::3], atol=1e-14)


def test_decimate_rejects_bad_shapes():
    with pytest.raises(HsbinetError) as e:
        decimate(np.zeros((30, 32, 2)), 4)
    assert_error(e, 'multiples of ratio 4', '30 x 32')
    with pytest.raises(HsbinetError) as e:
        decimate(np.zeros((32, 32)), 4)
    assert_error(e, 'rank 3 (H, W, B)', '(32, 32)')


SHIFTS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def _shift_axis(img, d, axis):
    """``img`` (H, W, B) resampled at ``+d`` pixels along ``axis`` (0 or 1) with a cubic spline, edges replicated:
    the spline's linear operator (scipy's shift of an identity matrix) applied along that axis."""
    a = np.moveaxis(img, axis, 0)
    op = subpixel_shift(np.eye(a.shape[0]), (d, 0.0), order=3, mode='nearest')
    return np.moveaxis((op @ a.reshape(a.shape[0], -1)).reshape(a.shape), 0, axis)


def _best_shift(gt, up, margin=8):
    """(dy, dx) in SHIFTS x SHIFTS whose resampling of ``up`` (H, W, B) has the highest PSNR against ``gt`` on the
    interior (``margin`` pixels dropped), and the PSNR of every shift."""
    scores = {}
    inner = (slice(margin, -margin), slice(margin, -margin))
    for dy in SHIFTS:
        rows = _shift_axis(up, dy, 0)
        for dx in SHIFTS:
            moved = _shift_axis(rows, dx, 1)
            scores[(dy, dx)] = psnr(gt[inner].transpose(2, 0, 1), moved[inner].transpose(2, 0, 1))
    return max(scores, key=scores.get), scores


def _upsampled(sim, ratio):
    """LMS (bicubic) and the hardware model's bilinear upsampling of MS, both (H, W, B) float64."""
    ms = torch.from_numpy(np.ascontiguousarray(sim['ms'].transpose(2, 0, 1)))[None]
    bil = BilinearUpsample(ratio)(ms)[0].numpy().transpose(1, 2, 0)
    return {'lms': sim['lms'].astype(np.float64), 'bilinear': bil.astype(np.float64)}


def _assert_registered(ref, ratio=4):
    sim = simulate(ref, ratio=ratio)
    for name, up in _upsampled(sim, ratio).items():
        best, scores = _best_shift(sim['gt'].astype(np.float64), up)
        assert best == (0.0, 0.0), f'{name}: shift {best} improves PSNR {scores[(0.0, 0.0)]:.3f} -> {scores[best]:.3f}'


def test_lms_is_registered_with_gt_on_a_smooth_cube():
    yy, xx = np.meshgrid(np.arange(64), np.arange(64), indexing='ij')
    rng = np.random.default_rng(4)
    bands = []
    for _ in range(4):
        fy, fx, py, px = rng.uniform(0.02, 0.08, 2).tolist() + rng.uniform(0, 2 * np.pi, 2).tolist()
        bands.append(1.0 + 0.4 * np.sin(2 * np.pi * fy * yy + py) * np.cos(2 * np.pi * fx * xx + px))
    _assert_registered(np.stack(bands, axis=-1))


@needs_shared
@pytest.mark.parametrize('name', ['pavia_centre_rosis_100x100x102.mat', 'abu_urban3_aviris_100x100x191.mat'])
def test_lms_is_registered_with_gt_on_a_real_cube(name):
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f'{path} is not in ../shared/data')
    cube = load_cube(str(path)).data.astype(np.float64)
    _assert_registered(cube / cube.max())


def test_wald_shapes_and_dtypes():
    rng = np.random.default_rng(1)
    ref = rng.random((32, 48, 5)).astype(np.float32)
    out = simulate(ref, ratio=4)
    assert out['gt'].shape == (32, 48, 5)
    assert out['ms'].shape == (8, 12, 5)
    assert out['lms'].shape == (32, 48, 5)
    assert out['pan'].shape == (32, 48)
    for k in ('gt', 'ms', 'lms', 'pan'):
        assert out[k].dtype == np.float32
    np.testing.assert_array_equal(out['gt'], ref)
    np.testing.assert_allclose(out['ms'], decimate(ref, 4), rtol=1e-6)
    np.testing.assert_allclose(out['lms'], bicubic_upsample(out['ms'], 4), rtol=1e-6)
    np.testing.assert_allclose(out['pan'], ref.mean(axis=2), rtol=1e-5, atol=1e-6)


def test_wald_constant_cube_stays_constant():
    ref = np.full((40, 36, 4), 0.625, np.float32)
    out = simulate(ref, ratio=4, gnyq=0.3)
    for k in ('gt', 'ms', 'lms', 'pan'):
        np.testing.assert_allclose(out[k], 0.625, atol=1e-6)


def test_wald_rejects_size_not_divisible_by_ratio():
    with pytest.raises(HsbinetError) as e:
        simulate(np.zeros((30, 32, 4), np.float32), ratio=4)
    assert_error(e, 'multiples of ratio 4', '30 x 32')


def test_pan_spectral_response():
    np.testing.assert_allclose(pan_spectral_response(None, 5), np.full(5, 0.2))
    wl = np.array([400, 450, 600, 900, 901, 2000.0])
    w = pan_spectral_response(wl, 6)
    np.testing.assert_allclose(w, [0, 1 / 3, 1 / 3, 1 / 3, 0, 0])
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(pan_spectral_response(np.array([1500.0, 2000, 2400]), 3),
                               np.full(3, 1 / 3))  # nothing in 450..900 nm: uniform
    with pytest.raises(HsbinetError) as e:
        pan_spectral_response(wl, 7)
    assert_error(e, 'wavelengths_nm', '7 finite band centres', '6 values')
    ref = np.random.default_rng(2).random((8, 8, 6)).astype(np.float32)
    out = simulate(ref, ratio=4, wavelengths_nm=wl)
    np.testing.assert_allclose(out['pan'], ref[:, :, 1:4].mean(axis=2), rtol=1e-5)
