"""GSA (Gram-Schmidt adaptive) on scenes whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from quant_models.baselines import gsa
from quant_models.baselines.regression import intensity_weights
from tests.quant_models.baselines.helpers import pan_like_scene


def test_pan_like_bands_are_recovered_up_to_the_lms_mean():
    """GT_k = a_k P + b_k and MS = GT degraded: the intensity is the degraded PAN, the gains are a_k, so the
    detail a_k (P - PL) restores GT exactly; GSA's last step then sets each band's mean to LMS's."""
    s = pan_like_scene()
    fused = gsa(s['ms'], s['pan'], s['lms'], s['ratio'])
    expected = s['gt'] - s['gt'].mean(axis=(0, 1)) + s['lms'].mean(axis=(0, 1))
    np.testing.assert_allclose(fused, expected, rtol=0, atol=1e-10)
    assert np.abs(fused - s['lms']).max() > 0.1          # real detail was injected


def test_intensity_weights_are_the_regression_coefficients():
    rng = np.random.default_rng(1)
    ms = rng.random((12, 10, 3))
    w = np.array([0.2, -1.5, 0.7])
    np.testing.assert_allclose(intensity_weights(ms, ms @ w + 0.25), [*w, 0.25], atol=1e-12)


def test_flat_pan_gives_lms():
    s = pan_like_scene()
    np.testing.assert_array_equal(gsa(s['ms'], np.full_like(s['pan'], 0.3), s['lms'], 4), s['lms'])


def test_invariant_to_an_affine_change_of_the_pan():
    s = pan_like_scene(seed=2)
    rng = np.random.default_rng(2)
    ms, lms = s['ms'] + 0.01 * rng.standard_normal(s['ms'].shape), s['lms']  # not exactly PAN-like
    a = gsa(ms, s['pan'], lms, 4)
    np.testing.assert_allclose(gsa(ms, 3.0 * s['pan'] - 2.0, lms, 4), a, rtol=0, atol=1e-10)


def test_shapes_and_dtype():
    s = pan_like_scene()
    out = gsa(s['ms'].astype(np.float32), s['pan'].astype(np.float32), s['lms'].astype(np.float32), 4)
    assert out.shape == s['lms'].shape and out.dtype == np.float64


@pytest.mark.parametrize('ratio', [2, 3])
def test_other_ratios(ratio):
    s = pan_like_scene(ratio=ratio)
    fused = gsa(s['ms'], s['pan'], s['lms'], ratio)
    np.testing.assert_allclose(fused, s['gt'] - s['gt'].mean(axis=(0, 1)) + s['lms'].mean(axis=(0, 1)), atol=1e-10)
