"""MTF-GLP with regression gains on scenes whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from quant_models.baselines import mtf_glp, pan_lowpass
from quant_models.baselines.regression import injection_gains
from tests.quant_models.baselines.helpers import GAINS, degraded, pan_like_scene, smooth_pan


@pytest.mark.parametrize('ratio', [2, 3, 4])
def test_pan_like_bands_are_recovered_exactly(ratio):
    """GT_k = a_k P + b_k, MS/LMS its exact degradation: PL is degraded like LMS, the gain is a_k, and
    LMS + a_k (P - PL) = GT."""
    s = pan_like_scene(ratio=ratio)
    np.testing.assert_allclose(mtf_glp(s['ms'], s['pan'], s['lms'], ratio), s['gt'], rtol=0, atol=1e-10)


def test_gains_are_the_regression_coefficients():
    """Bands = a_k PL + b_k + e_k with e_k uncorrelated with PL: the gains are a_k."""
    rng = np.random.default_rng(3)
    pl = pan_lowpass(smooth_pan(), 4)
    e = rng.standard_normal(pl.shape + (GAINS.size,))
    c = pl - pl.mean()
    e -= np.einsum('hw,hwb->b', c, e - e.mean(axis=(0, 1))) / np.sum(c * c) * c[:, :, None]  # decorrelate
    np.testing.assert_allclose(injection_gains(pl[:, :, None] * GAINS + 0.3 + e, pl), GAINS, atol=1e-12)
    assert injection_gains(e, np.full(pl.shape, 2.0)).tolist() == [0.0] * GAINS.size  # flat source: gain 0


def test_injected_detail_is_gain_times_pan_detail():
    """fused - LMS = g_k (P - PL) with g_k the regression of LMS_k on PL (the equalisation cancels)."""
    s = pan_like_scene(seed=4)
    lms = s['lms'] + 0.05 * np.random.default_rng(4).standard_normal(s['lms'].shape)
    pl = pan_lowpass(s['pan'], 4)
    np.testing.assert_allclose(mtf_glp(s['ms'], s['pan'], lms, 4) - lms,
                               injection_gains(lms, pl) * (s['pan'] - pl)[:, :, None], rtol=0, atol=1e-10)


def test_pan_lowpass_is_the_data_degradation():
    pan = smooth_pan()
    np.testing.assert_allclose(pan_lowpass(pan, 4), degraded(pan[:, :, None])[1][:, :, 0], atol=0)
    np.testing.assert_allclose(pan_lowpass(np.full((32, 32), 0.7), 4), 0.7, atol=1e-14)


def test_flat_pan_gives_lms():
    s = pan_like_scene()
    np.testing.assert_array_equal(mtf_glp(s['ms'], np.full_like(s['pan'], 0.3), s['lms'], 4), s['lms'])


def test_invariant_to_an_affine_change_of_the_pan():
    s = pan_like_scene(seed=5)
    lms = s['lms'] + 0.01 * np.random.default_rng(5).standard_normal(s['lms'].shape)
    np.testing.assert_allclose(mtf_glp(s['ms'], 0.2 * s['pan'] + 7.0, lms, 4), mtf_glp(s['ms'], s['pan'], lms, 4),
                               rtol=0, atol=1e-10)


def test_shapes_and_dtype():
    s = pan_like_scene()
    out = mtf_glp(s['ms'].astype(np.float32), s['pan'].astype(np.float32), s['lms'].astype(np.float32), 4)
    assert out.shape == s['lms'].shape and out.dtype == np.float64
