"""Data layer: cube readers, Wald's protocol, HyperPanCollection .h5 I/O, prepare, PanDataset."""

from __future__ import annotations

import os
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from quant_models.data import hpc_format
from quant_models.data.dataset import PanDataset
from quant_models.data.hpc_format import PanSet, read_hpc, write_hpc
from quant_models.data.prepare import prepare_dataset
from quant_models.data.readers import load_cube
from quant_models.data.wald import (mtf_blur, mtf_gain_at_nyquist, mtf_gaussian_kernel,
                                    pan_spectral_response, simulate)
from quant_models.common import HsbinetError

SHARED_DATA = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'
SHARED_MATS = sorted(SHARED_DATA.glob('*.mat')) if SHARED_DATA.is_dir() else []
needs_shared = pytest.mark.skipif(
    not SHARED_MATS, reason=f'shared real cubes not present at {SHARED_DATA} (fresh clone)')


def _assert_error(excinfo, *fragments):
    msg = str(excinfo.value)
    for frag in fragments:
        assert frag in msg, f'{frag!r} not in error message: {msg}'


# ------------------------------------------------------------------------------------- MTF/Wald

@pytest.mark.parametrize('ratio', [2, 3, 4, 8])
def test_mtf_kernel_sums_to_one_and_is_symmetric(ratio):
    k = mtf_gaussian_kernel(ratio)
    assert k.shape == (41, 41) and k.dtype == np.float64
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.array_equal(k, k.T)
    assert np.array_equal(k, k[::-1, :]) and np.array_equal(k, k[:, ::-1])
    assert np.unravel_index(np.argmax(k), k.shape) == (20, 20)
    # toolbox construction: gain at the MS Nyquist frequency close to GNyq = 0.3
    assert 0.25 < mtf_gain_at_nyquist(k, ratio) < 0.32


def test_mtf_kernel_rejects_bad_arguments():
    with pytest.raises(HsbinetError) as e:
        mtf_gaussian_kernel(4, gnyq=1.5)
    _assert_error(e, 'gnyq', 'Expected: a value in (0, 1)', 'Found: 1.5')
    with pytest.raises(HsbinetError):
        mtf_gaussian_kernel(1)
    with pytest.raises(HsbinetError):
        mtf_gaussian_kernel(4, taps=40)


def test_blur_equals_ndimage_correlate_nearest():
    from scipy.ndimage import correlate
    rng = np.random.default_rng(0)
    cube = rng.random((24, 20, 3))
    k = mtf_gaussian_kernel(4)
    ref = np.stack([correlate(cube[:, :, b], k, mode='nearest') for b in range(3)], -1)
    np.testing.assert_allclose(mtf_blur(cube, k), ref, atol=1e-12)


def test_wald_shapes_and_dtypes():
    rng = np.random.default_rng(1)
    ref = rng.random((32, 48, 5)).astype(np.float32)
    out = simulate(ref, ratio=4)
    assert out['gt'].shape == (32, 48, 5)
    assert out['ms'].shape == (8, 12, 5)
    assert out['lms'].shape == (32, 48, 5)
    assert out['pan'].shape == (32, 48)
    for k in ('gt', 'ms', 'lms', 'pan'):
        assert out[k].dtype == np.float32
    np.testing.assert_array_equal(out['gt'], ref)
    np.testing.assert_allclose(out['pan'], ref.mean(axis=2), rtol=1e-5, atol=1e-6)


def test_wald_constant_cube_stays_constant():
    ref = np.full((40, 36, 4), 0.625, np.float32)
    out = simulate(ref, ratio=4, gnyq=0.3)
    for k in ('gt', 'ms', 'lms', 'pan'):
        np.testing.assert_allclose(out[k], 0.625, atol=1e-6)


def test_wald_rejects_size_not_divisible_by_ratio():
    with pytest.raises(HsbinetError) as e:
        simulate(np.zeros((30, 32, 4), np.float32), ratio=4)
    _assert_error(e, 'multiples of ratio 4', '30 x 32')


def test_pan_spectral_response():
    np.testing.assert_allclose(pan_spectral_response(None, 5), np.full(5, 0.2))
    wl = np.array([400, 450, 600, 900, 901, 2000.0])
    w = pan_spectral_response(wl, 6)
    np.testing.assert_allclose(w, [0, 1 / 3, 1 / 3, 1 / 3, 0, 0])
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(pan_spectral_response(np.array([1500.0, 2000, 2400]), 3),
                               np.full(3, 1 / 3))  # nothing in 450..900 nm: uniform
    with pytest.raises(HsbinetError) as e:
        pan_spectral_response(wl, 7)
    _assert_error(e, 'wavelengths_nm', '7 finite band centres', '6 values')
    ref = np.random.default_rng(2).random((8, 8, 6)).astype(np.float32)
    out = simulate(ref, ratio=4, wavelengths_nm=wl)
    np.testing.assert_allclose(out['pan'], ref[:, :, 1:4].mean(axis=2), rtol=1e-5)


# ------------------------------------------------------------------------------------- readers

def _expected_bands(path: Path) -> int:
    return int(re.search(r'_(\d+)x(\d+)x(\d+)\.mat$', path.name).group(3))


EXPECTED_MAT = {
    'pavia_centre_rosis_100x100x102.mat': ('data', 'transposed (2, 1, 0)'),
    'muufl_casi_100x100x64.mat': ('data', 'transposed (2, 1, 0)'),
    'jasper_ridge_aviris_100x100x198.mat': ('Y', "Y.T.reshape(100,100,198, order='F')"),
    'san_diego_aviris_100x100x189.mat': ('data', 'MATLAB v5'),
    'abu_urban1_aviris_100x100x204.mat': ('data', 'MATLAB v5'),
    'abu_urban3_aviris_100x100x191.mat': ('data', 'MATLAB v5'),
}


@needs_shared
@pytest.mark.parametrize('name', sorted(EXPECTED_MAT))
def test_load_shared_mat(name):
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f'{path} not present')
    cube = load_cube(str(path))
    nb = _expected_bands(path)
    assert cube.data.shape == (100, 100, nb)
    assert cube.data.dtype == np.float32
    assert np.isfinite(cube.data).all()
    key, orient = EXPECTED_MAT[name]
    assert cube.key == key
    assert orient in cube.orientation
    assert '(H,W,B)' in cube.orientation
    assert len(cube.sha256) == 64 and name in cube.provenance


@needs_shared
def test_every_shared_mat_loads():
    for path in SHARED_MATS:
        assert load_cube(str(path)).data.shape == (100, 100, _expected_bands(path)), path


@needs_shared
def test_v73_and_jasper_orientation_against_raw_file():
    pav = SHARED_DATA / 'pavia_centre_rosis_100x100x102.mat'
    with h5py.File(pav, 'r') as f:
        raw = f['data'][()]  # stored (B, W, H)
    cube = load_cube(str(pav))
    np.testing.assert_array_equal(cube.data, raw.transpose(2, 1, 0).astype(np.float32))
    import scipy.io
    jas = SHARED_DATA / 'jasper_ridge_aviris_100x100x198.mat'
    y = scipy.io.loadmat(jas)['Y']
    cube = load_cube(str(jas))
    i, j = 7, 42  # MATLAB column-major pixel order: pixel index = i + 100 * j
    np.testing.assert_array_equal(cube.data[i, j], y[:, i + 100 * j].astype(np.float32))
    # explicit key gives the same
    assert load_cube(f'{jas}:Y').data.shape == (100, 100, 198)


def test_load_indian_pines_embedded():
    cube = load_cube('indian_pines')
    assert cube.data.shape == (145, 145, 200) and cube.data.dtype == np.float32
    assert cube.wavelengths_nm is not None and cube.wavelengths_nm.shape == (200,)
    assert cube.source == 'tensorly:indian_pines' and cube.key == 'tensor'
    assert 'Baumgardner' in cube.provenance and len(cube.sha256) == 64


def test_npy_round_trip_and_band_first(tmp_path):
    rng = np.random.default_rng(3)
    hwb = rng.random((20, 24, 6)).astype(np.float32)
    np.save(tmp_path / 'hwb.npy', hwb)
    cube = load_cube(str(tmp_path / 'hwb.npy'))
    np.testing.assert_array_equal(cube.data, hwb)
    assert cube.name == 'hwb' and cube.wavelengths_nm is None
    bhw = rng.integers(0, 4000, (6, 16, 16)).astype(np.uint16)
    np.save(tmp_path / 'bhw.npy', bhw)
    cube = load_cube(tmp_path / 'bhw.npy')
    assert cube.data.shape == (16, 16, 6)
    assert 'first axis is the band axis' in cube.orientation
    np.testing.assert_array_equal(cube.data, bhw.transpose(1, 2, 0).astype(np.float32))
    np.save(tmp_path / 'odd.npy', hwb[:10, :12, :])  # (10, 12, 6): ambiguous -> (H,W,B)
    assert 'assumed' in load_cube(tmp_path / 'odd.npy').orientation
    np.save(tmp_path / 'b_first.npy', rng.random((10, 12, 9)))
    forced = load_cube(tmp_path / 'b_first.npy', layout='BHW')
    assert forced.data.shape == (12, 9, 10) and 'layout=BHW' in forced.orientation
    with pytest.raises(HsbinetError) as e:
        load_cube(tmp_path / 'b_first.npy', layout='WHB')
    _assert_error(e, 'b_first.npy', 'Key: layout', "'WHB'")
    np.savez(tmp_path / 'both.npz', small=hwb[:8, :8, :3], cube=hwb)
    assert load_cube(str(tmp_path / 'both.npz')).key == 'cube'
    assert load_cube(f"{tmp_path / 'both.npz'}:small").data.shape == (8, 8, 3)


def test_reader_bad_inputs(tmp_path):
    bad_mat = tmp_path / 'garbage.mat'
    bad_mat.write_bytes(b'this is not a MATLAB file at all' * 10)
    with pytest.raises(HsbinetError) as e:
        load_cube(str(bad_mat))
    _assert_error(e, 'garbage.mat', 'Expected: a MATLAB v5 or v7.3 .mat file')

    import scipy.io
    mat = tmp_path / 'cube.mat'
    scipy.io.savemat(mat, {'data': np.ones((10, 10, 4)), 'gt': np.zeros((10, 10))})
    with pytest.raises(HsbinetError) as e:
        load_cube(f'{mat}:nokey')
    _assert_error(e, 'cube.mat', "Key: nokey", "a variable named 'nokey'", 'data', 'gt')

    for name, arr, frags in [
        ('rank1.npy', np.ones(100), ['Key: (array)', 'rank 1']),
        ('rank4.npy', np.ones((10, 10, 4, 2)), ['rank 4', 'Expected: rank 3']),
        ('twoband.npy', np.ones((10, 10, 2)), ['at least 3 bands', '2 bands']),
        ('tiny.npy', np.ones((4, 6, 5)), ['at least 8 pixels', '4 x 6']),
        ('strings.npy', np.array([['a', 'b'], ['c', 'd']]), ['non-numeric', '<U1']),
    ]:
        np.save(tmp_path / name, arr)
        with pytest.raises(HsbinetError) as e:
            load_cube(str(tmp_path / name))
        _assert_error(e, name, *frags)

    nan = np.ones((10, 10, 4), np.float32)
    nan[0, 0, 0] = np.nan
    nan[1, 2, 3] = np.inf
    nan[2, 2, 2] = np.nan
    np.save(tmp_path / 'nan.npy', nan)
    with pytest.raises(HsbinetError) as e:
        load_cube(str(tmp_path / 'nan.npy'))
    _assert_error(e, 'nan.npy', '3 non-finite values (2 NaN, 1 Inf)')

    with pytest.raises(HsbinetError) as e:
        load_cube(str(tmp_path / 'missing.mat'))
    _assert_error(e, 'missing.mat', 'no such file')
    (tmp_path / 'cube.tif').write_bytes(b'II*\x00')
    with pytest.raises(HsbinetError) as e:
        load_cube(str(tmp_path / 'cube.tif'))
    _assert_error(e, 'cube.tif', "'.tif'")


def test_reader_refuses_hyperpancollection_file(tmp_path):
    s = _small_set()
    p = write_hpc(tmp_path / 'set.h5', s['GT'], s['LMS'], s['MS'], s['PAN'], {})
    with pytest.raises(HsbinetError) as e:
        load_cube(p)
    _assert_error(e, 'set.h5', 'read_hpc')


# ------------------------------------------------------------------------------- .h5 format

def _small_set(n=3, b=5, hh=16, ratio=4, seed=0):
    rng = np.random.default_rng(seed)
    return {'GT': rng.random((n, b, hh, hh)).astype(np.float32),
            'LMS': rng.random((n, b, hh, hh)).astype(np.float32),
            'MS': rng.random((n, b, hh // ratio, hh // ratio)).astype(np.float32),
            'PAN': rng.random((n, 1, hh, hh)).astype(np.float32)}


def _raw_h5(path, arrays):
    with h5py.File(path, 'w') as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
    return str(path)


def test_hpc_round_trip(tmp_path):
    s = _small_set()
    attrs = {'split': 'test', 'max_value': 9604.0, 'regions': {'test': [108, 144]},
             'pan_weights': np.full(5, 0.2), 'corners': [[0, 0], [0, 16]]}
    p = write_hpc(tmp_path / 'rt.h5', s['GT'], s['LMS'], s['MS'], s['PAN'], attrs)
    got = read_hpc(p, expected_bands=5, expected_ratio=4)
    assert isinstance(got, PanSet) and got.ratio == 4 and got.n == 3 and got.n_bands == 5
    for k in ('GT', 'LMS', 'MS', 'PAN'):
        arr = getattr(got, k.lower())
        assert arr.dtype == np.float32
        np.testing.assert_array_equal(arr, s[k])
    assert got.attrs['split'] == 'test' and got.attrs['max_value'] == 9604.0
    assert got.attrs['regions'] == {'test': [108, 144]}
    assert got.attrs['corners'] == [[0, 0], [0, 16]]
    assert got.attrs['ratio'] == 4
    np.testing.assert_allclose(got.attrs['pan_weights'], 0.2)
    assert not os.path.exists(p + '.partial')
    # a float64 file written by another tool is read as float32, values as stored
    raw = _raw_h5(tmp_path / 'f64.h5', {k: v.astype(np.float64) * 2047 for k, v in s.items()})
    np.testing.assert_allclose(read_hpc(raw).pan, s['PAN'] * 2047, rtol=1e-6)


def test_hpc_without_gt(tmp_path):
    s = _small_set()
    p = write_hpc(tmp_path / 'nogt.h5', None, s['LMS'], s['MS'], s['PAN'], {})
    with pytest.raises(HsbinetError) as e:
        read_hpc(p)
    _assert_error(e, 'nogt.h5', 'Key: GT', 'keys LMS, MS, PAN', 'require_gt=False')
    got = read_hpc(p, require_gt=False)
    assert got.gt is None
    ds = PanDataset(got)
    assert 'gt' not in ds[0] and not ds.has_gt


def _mutate(name):
    s = _small_set()
    if name == 'missing':
        del s['MS']
    elif name == 'rank':
        s['LMS'] = s['LMS'][0]
    elif name == 'bands':
        s['LMS'] = s['LMS'][:, :4]
    elif name == 'pan_channels':
        s['PAN'] = np.concatenate([s['PAN'], s['PAN']], axis=1)
    elif name == 'n':
        s['PAN'] = s['PAN'][:2]
    elif name == 'ratio_disagree':
        s['MS'] = s['MS'][:, :, :, :2]  # 16/4 = 4 rows but 16/2 = 8 columns
    elif name == 'ratio_not_integer':
        s['MS'] = np.zeros((3, 5, 5, 5), np.float32)
    elif name == 'nan':
        s['LMS'][0, 1, 2, 3] = np.nan
        s['LMS'][1, 1, 2, 3] = np.inf
    return s


BAD_SETS = {
    'missing': ['Key: MS', 'Expected: datasets GT, LMS, MS, PAN', 'Found: keys GT, LMS, PAN'],
    'rank': ['Key: LMS', 'Expected: rank 4 (N, C, H, W)', 'Found: rank 3'],
    'bands': ['band count', 'Key: GT/LMS/MS', 'LMS (3, 4, 16, 16)'],
    'pan_channels': ['Key: PAN', 'shape (N, 1, H, W)', '(3, 2, 16, 16)'],
    'n': ['number of patches', 'PAN (2, 1, 16, 16)'],
    'ratio_disagree': ['Key: PAN/MS', 'H/h = 16/4 = 4, W/w = 16/2 = 8'],
    'ratio_not_integer': ['Key: PAN/MS', 'integer ratio', 'MS h x w = 5 x 5'],
    'nan': ['Key: LMS', 'Expected: all values finite', '2 non-finite values'],
}


@pytest.mark.parametrize('case', sorted(BAD_SETS))
def test_hpc_bad_inputs(tmp_path, case):
    p = _raw_h5(tmp_path / f'bad_{case}.h5', _mutate(case))
    with pytest.raises(HsbinetError) as e:
        read_hpc(p)
    _assert_error(e, f'bad_{case}.h5', *BAD_SETS[case])


def test_hpc_expected_bands_ratio_and_unreadable(tmp_path):
    p = _raw_h5(tmp_path / 'ok.h5', _small_set())
    with pytest.raises(HsbinetError) as e:
        read_hpc(p, expected_bands=191)
    _assert_error(e, 'ok.h5', 'Expected: 191 bands', 'Found: 5 bands')
    with pytest.raises(HsbinetError) as e:
        read_hpc(p, expected_ratio=8)
    _assert_error(e, 'ok.h5', 'Expected: ratio 8', 'Found: ratio 4')
    txt = tmp_path / 'notes.h5'
    txt.write_text('not hdf5')
    with pytest.raises(HsbinetError) as e:
        read_hpc(txt)
    _assert_error(e, 'notes.h5', 'Not an HDF5 file', 'Key: (file)')
    trunc = tmp_path / 'truncated.h5'
    trunc.write_bytes(Path(p).read_bytes()[:3000])
    with pytest.raises(HsbinetError) as e:
        read_hpc(trunc)
    _assert_error(e, 'truncated.h5')
    with pytest.raises(HsbinetError) as e:
        read_hpc(tmp_path / 'absent.h5')
    _assert_error(e, 'absent.h5', 'no such file')


def test_write_hpc_is_atomic(tmp_path, monkeypatch):
    s = _small_set()
    final = tmp_path / 'train.h5'

    def boom(f, arrays):
        f.create_dataset('GT', data=arrays['GT'])
        raise RuntimeError('disk full (simulated)')
    monkeypatch.setattr(hpc_format, '_write_datasets', boom)
    with pytest.raises(RuntimeError):
        write_hpc(final, s['GT'], s['LMS'], s['MS'], s['PAN'], {})
    assert not final.exists()
    assert not Path(str(final) + '.partial').exists()
    # an existing complete file is left untouched by a failed rewrite
    monkeypatch.undo()
    write_hpc(final, s['GT'], s['LMS'], s['MS'], s['PAN'], {'v': 1})
    monkeypatch.setattr(hpc_format, '_write_datasets', boom)
    with pytest.raises(RuntimeError):
        write_hpc(final, s['GT'], s['LMS'], s['MS'], s['PAN'], {'v': 2})
    assert read_hpc(final).attrs['v'] == 1


def test_write_hpc_validates_before_writing(tmp_path):
    s = _small_set()
    with pytest.raises(HsbinetError) as e:
        write_hpc(tmp_path / 'w.h5', s['GT'], s['LMS'][:, :2], s['MS'], s['PAN'], {})
    _assert_error(e, 'w.h5', 'band count')
    assert not (tmp_path / 'w.h5').exists()


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
    _assert_error(e, 'small.npy', 'at least 96 rows (train 32 + val 32 + test 32)', '40 x 40')
    with pytest.raises(HsbinetError) as e:
        prepare_dataset(str(tmp_path / 'small.npy'), tmp_path / 'out', patch=30, log=None)
    _assert_error(e, 'Key: patch', 'multiple of ratio 4', 'Found: 30')


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
