"""Plots: every function writes a readable, non-empty PNG; band/pixel helpers are deterministic."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest

from quant_models import plots as P

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def _cube(b=12, h=24, w=20, seed=0):
    return np.random.default_rng(seed).random((b, h, w))


def _check_png(path, tmp_path):
    assert path.exists() and path.parent == tmp_path
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert float(np.ptp(img[..., :3])) > 0          # not a blank canvas


def test_rgb_bands():
    wl = np.linspace(400, 1000, 61)                 # 10 nm steps
    assert P.rgb_bands(wl, 61) == (25, 15, 5)
    assert P.rgb_bands(None, 101) == (75, 50, 25)
    assert P.rgb_bands(None, 1) == (0, 0, 0)
    with pytest.raises(ValueError):
        P.rgb_bands(wl, 60)


def test_pseudo_colour(tmp_path):
    cube = _cube()
    _check_png(P.pseudo_colour(cube, P.rgb_bands(None, 12), tmp_path / 'pc.png', 'test'), tmp_path)


def test_comparison_png(tmp_path):
    ref = _cube()
    panels = {'LR upsampled': ref + 0.1, 'model': ref * 0.9, 'reference': ref,
              'LR': ref[:, ::4, ::4]}
    path = P.comparison_png(panels, (8, 5, 2), tmp_path / 'cmp.png')
    _check_png(path, tmp_path)


def test_comparison_uses_reference_stretch():
    ref = _cube()
    lim = P.stretch_limits(ref, (8, 5, 2))
    assert lim.shape == (3, 2)
    assert np.allclose(lim[:, 0], np.percentile(ref[[8, 5, 2]], 2, axis=(1, 2)))


def test_error_map_png(tmp_path):
    ref = _cube()
    out = ref + 0.05 * np.random.default_rng(1).standard_normal(ref.shape)
    _check_png(P.error_map_png(ref, out, tmp_path / 'err.png', units='reflectance'), tmp_path)
    _check_png(P.error_map_png(ref, ref, tmp_path / 'err0.png'), tmp_path)
    with pytest.raises(ValueError):
        P.error_map_png(ref, ref[:, :-1], tmp_path / 'bad.png')


def test_error_maps_share_one_scale(tmp_path):
    ref = _cube()
    rng = np.random.default_rng(2)
    outs = {'bicubic': ref + 0.2 * rng.standard_normal(ref.shape), 'model': ref + 0.02 * rng.standard_normal(ref.shape)}
    _check_png(P.error_map_png(ref, outs, tmp_path / 'errs.png', units='reflectance'), tmp_path)
    with pytest.raises(ValueError, match='model'):
        P.error_map_png(ref, {'model': ref[:, :-1]}, tmp_path / 'bad.png')
    with pytest.raises(ValueError):
        P.error_map_png(ref, {}, tmp_path / 'none.png')


def test_band_psnr_png(tmp_path):
    curves = {'a': np.linspace(25, 35, 12), 'b': np.r_[np.full(11, 30.0), np.inf]}
    _check_png(P.band_psnr_png(curves, np.linspace(400, 2400, 12), tmp_path / 'bp.png'), tmp_path)
    _check_png(P.band_psnr_png(curves, None, tmp_path / 'bp2.png'), tmp_path)
    with pytest.raises(ValueError):
        P.band_psnr_png({'a': np.ones(12), 'b': np.ones(11)}, None, tmp_path / 'bad.png')
    with pytest.raises(ValueError):
        P.band_psnr_png(curves, np.ones(5), tmp_path / 'bad.png')


def test_spectral_curves_png(tmp_path):
    ref = _cube()
    outs = {'bicubic': ref + 0.1, 'HS-BiNet': ref * 0.95}
    px = P.choose_pixels(ref, 4)
    path = P.spectral_curves_png(ref, outs, px, np.linspace(400, 2500, 12), tmp_path / 'sp.png')
    _check_png(path, tmp_path)
    _check_png(P.spectral_curves_png(ref, outs, px[:1], None, tmp_path / 'sp1.png'), tmp_path)


def test_training_curves_png(tmp_path):
    hist = [{'epoch': e, 'train_loss': 1.0 / (e + 1), 'val_loss': 1.2 / (e + 1),
             'lr': 1e-3 * 0.9 ** e} for e in range(10)]
    hist[3]['val_loss'] = None
    _check_png(P.training_curves_png(hist, tmp_path / 'tc.png'), tmp_path)


def test_choose_pixels_deterministic_and_separated():
    ref = _cube(h=64, w=64)
    a = P.choose_pixels(ref, 3, seed=0)
    assert a == P.choose_pixels(ref, 3, seed=0)
    assert len(a) == 3 and len(set(a)) == 3
    for i in range(3):
        y, x = a[i]
        assert 8 <= y < 56 and 8 <= x < 56
        for j in range(i):
            assert np.hypot(y - a[j][0], x - a[j][1]) > 10
    assert P.choose_pixels(np.ones((2, 1, 1)), 3) == [(0, 0)]
