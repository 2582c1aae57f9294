"""Cube readers (quant_models.data.readers): shared real .mat cubes, embedded Indian Pines, .npy/.npz, errors."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from quant_models.data.hpc_format import write_hpc
from quant_models.data.readers import load_cube
from quant_models.common import HsbinetError
from tests.conftest import SHARED_DATA
from tests.quant_models.data.helpers import SHARED_MATS, assert_error, needs_shared, small_set


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
    assert_error(e, 'b_first.npy', 'Key: layout', "'WHB'")
    np.savez(tmp_path / 'both.npz', small=hwb[:8, :8, :3], cube=hwb)
    assert load_cube(str(tmp_path / 'both.npz')).key == 'cube'
    assert load_cube(f"{tmp_path / 'both.npz'}:small").data.shape == (8, 8, 3)


def test_reader_bad_inputs(tmp_path):
    bad_mat = tmp_path / 'garbage.mat'
    bad_mat.write_bytes(b'this is not a MATLAB file at all' * 10)
    with pytest.raises(HsbinetError) as e:
        load_cube(str(bad_mat))
    assert_error(e, 'garbage.mat', 'Expected: a MATLAB v5 or v7.3 .mat file')

    import scipy.io
    mat = tmp_path / 'cube.mat'
    scipy.io.savemat(mat, {'data': np.ones((10, 10, 4)), 'gt': np.zeros((10, 10))})
    with pytest.raises(HsbinetError) as e:
        load_cube(f'{mat}:nokey')
    assert_error(e, 'cube.mat', "Key: nokey", "a variable named 'nokey'", 'data', 'gt')

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
        assert_error(e, name, *frags)

    nan = np.ones((10, 10, 4), np.float32)
    nan[0, 0, 0] = np.nan
    nan[1, 2, 3] = np.inf
    nan[2, 2, 2] = np.nan
    np.save(tmp_path / 'nan.npy', nan)
    with pytest.raises(HsbinetError) as e:
        load_cube(str(tmp_path / 'nan.npy'))
    assert_error(e, 'nan.npy', '3 non-finite values (2 NaN, 1 Inf)')

    with pytest.raises(HsbinetError) as e:
        load_cube(str(tmp_path / 'missing.mat'))
    assert_error(e, 'missing.mat', 'no such file')
    (tmp_path / 'cube.png').write_bytes(b'\x89PNG')
    with pytest.raises(HsbinetError) as e:
        load_cube(str(tmp_path / 'cube.png'))
    assert_error(e, 'cube.png', "'.png'", 'GeoTIFF')


def test_reader_refuses_hyperpancollection_file(tmp_path):
    s = small_set()
    p = write_hpc(tmp_path / 'set.h5', s['GT'], s['LMS'], s['MS'], s['PAN'], {})
    with pytest.raises(HsbinetError) as e:
        load_cube(p)
    assert_error(e, 'set.h5', 'read_hpc')
