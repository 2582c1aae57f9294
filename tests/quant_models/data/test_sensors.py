"""Multispectral setting (``data.sensor``): the sensor's band passes over a cube's spectra, Wald's
protocol on the result, the PAN from the hyperspectral cube, and the refusals."""

import h5py
import numpy as np
import pytest

from quant_models.common import HsbinetError
from quant_models.data.hpc_format import read_hpc
from quant_models.data.prepare import prepare_dataset
from quant_models.data.sensors import SENSORS, sensor_responses, synthesize
from tests.quant_models.data.helpers import assert_error


def _scene(tmp_path, lo=400.0, hi=1045.0, step=15.0, side=64, seed=0):
    wl = np.arange(lo, hi, step)
    cube = np.random.default_rng(seed).random((side, side, wl.size)).astype(np.float32)
    path = tmp_path / 'scene.npz'
    np.savez(path, cube=cube, wavelengths_nm=wl)
    return path, cube, wl


@pytest.mark.parametrize('sensor', sorted(SENSORS))
def test_bands_are_means_over_the_published_band_passes(tmp_path, sensor):
    _, cube, wl = _scene(tmp_path)
    r = sensor_responses(sensor, wl)
    ms, pan = synthesize(cube, r)
    assert ms.shape == cube.shape[:2] + (len(SENSORS[sensor]['bands']),)
    for k, (_, lo, hi) in enumerate(SENSORS[sensor]['bands']):
        inside = (wl >= lo) & (wl <= hi)
        assert np.allclose(ms[..., k], cube[..., inside].mean(axis=2), atol=1e-6)
    lo, hi = SENSORS[sensor]['pan']
    assert np.allclose(pan, cube[..., (wl >= lo) & (wl <= hi)].mean(axis=2), atol=1e-6)
    assert np.allclose(r['weights'].sum(axis=1), 1.0) and np.isclose(r['pan_weights'].sum(), 1.0)


def test_prepared_set_has_the_sensor_bands_and_the_hyperspectral_pan(tmp_path):
    path, cube, wl = _scene(tmp_path)
    s = prepare_dataset(str(path), tmp_path / 'ms', patch=16, test_patch=16, sensor='worldview3', log=None)
    test = read_hpc(s['files']['test'])
    assert test.gt.shape[1] == 8 and test.ms.shape[1] == 8 and test.pan.shape[1] == 1
    r = sensor_responses('worldview3', wl)
    ref = cube / cube.max()
    (r0, r1), (c0, c1) = s['region_rows']['test'], s['region_cols']['test']
    ms_ref, pan_ref = synthesize(ref[r0:r1, c0:c1], r)
    assert np.allclose(test.gt[0].transpose(1, 2, 0), ms_ref[:16, :16], atol=1e-6)  # first patch: top-left
    assert np.allclose(test.pan[0, 0], pan_ref[:16, :16], atol=1e-6)
    with h5py.File(s['files']['test'], 'r') as f:
        assert f.attrs['sensor'] == 'worldview3' and list(f.attrs['wavelengths_nm']) == list(r['centres_nm'])


def test_a_cube_that_does_not_cover_a_band_or_has_no_wavelengths_is_refused(tmp_path):
    path, _, _ = _scene(tmp_path, hi=850.0)
    with pytest.raises(HsbinetError) as e:
        prepare_dataset(str(path), tmp_path / 'x', sensor='worldview3', log=None)
    assert_error(e, 'nir2 860-1040 nm', 'data.sensor')
    assert not (tmp_path / 'x').exists()
    with pytest.raises(HsbinetError) as e:
        sensor_responses('quickbird', None)
    assert_error(e, 'wavelengths')
    with pytest.raises(HsbinetError) as e:
        sensor_responses('landsat', np.arange(400, 900, 10.0))
    assert_error(e, 'worldview3')
