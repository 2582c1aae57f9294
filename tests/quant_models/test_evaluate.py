"""evaluate(): every baseline row scored like the model, the beats flags, the figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quant_models.data.hpc_format import read_hpc
from quant_models.data.prepare import prepare_dataset
from quant_models.evaluate import classical, evaluate, format_table
from quant_models.hsbinet import HSBiNetConfig
from quant_models.metrics import reference_metrics
from quant_models.train import TrainConfig, train

BASELINE_ROWS = ('bicubic', 'bilinear', 'gsa', 'mtf_glp')


@pytest.fixture(scope='module')
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp('ev')
    prepare_dataset('indian_pines', root / 'data', patch=32, test_patch=32, log=None)
    train(HSBiNetConfig(bands=200, hidden=8, blocks=1), TrainConfig(epochs=1, time_budget_min=None),
          root / 'data', root / 'ck', log=lambda s: None, progress=False)
    lines: list[str] = []
    report = evaluate(root / 'ck' / 'last.pt', root / 'data' / 'test.h5', root / 'ev', log=lines.append)
    return root, report, lines


def test_every_baseline_is_a_row_with_the_same_metrics(evaluated):
    root, report, lines = evaluated
    assert list(report['methods']) == ['hsbinet', *BASELINE_ROWS]
    keys = set(report['methods']['hsbinet'])
    assert {'psnr', 'cc', 'ssim', 'sam', 'ergas', 'd_lambda', 'd_s', 'qnr'} <= keys
    assert all(set(report['methods'][b]) == keys for b in BASELINE_ROWS)
    on_disk = json.loads((root / 'ev' / 'metrics.json').read_text())
    assert on_disk['methods'] == report['methods'] and on_disk['beats'] == report['beats']
    table = lines[-1]
    for name in ('HS-BiNet', *BASELINE_ROWS):  # the trained network's row is labelled by its name
        assert f'\n{name} ' in '\n' + table
    assert 'HS-BiNet beats (PSNR/SAM): bicubic ' in table
    assert report['baseline_mtf'] == {'gnyq': 0.3, 'taps': 41, 'source': 'test file attributes'}


def test_baseline_rows_are_the_baselines_on_whole_patches(evaluated):
    root, report, _ = evaluated
    data = read_hpc(root / 'data' / 'test.h5')
    fused = classical(data, 4, 0.3, 41)
    assert set(fused) == {'gsa', 'mtf_glp'} and fused['gsa'].shape == data.gt.shape
    for name, cube in fused.items():
        ref = reference_metrics(data.gt, cube, 4)
        assert report['methods'][name]['psnr'] == pytest.approx(ref['psnr'], abs=1e-9)
        assert report['methods'][name]['sam'] == pytest.approx(ref['sam'], abs=1e-9)
    # on this real scene the classical methods beat interpolation
    assert report['methods']['mtf_glp']['psnr'] > report['methods']['bicubic']['psnr'] + 0.5
    assert report['methods']['gsa']['psnr'] > report['methods']['bicubic']['psnr'] + 0.5


def test_beats_flags(evaluated):
    _, report, _ = evaluated
    m = report['methods']
    assert set(report['beats']) == set(BASELINE_ROWS)
    for base, flags in report['beats'].items():
        assert flags == {'psnr': m['hsbinet']['psnr'] > m[base]['psnr'], 'sam': m['hsbinet']['sam'] < m[base]['sam']}
    assert report['beats_bicubic'] == report['beats']['bicubic']


def test_per_band_psnr_averages_to_the_psnr(evaluated):
    _, report, _ = evaluated
    for name, curve in report['psnr_per_band'].items():
        assert len(curve) == 200
        assert np.mean(curve) == pytest.approx(report['methods'][name]['psnr'], abs=1e-9)


def test_figures(evaluated):
    root, report, _ = evaluated
    assert set(report['figures']) == {'composite', 'error_map', 'band_psnr', 'spectra', 'training'}
    for path in report['figures'].values():
        assert open(path, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    assert not list((root / 'ev').glob('.*partial*'))        # atomic writes leave no temporary file


def test_format_table_without_beats():
    row = {'psnr': 1.0, 'cc': 0.5, 'ssim': 0.5, 'sam': 2.0, 'ergas': 3.0, 'qnr': 0.9}
    assert format_table({'a': row}).splitlines()[1].startswith('a ')
    assert 'beats' not in format_table({'a': row})
