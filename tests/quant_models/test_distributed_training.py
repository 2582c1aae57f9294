"""DDP training through `hsbinet train` under torchrun: 2 CPU processes (gloo) on the same global
batch follow the 1-process loss curve; their checkpoints are the 1-process format; --resume works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from build_flows.cli import main
from quant_models.common import HsbinetError
from quant_models.data.prepare import prepare_dataset
from quant_models.distributed import Dist, check_batch_size, rank_batch_sampler
from quant_models.train import load_checkpoint, model_from_checkpoint

GLOO = dist.is_available() and dist.is_gloo_available()
needs_gloo = pytest.mark.skipif(not GLOO, reason='torch.distributed with the gloo backend is not available in this '
                                'torch build (needed for 2 CPU training processes)')
CONFIG = ('model: {hidden: 8, blocks: 1}\n'
          'train: {epochs: 2, batch_size: 4, t0: 1, t_mult: 1, seed: 7, threads: 1, device: cpu}\n')
ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures('restore_torch_threads')  # tests/conftest.py


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('ddp')
    np.save(root / 'scene.npy', np.random.default_rng(1).random((64, 64, 5)).astype(np.float32))
    summary = prepare_dataset(str(root / 'scene.npy'), root / 'data', stride=8, log=None)
    # 21 patches, batch 4: five global batches split 2 + 2 over the ranks, and a last one of 1 patch
    assert summary['patch_counts']['train'] == 21
    (root / 'cfg.yaml').write_text(CONFIG)
    return root


def _torchrun(tiny, out, *flags):
    env = {k: v for k, v in os.environ.items() if k not in ('WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'MASTER_ADDR',
                                                            'MASTER_PORT')}
    env['OMP_NUM_THREADS'] = '1'  # train.device: cpu, so gloo even where a GPU is present
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
           '-m', 'build_flows.cli', 'train', '--data', str(tiny / 'data'), '--out', str(out),
           '--config', str(tiny / 'cfg.yaml'), *flags]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _curve(ckpt, key):
    return np.array([h[key] for h in ckpt['history']])


def test_rank_slices_make_the_1_process_batches():
    n, bs = 21, 4
    one = [b.tolist() for b in DataLoader(range(n), batch_size=bs, shuffle=True,
                                          generator=torch.Generator().manual_seed(5))]
    parts = []
    for rank in (0, 1):
        g = torch.Generator().manual_seed(5)
        parts.append([b.tolist() for b in DataLoader(range(n), batch_sampler=rank_batch_sampler(
            range(n), bs, g, Dist(world_size=2, rank=rank)), generator=g)])
    assert [a + b for a, b in zip(parts[0], parts[1])][:-1] == one[:-1]  # full batches: contiguous halves
    assert parts[0][-1] == parts[1][-1] == one[-1] and len(one[-1]) == 1  # the partial batch: whole, on both


def test_batch_must_split_over_the_ranks():
    check_batch_size(4, 2)
    with pytest.raises(HsbinetError) as e:
        check_batch_size(3, 2)
    p = e.value.paragraph()
    assert 'Key: train.batch_size.' in p and 'multiple of the world size 2' in p and 'Found: 3.' in p


@needs_gloo
def test_two_processes_follow_the_one_process_curve_and_resume(tiny, tmp_path, capsys):
    assert main(['train', '--data', str(tiny / 'data'), '--out', str(tmp_path / 'one'),
                 '--config', str(tiny / 'cfg.yaml')]) == 0
    capsys.readouterr()
    one = load_checkpoint(tmp_path / 'one' / 'last.pt')

    # 2 processes, interrupted after epoch 1 (the safety cap), then --resume on every rank from
    # last.pt (two launches keep the test short; the resumed curve is compared with 1 process:
    # a resume that lost e.g. Adam's state moves epoch 2's train loss by 7.6e-4 relative).
    out = tmp_path / 'two'
    cut = _torchrun(tiny, out, '--time-budget', '1e-9')
    assert '2 processes (DDP, gloo): global batch 4 = 2 x 2' in cut.stdout
    assert 'stopped_by: time_budget' in cut.stdout and cut.stdout.count('epoch 1/2  train') == 1  # rank 0 logs
    first = load_checkpoint(out / 'last.pt')
    assert first['epoch'] == 0 and first['stopped_by'] == 'time_budget'
    assert sorted(p.name for p in out.iterdir()) == ['best.pt', 'last.pt']
    res = _torchrun(tiny, out, '--resume')
    assert 'resuming from' in res.stdout and 'at epoch 2/2' in res.stdout
    two = load_checkpoint(out / 'last.pt')
    assert two['epoch'] == 1 and two['stopped_by'] == 'epochs'
    assert two['history'][0] == first['history'][0]

    # Same global batch, synchronised BN: the curves agree within float summation-order noise
    # (measured: train loss 1.7e-8 relative; validation 1.4e-4, since the hardware profile's eval
    # rounds the BN affine to 2^-8, which amplifies float noise in the weights).
    assert _curve(one, 'epoch').tolist() == _curve(two, 'epoch').tolist() == [1, 2]
    assert np.allclose(_curve(two, 'train_loss'), _curve(one, 'train_loss'), rtol=1e-4, atol=0)
    assert np.allclose(_curve(two, 'val_loss'), _curve(one, 'val_loss'), rtol=1e-3, atol=0)
    assert _curve(two, 'lr').tolist() == _curve(one, 'lr').tolist()
    # The checkpoint is the 1-process format (no DDP 'module.' prefix) and loads into the model.
    a, b = one['state_dict'], two['state_dict']
    assert list(a) == list(b) and all(a[k].shape == b[k].shape and a[k].dtype == b[k].dtype for k in a)
    assert set(one) == set(two) and one['optimizer'].keys() == two['optimizer'].keys()
    model_from_checkpoint(two)
    # Adam turns float noise in near-zero gradients into steps of about lr, so a few weights
    # drift (the same happens between 1 and 2 torch threads in one process): nearly all agree.
    diffs = torch.cat([(a[k].double() - b[k].double()).abs().flatten() for k in a if a[k].is_floating_point()])
    assert (diffs > 1e-5).double().mean().item() < 0.01 and diffs.max().item() < 0.05
