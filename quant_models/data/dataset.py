"""PyTorch dataset over a pan-sharpening set (HyperPanCollection ``.h5`` or an in-memory PanSet).

Each item is a dict of float32 tensors in channel-first layout (no batch axis)::

    'lms': (B, H, W)   MS upsampled to PAN resolution
    'pan': (1, H, W)   panchromatic
    'ms':  (B, h, w)   low-resolution HS, H = ratio * h
    'gt':  (B, H, W)   reference (absent when the set has no GT)

The whole set is loaded into memory once (the WDC sets are a few hundred MB at most); items
are views into those arrays, so ``DataLoader`` batching yields (N, C, H, W).

Augmentation (``augment=True``, the trainer turns it on when train.h5 says ``augment:
dihedral8``, see :mod:`quant_models.data.prepare`): item ``i`` is transformed by one of the 8
elements of the dihedral group (``k = 0..7``: rotate by ``k % 4`` quarter turns, then mirror the
columns if ``k >= 4``), the same on every array of the item, with ``k`` drawn from
``numpy.random.default_rng([seed, epoch, i])``: deterministic for (seed, epoch, index),
independent of the batch order and of the number of workers. :meth:`PanDataset.set_epoch`
selects the epoch. The transforms commute with the block-centre decimation and the
``align_corners=False`` interpolations, so an augmented item is the item of the transformed
scene (e.g. bilinear-upsampling the augmented MS equals augmenting the upsampled MS).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import Dataset

from quant_models.data.hpc_format import PanSet, read_hpc


class PanDataset(Dataset):
    """Dataset over a :class:`PanSet` or a path to a HyperPanCollection ``.h5`` file.

    Args:
        source: a PanSet, or a ``.h5`` path read with :func:`read_hpc`.
        require_gt: forwarded to :func:`read_hpc` when ``source`` is a path.
        expected_bands, expected_ratio: forwarded to :func:`read_hpc` (errors if they differ).
        augment: apply the 8 dihedral flips/rotations (see the module docstring).
        seed: seed of the augmentation draws.
    """

    def __init__(self, source: PanSet | str | os.PathLike, require_gt: bool = False,
                 expected_bands: int | None = None, expected_ratio: int | None = None,
                 augment: bool = False, seed: int = 0):
        if isinstance(source, PanSet):
            self.set = source
        else:
            self.set = read_hpc(source, require_gt=require_gt, expected_bands=expected_bands,
                                expected_ratio=expected_ratio)
        s = self.set
        self._lms = torch.from_numpy(np.ascontiguousarray(s.lms, dtype=np.float32))
        self._pan = torch.from_numpy(np.ascontiguousarray(s.pan, dtype=np.float32))
        self._ms = torch.from_numpy(np.ascontiguousarray(s.ms, dtype=np.float32))
        self._gt = (None if s.gt is None
                    else torch.from_numpy(np.ascontiguousarray(s.gt, dtype=np.float32)))
        self.augment = bool(augment)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation draws the items use."""
        self.epoch = int(epoch)

    def transform_index(self, i: int) -> int:
        """Dihedral element ``k`` (0..7) applied to item ``i`` this epoch (0 without augment)."""
        if not self.augment:
            return 0
        i = int(i) % len(self)
        return int(np.random.default_rng([self.seed, self.epoch, i]).integers(8))

    @property
    def ratio(self) -> int:
        """PAN/MS resolution ratio."""
        return self.set.ratio

    @property
    def n_bands(self) -> int:
        """Number of spectral bands B."""
        return self.set.n_bands

    @property
    def has_gt(self) -> bool:
        """Whether items carry 'gt'."""
        return self._gt is not None

    def __len__(self) -> int:
        return int(self._lms.shape[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f'patch index {i} out of range for {len(self)} patches')
        item = {'lms': self._lms[i], 'pan': self._pan[i], 'ms': self._ms[i]}
        if self._gt is not None:
            item['gt'] = self._gt[i]
        k = self.transform_index(i)
        if k:
            item = {name: dihedral(v, k) for name, v in item.items()}
        return item


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """Element ``k`` (0..7) of the dihedral group on the last two axes of ``x`` (contiguous).

    ``k % 4`` quarter turns (``torch.rot90``, counter-clockwise), then a mirror of the columns
    if ``k >= 4``; ``k = 0`` is the identity.
    """
    if not 0 <= k < 8:
        raise ValueError(f'dihedral element {k} is not in 0..7')
    y = torch.rot90(x, k % 4, dims=(-2, -1)) if k % 4 else x
    if k >= 4:
        y = torch.flip(y, dims=(-1,))
    return y.contiguous()
