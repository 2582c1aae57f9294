"""Wald's protocol: MTF-matched Gaussian kernels, blur, degradation and the PAN spectral response."""

from __future__ import annotations

import numpy as np
import pytest

from quant_models.data.wald import mtf_blur, mtf_gain_at_nyquist, mtf_gaussian_kernel, pan_spectral_response, simulate
from quant_models.common import HsbinetError
from tests.quant_models.data.helpers import assert_error


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
