"""quant_models/jobs.py (the training-job engine) and `hsbinet sweep`, on a tiny prepared set
(64 x 64 x 8 synthetic scene, C = 8, 1 block, 1 epoch): jobs=1 (in this process) and jobs=2 (worker
processes) give identical metrics; a rerun reuses finished runs without training; another setting
in the same folder is refused; a failed job names its run and log; the sweep subcommand writes
sweep.json/sweep.md; bad input is one paragraph, exit 2, no sweep.json."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from build_flows.cli import main as cli_main
from build_flows.config import load_config
from quant_models.common import HsbinetError
from quant_models.hsbinet import HSBiNetConfig
from quant_models.jobs import KEYS, job_spec, run_jobs, stored_result

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory) -> Path:
    """train/val/test.h5 of a 64 x 64 x 8 DN-like cube (the default data settings)."""
    from quant_models.data.prepare import prepare_dataset
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float64)
    b = np.arange(8)[None, None, :]
    smooth = 0.5 + 0.3 * np.sin(xx[..., None] / 5.0 + b / 3.0) * np.cos(yy[..., None] / 7.0 - b / 5.0)
    root = tmp_path_factory.mktemp('jobs_data')
    np.save(root / 'tiny.npy', (1000.0 * (smooth + 0.1 * rng.random((64, 64, 8)))).astype(np.float32))
    prepare_dataset(str(root / 'tiny.npy'), root / 'data', seed=0, log=None, **asdict(load_config().data))
    return root / 'data'


def _specs(data_dir: Path, out: Path, seeds=(0, 1), epochs: int = 1) -> list[dict]:
    model = HSBiNetConfig(bands=8, hidden=8, blocks=1, ratio=4).validate()
    base = replace(load_config().train, epochs=epochs, threads=1)
    return [job_spec(f'seed{s}', model, replace(base, seed=s), data_dir, out / f'seed{s}', seed=s) for s in seeds]


@pytest.fixture(scope='module')
def two_workers(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp('jobs2')
    got = {}
    ran = run_jobs(_specs(data_dir, out), 2, 1, out / 'workers', lambda s, r: got.__setitem__(s['name'], r),
                   progress=False)
    return out, got, ran


def test_one_job_in_process_equals_two_worker_processes(data_dir, two_workers, tmp_path):
    out2, two, ran = two_workers
    assert ran == {'ran': ['seed0', 'seed1'], 'skipped': []}
    assert len({r['pid'] for r in two.values()}) == 2  # each ran in its own worker
    one = {}
    run_jobs(_specs(data_dir, tmp_path), 1, 1, tmp_path / 'workers', lambda s, r: one.__setitem__(s['name'], r),
             progress=False)
    for name in ('seed0', 'seed1'):
        assert one[name]['metrics'] == two[name]['metrics']  # exactly, not approximately
        assert one[name]['best_val_loss'] == two[name]['best_val_loss']
        assert set(one[name]['metrics']) == set(KEYS) and np.isfinite(list(one[name]['metrics'].values())).all()
        assert one[name]['torch_threads'] == two[name]['torch_threads'] == 1
        assert set(one[name]['classical']) >= {'bicubic', 'gsa', 'mtf_glp'}
    assert two['seed0']['metrics'] != two['seed1']['metrics']  # the seed matters
    saved = json.loads((out2 / 'seed0' / 'result.json').read_text())
    assert saved['metrics'] == two['seed0']['metrics'] and saved['best_epoch'] == 1


def test_a_rerun_reuses_finished_runs_and_refuses_another_setting(data_dir, two_workers):
    out, first, _ = two_workers
    files = [out / f'seed{s}' / f for s in (0, 1) for f in ('result.json', 'best.pt')]
    before = [p.stat().st_mtime_ns for p in files]
    again = {}
    ran = run_jobs(_specs(data_dir, out), 2, 1, out / 'workers', lambda s, r: again.__setitem__(s['name'], r),
                   progress=False)
    assert ran == {'ran': [], 'skipped': ['seed0', 'seed1']}
    assert [p.stat().st_mtime_ns for p in files] == before  # nothing retrained or rewritten
    assert {k: v['metrics'] for k, v in again.items()} == {k: v['metrics'] for k, v in first.items()}
    with pytest.raises(HsbinetError, match='another setting'):
        stored_result(_specs(data_dir, out, epochs=2)[0])


def test_a_failed_job_names_its_run_and_log(data_dir, tmp_path):
    specs = _specs(tmp_path / 'no_data', tmp_path, seeds=(0,))
    with pytest.raises(HsbinetError) as e:
        run_jobs(specs, 1, 1, tmp_path / 'workers', progress=False)
    text = e.value.paragraph()
    assert 'seed0' in text and str(tmp_path / 'workers' / 'jobs.log') in text and '\n' not in text
    assert 'Traceback' in (tmp_path / 'workers' / 'jobs.log').read_text()
    assert not (tmp_path / 'seed0' / 'result.json').exists()


def test_sweep_subcommand_runs_the_cross_product_as_parallel_jobs(data_dir, tmp_path):
    cfg = tmp_path / 'tiny.yaml'
    cfg.write_text('model: {hidden: 8, blocks: 1}\ntrain: {epochs: 1}\n')
    out = tmp_path / 'sweep'
    args = ['sweep', '--data', str(data_dir), '--out', str(out), '--config', str(cfg), '--estimators', 'atiste,ste',
            '--seeds', '0', '--hidden', '8', '--jobs', '2', '--threads', '1']
    p = subprocess.run([sys.executable, '-m', 'build_flows.cli', *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    rep = json.loads((out / 'sweep.json').read_text())
    assert [r['name'] for r in rep['runs']] == ['atiste/C8/seed0', 'ste/C8/seed0']
    for r in rep['runs']:
        assert set(r['metrics']) == set(KEYS) and r['best_epoch'] == 1 and r['torch_threads'] == 1
        assert r['spec']['model']['hidden'] == 8 and r['spec']['model']['blocks'] == 1
        assert r['train_s'] > 0 and r['train_cpu_s'] > 0 and (Path(r['run_dir']) / 'result.json').is_file()
    assert [r['spec']['model']['estimator'] for r in rep['runs']] == ['atiste', 'ste']
    assert rep['setting']['jobs'] == 2 and rep['setting']['threads_per_job'] == 1
    assert [(r['estimator'], r['hidden'], r['n']) for r in rep['rows']] == [('atiste', 8, 1), ('ste', 8, 1)]
    assert set(rep['classical']) >= {'bicubic', 'bilinear', 'gsa', 'mtf_glp'}
    md = (out / 'sweep.md').read_text()
    assert '| Method | C | Seeds | PSNR | CC | SSIM | SAM | ERGAS | Train s |' in md
    assert '| ATISTE | 8 | 1 | ' in md and '| sign-STE | 8 | 1 | ' in md and '| GSA | - | - | ' in md
    assert '| ATISTE | 8 | 1 | ' in p.stdout  # the table is printed

    # a rerun (in this process) trains nothing and reports the same numbers
    first = rep
    assert cli_main([*args[:-4], '--jobs', '1', '--threads', '1']) == 0
    rep = json.loads((out / 'sweep.json').read_text())
    assert rep['wall_s']['trainings_run_this_call'] == 0
    assert [r['metrics'] for r in rep['runs']] == [r['metrics'] for r in first['runs']]


@pytest.mark.parametrize('change, words', [
    (['--estimators', 'atiste,bogus'], 'Unknown estimator'),
    (['--hidden', '8,0'], 'Hidden width must be positive'),
    (['--data', 'MISSING'], 'Data folder not found'),
    (['--jobs', '0'], 'must be >= 1'),
])
def test_bad_sweep_input_is_one_paragraph_and_writes_nothing(data_dir, tmp_path, capsys, change, words):
    out = tmp_path / 'sweep'
    args = {'--data': str(data_dir), '--out': str(out), '--estimators': 'atiste', '--hidden': '8', '--seeds': '0',
            '--epochs': '1'}
    args.update({change[0]: str(tmp_path / change[1]) if change[1] == 'MISSING' else change[1]})
    assert cli_main(['sweep', *[x for kv in args.items() for x in kv]]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('hsbinet sweep: error: ') and words in err and '\n' not in err and 'Traceback' not in err
    assert not (out / 'sweep.json').exists() and not out.exists()
