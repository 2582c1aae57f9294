"""benchmarks/detail_base_candidates.py's data helpers: band resampling for --donor (exact on a
ramp, the identity at the same band count) and the donor set (the target's patches first, val/test
untouched, a donor of another patch size refused)."""

from __future__ import annotations

import numpy as np
import pytest

from quant_models.data.hpc_format import read_hpc, write_hpc
from tests.conftest import load_benchmark


@pytest.fixture(scope='module')
def bench():
    return load_benchmark('detail_base_candidates')


def test_resample_bands_is_linear_in_band_index(bench):
    rng = np.random.default_rng(0)
    x = rng.random((2, 7, 3, 3)).astype(np.float32)
    assert np.array_equal(bench.resample_bands(x, 7), x)  # same B: every band kept as it is
    ramp = np.broadcast_to(np.arange(9, dtype=np.float32)[None, :, None, None], (1, 9, 2, 2))
    out = bench.resample_bands(ramp, 5)  # band index 0..8 sampled at 0, 2, 4, 6, 8
    assert out.shape == (1, 5, 2, 2) and np.array_equal(out[0, :, 0, 0], [0, 2, 4, 6, 8])
    up = bench.resample_bands(ramp, 17)  # half steps: linear interpolation between neighbours
    assert np.allclose(up[0, :, 1, 1], np.arange(17) / 2, atol=1e-6)


def _set(folder, n, bands, side, seed):
    rng = np.random.default_rng(seed)
    gt = rng.random((n, bands, side, side)).astype(np.float32)
    ms = gt.reshape(n, bands, side // 4, 4, side // 4, 4).mean((3, 5))
    pan = gt.mean(1, keepdims=True)
    for k in ('train', 'val', 'test'):
        write_hpc(folder / f'{k}.h5', gt, gt, ms, pan)
    return gt


def test_with_donors_appends_resampled_donor_patches(bench, tmp_path):
    target, donor, small = tmp_path / 'target', tmp_path / 'donor', tmp_path / 'small'
    t_gt = _set(target, 2, 6, 8, 0)
    d_gt = _set(donor, 1, 11, 8, 1)
    out = bench.with_donors(str(target), [str(donor)], str(tmp_path / 'mix'))
    mix = read_hpc(f'{out}/train.h5')
    assert mix.gt.shape == (2 + 3, 6, 8, 8)  # the donor's train, val and test, each at the target's B
    assert np.array_equal(mix.gt[:2], t_gt) and np.array_equal(mix.gt[2], bench.resample_bands(d_gt, 6)[0])
    assert np.array_equal(read_hpc(f'{out}/test.h5').gt, t_gt)
    _set(small, 1, 6, 4, 2)
    with pytest.raises(SystemExit, match='patches of'):
        bench.with_donors(str(target), [str(small)], str(tmp_path / 'mix2'))
