"""Data-parallel training with torch DDP, launched by ``torchrun`` through ``hsbinet train``.

``torchrun --nproc_per_node N -m build_flows.cli train ...`` starts N copies of the command; each
finds ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in its environment and :func:`setup` joins them in a
process group (gloo on CPU, nccl on CUDA, device ``cuda:LOCAL_RANK``). Without those variables (or
with ``WORLD_SIZE=1``) nothing here is used and training is the 1-process code path unchanged.

Same global batch, same result: ``train.batch_size`` stays the *global* batch. Every rank draws
the same seeded permutation as the 1-process run (the very ``RandomSampler``/``BatchSampler``
pair that ``DataLoader(shuffle=True)`` builds, on the same generator) and takes its contiguous
``batch_size / world_size`` slice of each full global batch (:class:`RankBatches`). The last,
partial batch of an epoch (fewer patches than the global batch) is computed whole on every rank:
its gradient is then the same on every rank and DDP's average of it is the 1-process gradient.
BatchNorm statistics are those of the global batch (:func:`sync_batch_norm`, used by
:class:`quant_models.layers.FixedPointBN` in training mode inside :func:`batch_norm_sync`), so the
averaged gradient equals the 1-process gradient up to the order of float summations.

Not ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``: it replaces every BatchNorm by a plain
``SyncBatchNorm`` and would drop FixedPointBN's fixed-point eval forward (and its ``frac_bits``).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import BatchSampler, RandomSampler

from quant_models.common import HsbinetError


def launched_world_size() -> int:
    """``WORLD_SIZE`` set by torchrun (1 when absent)."""
    try:
        return int(os.environ.get('WORLD_SIZE', '1') or 1)
    except ValueError:
        raise HsbinetError('WORLD_SIZE is not an integer', key='WORLD_SIZE', expected='the number of processes '
                           'torchrun started', found=repr(os.environ.get('WORLD_SIZE'))) from None


@dataclass
class Dist:
    """Where this process trains: rank and world size, device, whether it created the group."""
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    device: torch.device = torch.device('cpu')
    created: bool = False

    @property
    def active(self) -> bool:
        """True when more than one process trains together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that logs, shows progress and writes checkpoints."""
        return self.rank == 0

    def _comm_device(self) -> torch.device:
        return self.device if dist.get_backend() == 'nccl' else torch.device('cpu')

    def all_sum(self, value: float) -> float:
        """Sum of ``value`` over every rank (float64)."""
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t)
        return float(t.item())

    def from_main(self, *values: float) -> tuple[float, ...]:
        """Rank 0's ``values`` on every rank (decisions every rank must take alike)."""
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self._comm_device())
        dist.broadcast(t, src=0)
        return tuple(float(v) for v in t.tolist())

    def barrier(self) -> None:
        if self.active:
            if dist.get_backend() == 'nccl':
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()


def _device(pref: str, local_rank: int) -> torch.device:
    if pref not in ('auto', 'cpu', 'cuda'):
        raise HsbinetError('Unknown training device', key='train.device', expected="'auto', 'cpu' or 'cuda'",
                           found=repr(pref))
    cuda = torch.cuda.is_available()
    if pref == 'cuda' and not cuda:
        raise HsbinetError('CUDA is not available to torch', key='train.device', expected="a CUDA build of torch "
                           "and a GPU for 'cuda' ('auto' falls back to the CPU)",
                           found=f'torch {torch.__version__}, torch.cuda.is_available() False',
                           hint='README.md, "Distributed training", says how to install a CUDA torch')
    if pref == 'cpu' or not cuda:
        return torch.device('cpu')
    n = torch.cuda.device_count()
    if local_rank >= n:
        raise HsbinetError('More processes on this node than GPUs', key='LOCAL_RANK',
                           expected=f'at most {n} processes per node (torchrun --nproc_per_node)',
                           found=f'LOCAL_RANK {local_rank}')
    return torch.device('cuda', local_rank)


def setup(device: str = 'auto') -> Dist:
    """This process's :class:`Dist`: joins the torchrun process group when ``WORLD_SIZE > 1``.

    A group that is already initialised (by the caller) is used as it is and left to the caller.
    """
    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else launched_world_size()
    if world <= 1:
        return Dist(device=_device(device, 0))
    if not dist.is_available():
        raise HsbinetError('torch.distributed is not available in this torch build', key='WORLD_SIZE',
                           expected='1 (a plain `hsbinet train`)', found=str(world))
    local_rank = int(os.environ.get('LOCAL_RANK', '0'))
    dev = _device(device, local_rank)
    created = False
    if not dist.is_initialized():
        backend = 'nccl' if dev.type == 'cuda' else 'gloo'
        if backend == 'gloo' and not dist.is_gloo_available():
            raise HsbinetError('The gloo backend of torch.distributed is not available', key='WORLD_SIZE',
                               expected='a torch build with gloo for CPU training over processes', found=str(world))
        if dev.type == 'cuda':
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend, **({'device_id': dev} if dev.type == 'cuda' else {}))
        created = True
    return Dist(world_size=dist.get_world_size(), rank=dist.get_rank(), local_rank=local_rank, device=dev,
                created=created)


def teardown(d: Dist) -> None:
    """Destroy the process group if :func:`setup` created it."""
    if d.created and dist.is_initialized():
        dist.destroy_process_group()


def check_batch_size(batch_size: int, world_size: int) -> None:
    """The global batch must split evenly over the processes."""
    if batch_size % world_size:
        raise HsbinetError('The global batch does not split evenly over the training processes',
                           key='train.batch_size', expected=f'a multiple of the world size {world_size} (torchrun '
                           f'--nproc_per_node x nodes; train.batch_size is the global batch)', found=str(batch_size))


class RankBatches:
    """This rank's part of each global batch of ``batches`` (a ``BatchSampler``).

    A full global batch: the contiguous slice ``[rank * k, (rank + 1) * k)``, ``k = batch_size /
    world_size``. A partial one (the epoch's last, fewer patches than ``batch_size``): all of it.
    """

    def __init__(self, batches: BatchSampler, rank: int, world_size: int):
        self.batches, self.rank, self.world_size = batches, rank, world_size

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        bs, k = self.batches.batch_size, self.batches.batch_size // self.world_size
        for idx in self.batches:
            yield idx[self.rank * k:(self.rank + 1) * k] if len(idx) == bs else idx


def rank_batch_sampler(dataset, batch_size: int, generator: torch.Generator, d: Dist) -> RankBatches:
    """The batch sampler ``DataLoader(dataset, batch_size, shuffle=True, generator=generator)`` uses,
    cut to this rank's part (pass ``generator`` to the DataLoader too: it draws its base seed from it
    before the permutation, as the 1-process loader does)."""
    return RankBatches(BatchSampler(RandomSampler(dataset, generator=generator), batch_size, drop_last=False),
                       d.rank, d.world_size)


def wrap(model: nn.Module, d: Dist) -> nn.Module:
    """``model`` in DistributedDataParallel (every parameter gets a gradient: no unused-parameter
    search). Buffers are synchronised once, at the start, not before every forward: the BN running
    statistics come from the all-reduced batch statistics, the same on every rank, and only rank 0's
    model is evaluated and saved."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    no_sync = {'forward_sync_buffers': False} if 'forward_sync_buffers' in params else {'broadcast_buffers': False}
    return DistributedDataParallel(model, device_ids=[d.device.index] if d.device.type == 'cuda' else None, **no_sync)


class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks; the gradient of every rank's input is the sum of every rank's gradient."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        y = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        g = g.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(g)
        return g


def all_reduce_sum(x: Tensor) -> Tensor:
    """Differentiable all-reduce (sum) over the default process group."""
    return _AllReduceSum.apply(x)


_BN_SYNC = False


@contextlib.contextmanager
def batch_norm_sync(enabled: bool = True):
    """Inside: FixedPointBN in training mode uses the batch statistics of every rank's batch."""
    global _BN_SYNC
    before, _BN_SYNC = _BN_SYNC, bool(enabled)
    try:
        yield
    finally:
        _BN_SYNC = before


def bn_sync_active() -> bool:
    """Whether training-mode BatchNorm must synchronise its batch statistics now."""
    return _BN_SYNC and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def sync_batch_norm(bn: nn.BatchNorm2d, x: Tensor) -> Tensor:
    """Training-mode ``bn(x)`` with the mean and variance of the union of every rank's batch.

    SyncBatchNorm's math: global mean, then the global biased variance (two all-reduces, centred
    second pass, as accurate as a 1-process BatchNorm), normalise, affine; running statistics
    updated as BatchNorm2d does (momentum, unbiased variance, ``num_batches_tracked``). The
    all-reduces are autograd functions, so gradients flow through the global statistics to every
    rank's inputs. Computed in float32 (as autocast runs batch_norm).
    """
    c = x.shape[1]
    dims = [0] + list(range(2, x.dim()))
    shape = [1, c] + [1] * (x.dim() - 2)
    xf = x.float()
    count = torch.full((1,), float(x.numel() // c), dtype=xf.dtype, device=xf.device)
    s = all_reduce_sum(torch.cat([xf.sum(dims), count]))
    n = s[c]
    mean = s[:c] / n
    xc = xf - mean.view(shape)
    var = all_reduce_sum((xc * xc).sum(dims)) / n
    y = xc * torch.rsqrt(var + bn.eps).view(shape)
    if bn.affine:
        y = y * bn.weight.view(shape) + bn.bias.view(shape)
    if bn.track_running_stats and bn.running_mean is not None:
        with torch.no_grad():
            bn.num_batches_tracked.add_(1)
            f = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
            bn.running_mean.mul_(1 - f).add_(mean.detach() * f)
            bn.running_var.mul_(1 - f).add_(var.detach() * (n / (n - 1)).detach() * f)
    return y


def to_cpu(obj):
    """``obj`` (a state dict, nested dicts/lists) with every tensor on the CPU, for a checkpoint."""
    if isinstance(obj, Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return type(obj)((k, to_cpu(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj
