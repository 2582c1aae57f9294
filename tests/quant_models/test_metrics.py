"""Pan-sharpening metrics: hand-computed cases, ideal values, invariances and input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quant_models import metrics as M
from quant_models.common import HsbinetError

# A 2-band 2x2 image and an output with one wrong pixel per band.
REF = np.array([[[1., 2.], [3., 4.]],
                [[2., 4.], [6., 8.]]])
OUT = np.array([[[1., 2.], [3., 5.]],     # error +1 at (1,1): MSE_0 = 1/4
                [[2., 4.], [6., 6.]]])    # error -2 at (1,1): MSE_1 = 4/4 = 1


def _rand(shape, seed=0, lo=0.1, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


# ---------------------------------------------------------------------------------- hand cases

def test_psnr_hand():
    # band 0: max 4, MSE 0.25 -> 10*log10(16/0.25); band 1: max 8, MSE 1 -> 10*log10(64/1)
    expected = (10 * math.log10(16 / 0.25) + 10 * math.log10(64 / 1)) / 2
    assert M.psnr(REF, OUT) == pytest.approx(expected)
    assert M.psnr(REF, OUT) == pytest.approx(18.061799739838872)


def test_psnr_per_band_hand():
    np.testing.assert_allclose(M.psnr_per_band(REF, OUT), [10 * math.log10(16 / 0.25), 10 * math.log10(64 / 1)])
    assert M.psnr(REF, OUT) == pytest.approx(float(np.mean(M.psnr_per_band(REF, OUT))))
    assert M.psnr_per_band(REF, REF).tolist() == [math.inf, math.inf]


def test_psnr_scalar_data_range():
    expected = (10 * math.log10(100 / 0.25) + 10 * math.log10(100 / 1)) / 2
    assert M.psnr(REF, OUT, data_range=10) == pytest.approx(expected)


def test_cc_hand():
    # band 0: centred ref [-1.5,-.5,.5,1.5], out [-1.75,-.75,.25,2.25] -> 6.5/sqrt(5*8.75)
    # band 1: centred ref [-3,-1,1,3], out [-2.5,-.5,1.5,1.5] -> 14/sqrt(20*11)
    expected = (6.5 / math.sqrt(5 * 8.75) + 14 / math.sqrt(20 * 11)) / 2
    assert M.cc(REF, OUT) == pytest.approx(expected)


def test_sam_hand():
    # only pixel (1,1) differs: ref (4,8), out (5,6) -> cos = 68/sqrt(80*61); 3 pixels at 0 deg.
    angle = math.degrees(math.acos(68 / math.sqrt(80 * 61)))
    assert M.sam(REF, OUT) == pytest.approx(angle / 4)


def test_sam_90_and_45_degrees():
    ref = np.array([[[1., 1.]], [[0., 0.]]])        # 2 bands, 1x2 pixels: (1,0) and (1,0)
    out90 = np.array([[[0., 0.]], [[1., 1.]]])      # (0,1): 90 degrees
    out45 = np.array([[[1., 3.]], [[1., 3.]]])      # (1,1) and (3,3): 45 degrees
    assert M.sam(ref, out90) == pytest.approx(90.0)
    assert M.sam(ref, out45) == pytest.approx(45.0)
    mixed = np.array([[[0., 2.]], [[1., 2.]]])      # 90 and 45 -> mean 67.5
    assert M.sam(ref, mixed) == pytest.approx(67.5)


def test_sam_excludes_zero_norm_pixels():
    ref = np.array([[[1., 1., 0.]], [[0., 0., 0.]]])
    out = np.array([[[0., 1., 5.]], [[1., 1., 5.]]])   # 90, 45, (excluded: ref norm 0)
    assert M.sam(ref, out) == pytest.approx(67.5)
    assert M.sam(np.zeros((3, 2, 2)), np.zeros((3, 2, 2))) == 0.0


def test_ergas_hand():
    # MSE_0/mu_0^2 = 0.25/2.5^2 = 0.04, MSE_1/mu_1^2 = 1/5^2 = 0.04 -> 100/4*sqrt(0.04) = 5
    assert M.ergas(REF, OUT, 4) == pytest.approx(5.0)


def test_ergas_known_mse():
    ref = np.full((3, 8, 8), 10.0)
    out = ref + 1.0                                   # MSE_b = 1, mu_b = 10
    assert M.ergas(ref, out, 4) == pytest.approx(100 / 4 * math.sqrt(1 / 100))
    assert M.ergas(ref, out, 2) == pytest.approx(5.0)


def test_ssim_constant_images_hand():
    ref = np.full((2, 16, 16), 0.5)
    out = np.full((2, 16, 16), 0.25)
    c1 = (0.01 * 1.0) ** 2                            # L = max-min = 0 -> 1.0
    expected = (2 * 0.5 * 0.25 + c1) / (0.5 ** 2 + 0.25 ** 2 + c1)   # contrast/structure = 1
    assert M.ssim(ref, out) == pytest.approx(expected)


def test_ssim_matches_direct_window_computation():
    """12x12 image -> a 2x2 'valid' SSIM map; recompute every window explicitly."""
    rng = np.random.default_rng(3)
    ref = rng.random((1, 12, 12))
    out = ref + 0.1 * rng.standard_normal(ref.shape)
    k = np.arange(-5, 6)
    g = np.exp(-k ** 2 / (2 * 1.5 ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    L = ref.max() - ref.min()
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    vals = []
    for i in range(2):
        for j in range(2):
            x = ref[0, i:i + 11, j:j + 11]
            y = out[0, i:i + 11, j:j + 11]
            mx, my = (w * x).sum(), (w * y).sum()
            vx = (w * (x - mx) ** 2).sum()
            vy = (w * (y - my) ** 2).sum()
            cxy = (w * (x - mx) * (y - my)).sum()
            vals.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    assert M.ssim(ref, out) == pytest.approx(np.mean(vals), rel=1e-10)


def test_q_index_scaled_image():
    x = _rand((32, 32), seed=1)
    # y = a*x: Q = 4 a^2 var mu^2 / ((1+a^2) var (1+a^2) mu^2) = 4 a^2 / (1+a^2)^2
    assert M.q_index(x, 2 * x) == pytest.approx(16 / 25)
    assert M.q_index(x, x) == pytest.approx(1.0)
    # same mean, perfectly anti-correlated -> -1 (note Q(x, -x) = +1: the mean product flips too)
    assert M.q_index(x, 2 * x.mean() - x) == pytest.approx(-1.0)


def test_q_index_degenerate_blocks():
    assert M.q_index(np.full((8, 8), 2.0), np.full((8, 8), 2.0)) == pytest.approx(1.0)
    # constant blocks: luminance term only, 2*2*1/(4+1)
    assert M.q_index(np.full((8, 8), 2.0), np.full((8, 8), 1.0)) == pytest.approx(0.8)
    assert M.q_index(np.zeros((8, 8)), np.zeros((8, 8))) == pytest.approx(1.0)


def test_q_index_blocks_average():
    rng = np.random.default_rng(5)
    x = rng.random((64, 32)) + 1
    y = x + 0.3 * rng.random((64, 32))
    both = M.q_index(x, y, block=32)
    halves = (M.q_index(x[:32], y[:32], block=32) + M.q_index(x[32:], y[32:], block=32)) / 2
    assert both == pytest.approx(halves)


def test_q_index_pairwise_matches_scalar():
    cube = _rand((4, 64, 64), seed=2)
    Q = M.q_index_pairwise(cube, 32)
    for i in range(4):
        for j in range(4):
            assert Q[i, j] == pytest.approx(M.q_index(cube[i], cube[j], 32))


def test_qnr_formula():
    assert M.qnr(0.1, 0.2) == pytest.approx(0.72)
    assert M.qnr(0.1, 0.2, alpha=2, beta=1) == pytest.approx(0.81 * 0.8)
    assert M.qnr(0.0, 0.0) == 1.0


# ---------------------------------------------------------------------------------- ideal values

def test_reference_ideal_values():
    ref = _rand((5, 20, 24))
    m = M.reference_metrics(ref, ref.copy(), 4)
    assert set(m) == {'psnr', 'cc', 'ssim', 'sam', 'ergas'}
    assert m['psnr'] == math.inf
    assert m['cc'] == pytest.approx(1.0)
    assert m['ssim'] == pytest.approx(1.0)
    assert m['sam'] == pytest.approx(0.0, abs=1e-6)
    assert m['ergas'] == 0.0


def test_cc_affine_invariant_and_constant_band():
    ref = _rand((3, 10, 10))
    assert M.cc(ref, 3 * ref + 2) == pytest.approx(1.0)
    const = np.full((2, 4, 4), 7.0)
    assert M.cc(const, const) == 1.0
    assert M.cc(const, const + _rand((2, 4, 4))) == 0.0


def _upsample(ms, r):
    return np.repeat(np.repeat(ms, r, axis=1), r, axis=2)


def test_qnr_ideal_for_constant_scene():
    ms = np.ones((4, 8, 8)) * np.array([1.0, 2.0, 3.0, 4.0])[:, None, None]
    fused = _upsample(ms, 4)
    pan = np.full((32, 32), 2.5)
    m = M.no_reference_metrics(fused, ms, pan, 4)
    assert m['d_lambda'] == pytest.approx(0.0, abs=1e-12)
    assert m['d_s'] == pytest.approx(0.0, abs=1e-12)
    assert m['qnr'] == pytest.approx(1.0)


def test_d_lambda_zero_for_block_aligned_upsampled_ms():
    ms = _rand((5, 16, 16), seed=4)
    fused = _upsample(ms, 4)            # each 32x32 block repeats one 8x8 LR block exactly
    assert M.d_lambda(fused, ms) == pytest.approx(0.0, abs=1e-12)
    assert M.d_lambda(fused, fused) == pytest.approx(0.0, abs=1e-12)   # MS given upsampled


def test_no_reference_prefers_the_true_high_resolution_scene():
    from scipy.ndimage import gaussian_filter, zoom
    rng = np.random.default_rng(6)
    hr = gaussian_filter(rng.random((4, 64, 64)), (0, 3, 3))
    pan = hr.mean(0)
    lr = gaussian_filter(hr, (0, 2, 2))[:, 2::4, 2::4]
    up = zoom(lr, (1, 4, 4), order=3)                  # no PAN detail injected
    noisy = hr + 0.05 * rng.standard_normal(hr.shape)
    good = M.no_reference_metrics(hr, lr, pan, 4)
    blurry = M.no_reference_metrics(up, lr, pan, 4)
    bad = M.no_reference_metrics(noisy, lr, pan, 4)
    assert good['d_s'] < blurry['d_s']
    assert good['d_lambda'] < bad['d_lambda'] and good['d_s'] < bad['d_s']
    assert bad['qnr'] < good['qnr'] <= 1.0
    assert good['qnr'] == pytest.approx(M.qnr(good['d_lambda'], good['d_s']))


def test_degrade_pan_mtf_gain_and_shape():
    from quant_models.data.wald import mtf_gain_at_nyquist, mtf_gaussian_kernel
    r = 4
    x = np.arange(256)
    pan = np.tile(np.cos(2 * np.pi * x / (2 * r)), (64, 1))   # frequency 1/(2*ratio)
    lp = M.degrade_pan(pan, r, decimate=False)
    amp = np.abs(lp[:, 40:-40]).max()
    # the MS's own filter (genMTF: Gaussian response of gain 0.3, Kaiser-windowed -> 0.283)
    assert amp == pytest.approx(mtf_gain_at_nyquist(mtf_gaussian_kernel(r, M.PAN_GNYQ, M.PAN_TAPS), r),
                                abs=1e-6)
    assert amp == pytest.approx(M.PAN_GNYQ, abs=0.02)
    assert M.degrade_pan(pan, r).shape == (16, 64)
    const = np.full((32, 32), 3.0)
    assert np.allclose(M.degrade_pan(const, r), 3.0)


@pytest.mark.parametrize('r', [2, 3, 4])
def test_degrade_pan_samples_block_centres(r):
    # A ramp survives the symmetric, unit-sum MTF filter unchanged (away from the replicated
    # border), so the degraded PAN reads the ramp at the sampling positions: these must be the
    # block centres j*r + (r-1)/2 of quant_models.data.wald (the old ratio//2 phase is half a
    # pixel off for even r).
    n = 32 * r
    rows, cols = 0.3 * np.arange(n), 1.0 * np.arange(n)
    pan = np.add.outer(rows, cols)
    low = M.degrade_pan(pan, r)
    c = np.arange(n // r) * r + (r - 1) / 2
    expect = np.add.outer(0.3 * c, c)
    inner = slice(24 // r, -(24 // r))                          # centres clear of the 41-tap reach
    assert np.abs(low - expect)[inner, inner].max() < 1e-9
    old = np.add.outer(0.3 * (c - (r - 1) / 2 + r // 2), c - (r - 1) / 2 + r // 2)
    if r % 2 == 0:
        assert np.abs(low - old)[inner, inner].min() > 0.6     # the decimation phase is not ratio//2


def test_degrade_pan_is_the_ms_degradation():
    # P_LR is made exactly as the MS: for PAN = w . cube and MS = wald.decimate(cube), P_LR = w . MS
    from quant_models.data.wald import decimate, pan_spectral_response
    rng = np.random.default_rng(21)
    cube = rng.random((48, 48, 5))
    w = pan_spectral_response(None, 5)
    ms = decimate(cube, 4, 0.25, 31)
    assert np.allclose(M.degrade_pan(cube @ w, 4, gnyq=0.25, taps=31), ms @ w, atol=1e-12)
    with pytest.raises(M.MetricInputError):
        M.degrade_pan(np.ones((30, 32)), 4)                     # H not a multiple of the ratio
    with pytest.raises(M.MetricInputError):
        M.degrade_pan(np.ones((32, 32)), 4, taps=40)


# ---------------------------------------------------------------------------------- invariances

def test_sam_invariant_to_per_pixel_scaling():
    rng = np.random.default_rng(8)
    ref = _rand((6, 9, 9), seed=9)
    out = ref + 0.05 * rng.standard_normal(ref.shape)
    scale = rng.uniform(0.2, 5.0, size=(1, 9, 9))
    assert M.sam(ref, out * scale) == pytest.approx(M.sam(ref, out))
    assert M.sam(ref * scale, out) == pytest.approx(M.sam(ref, out))


def test_ssim_decreases_with_noise():
    rng = np.random.default_rng(10)
    ref = _rand((3, 32, 32), seed=11)
    noise = rng.standard_normal(ref.shape)
    vals = [M.ssim(ref, ref + s * noise) for s in (0.0, 0.01, 0.05, 0.2)]
    assert vals[0] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(vals, vals[1:]))


def test_ssim_small_image_uses_whole_map():
    ref = _rand((2, 5, 6))
    assert M.ssim(ref, ref) == pytest.approx(1.0)
    assert M.ssim(ref, ref + 0.1) < 1.0


def test_batch_is_mean_of_images():
    rng = np.random.default_rng(12)
    ref = _rand((3, 4, 16, 16), seed=13)
    out = ref + 0.05 * rng.standard_normal(ref.shape)
    batched = M.reference_metrics(ref, out, 4)
    singles = [M.reference_metrics(ref[i], out[i], 4) for i in range(3)]
    for k in batched:
        assert batched[k] == pytest.approx(np.mean([s[k] for s in singles]))
    assert M.batch_mean(M.sam, ref, out) == pytest.approx(np.mean([M.sam(ref[i], out[i]) for i in range(3)]))


def test_no_reference_batch():
    ms = _rand((2, 3, 8, 8), seed=14)
    fused = np.stack([_upsample(m, 4) for m in ms]) + 0.01
    pan = fused.mean(1)                                 # (N, H, W)
    batched = M.no_reference_metrics(fused, ms, pan, 4)
    singles = [M.no_reference_metrics(fused[i], ms[i], pan[i], 4) for i in range(2)]
    for k in batched:
        assert batched[k] == pytest.approx(np.mean([s[k] for s in singles]))


def test_conventions_string_mentions_everything():
    for word in ('PSNR', 'CC', 'SSIM', 'SAM', 'degrees', 'ERGAS', 'D_lambda', 'D_s', 'QNR', '(B,H,W)'):
        assert word in M.CONVENTIONS


# ---------------------------------------------------------------------------------- errors

@pytest.mark.parametrize('fn', [M.psnr, M.cc, M.ssim, M.sam, lambda a, b: M.ergas(a, b, 4),
                                lambda a, b: M.reference_metrics(a, b, 4)])
def test_shape_mismatch_raises(fn):
    with pytest.raises(ValueError, match=r'\(2, 4, 4\).*\(2, 4, 5\)'):
        fn(np.ones((2, 4, 4)), np.ones((2, 4, 5)))


def test_error_is_hsbinet_error_and_checks_finite_and_ndim():
    with pytest.raises(HsbinetError):
        M.psnr(np.ones((2, 4, 4)), np.ones((3, 4, 4)))
    bad = np.ones((2, 4, 4))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match='non-finite'):
        M.cc(np.ones((2, 4, 4)), bad)
    with pytest.raises(ValueError, match=r'\(4, 4\)'):
        M.sam(np.ones((4, 4)), np.ones((4, 4)))


def test_no_reference_input_errors():
    fused = np.ones((3, 32, 32))
    with pytest.raises(ValueError, match='ms'):
        M.d_lambda(fused, np.ones((2, 8, 8)))
    with pytest.raises(ValueError, match='pan'):
        M.d_s(fused, np.ones((16, 16)), np.ones((3, 8, 8)), 4)
    with pytest.raises(ValueError, match='ratio'):
        M.d_s(fused, np.ones((32, 32)), np.ones((3, 8, 8)), 0)
    with pytest.raises(ValueError):
        M.d_s(fused, np.ones((32, 32)), np.ones((3, 16, 16)), 4)   # ms at ratio 2, not 4
