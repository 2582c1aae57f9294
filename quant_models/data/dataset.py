"""PyTorch dataset over a pan-sharpening set (HyperPanCollection ``.h5`` or an in-memory PanSet).

Each item is a dict of float32 tensors in channel-first layout (no batch axis)::

    'lms': (B, H, W)   MS upsampled to PAN resolution
    'pan': (1, H, W)   panchromatic
    'ms':  (B, h, w)   low-resolution HS, H = ratio * h
    'gt':  (B, H, W)   reference (absent when the set has no GT)

The whole set is loaded into memory once (the WDC sets are a few hundred MB at most); items
are views into those arrays, so ``DataLoader`` batching yields (N, C, H, W).
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
    """

    def __init__(self, source: PanSet | str | os.PathLike, require_gt: bool = False,
                 expected_bands: int | None = None, expected_ratio: int | None = None):
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
        return item
