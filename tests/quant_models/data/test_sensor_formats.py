"""ENVI and GeoTIFF scenes (quant_models.data.readers.envi / .geotiff): read, write, georef.

Files are written three ways so the readers are not only checked against our own writers: by
our writers, by the libraries directly (rasterio/GDAL's ENVI and GTiff drivers), and by hand
(an ENVI header as text + the raw bytes from NumPy).
"""

from __future__ import annotations


import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine

from quant_models.common import HsbinetError
from quant_models.data.hpc_format import read_hpc
from quant_models.data.readers import (Georef, load_cube, read_envi, read_geotiff, write_cube,
                                       write_envi, write_geotiff)
from quant_models.data.wald import pan_spectral_response
from tests.quant_models.data.helpers import assert_error

H, W, B = 9, 10, 4
UTM13 = CRS.from_epsg(32613)
GEO = Georef(transform=(30.0, 0.0, 500010.0, 0.0, -30.0, 4000020.0), crs_wkt=UTM13.to_wkt())
WL = np.array([450.0, 550.5, 650.25, 1000.0])

ENVI_TYPES = ['uint8', 'int16', 'int32', 'float32', 'float64', 'uint16', 'uint32', 'int64',
              'uint64']
ENVI_CODE = {'uint8': 1, 'int16': 2, 'int32': 3, 'float32': 4, 'float64': 5, 'uint16': 12,
             'uint32': 13, 'int64': 14, 'uint64': 15}
TIFF_TYPES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'int64',
              'float32', 'float64']


def north_up(west, north, xsize, ysize) -> Affine:
    """rasterio.transform.from_origin without its affine-3 deprecation warning."""
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def cube_of(dtype: str, shape=(H, W, B), seed=0) -> np.ndarray:
    """Random values spanning the dtype, with its extremes in the first pixels."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    if dt.kind == 'f':
        a = rng.standard_normal(shape).astype(dt) * dt.type(1e3)
        a.flat[0], a.flat[1] = np.finfo(dt).max, np.finfo(dt).tiny
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
        a.flat[0], a.flat[1] = info.min, info.max
    return a


def float32_exact(dtype: str, shape=(H, W, B), seed=1) -> np.ndarray:
    """Values every dtype and float32 hold exactly (so load_cube's float32 must equal them)."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    lo = 0 if dt.kind == 'u' else -100
    hi = min(250 if dt.itemsize == 1 else 60000, 120 if dt == np.int8 else 60000)
    a = rng.integers(lo, hi, shape)
    return (a.astype(dt) / (dt.type(4) if dt.kind == 'f' else 1)).astype(dt)


def one_paragraph(excinfo, *fragments):
    msg = str(excinfo.value)
    assert '\n' not in msg and 'Traceback' not in msg, msg
    assert 'File: ' in msg and 'Expected: ' in msg and 'Found: ' in msg, msg
    assert_error(excinfo, *fragments)


def raw_envi(tmp_path, name, data, interleave='bsq', byte_order=0, offset=0, extra='',
             data_ext='.img'):
    """Write an ENVI pair by hand: header text + NumPy's raw bytes in the given layout."""
    h, w, b = data.shape
    layout = {'bsq': (2, 0, 1), 'bil': (0, 2, 1), 'bip': (0, 1, 2)}[interleave]
    dt = data.dtype.newbyteorder('>' if byte_order else '<')
    body = np.ascontiguousarray(data.transpose(layout)).astype(dt).tobytes()
    (tmp_path / f'{name}{data_ext}').write_bytes(b'\0' * offset + body)
    hdr = tmp_path / f'{name}.hdr'
    hdr.write_text(f'ENVI\ndescription = {{hand-written}}\nsamples = {w}\nlines   = {h}\n'
                   f'bands   = {b}\nheader offset = {offset}\nfile type = ENVI Standard\n'
                   f'data type = {ENVI_CODE[data.dtype.name]}\ninterleave = {interleave}\n'
                   f'byte order = {byte_order}\n{extra}')
    return hdr


# ------------------------------------------------------------------------------------- ENVI

@pytest.mark.parametrize('dtype', ENVI_TYPES)
def test_envi_writer_round_trip_every_type_interleave_and_byte_order(tmp_path, dtype):
    data = cube_of(dtype)
    for inter in ('bsq', 'bil', 'bip'):
        for order in ('little', 'big'):
            hdr, img = write_envi(tmp_path / f'c_{inter}_{order}.hdr', data, interleave=inter,
                                  byte_order=order, wavelengths_nm=WL, georef=GEO)
            assert img.suffix == '.img' and img.stat().st_size == data.nbytes
            s = read_envi(hdr)
            assert s.data.dtype == np.dtype(dtype) and s.data.dtype.isnative
            assert s.data.shape == (H, W, B)
            assert np.array_equal(s.data, data), (inter, order)
            assert f'ENVI {inter.upper()} {order}-endian' in s.orientation
            assert np.array_equal(s.wavelengths_nm, WL)
            assert s.georef.transform == GEO.transform
            # the same pair read by GDAL (an independent ENVI reader)
            with rasterio.open(img) as ds:
                assert np.array_equal(ds.read().transpose(1, 2, 0), data)
                assert tuple(ds.transform)[:6] == GEO.transform and ds.crs == UTM13


@pytest.mark.parametrize('interleave', ['bsq', 'bil', 'bip'])
@pytest.mark.parametrize('byte_order', [0, 1])
def test_envi_reader_on_hand_written_files(tmp_path, interleave, byte_order):
    for dtype in ENVI_TYPES:
        data = cube_of(dtype, seed=3)
        hdr = raw_envi(tmp_path, f'{dtype}_{interleave}', data, interleave, byte_order,
                       offset=16)
        s = read_envi(hdr)
        assert s.data.dtype == np.dtype(dtype) and np.array_equal(s.data, data), dtype
        assert s.files == [str(hdr), str(hdr.with_suffix('.img'))]
        exact = float32_exact(dtype)
        hdr = raw_envi(tmp_path, f'x{dtype}', exact, interleave, byte_order,
                       extra='wavelength units = Micrometers\n'
                             'wavelength = {0.45, 0.55,\n 0.65, 1.0}\n', data_ext='.dat')
        c = load_cube(str(hdr))
        assert c.data.dtype == np.float32 and c.shape == (H, W, B)
        assert np.array_equal(c.data, exact.astype(np.float32)) and c.source_dtype == dtype
        assert np.allclose(c.wavelengths_nm, [450, 550, 650, 1000], rtol=0, atol=1e-9)
        assert c.key == '(image)' and c.georef is None and c.name == f'x{dtype}'


def test_envi_data_file_path_and_raw_extension(tmp_path):
    data = cube_of('int16')
    raw_envi(tmp_path, 'scene', data, 'bil', data_ext='.raw')
    for path in (tmp_path / 'scene.hdr', tmp_path / 'scene.raw'):
        assert np.array_equal(read_envi(path).data, data)
    # GDAL-style header name x.img.hdr, opened through the data file
    write_envi(tmp_path / 'g.img', data)
    (tmp_path / 'g.hdr').rename(tmp_path / 'g.img.hdr')
    assert np.array_equal(load_cube(str(tmp_path / 'g.img')).data, data.astype(np.float32))


@pytest.mark.parametrize('interleave', ['bsq', 'bil', 'bip'])
def test_envi_written_by_gdal(tmp_path, interleave):
    data = cube_of('uint16', seed=4)
    path = tmp_path / f'gdal_{interleave}.dat'
    with rasterio.open(path, 'w', driver='ENVI', width=W, height=H, count=B, dtype='uint16',
                       crs=CRS.from_epsg(32733), transform=north_up(300000, 8000000, 5, 5),
                       interleave=interleave) as ds:
        ds.write(data.transpose(2, 0, 1))
        ds.update_tags(ns='ENVI', wavelength='{0.4, 0.5, 0.6, 0.7}',
                       wavelength_units='Micrometers')
    c = load_cube(str(tmp_path / f'gdal_{interleave}.hdr'))
    assert np.array_equal(c.data, data.astype(np.float32))
    assert np.allclose(c.wavelengths_nm, [400, 500, 600, 700])
    assert 'x1000 -> nm' in c.extra['wavelength_source']
    assert c.georef.transform == (5.0, 0.0, 300000.0, 0.0, -5.0, 8000000.0)
    assert c.georef.crs() == CRS.from_epsg(32733) and c.georef.crs().to_epsg() == 32733
    assert c.extra['interleave'] == interleave and c.extra['format'] == 'ENVI'


MAP_INFOS = [
    ('{UTM, 1, 1, 500000, 4000000, 30, 30, 13, North, WGS-84, units=Meters}', 32613),
    ('{UTM, 2, 3, 500000, 4000000, 30, 20, 33, South, WGS-84}', 32733),
    ('{UTM, 1.5, 1.5, 600000.5, 4100000.25, 2.5, 2.5, 18, North, North America 1983}', 26918),
    ('{Geographic Lat/Lon, 1.0, 1.0, 10.0, 50.0, 0.001, 0.001, WGS-84, units=Degrees}', 4326),
    ('{UTM, 1, 1, 500000, 4000000, 30, 30, 13, North, WGS-84, units=Meters, rotation=30.0}',
     32613),
    ('{Geographic Lat/Lon, 1, 1, -105.0, 40.0, 0.001, 0.001,WGS-84, rotation=-12.5}', 4326),
]


@pytest.mark.parametrize('map_info,epsg', MAP_INFOS)
def test_envi_map_info_matches_gdal(tmp_path, map_info, epsg):
    hdr = raw_envi(tmp_path, 'm', cube_of('uint8'), extra=f'map info = {map_info}\n')
    g = read_envi(hdr).georef
    with rasterio.open(tmp_path / 'm.img') as ds:
        assert np.allclose(g.transform, tuple(ds.transform)[:6], rtol=1e-12, atol=1e-9)
        assert ds.crs.to_epsg() == epsg
    assert g.crs().to_epsg() == epsg and g.envi_map_info == map_info.strip('{}').replace(
        ',WGS', ', WGS')
    # carried over: our ENVI writer keeps the verbatim map info, GDAL reads the same transform
    h2, i2 = write_envi(tmp_path / 'copy.hdr', read_envi(hdr).data, georef=g)
    assert read_envi(h2).georef.transform == g.transform
    with rasterio.open(i2) as ds:
        assert np.allclose(tuple(ds.transform)[:6], g.transform, rtol=1e-12, atol=1e-9)
        assert ds.crs.to_epsg() == epsg


def test_envi_writer_rotation_and_other_projections_read_by_gdal(tmp_path):
    data = cube_of('float32')
    rotated = Affine.translation(600000, 5000000) @ Affine.rotation(20) @ Affine.scale(10, -10)
    laea = CRS.from_epsg(3035)
    for name, tr, crs in (('rot', rotated, UTM13),
                          ('laea', north_up(4321000, 3210000, 100, 100), laea),
                          ('geo', north_up(-105, 40, 0.01, 0.01), CRS.from_epsg(4326))):
        g = Georef(transform=tuple(tr)[:6], crs_wkt=crs.to_wkt())
        hdr, img = write_envi(tmp_path / f'{name}.hdr', data, georef=g)
        with rasterio.open(img) as ds:
            assert np.allclose(tuple(ds.transform)[:6], g.transform, rtol=1e-12, atol=1e-6)
            assert ds.crs == crs, name
        back = read_envi(hdr).georef
        assert np.allclose(back.transform, g.transform, rtol=1e-12, atol=1e-6)
        assert back.crs() == crs
    assert 'rotation=20.0' in (tmp_path / 'rot.hdr').read_text().replace(' ', '')
    assert 'Lambert Azimuthal Equal Area' in (tmp_path / 'laea.hdr').read_text()
    sheared = Georef(transform=(10.0, 3.0, 0.0, 0.0, -10.0, 0.0), crs_wkt=UTM13.to_wkt())
    with pytest.raises(HsbinetError) as e:
        write_envi(tmp_path / 'shear.hdr', data, georef=sheared)
    assert_error(e, 'cannot be written as ENVI map info', 'GeoTIFF')
    # a GeoTIFF takes any affine transform
    p = write_geotiff(tmp_path / 'shear.tif', data, georef=sheared)
    assert read_geotiff(p).georef.transform == sheared.transform


@pytest.mark.parametrize('units,values,expect', [
    ('Nanometers', '450, 550, 650, 1000', [450, 550, 650, 1000]),
    ('nm', '450, 550, 650, 1000', [450, 550, 650, 1000]),
    ('Micrometers', '0.45, 0.55, 0.65, 1.0', [450, 550, 650, 1000]),
    ('um', '0.45, 0.55, 0.65, 1.0', [450, 550, 650, 1000]),
    ('microns', '0.45, 0.55, 0.65, 1.0', [450, 550, 650, 1000]),
    ('Millimeters', '0.00045, 0.00055, 0.00065, 0.001', [450, 550, 650, 1000]),
    ('Wavenumber', '20000, 10000, 5000, 4000', [500, 1000, 2000, 2500]),
    (None, '0.45, 0.55, 0.65, 1.0', [450, 550, 650, 1000]),     # no units: < 30 -> um
    ('Unknown', '450, 550, 650, 1000', [450, 550, 650, 1000]),  # >= 30 -> nm
    ('Index', '1, 2, 3, 4', None),
])
def test_envi_wavelength_units(tmp_path, units, values, expect):
    extra = f'wavelength = {{{values}}}\n' + (f'wavelength units = {units}\n' if units else '')
    c = load_cube(str(raw_envi(tmp_path, 'w', float32_exact('int16'), extra=extra)))
    if expect is None:
        assert c.wavelengths_nm is None and 'not a wavelength' in c.extra['wavelength_source']
    else:
        assert np.allclose(c.wavelengths_nm, expect, rtol=1e-12)
        assert c.wavelengths_nm.dtype == np.float64
    assert 'wavelengths: ENVI header' in c.provenance


def test_envi_wavelengths_feed_the_pan_response(tmp_path):
    wl_um = '0.40, 0.50, 0.80, 1.60'  # two bands inside 450..900 nm
    hdr = raw_envi(tmp_path, 'p', float32_exact('uint16'),
                   extra=f'wavelength units = Micrometers\nwavelength = {{{wl_um}}}\n')
    c = load_cube(str(hdr))
    expect = pan_spectral_response(np.array([400.0, 500.0, 800.0, 1600.0]), B)
    assert np.allclose(pan_spectral_response(c.wavelengths_nm, B), expect)
    assert not np.allclose(expect, pan_spectral_response(None, B))  # the wavelengths matter


@pytest.mark.parametrize('extra,fragments', [
    ('wavelength = {450, 550, 650}\n', ('match the band count', '4 band centres', '3 values')),
    ('wavelength = {450, 550, x, 1000}\n', ('not a number', "'x'")),
    ('wavelength = {450, 550, 650, 1000}\nwavelength units = furlongs\n',
     ('Unknown wavelength unit', "'furlongs'")),
    ('map info = {UTM, 1, 1, east, 4000000, 30, 30}\n', ('non-numeric', 'map info')),
    ('coordinate system string = {NOT A WKT}\nmap info = {Arbitrary, 1, 1, 0, 0, 1, 1}\n',
     ('coordinate system string', 'WKT')),
])
def test_envi_bad_header_values(tmp_path, extra, fragments):
    hdr = raw_envi(tmp_path, 'bad', cube_of('uint8'), extra=extra)
    with pytest.raises(HsbinetError) as e:
        load_cube(str(hdr))
    one_paragraph(e, 'bad.hdr', *fragments)


def test_envi_truncated_mismatched_and_missing_files(tmp_path):
    data = cube_of('int16')
    hdr, img = write_envi(tmp_path / 't.hdr', data)
    img.write_bytes(img.read_bytes()[:-10])
    with pytest.raises(HsbinetError) as e:
        load_cube(str(hdr))
    one_paragraph(e, 't.img', 'size does not match its header', f'{data.nbytes} bytes',
                  f'{data.nbytes - 10} bytes, 10 bytes short (truncated?)')
    # header says int32, file holds int16: mismatch, not garbage
    hdr.write_text(hdr.read_text().replace('data type = 2', 'data type = 3'))
    img.write_bytes(data.tobytes())
    with pytest.raises(HsbinetError) as e:
        load_cube(str(hdr))
    one_paragraph(e, 'data type 3 (int32)', 'bytes short')
    img.write_bytes(data.tobytes() * 3)
    with pytest.raises(HsbinetError) as e:
        read_envi(hdr)
    one_paragraph(e, 'more than the header describes')
    # missing data file, missing header, missing field, not a header, unknown data type
    img.unlink()
    with pytest.raises(HsbinetError) as e:
        load_cube(str(hdr))
    one_paragraph(e, 't.hdr', 'no data file', 't.img')
    (tmp_path / 'lone.img').write_bytes(b'\0' * 100)
    with pytest.raises(HsbinetError) as e:
        load_cube(str(tmp_path / 'lone.img'))
    one_paragraph(e, 'lone.img', 'has no header', 'lone.hdr')
    hdr = raw_envi(tmp_path, 'nofield', data)
    hdr.write_text(hdr.read_text().replace('byte order = 0\n', ''))
    with pytest.raises(HsbinetError) as e:
        load_cube(str(hdr))
    one_paragraph(e, 'nofield.hdr', 'mandatory field', 'byte order')
    hdr.write_text('PNG\nnot a header\n')
    with pytest.raises(HsbinetError) as e:
        load_cube(str(hdr))
    one_paragraph(e, 'nofield.hdr', 'Cannot read the ENVI header')
    hdr = raw_envi(tmp_path, 'dt', data)
    hdr.write_text(hdr.read_text().replace('data type = 2', 'data type = 7'))
    with pytest.raises(HsbinetError) as e:
        load_cube(str(hdr))
    one_paragraph(e, 'dt.hdr', 'unknown data type', 'data type = 7')
    hdr = raw_envi(tmp_path, 'ok', data)
    with pytest.raises(HsbinetError) as e:
        load_cube(str(hdr), layout='BHW')
    one_paragraph(e, 'layout', "'BHW'")


def test_envi_writer_errors_and_atomic_pair(tmp_path):
    with pytest.raises(HsbinetError) as e:
        write_envi(tmp_path / 'i8.hdr', np.zeros((8, 8, 3), np.int8))
    one_paragraph(e, 'cannot be stored in ENVI', 'int8')
    with pytest.raises(HsbinetError) as e:
        write_envi(tmp_path / 'w.hdr', np.zeros((8, 8, 3), np.uint8), wavelengths_nm=[1, 2])
    one_paragraph(e, '3 finite values', '2 values')
    with pytest.raises(HsbinetError) as e:
        write_envi(tmp_path / 'r.hdr', np.zeros((8, 8), np.uint8))
    one_paragraph(e, 'rank 3')
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing left behind


# ---------------------------------------------------------------------------------- GeoTIFF

@pytest.mark.parametrize('dtype', TIFF_TYPES)
def test_geotiff_writer_round_trip_every_type(tmp_path, dtype):
    data = cube_of(dtype, seed=5)
    for inter in ('pixel', 'band'):
        p = write_geotiff(tmp_path / f'g_{inter}.tif', data, wavelengths_nm=WL, georef=GEO,
                          interleave=inter, band_names=['b1', 'b2', 'b3', 'b4'],
                          compress='deflate' if inter == 'band' else None)
        s = read_geotiff(p)
        assert s.data.dtype == np.dtype(dtype) and s.data.shape == (H, W, B)
        assert np.array_equal(s.data, data)
        assert np.array_equal(s.wavelengths_nm, WL)
        assert s.georef.transform == GEO.transform and s.georef.crs() == UTM13
        assert s.metadata['band_names'] == ['b1', 'b2', 'b3', 'b4']
        with rasterio.open(p) as ds:  # what another GDAL tool sees
            assert np.array_equal(ds.read().transpose(1, 2, 0), data)
            assert ds.tags(2) == {'wavelength': '550.5', 'wavelength_units': 'Nanometers'}
            assert float(ds.tags(2, ns='IMAGERY')['CENTRAL_WAVELENGTH_UM']) == 0.5505
            assert ds.crs == UTM13 and tuple(ds.transform)[:6] == GEO.transform
    assert sorted(q.name for q in tmp_path.iterdir()) == ['g_band.tif', 'g_pixel.tif']
    exact = float32_exact(dtype)
    c = load_cube(str(write_geotiff(tmp_path / 'exact.tif', exact)))
    assert c.source_dtype == dtype and c.data.dtype == np.float32 and c.shape == (H, W, B)
    assert np.array_equal(c.data, exact.astype(np.float32))
    if dtype == 'float64':  # finfo(float64).max is in `data`: no silent inf in the float32 cube
        with pytest.raises(HsbinetError) as e:
            load_cube(str(tmp_path / 'g_band.tif'))
        one_paragraph(e, 'overflow float32', 'float64')


def _gdal_tiff(path, data, **tags_by_kind):
    with rasterio.open(path, 'w', driver='GTiff', width=data.shape[1], height=data.shape[0],
                       count=data.shape[2], dtype=data.dtype.name, crs=CRS.from_epsg(4326),
                       transform=north_up(-105.0, 40.0, 0.001, 0.001)) as ds:
        ds.write(data.transpose(2, 0, 1))
        for i, t in enumerate(tags_by_kind.get('band', []), 1):
            ds.update_tags(i, **t)
        for i, t in enumerate(tags_by_kind.get('imagery', []), 1):
            ds.update_tags(i, ns='IMAGERY', **t)
        if 'dataset' in tags_by_kind:
            ds.update_tags(**tags_by_kind['dataset'])
        for i, d in enumerate(tags_by_kind.get('descriptions', []), 1):
            ds.set_band_description(i, d)
    return path


@pytest.mark.parametrize('kind,tags,expect', [
    ('band', [{'wavelength': str(w), 'wavelength_units': 'Micrometers'}
              for w in (0.45, 0.55, 0.65, 1.0)], [450, 550, 650, 1000]),
    ('band', [{'wavelength': str(w), 'wavelength_units': 'nm'} for w in (450, 550, 650, 1000)],
     [450, 550, 650, 1000]),
    ('imagery', [{'CENTRAL_WAVELENGTH_UM': str(w)} for w in (0.45, 0.55, 0.65, 1.0)],
     [450, 550, 650, 1000]),
    ('dataset', {'wavelength': '{0.45, 0.55, 0.65, 1.0}', 'wavelength_units': 'um'},
     [450, 550, 650, 1000]),
    ('descriptions', ['Band 1 (450.5 nm)', '550 nm', '650nm', 'Band 4: 1000.0 nm'],
     [450.5, 550, 650, 1000]),
    ('descriptions', ['Band 1', 'Band 2', 'Band 3', 'Band 4'], None),
    (None, None, None),
])
def test_geotiff_written_by_rasterio_wavelengths_and_georef(tmp_path, kind, tags, expect):
    data = float32_exact('int16', seed=7)
    p = _gdal_tiff(tmp_path / 'r.tif', data, **({kind: tags} if kind else {}))
    c = load_cube(str(p))
    assert np.array_equal(c.data, data.astype(np.float32)) and c.source_dtype == 'int16'
    if expect is None:
        assert c.wavelengths_nm is None
    else:
        assert np.allclose(c.wavelengths_nm, expect, rtol=1e-12)
    assert c.georef.transform == (0.001, 0.0, -105.0, 0.0, -0.001, 40.0)
    assert c.georef.crs().to_epsg() == 4326 and c.extra['format'] == 'GeoTIFF'


def test_geotiff_errors(tmp_path):
    data = float32_exact('uint16')
    p = _gdal_tiff(tmp_path / 'partial.tif', data,
                   band=[{'wavelength': '450'}, {'wavelength': '550'}])
    with pytest.raises(HsbinetError) as e:
        load_cube(str(p))
    one_paragraph(e, 'partial.tif', 'some bands only', 'band(s) 3, 4')
    good = write_geotiff(tmp_path / 'good.tif', data, georef=GEO)
    raw = good.read_bytes()
    for n, cut in (('half', len(raw) // 2), ('head', 200), ('tiny', 4)):
        bad = tmp_path / f'trunc_{n}.tif'
        bad.write_bytes(raw[:cut])
        with pytest.raises(HsbinetError) as e:
            load_cube(str(bad))
        one_paragraph(e, f'trunc_{n}.tif', 'GeoTIFF')
    p = write_geotiff(tmp_path / 'two.tif', data[:, :, :2])
    with pytest.raises(HsbinetError) as e:
        load_cube(str(p))
    one_paragraph(e, 'two.tif', 'too few spectral bands', '2 band(s)')
    with pytest.raises(HsbinetError) as e:
        write_geotiff(tmp_path / 'f16.tif', data.astype(np.float16))
    one_paragraph(e, 'cannot be stored in a GeoTIFF', 'float16')
    assert not (tmp_path / 'f16.tif').exists()


def test_plain_tiff_without_georef_and_pixel_is_point(tmp_path):
    data = float32_exact('uint8')
    p = write_geotiff(tmp_path / 'plain.tiff', data)
    c = load_cube(str(p))
    assert c.georef is None and c.wavelengths_nm is None
    assert np.array_equal(c.data, data.astype(np.float32))
    point = Georef(transform=GEO.transform, crs_wkt=GEO.crs_wkt, area_or_point='Point')
    g = read_geotiff(write_geotiff(tmp_path / 'point.tif', data, georef=point)).georef
    assert g.area_or_point == 'Point' and g.transform == GEO.transform


# --------------------------------------------------------------------- carrying it all over

def test_envi_to_geotiff_to_envi_keeps_wavelengths_and_georef(tmp_path):
    data = float32_exact('uint16', seed=9)
    hdr = raw_envi(tmp_path, 'src', data, 'bil', 1,
                   extra='map info = {UTM, 1, 1, 500000, 4000000, 30, 30, 13, North, WGS-84}\n'
                         'wavelength units = Micrometers\nwavelength = {0.45, 0.55, 0.65, 1.0}\n'
                         'fwhm = {0.01, 0.01, 0.02, 0.02}\nband names = {a, b, c, d}\n'
                         'sensor type = AVIRIS\nreflectance scale factor = 10000\n')
    src = load_cube(str(hdr))
    tif = write_cube(tmp_path / 'mid.tif', src, dtype='uint16')
    mid = load_cube(str(tif))
    back_hdr = write_cube(tmp_path / 'back.hdr', mid, interleave='bip', dtype='uint16')
    back = load_cube(str(back_hdr))
    copy_hdr = write_cube(tmp_path / 'copy.dat', src)  # ENVI -> ENVI keeps header fields
    copy = load_cube(str(copy_hdr))
    for c in (mid, back, copy):
        assert np.array_equal(c.data, src.data)
        assert np.allclose(c.wavelengths_nm, [450, 550, 650, 1000], rtol=1e-12)
        assert np.allclose(c.extra['fwhm_nm'], [10, 10, 20, 20])
        assert c.extra['band_names'] == ['a', 'b', 'c', 'd']
        assert c.georef.transform == (30.0, 0.0, 500000.0, 0.0, -30.0, 4000000.0)
        assert c.georef.crs() == UTM13
    assert mid.source_dtype == 'uint16' and back.source_dtype == 'uint16'
    assert copy.extra['envi_header']['sensor type'] == 'AVIRIS'
    assert copy.extra['envi_header']['reflectance scale factor'] == '10000'
    # the sharpened cube lives on a ratio-times finer grid with the same corner
    fine = src.georef.scaled(4)
    assert fine.transform == (7.5, 0.0, 500000.0, 0.0, -7.5, 4000000.0)
    up = np.repeat(np.repeat(src.data, 4, 0), 4, 1)
    for p in (write_cube(tmp_path / 'sharp.tif', up, wavelengths_nm=src.wavelengths_nm,
                         georef=fine),
              write_cube(tmp_path / 'sharp.hdr', up, wavelengths_nm=src.wavelengths_nm,
                         georef=fine)):
        s = load_cube(str(p))
        assert s.shape == (4 * H, 4 * W, B) and s.georef.transform == fine.transform
    with pytest.raises(HsbinetError) as e:
        write_cube(tmp_path / 'x.png', up)
    assert_error(e, 'Unsupported output format', "'.png'")


def test_cli_data_accepts_envi_and_geotiff(tmp_path, monkeypatch, capsys):
    from build_flows.cli import main
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(11)
    data = rng.integers(0, 4000, (64, 64, 5)).astype(np.int16)  # the smallest scene the split accepts
    wl = np.array([400.0, 500.0, 600.0, 700.0, 950.0])
    hdr, _ = write_envi(tmp_path / 'scene.hdr', data, wavelengths_nm=wl / 1000.0, georef=GEO,
                        interleave='bil')
    hdr.write_text(hdr.read_text().replace('Nanometers', 'Micrometers'))
    tif = write_geotiff(tmp_path / 'scene.tif', data, wavelengths_nm=wl, georef=GEO)
    for scene, out in ((hdr, 'out_envi'), (tif, 'out_tif')):
        args = ['data', '--scene', str(scene), '--out', str(tmp_path / out), '--patch', '16',
                '--test-patch', '16']
        assert main(args) == 0, capsys.readouterr().err
        val = read_hpc(tmp_path / out / 'val.h5')
        assert val.gt.shape[1] == 5
        assert np.allclose(val.attrs['wavelengths_nm'], wl)
    capsys.readouterr()
    (tmp_path / 'scene.img').write_bytes((tmp_path / 'scene.img').read_bytes()[:-2])
    assert main(['data', '--scene', str(hdr), '--out', str(tmp_path / 'o3')]) == 2
    err = capsys.readouterr().err
    assert 'size does not match its header' in err and 'Traceback' not in err
    assert len(err.strip().splitlines()) == 1
