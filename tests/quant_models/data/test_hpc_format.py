"""HyperPanCollection .h5 I/O (quant_models.data.hpc_format): round trip, validation, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from quant_models.data import hpc_format
from quant_models.data.dataset import PanDataset
from quant_models.data.hpc_format import PanSet, read_hpc, write_hpc
from quant_models.common import HsbinetError
from tests.quant_models.data.helpers import assert_error, small_set


# ------------------------------------------------------------------------------- .h5 format

def _raw_h5(path, arrays):
    with h5py.File(path, 'w') as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
    return str(path)


def test_hpc_round_trip(tmp_path):
    s = small_set()
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
    s = small_set()
    p = write_hpc(tmp_path / 'nogt.h5', None, s['LMS'], s['MS'], s['PAN'], {})
    with pytest.raises(HsbinetError) as e:
        read_hpc(p)
    assert_error(e, 'nogt.h5', 'Key: GT', 'keys LMS, MS, PAN', 'require_gt=False')
    got = read_hpc(p, require_gt=False)
    assert got.gt is None
    ds = PanDataset(got)
    assert 'gt' not in ds[0] and not ds.has_gt


def _mutate(name):
    s = small_set()
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
    assert_error(e, f'bad_{case}.h5', *BAD_SETS[case])


def test_hpc_expected_bands_ratio_and_unreadable(tmp_path):
    p = _raw_h5(tmp_path / 'ok.h5', small_set())
    with pytest.raises(HsbinetError) as e:
        read_hpc(p, expected_bands=191)
    assert_error(e, 'ok.h5', 'Expected: 191 bands', 'Found: 5 bands')
    with pytest.raises(HsbinetError) as e:
        read_hpc(p, expected_ratio=8)
    assert_error(e, 'ok.h5', 'Expected: ratio 8', 'Found: ratio 4')
    txt = tmp_path / 'notes.h5'
    txt.write_text('not hdf5')
    with pytest.raises(HsbinetError) as e:
        read_hpc(txt)
    assert_error(e, 'notes.h5', 'Not an HDF5 file', 'Key: (file)')
    trunc = tmp_path / 'truncated.h5'
    trunc.write_bytes(Path(p).read_bytes()[:3000])
    with pytest.raises(HsbinetError) as e:
        read_hpc(trunc)
    assert_error(e, 'truncated.h5')
    with pytest.raises(HsbinetError) as e:
        read_hpc(tmp_path / 'absent.h5')
    assert_error(e, 'absent.h5', 'no such file')


def test_write_hpc_is_atomic(tmp_path, monkeypatch):
    s = small_set()
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
    s = small_set()
    with pytest.raises(HsbinetError) as e:
        write_hpc(tmp_path / 'w.h5', s['GT'], s['LMS'][:, :2], s['MS'], s['PAN'], {})
    assert_error(e, 'w.h5', 'band count')
    assert not (tmp_path / 'w.h5').exists()
