"""prepare_dataset (scene -> train/val/test .h5 files) and PanDataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torch.nn.functional as F

from quant_models.data.dataset import PanDataset, dihedral
from quant_models.data.hpc_format import read_hpc
from quant_models.data.prepare import min_scene_side, prepare_dataset
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
    assert summary['split_axis'] == 'rows'  # square scene: rows on a tie
    assert regions['test'][0] == 0 and regions['test'][1] == regions['val'][0]  # test, val, train
    assert regions['val'][1] == regions['train'][0]
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
        assert tuple(s.attrs['region_cols']) == (0, 144)
        assert s.attrs['split_axis'] == 'rows' and s.attrs['split_gap'] == 0
        assert s.attrs['patch_counts'] == summary['patch_counts']
        assert s.attrs['augment'] == ('dihedral8' if split == 'train' else 'none')
        assert s.attrs['split'] == split and s.attrs['max_value'] == summary['max_value']
        assert s.attrs['source_sha256'] == summary['source_sha256']
        assert 0.0 <= s.gt.min() and s.gt.max() <= 1.0
        size = summary['patch_size'][split]
        assert s.gt.shape[2:] == (size, size) and s.ms.shape[2:] == (size // 4, size // 4)
    assert summary['patch_size']['train'] == 32
    assert summary['patch_size']['test'] == 64 and summary['stride']['train'] == 8
    assert any('split along the longer axis (rows' in line for line in lines)
    assert any(line.startswith('train: ') and 'augment dihedral8' in line for line in lines)
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
    pixels = _gt_pixels(summary)
    assert not (pixels['train'] & pixels['val'] or pixels['train'] & pixels['test']
                or pixels['val'] & pixels['test'])
    # dense train patches use the whole train strip
    (r0, r1), (c0, c1) = summary['region_rows']['train'], summary['region_cols']['train']
    assert len(pixels['train']) == (r1 - r0) * (c1 - c0)


def _gt_pixels(summary) -> dict[str, set]:
    """Split -> set of (row, col) scene pixels that the split's GT patches cover."""
    out = {}
    for split, path in summary['files'].items():
        s = read_hpc(path)
        r0, c0 = s.attrs['region_rows'][0], s.attrs['region_cols'][0]
        size = s.gt.shape[-1]
        out[split] = {(r0 + r + i, c0 + c + j) for r, c in np.asarray(s.attrs['patch_corners_in_region'])
                      for i in range(size) for j in range(size)}
    return out


def _scene(tmp_path, h, w, b=5, seed=0):
    path = tmp_path / f'scene_{h}x{w}.npy'
    np.save(path, np.random.default_rng(seed).random((h, w, b)).astype(np.float32))
    return str(path)


def test_prepare_80x100_scene_splits_along_columns(tmp_path):
    lines: list[str] = []
    summary = prepare_dataset(_scene(tmp_path, 80, 100), tmp_path / 'out', patch=32, test_patch=32,
                              log=lines.append)
    assert summary['split_axis'] == 'cols'
    assert summary['regions'] == {'test': (0, 32), 'val': (32, 64), 'train': (64, 100)}
    assert summary['region_rows']['train'] == (0, 80)
    assert summary['patch_counts'] == {'train': 14, 'val': 2, 'test': 2}
    pixels = _gt_pixels(summary)
    assert not (pixels['train'] & pixels['val'] or pixels['train'] & pixels['test']
                or pixels['val'] & pixels['test'])
    assert all(c >= 64 for _, c in pixels['train']) and all(c < 32 for _, c in pixels['test'])
    assert len(pixels['train']) == 80 * 36  # the whole strip, incl. its far edge


def test_prepare_64x64_scene_shrinks_patches(tmp_path):
    lines: list[str] = []
    summary = prepare_dataset(_scene(tmp_path, 64, 64), tmp_path / 'out', log=lines.append)
    assert summary['patch_size'] == {'train': 16, 'val': 16, 'test': 16}
    assert summary['stride']['train'] == 4
    assert summary['regions'] == {'test': (0, 16), 'val': (16, 32), 'train': (32, 64)}
    assert all(n > 0 for n in summary['patch_counts'].values())
    assert any('using patch 16, test_patch 16' in line for line in lines)
    pixels = _gt_pixels(summary)
    assert not (pixels['train'] & pixels['val'] or pixels['train'] & pixels['test']
                or pixels['val'] & pixels['test'])


def test_prepare_refuses_63x64(tmp_path):
    assert min_scene_side(4) == 64
    with pytest.raises(HsbinetError) as e:
        prepare_dataset(_scene(tmp_path, 63, 64), tmp_path / 'out', log=None)
    assert_error(e, 'Scene is too small', 'scene_63x64.npy', 'at least 64 x 64 PAN pixels',
                 '60 x 64 (H x W, from 63 x 64)')
    assert '\n' not in str(e.value)


def test_augmentation_deterministic_and_consistent(prepared_ip):
    _, summary, _ = prepared_ip
    a = PanDataset(summary['files']['train'], augment=True, seed=3)
    b = PanDataset(summary['files']['train'], augment=True, seed=3)
    plain = PanDataset(summary['files']['train'])
    ks = [a.transform_index(i) for i in range(len(a))]
    assert ks == [b.transform_index(i) for i in range(len(b))] and len(set(ks)) == 8
    a.set_epoch(1)
    assert [a.transform_index(i) for i in range(len(a))] != ks  # new draws each epoch
    other = PanDataset(summary['files']['train'], augment=True, seed=4)
    assert [other.transform_index(i) for i in range(len(other))] != ks  # the seed matters
    for i in range(8):
        k = a.transform_index(i)
        item, ref = a[i], plain[i]
        b.set_epoch(1)
        assert all(torch.equal(item[n], b[i][n]) for n in item)
        for n in item:
            assert torch.equal(item[n], dihedral(ref[n], k))
        up = F.interpolate(item['ms'][None], scale_factor=4, mode='bilinear', align_corners=False)
        up_ref = F.interpolate(ref['ms'][None], scale_factor=4, mode='bilinear', align_corners=False)
        torch.testing.assert_close(up[0], dihedral(up_ref[0], k), rtol=0, atol=1e-6)
    x = torch.arange(16.).reshape(1, 4, 4)
    assert len({tuple(dihedral(x, k).flatten().tolist()) for k in range(8)}) == 8


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
    assert_error(e, 'small.npy', 'at least 64 x 64 PAN pixels', '40 x 40')
    with pytest.raises(HsbinetError) as e:
        prepare_dataset(str(tmp_path / 'small.npy'), tmp_path / 'out', patch=30, log=None)
    assert_error(e, 'Key: patch', 'multiple of ratio 4', 'Found: 30')


def test_prepare_small_npy_scene(tmp_path):
    rng = np.random.default_rng(5)
    cube = rng.integers(-3, 1000, (66, 70, 6)).astype(np.int16)
    np.save(tmp_path / 'scene.npy', cube)
    lines: list[str] = []
    summary = prepare_dataset(str(tmp_path / 'scene.npy'), tmp_path / 'out', patch=8,
                              test_patch=16, augment=False, log=lines.append)
    assert summary['cropped_shape'] == (64, 68, 6)
    assert summary['split_axis'] == 'cols' and summary['augment'] == 'none'
    assert summary['clipped_negative'] == int((cube[:64, :68] < 0).sum())
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
