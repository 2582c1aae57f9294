"""Training is reproducible: an epoch budget, seeded shuffling and augmentation, a reported safety cap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quant_models.common import HsbinetError
from quant_models.data.prepare import prepare_dataset
from quant_models.hsbinet import HSBiNetConfig
from quant_models.train import TrainConfig, load_checkpoint, restart_epochs, train

MODEL = HSBiNetConfig(bands=5, hidden=8, blocks=1)
# one torch thread: on a shared 2-core machine, 2 OpenMP threads run ~8x slower under load


pytestmark = pytest.mark.usefixtures('restore_torch_threads')  # tests/conftest.py


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny')
    np.save(root / 'scene.npy', np.random.default_rng(1).random((64, 64, 5)).astype(np.float32))
    summary = prepare_dataset(str(root / 'scene.npy'), root / 'data', stride=8, log=None)
    assert summary['augment'] == 'dihedral8' and summary['patch_counts']['train'] == 21
    return root / 'data'


def _losses(result):
    return [(h['epoch'], h['train_loss'], h['val_loss'], h['lr']) for h in result['history']]


def test_same_seed_same_history(tiny_data, tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=4, t0=1, t_mult=1, seed=7, threads=1)
    lines: list[str] = []
    a = train(MODEL, cfg, tiny_data, tmp_path / 'a', progress=False, log=lines.append)
    b = train(MODEL, cfg, tiny_data, tmp_path / 'b', progress=False, log=lambda _m: None)
    assert _losses(a) == _losses(b)
    assert a['stopped_by'] == 'epochs' and a['augment'] is True and a['steps_per_epoch'] == 6
    assert any('budget 2 epochs x 6 steps' in line and '8 dihedral' in line and 'end at epochs [1, 2]' in line
               for line in lines)
    assert load_checkpoint(a['last'])['stopped_by'] == 'epochs'


def test_time_budget_cap_is_reported(tiny_data, tmp_path):
    cfg = TrainConfig(epochs=3, t0=1, t_mult=1, time_budget_min=1e-9, threads=1)
    lines: list[str] = []
    r = train(MODEL, cfg, tiny_data, tmp_path / 'c', progress=False, log=lines.append)
    assert r['epochs_completed'] == 1 and r['stopped_by'] == 'time_budget'
    assert r['history'][-1]['stopped_by'] == 'time_budget'
    assert load_checkpoint(r['last'])['stopped_by'] == 'time_budget'
    assert any('stopped_by: time_budget' in line for line in lines)


def test_restart_epochs_and_checks():
    assert restart_epochs(10, 2, 70) == [10, 30, 70]
    assert restart_epochs(50, 2, 70) == [50]
    with pytest.raises(HsbinetError):
        TrainConfig(time_budget_min=0).validate()


def test_resume_reproduces_with_augmentation(tiny_data, tmp_path):
    cfg = TrainConfig(epochs=2, t0=1, t_mult=1, seed=7, threads=1)
    quiet = {'log': lambda _m: None, 'progress': False}
    full = train(MODEL, cfg, tiny_data, tmp_path / 'full', **quiet)
    cut = train(MODEL, cfg, tiny_data, tmp_path / 'cut', stop_after_epochs=1, **quiet)
    assert cut['stopped_by'] == 'stop_after_epochs'
    resumed = train(MODEL, cfg, tiny_data, tmp_path / 'cut', resume=True, **quiet)
    assert resumed['stopped_by'] == 'epochs'
    assert _losses(resumed) == _losses(full)
