"""benchmarks/full_resolution.py (the paper's Table 2 at full resolution): the table's rows and
values on a tiny synthetic cube, a property known by construction (a one-pattern cube: detail
injection is exact, interpolation is not), and the HS-BiNet row from a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from quant_models.metrics import qnr
from tests.conftest import load_benchmark


@pytest.fixture(scope='module')
def bench():
    return load_benchmark('full_resolution')


def _scene(path: Path, cube: np.ndarray) -> str:
    np.save(path, cube.astype(np.float32))
    return str(path)


def _textured_cube(h=32, w=32, bands=8, seed=0) -> np.ndarray:
    """(H, W, B) DN-like cube: spectra varying smoothly over the scene, plus texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    b = np.arange(bands)[None, None, :]
    smooth = 0.5 + 0.3 * np.sin(xx[..., None] / 5.0 + b / 3.0) * np.cos(yy[..., None] / 7.0 - b / 5.0)
    return 1000.0 * (smooth + 0.1 * rng.random((h, w, bands)))


def _rows(report: dict) -> dict:
    return report['rows']


def test_table_has_every_baseline_row_with_indices_in_range(bench, tmp_path, capsys):
    scene = _scene(tmp_path / 'cube.npy', _textured_cube())
    report = bench.main(['--scene', scene, '--out', str(tmp_path / 'out')])
    rows = _rows(report)
    assert list(rows) == ['bicubic', 'bilinear', 'gsa', 'mtf_glp']          # no checkpoint: no HS-BiNet
    for name, r in rows.items():
        for k in ('d_lambda', 'd_s', 'qnr'):
            assert np.isfinite(r[k]) and 0.0 <= r[k] <= 1.0, (name, k, r[k])
        assert r['qnr'] == pytest.approx(qnr(r['d_lambda'], r['d_s']))
    assert report['shapes'] == {'ms': [8, 8, 8], 'pan': [1, 32, 32], 'fused': [8, 32, 32]}
    assert report['ground_truth_used'] is False and report['mode'] == 'synthesised PAN'
    saved = json.loads((tmp_path / 'out' / 'full_resolution.json').read_text())
    assert saved['rows'] == rows
    md = (tmp_path / 'out' / 'full_resolution.md').read_text()
    assert '| Method | D_λ | D_s | QNR |' in md and '| Ideal values | 0 | 0 | 1.00 |' in md
    for label in ('bicubic (LMS)', 'bilinear', 'GSA', 'MTF-GLP'):
        assert f'| {label} | ' in md
    assert md.strip() in capsys.readouterr().out


def test_one_pattern_cube_detail_injection_is_exact_interpolation_is_not(bench, tmp_path):
    """Every band an affine map of one textured pattern S (positive slopes): PAN = a S + c, and the
    PAN degraded like the MS is exactly the HS's own intensity, so GSA and MTF-GLP recover the
    cube and their D_s is ~0, while interpolation, which injects no detail, loses S's fine
    texture: its band-PAN Q falls at the PAN scale and D_s is large. D_lambda is ~0 for all (every
    band pair is the same affine relation at both scales). Fails if D_s degrades the PAN off the
    MS's grid (the former ratio//2 phase gives GSA D_s ~0.03) or if the methods are fed a
    misregistered pair."""
    rng = np.random.default_rng(3)
    s = 3.0 * gaussian_filter(rng.standard_normal((32, 32)), 1.2, mode='wrap')
    s -= s.min() - 0.2
    cube = s[:, :, None] * np.linspace(0.5, 1.5, 8) + np.linspace(0.2, 0.6, 8)
    rows = _rows(bench.main(['--scene', _scene(tmp_path / 'one.npy', cube), '--out', str(tmp_path / 'out')]))
    for name in ('gsa', 'mtf_glp'):
        assert rows[name]['d_s'] < 1e-3, (name, rows[name])
    for name in ('bicubic', 'bilinear'):
        assert rows[name]['d_s'] > 0.1, (name, rows[name])
    assert rows['bilinear']['d_s'] > rows['gsa']['d_s']
    assert rows['bilinear']['qnr'] < rows['gsa']['qnr']
    assert max(r['d_lambda'] for r in rows.values()) < 1e-6


def test_checkpoint_adds_the_hsbinet_row_tiled(bench, small_model, tmp_path):
    ckpt = tmp_path / 'm.pt'
    torch.save({'model_config': small_model.cfg.to_dict(), 'state_dict': small_model.state_dict()}, ckpt)
    scene = _scene(tmp_path / 'cube.npy', _textured_cube(bands=small_model.cfg.bands))
    report = bench.main(['--scene', scene, '--checkpoint', str(ckpt), '--tile', '16', '--out', str(tmp_path / 'o')])
    rows = _rows(report)
    assert list(rows)[-1] == 'hsbinet'
    assert all(np.isfinite(rows['hsbinet'][k]) and 0.0 <= rows['hsbinet'][k] <= 1.0 for k in ('d_lambda', 'd_s', 'qnr'))
    assert report['tiling']['frame_pan'] == [16, 16] and report['tiling']['tiles'] > 1
    assert report['gnyq_source'].startswith('default')                       # no training data recorded
    assert '| HS-BiNet | ' in (tmp_path / 'o' / 'full_resolution.md').read_text()
