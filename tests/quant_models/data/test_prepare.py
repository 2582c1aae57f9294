"""prepare_dataset (scene -> train/val/test .h5 files) and PanDataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quant_models.data.dataset import PanDataset
from quant_models.data.hpc_format import read_hpc
from quant_models.data.prepare import prepare_dataset
from quant_models.data.readers import load_cube
from quant_models.common import HsbinetError
from tests.conftest import SHARED_DATA
from tests.quant_models.data.helpers import assert_error, needs_shared


# ------------------------------------------------------------------------- prepare + dataset

@pytest.fixture(scope='module')
def prepared_ip(tmp_path_factory):
    out = tmp_path_factory.mktemp('ip')
    lines: list[str] = []
    summary = prepare_dataset('indian_pines', out, log=lines.append)
    return out, summary, lines


def test_prepare_indian_pines(prepared_ip):
    out, summary, lines = prepared_ip
    assert summary['cube_shape'] == (145, 145, 200)
    assert summary['cropped_shape'] == (144, 144, 200)
    assert 'cropped 145x145 -> 144x144 so the size divides by ratio 4' in summary['crop']['message']
    assert any('cropped 145x145 -> 144x144' in line for line in lines)
    regions = summary['regions']
    spans = sorted(regions.values())
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert a1 <= b0, f'regions overlap: {spans}'
    assert spans[0][0] == 0 and spans[-1][1] == 144
    for a, b in spans:
        assert a % 4 == 0 and b % 4 == 0
    for split in ('train', 'val', 'test'):
        assert summary['patch_counts'][split] > 0
        s = read_hpc(summary['files'][split], expected_bands=200, expected_ratio=4)
        assert s.n == summary['patch_counts'][split]
        assert tuple(s.attrs['region_rows']) == tuple(regions[split])
        assert s.attrs['split'] == split and s.attrs['max_value'] == summary['max_value']
        assert s.attrs['source_sha256'] == summary['source_sha256']
        assert 0.0 <= s.gt.min() and s.gt.max() <= 1.0
        size = summary['patch_size'][split]
        assert s.gt.shape[2:] == (size, size) and s.ms.shape[2:] == (size // 4, size // 4)
    assert summary['patch_size']['train'] == 32
    assert summary['patch_size']['test'] % 4 == 0
    assert any('test_patch 64' in line for line in lines)  # test patch shrunk and said so
    assert summary['seconds'] < 15


def test_prepared_patches_are_disjoint_and_match_source(prepared_ip):
    _, summary, _ = prepared_ip
    cube = load_cube('indian_pines').data[:144, :144] / summary['max_value']
    test = read_hpc(summary['files']['test'])
    a, _ = summary['regions']['test']
    size = summary['patch_size']['test']
    r, c = np.asarray(test.attrs['patch_corners_in_region'])[0]
    np.testing.assert_allclose(test.gt[0], cube[a + r:a + r + size, c:c + size].transpose(2, 0, 1),
                               rtol=1e-6)


def test_pan_dataset(prepared_ip):
    _, summary, _ = prepared_ip
    ds = PanDataset(summary['files']['train'])
    assert len(ds) == summary['patch_counts']['train'] and ds.ratio == 4 and ds.n_bands == 200
    item = ds[0]
    assert set(item) == {'lms', 'pan', 'ms', 'gt'}
    assert item['lms'].shape == (200, 32, 32) and item['gt'].shape == (200, 32, 32)
    assert item['pan'].shape == (1, 32, 32) and item['ms'].shape == (200, 8, 8)
    assert all(v.dtype == torch.float32 for v in item.values())
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch['ms'].shape == (4, 200, 8, 8)
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_prepare_too_small_scene(tmp_path):
    np.save(tmp_path / 'small.npy', np.random.default_rng(0).random((40, 40, 5)))
    with pytest.raises(HsbinetError) as e:
        prepare_dataset(str(tmp_path / 'small.npy'), tmp_path / 'out', log=None)
    assert_error(e, 'small.npy', 'at least 96 rows (train 32 + val 32 + test 32)', '40 x 40')
    with pytest.raises(HsbinetError) as e:
        prepare_dataset(str(tmp_path / 'small.npy'), tmp_path / 'out', patch=30, log=None)
    assert_error(e, 'Key: patch', 'multiple of ratio 4', 'Found: 30')


def test_prepare_small_npy_scene(tmp_path):
    rng = np.random.default_rng(5)
    cube = rng.integers(-3, 1000, (50, 42, 6)).astype(np.int16)
    np.save(tmp_path / 'scene.npy', cube)
    lines: list[str] = []
    summary = prepare_dataset(str(tmp_path / 'scene.npy'), tmp_path / 'out', patch=8,
                              test_patch=16, log=lines.append)
    assert summary['cropped_shape'] == (48, 40, 6)
    assert summary['clipped_negative'] == int((cube[:48, :40] < 0).sum())
    assert all(n > 0 for n in summary['patch_counts'].values())
    assert read_hpc(summary['files']['val']).gt.min() >= 0.0


@needs_shared
def test_prepare_shared_v73_scene(tmp_path):
    path = SHARED_DATA / 'pavia_centre_rosis_100x100x102.mat'
    if not path.exists():
        pytest.skip(f'{path} not present')
    summary = prepare_dataset(str(path), tmp_path, log=None)
    assert summary['crop']['message'] is None
    assert all(n > 0 for n in summary['patch_counts'].values())
