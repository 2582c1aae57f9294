"""Training loop (paper recipe by default): L1 loss, Adam(lr 1e-3, wd 1e-5), cosine annealing with
warm restarts (T0 50, Tmult 2, eta_min 1e-5, stepped once per epoch), batch 4.

The budget is a number of epochs (``epochs``), so a result does not depend on machine load; the
cosine schedule counts the same epochs (restart cycles end at epochs T0, T0 + T0*Tmult, ...; the
log says whether the budget ends at a cycle end). ``time_budget_min`` is an optional safety
cap (null by default): if it stops the run, the result's ``stopped_by`` is ``'time_budget'``,
the last history entry says so and the log line too. Augmentation: the 8 dihedral
flips/rotations when train.h5 records ``augment: dihedral8`` (``data.augment``), drawn per
(seed, epoch, patch) (:class:`quant_models.data.dataset.PanDataset`).

A checkpoint is written atomically after every epoch (``last.pt``; ``best.pt`` on a new best
validation loss). ``resume=True`` continues from ``last.pt``; shuffling is seeded per epoch from
(seed, epoch), so an interrupted-and-resumed run reproduces the uninterrupted run exactly.

Several processes (``torchrun --nproc_per_node N -m build_flows.cli train ...``): torch DDP, each
rank a ``batch_size / N`` slice of the same global batch, BatchNorm statistics synchronised
(:mod:`quant_models.distributed`), so the loss curve is the 1-process one up to float summation
order; rank 0 validates, logs and writes the checkpoints (the 1-process format), every rank
resumes from ``last.pt``. ``device`` (``auto``: CUDA when torch sees a GPU) and ``amp`` (bf16
autocast of the training forward; null: on with CUDA, off on the CPU, where results stay exact).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from quant_models import distributed as ddp
from quant_models.data.dataset import PanDataset
from quant_models.common import HsbinetError, atomic_write
from quant_models.estimators import set_estimator_progress
from quant_models.archs import build_model, model_config_from_dict
from quant_models.hsbinet import HSBiNet, HSBiNetConfig

CHECKPOINT_VERSION = 1


@dataclass
class TrainConfig:
    epochs: int = 1600  # the paper's; configs/default.yaml sets the CPU demo's budget
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-5
    t0: int = 50
    t_mult: int = 2
    eta_min: float = 1e-5
    loss: str = 'l1'
    seed: int = 0
    time_budget_min: float | None = None  # optional safety cap: stop after the epoch that passes it
    threads: int | None = None
    device: str = 'auto'  # 'auto' (CUDA when available), 'cpu' or 'cuda' (cuda:LOCAL_RANK under torchrun)
    amp: bool | None = None  # bf16 autocast of the training forward; null: on with CUDA, off on the CPU

    def validate(self) -> 'TrainConfig':
        if self.loss not in ('l1', 'l2'):
            raise HsbinetError('Unknown loss', key='train.loss', expected="'l1' or 'l2'", found=repr(self.loss))
        for k in ('epochs', 'batch_size', 't0', 't_mult'):
            if int(getattr(self, k)) < 1:
                raise HsbinetError('Training setting must be >= 1', key=f'train.{k}', expected='>= 1',
                                   found=repr(getattr(self, k)))
        if self.time_budget_min is not None and not self.time_budget_min > 0:
            raise HsbinetError('Training setting out of range', key='train.time_budget_min',
                               expected='minutes > 0, or null for no cap', found=repr(self.time_budget_min))
        if not (self.lr > 0 and self.eta_min >= 0 and self.weight_decay >= 0):
            raise HsbinetError('Training setting out of range', key='train.lr/eta_min/weight_decay',
                               expected='lr > 0, eta_min >= 0, weight_decay >= 0',
                               found=repr((self.lr, self.eta_min, self.weight_decay)))
        if self.device not in ('auto', 'cpu', 'cuda'):
            raise HsbinetError('Unknown training device', key='train.device', expected="'auto', 'cpu' or 'cuda'",
                               found=repr(self.device))
        return self


def restart_epochs(t0: int, t_mult: int, epochs: int) -> list[int]:
    """Epochs after which the cosine warm-restart cycles end, up to ``epochs``."""
    ends, end, t = [], 0, t0
    while end + t <= epochs:
        end += t
        ends.append(end)
        t *= t_mult
    return ends


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _atomic_save(obj, path: Path) -> None:
    atomic_write(path, lambda p: torch.save(obj, p))


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint written by :func:`train` (CPU), with a clear error for a wrong file."""
    path = Path(path)
    if not path.is_file():
        raise HsbinetError('Checkpoint not found', file=str(path), hint='pass the last.pt or best.pt '
                           'written by `hsbinet train`')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise HsbinetError('Checkpoint could not be read', file=str(path), found=f'{type(e).__name__}: {e}') from None
    if not isinstance(ckpt, dict) or 'model_config' not in ckpt or 'state_dict' not in ckpt:
        raise HsbinetError('Not an hsbinet checkpoint', file=str(path), key='model_config/state_dict',
                           expected='a dict written by `hsbinet train`', found=type(ckpt).__name__)
    return ckpt


def model_from_checkpoint(path_or_ckpt) -> HSBiNet:
    """Rebuild the model of a checkpoint in eval mode."""
    ckpt = path_or_ckpt if isinstance(path_or_ckpt, dict) else load_checkpoint(path_or_ckpt)
    model = build_model(model_config_from_dict(ckpt['model_config']))
    model.load_state_dict(ckpt['state_dict'])
    return model.eval()


def _loss_fn(name: str):
    return torch.nn.L1Loss() if name == 'l1' else torch.nn.MSELoss()


def evaluate_loss(model: HSBiNet, loader: DataLoader, loss_name: str, device: torch.device | None = None) -> float:
    model.eval()
    fn, total, n = _loss_fn(loss_name), 0.0, 0
    with torch.no_grad():
        for b in loader:
            if device is not None:
                b = {k: v.to(device) for k, v in b.items()}
            out = model(b['ms'], b['pan'])
            total += fn(out, b['gt']).item() * b['gt'].shape[0]
            n += b['gt'].shape[0]
    return total / max(n, 1)


def train(model_cfg: HSBiNetConfig, train_cfg: TrainConfig, data_dir: str | Path, out_dir: str | Path,
          resume: bool = False, stop_after_epochs: int | None = None,
          log: Callable[[str], None] = print, progress: bool = True, log_every: int = 50) -> dict:
    """Train HS-BiNet on ``data_dir``/train.h5 (validation on val.h5); checkpoints in ``out_dir``.

    ``stop_after_epochs`` stops after that many epochs of *this call* (used to simulate an
    interruption); ``train_cfg.time_budget_min`` stops after the epoch that exceeds the budget.
    Returns a summary dict (epochs run, best val loss, history, checkpoint paths, throughput).
    Under torchrun (``WORLD_SIZE > 1``) every rank calls it and gets the same summary; only rank 0
    logs, shows progress and writes files.
    """
    train_cfg.validate()
    dd = ddp.setup(train_cfg.device)
    try:
        return _train(model_cfg, train_cfg, data_dir, out_dir, resume, stop_after_epochs, log, progress, log_every, dd)
    finally:
        ddp.teardown(dd)


def _train(model_cfg: HSBiNetConfig, train_cfg: TrainConfig, data_dir: str | Path, out_dir: str | Path,
           resume: bool, stop_after_epochs: int | None, log: Callable[[str], None], progress: bool, log_every: int,
           dd: ddp.Dist) -> dict:
    if dd.active:
        ddp.check_batch_size(train_cfg.batch_size, dd.world_size)
        if not dd.is_main:
            log, progress = (lambda _m: None), False
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    train_set = PanDataset(data_dir / 'train.h5', seed=train_cfg.seed)
    train_set.augment = train_set.set.attrs.get('augment') == 'dihedral8'
    val_set = PanDataset(data_dir / 'val.h5')
    bands = train_set[0]['ms'].shape[0]
    if model_cfg.bands != bands:
        raise HsbinetError('Band count of the model and the data disagree', file=str(data_dir / 'train.h5'),
                           key='MS', expected=f'{model_cfg.bands} bands (model.bands)', found=f'{bands} bands')
    ratio = train_set[0]['pan'].shape[-1] // train_set[0]['ms'].shape[-1]
    if model_cfg.ratio != ratio:
        raise HsbinetError('Ratio of the model and the data disagree', file=str(data_dir / 'train.h5'),
                           key='PAN/MS', expected=f'ratio {model_cfg.ratio} (model.ratio)', found=f'ratio {ratio}')

    seed_everything(train_cfg.seed)
    model = build_model(model_cfg)
    start_epoch, history, best_val = 0, [], math.inf
    last, best = out_dir / 'last.pt', out_dir / 'best.pt'
    ckpt = None
    if resume:
        if not last.is_file():
            raise HsbinetError('Nothing to resume', file=str(last), hint='run `hsbinet train` without --resume first')
        ckpt = load_checkpoint(last)
        if ckpt['model_config'] != model_cfg.to_dict():
            raise HsbinetError('The checkpoint was trained with another model configuration', file=str(last),
                               key='model', expected=str(model_cfg.to_dict()), found=str(ckpt['model_config']))
        # Load the model BEFORE creating the optimizer: Brevitas rebuilds its quantizer modules (and
        # with them the estimator's alpha/lam Parameters) in load_state_dict, so an optimizer made
        # earlier would keep updating orphaned tensors.
        model.load_state_dict(ckpt['state_dict'])
    else:
        model.init_from_data(torch.from_numpy(train_set.set.pan))
    opt = torch.optim.Adam(model.parameters(), lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=train_cfg.t0, T_mult=train_cfg.t_mult,
                                                                 eta_min=train_cfg.eta_min)
    # model.to() keeps the Parameter objects (the optimizer's), and must come before the optimizer
    # state is loaded (Optimizer.load_state_dict moves the state to the parameters' device).
    dev = dd.device
    model.to(dev)
    net = ddp.wrap(model, dd) if dd.active else model  # `model` (unwrapped) is what is evaluated and saved
    amp = train_cfg.amp if train_cfg.amp is not None else dev.type == 'cuda'
    # bf16 autocast (no GradScaler needed). Written for CUDA, not run on a GPU by the test suite.
    autocast = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if amp else contextlib.nullcontext
    portable = (lambda obj: obj) if dev.type == 'cpu' else ddp.to_cpu  # checkpoints hold CPU tensors
    if ckpt is not None:
        opt.load_state_dict(ckpt['optimizer'])
        sched.load_state_dict(ckpt['scheduler'])
        start_epoch, history, best_val = ckpt['epoch'] + 1, ckpt['history'], ckpt['best_val']
        log(f'resuming from {last} at epoch {start_epoch + 1}/{train_cfg.epochs}')

    val_loader = DataLoader(val_set, batch_size=train_cfg.batch_size, shuffle=False)
    steps_per_epoch = math.ceil(len(train_set) / train_cfg.batch_size)
    ends = restart_epochs(train_cfg.t0, train_cfg.t_mult, train_cfg.epochs)
    log(f'budget {train_cfg.epochs} epochs x {steps_per_epoch} steps ({len(train_set)} patches, batch '
        f'{train_cfg.batch_size}) = {train_cfg.epochs * steps_per_epoch} steps; augmentation '
        f'{"8 dihedral flips/rotations" if train_set.augment else "none"}; cosine restarts (T0 {train_cfg.t0}, '
        f'Tmult {train_cfg.t_mult}) end at epochs {ends or "none"}'
        + ('' if ends and ends[-1] == train_cfg.epochs else ': the budget ends mid-cycle')
        + (f'; safety cap {train_cfg.time_budget_min} min' if train_cfg.time_budget_min is not None else ''))
    where = f'device {dev}; mixed precision {"bf16 autocast" if amp else "off"}'
    if dd.active:
        log(f'{dd.world_size} processes (DDP, {"nccl" if dev.type == "cuda" else "gloo"}): global batch '
            f'{train_cfg.batch_size} = {dd.world_size} x {train_cfg.batch_size // dd.world_size}; {where} (rank 0)')
    elif dev.type != 'cpu' or amp:
        log(where)
    stopped_by = 'epochs'
    loss_fn = _loss_fn(train_cfg.loss)
    t_start, patches_seen, train_time = time.time(), 0, 0.0
    epochs_this_call = 0
    epochs = tqdm(range(start_epoch, train_cfg.epochs), desc='training', unit='epoch', disable=not progress,
                  initial=start_epoch, total=train_cfg.epochs)
    for epoch in epochs:
        model.train()
        set_estimator_progress(model, epoch, train_cfg.epochs)
        train_set.set_epoch(epoch)
        gen = torch.Generator().manual_seed(train_cfg.seed * 100003 + epoch)
        if dd.active:  # the same permutation and global batches; this rank's slice of each
            loader = DataLoader(train_set, batch_sampler=ddp.rank_batch_sampler(train_set, train_cfg.batch_size,
                                                                                 gen, dd), generator=gen)
        else:
            loader = DataLoader(train_set, batch_size=train_cfg.batch_size, shuffle=True, generator=gen)
        t0, total = time.time(), 0.0
        for step, b in enumerate(loader):
            # a full global batch is split over the ranks (BN statistics synchronised); the last,
            # partial one is computed whole on every rank (its loss counted once)
            split = dd.active and (step + 1) * train_cfg.batch_size <= len(train_set)
            n_global = b['gt'].shape[0] * (dd.world_size if split else 1)
            b = {k: v.to(dev) for k, v in b.items()}
            opt.zero_grad(set_to_none=True)
            with autocast(), ddp.batch_norm_sync(split):
                out = net(b['ms'], b['pan'])
            loss = loss_fn(out.float() if amp else out, b['gt'])
            loss.backward()
            opt.step()
            if split or dd.is_main:
                total += loss.item() * b['gt'].shape[0]
            patches_seen += n_global
        total = dd.all_sum(total)
        train_time += time.time() - t0
        lr = opt.param_groups[0]['lr']
        sched.step()
        val = evaluate_loss(model, val_loader, train_cfg.loss, dev) if dd.is_main else 0.0
        if dd.active:  # validated on rank 0 only
            val = dd.from_main(val)[0]
        history.append({'epoch': epoch + 1, 'train_loss': total / len(train_set), 'val_loss': val, 'lr': lr,
                        'seconds': round(time.time() - t0, 3)})
        epochs_this_call += 1
        budget_hit = (train_cfg.time_budget_min is not None and epoch + 1 < train_cfg.epochs
                      and time.time() - t_start > 60 * train_cfg.time_budget_min)
        if dd.active:  # rank 0's clock decides for every rank
            budget_hit = bool(dd.from_main(float(budget_hit))[0])
        if budget_hit:
            stopped_by = 'time_budget'
            history[-1]['stopped_by'] = 'time_budget'
        elif stop_after_epochs is not None and epochs_this_call >= stop_after_epochs and epoch + 1 < train_cfg.epochs:
            stopped_by = 'stop_after_epochs'
        if dd.is_main:
            state = {'version': CHECKPOINT_VERSION, 'model_config': model_cfg.to_dict(),
                     'train_config': asdict(train_cfg), 'state_dict': portable(model.state_dict()),
                     'optimizer': portable(opt.state_dict()), 'scheduler': sched.state_dict(), 'epoch': epoch,
                     'history': history, 'best_val': min(best_val, val), 'data_dir': str(data_dir),
                     'stopped_by': stopped_by}
            _atomic_save(state, last)
            if val < best_val:
                _atomic_save(state, best)
        if val < best_val:
            best_val = val
        dd.barrier()  # the other ranks wait for rank 0's checkpoint
        epochs.set_postfix(train=f'{history[-1]["train_loss"]:.5f}', val=f'{val:.5f}', best=f'{best_val:.5f}',
                           lr=f'{lr:.1e}')
        if (epoch + 1) % log_every == 0 or budget_hit or epoch + 1 == train_cfg.epochs:
            log(f'epoch {epoch + 1}/{train_cfg.epochs}  train {history[-1]["train_loss"]:.5f}  val {val:.5f}  '
                f'best {best_val:.5f}  lr {lr:.2e}')
        if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs:
            break
        if budget_hit:
            log(f'safety cap train.time_budget_min = {train_cfg.time_budget_min} min reached after epoch '
                f'{epoch + 1}/{train_cfg.epochs}: stopping early (stopped_by: time_budget; the result depends on '
                f'machine load)')
            break
    epochs.close()
    return {'epochs_completed': len(history), 'best_val_loss': best_val, 'history': history,
            'stopped_by': stopped_by, 'epochs_budget': train_cfg.epochs, 'steps_per_epoch': steps_per_epoch,
            'augment': train_set.augment,
            'last': str(last), 'best': str(best if best.is_file() else last),
            'train_patches_per_s': patches_seen / train_time if train_time else None}
