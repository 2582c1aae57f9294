"""benchmarks/accuracy.py (the paper's Table 1 comparison): on a tiny synthetic scene, 2 rows x 2
seeds x 1 epoch, the report's rows and mean/std fields, the printed and written table, the figure,
that --jobs 1 (in this process) and --jobs 2 (worker processes) give identical metrics, and that a
finished folder is resumed, not retrained, and refused for another setting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from quant_models.common import HsbinetError
from tests.conftest import load_benchmark

KEYS = ('psnr', 'cc', 'ssim', 'sam', 'ergas')


@pytest.fixture(scope='module')
def bench():
    return load_benchmark('accuracy')


@pytest.fixture(scope='module')
def scene(tmp_path_factory) -> str:
    """(H, W, B) = 64 x 64 x 8 DN-like cube: smooth spectra varying over the scene, plus texture."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float64)
    b = np.arange(8)[None, None, :]
    smooth = 0.5 + 0.3 * np.sin(xx[..., None] / 5.0 + b / 3.0) * np.cos(yy[..., None] / 7.0 - b / 5.0)
    path = tmp_path_factory.mktemp('scene') / 'tiny.npy'
    np.save(path, (1000.0 * (smooth + 0.1 * rng.random((64, 64, 8)))).astype(np.float32))
    return str(path)


def _args(scene: str, out: Path, jobs: int, epochs: int = 1) -> list[str]:
    return ['--scenes', scene, '--rows', 'hw-atiste,hw-fp', '--seeds', '0,1', '--epochs', str(epochs),
            '--hidden', '8', '--blocks', '1', '--jobs', str(jobs), '--threads', '1', '--out', str(out)]


@pytest.fixture(scope='module')
def two_jobs(bench, scene, tmp_path_factory):
    out = tmp_path_factory.mktemp('acc2')
    return out, bench.main(_args(scene, out, jobs=2))


def test_report_rows_mean_std_table_and_figure(bench, two_jobs, capsys):
    out, report = two_jobs
    assert report['setting']['seeds'] == [0, 1] and report['setting']['epochs'] == 1
    assert report['setting']['jobs'] == 2 and report['setting']['threads_per_job'] == 1
    rows = report['scenes']['tiny']['rows']
    assert set(rows) == {'hw-atiste', 'hw-fp', 'gsa', 'mtf_glp', 'bicubic', 'bilinear'}
    for name in ('hw-atiste', 'hw-fp'):
        r = rows[name]
        assert r['n'] == 2 and r['seeds'] == [0, 1] and len(r['runs']) == 2
        assert all(run['torch_threads'] == 1 and run['epochs_completed'] == 1 for run in r['runs'])
        for k in KEYS:
            vals = [run['metrics'][k] for run in r['runs']]
            assert r['values'][k] == vals and np.isfinite(vals).all()
            assert r['mean'][k] == pytest.approx(np.mean(vals))
            assert r['std'][k] == pytest.approx(np.std(vals, ddof=1))
    assert rows['gsa']['n'] == 1 and report['scenes']['tiny']['classical_identical_in_every_run']
    assert rows['hw-atiste']['runs'][0]['metrics'] != rows['hw-fp']['runs'][0]['metrics']  # binary vs twin
    g = report['goals']['tiny']
    assert set(g['binary_vs_fp']) >= {'psnr_gap_db', 'sam_gap_deg', 'met'}
    assert set(g['beats']) == {'hw-atiste', 'hw-fp'} and set(g['beats']['hw-fp']) == {'gsa', 'mtf_glp', 'bicubic'}
    saved = json.loads((out / 'accuracy.json').read_text())
    assert saved['scenes']['tiny']['rows']['hw-fp']['mean'] == rows['hw-fp']['mean']
    md = (out / 'accuracy.md').read_text()
    assert '| Category | Method | Type | PSNR | CC | SSIM | SAM | ERGAS |' in md
    assert '| Binary | HS-BiNet hardware + ATISTE | S | ' in md and ' ± ' in md and '| Ideal values |' in md
    assert (out / 'accuracy.png').stat().st_size > 0
    assert all((out / 'tiny' / row / f'seed{s}' / 'result.json').is_file() for row in ('hw-atiste', 'hw-fp')
               for s in (0, 1))


def test_one_job_in_process_equals_two_worker_processes(bench, scene, two_jobs, tmp_path, capsys):
    _, two = two_jobs
    one = bench.main(_args(scene, tmp_path, jobs=1))
    assert one['setting']['jobs'] == 1
    for name in ('hw-atiste', 'hw-fp'):
        a = two['scenes']['tiny']['rows'][name]['runs']
        b = one['scenes']['tiny']['rows'][name]['runs']
        assert [r['metrics'] for r in a] == [r['metrics'] for r in b]  # exactly, not approximately
    out = capsys.readouterr().out
    assert '| Category | Method | Type | PSNR | CC | SSIM | SAM | ERGAS |' in out and 'Goals' in out


def test_a_finished_folder_is_resumed_and_another_setting_refused(bench, scene, two_jobs):
    out, first = two_jobs
    again = bench.main(_args(scene, out, jobs=2))
    assert again['wall_s']['trainings_run_this_call'] == 0
    assert again['scenes']['tiny']['rows']['hw-atiste']['mean'] == first['scenes']['tiny']['rows']['hw-atiste']['mean']
    with pytest.raises(HsbinetError, match='another setting'):
        bench.main(_args(scene, out, jobs=2, epochs=2))
