"""ENVI scenes (``.hdr`` + ``.img``/``.dat``/``.raw``/... data file): read and write.

Library: `spectral` (Spectral Python, SPy) parses the header and maps the data file
(``spectral.io.envi``). It is the reference Python implementation of ENVI I/O in the
hyperspectral community, pure Python on top of NumPy (nothing compiled to break on a platform),
handles every ENVI data type, BSQ/BIL/BIP and both byte orders, and gives back every header
field verbatim (wavelengths, fwhm, band names, map info), which is what a writer needs to carry
them over. GDAL's ENVI driver (through rasterio, our GeoTIFF library) would also read these
files, but it hides header fields behind its own metadata model; the tests use it as an
independent second implementation instead.

Reading (:func:`read_envi`):

* ``path`` may be the header (``x.hdr``; the data file is found as SPy does: ``x``, ``x.img``,
  ``x.dat``, ``x.sli``, ``x.hyspex``, ``x.raw``, ``x.<interleave>``, upper-case too) or the data
  file (``x.img`` etc.; the header is ``x.hdr`` or ``x.img.hdr``).
* The data file must hold exactly ``header offset + lines * samples * bands * bytes`` bytes;
  anything else (a truncated copy, a header with the wrong size or data type) is an error.
* The array comes back in its stored dtype (native byte order), layout (H, W, B) =
  (lines, samples, bands) whatever the interleave; values are never scaled (``reflectance scale
  factor`` is reported in the header, not applied).
* Wavelengths: ``wavelength`` with ``wavelength units``, converted to nm
  (:func:`quant_models.data.readers.wavelengths.to_nanometres`).
* Georeferencing: ``map info`` gives the transform, exactly as GDAL's ENVI driver reads it
  (reference pixel ``(i, j)`` is 1-based with ``(1, 1)`` the upper-left *corner*; ``rotation=``
  in degrees: ``a = cos(r) dx, b = sin(r) dx, d = sin(r) dy, e = -cos(r) dy``, origin
  ``x0 = E - (i - 1) dx, y0 = N + (j - 1) dy``). The CRS is the ``coordinate system string`` (WKT)
  when present, else derived from ``map info`` for UTM (WGS-84, NAD83, NAD27) and Geographic
  Lat/Lon WGS-84; other projections without a coordinate system string keep the transform and
  ``crs_wkt = None`` (the verbatim fields are kept in :class:`Georef`).

Writing (:func:`write_envi`): SPy's ``envi.save_image`` writes the data file and header; we add
``wavelength`` (nm, ``wavelength units = Nanometers``), ``fwhm``, ``band names``, ``map info``
(reference pixel (1, 1), ``rotation=`` when the transform is rotated) and ``coordinate system
string`` (ESRI WKT, which GDAL and ENVI 5 read before map info). A verbatim ``map info`` from an
ENVI source is written unchanged while it still gives the same transform.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from quant_models.common import HsbinetError
from quant_models.data.readers.georef import Georef
from quant_models.data.readers.raster import RasterScene
from quant_models.data.readers.wavelengths import to_nanometres


#: Extensions the loader sends here: the header and the usual ENVI data-file names.
ENVI_EXTS = ('.hdr', '.img', '.dat', '.raw', '.bsq', '.bil', '.bip')

#: ENVI ``data type`` codes -> NumPy (as SPy maps them).
ENVI_DTYPES = {1: 'uint8', 2: 'int16', 3: 'int32', 4: 'float32', 5: 'float64', 6: 'complex64',
               9: 'complex128', 12: 'uint16', 13: 'uint32', 14: 'int64', 15: 'uint64'}

#: Header fields a writer sets itself (never copied from a source header).
_STRUCTURAL = {'samples', 'lines', 'bands', 'header offset', 'file type', 'data type',
               'interleave', 'byte order', 'map info', 'coordinate system string',
               'projection info', 'wavelength', 'wavelength units', 'fwhm', 'band names',
               'description', 'x start', 'y start'}

_UTM_DATUMS = {'wgs-84': (32600, 32700), 'north america 1983': (26900, None),
               'north america 1927': (26700, None)}


# ------------------------------------------------------------------------------------ reading

def find_envi_files(path: str) -> tuple[str, str | None]:
    """(header, data file or None to let SPy search) for a header or a data-file path."""
    p = Path(path)
    if p.suffix.lower() == '.hdr':
        return str(p), None
    for cand in (p.with_suffix('.hdr'), p.with_suffix('.HDR'), Path(str(p) + '.hdr'),
                 Path(str(p) + '.HDR')):
        if cand.is_file():
            return str(cand), str(p)
    raise HsbinetError('ENVI data file has no header', file=str(p), key='(header)',
                       expected=f'an ENVI header {p.with_suffix(".hdr").name} or '
                                f'{p.name}.hdr beside the data file',
                       found='no such header',
                       hint='an .img without an ENVI header (e.g. ERDAS Imagine) is not read; '
                            'convert it to GeoTIFF')


def read_envi(path: str | os.PathLike) -> RasterScene:
    """Read an ENVI scene (module docstring): stored dtype, (H, W, B), wavelengths, georef.

    Raises:
        HsbinetError: missing/unparsable header or data file, unsupported header features, a
            data file whose size differs from the header's, bad wavelengths or map info.
    """
    import spectral.io.envi as envi
    hdr, data_file = find_envi_files(os.fspath(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # SPy warns when it lower-cases header field names
            img = envi.open(hdr, image=data_file)
    except Exception as exc:  # noqa: BLE001 - SPy raises its own and builtin types
        raise _header_error(hdr, exc) from None
    try:
        return _read_opened(img, hdr)
    finally:
        fid = getattr(img, 'fid', None)
        if fid is not None:
            fid.close()


def _header_error(hdr: str, exc: Exception) -> HsbinetError:
    name = type(exc).__name__
    if name == 'EnviDataFileNotFoundError':
        stem = Path(hdr).with_suffix('')
        return HsbinetError('ENVI header has no data file beside it', file=hdr, key='(data file)',
                            expected=f'{stem.name}, {stem.name}.img, .dat, .raw, .sli, .hyspex '
                                     'or .<interleave> in the same folder',
                            found='none of these exists',
                            hint='pass the data file itself as the scene path')
    if name == 'MissingEnviHeaderParameter':
        return HsbinetError('ENVI header lacks a mandatory field', file=hdr, key=str(exc),
                            expected='samples, lines, bands, data type, interleave and byte order',
                            found=str(exc))
    if isinstance(exc, KeyError):
        return HsbinetError('ENVI header has an unknown data type', file=hdr, key='data type',
                            expected='one of ' + ', '.join(f'{k} ({v})'
                                                           for k, v in ENVI_DTYPES.items()),
                            found=f'data type = {exc.args[0] if exc.args else exc}')
    if isinstance(exc, ValueError):
        return HsbinetError('ENVI header has a field that is not a number', file=hdr,
                            key='samples/lines/bands/header offset/byte order',
                            expected='integers', found=str(exc))
    return HsbinetError('Cannot read the ENVI header', file=hdr, key='(header)',
                        expected='an ENVI header (first line "ENVI", "field = value" lines) of '
                                 'a standard (not spectral-library) image',
                        found=f'{name}: {exc}')


def _read_opened(img, hdr: str) -> RasterScene:
    h = dict(img.metadata)
    data_file = img.filename
    if str(h.get('file type', '')).strip().lower() == 'envi spectral library':
        raise HsbinetError('ENVI file is a spectral library, not an image', file=hdr,
                           key='file type', expected='ENVI Standard',
                           found=str(h.get('file type')))
    lines, samples, bands = int(h['lines']), int(h['samples']), int(h['bands'])
    offset = int(h.get('header offset', 0))
    code = int(str(h['data type']).strip())
    dtype = np.dtype(img.dtype)
    expected = offset + lines * samples * bands * dtype.itemsize
    actual = os.path.getsize(data_file)
    if actual != expected:
        how = (f'{expected - actual} bytes short (truncated?)' if actual < expected
               else f'{actual - expected} bytes more than the header describes')
        raise HsbinetError('ENVI data file size does not match its header', file=data_file,
                           key='header offset + lines x samples x bands x bytes per value',
                           expected=f'{expected} bytes ({offset} + {lines} x {samples} x '
                                    f'{bands} x {dtype.itemsize} for data type {code} '
                                    f'({dtype.name}), header {Path(hdr).name})',
                           found=f'{actual} bytes, {how}',
                           hint="check the header's lines/samples/bands/data type against the "
                                'data file, or copy the scene again')
    interleave = str(h['interleave']).strip().lower()
    order = 'big-endian' if int(h['byte order']) == 1 else 'little-endian'
    try:
        mm = img.open_memmap(interleave='bip')         # (lines, samples, bands) view
        if mm is None:
            raise OSError('SPy could not map the data file')
        data = np.array(mm, dtype=dtype.newbyteorder('='), order='C')
        del mm
    except Exception as exc:  # noqa: BLE001
        raise HsbinetError('Cannot read the ENVI data file', file=data_file, key='(data)',
                           expected=f'{expected} readable bytes', found=f'{type(exc).__name__}: '
                                                                        f'{exc}') from None
    wl, wl_src = None, 'no wavelength field in the header'
    if 'wavelength' in h:
        wl, words = to_nanometres(_as_list(h['wavelength']), h.get('wavelength units'), bands,
                                  hdr, 'wavelength')
        wl_src = f'ENVI header {words}'
    meta: dict = {'envi_header': h, 'format': 'ENVI', 'interleave': interleave,
                  'byte_order': order}
    if 'fwhm' in h:
        fwhm, _ = to_nanometres(_as_list(h['fwhm']), h.get('wavelength units'), bands, hdr,
                                'fwhm')
        if fwhm is not None:
            meta['fwhm_nm'] = fwhm
    if 'band names' in h and len(_as_list(h['band names'])) == bands:
        meta['band_names'] = [str(s) for s in _as_list(h['band names'])]
    if 'data ignore value' in h:
        meta['nodata'] = _float_or_text(h['data ignore value'])
    georef = envi_georef(h, hdr)
    orient = (f'ENVI {interleave.upper()} {order} {dtype.name} (data type {code}), {lines} lines '
              f'x {samples} samples x {bands} bands: read as (H,W,B) = (lines, samples, bands)')
    return RasterScene(data=data, wavelengths_nm=wl, wavelength_source=wl_src, georef=georef,
                       kind='ENVI', files=[hdr, data_file], orientation=orient, metadata=meta)


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _float_or_text(value):
    try:
        return float(str(value).strip())
    except ValueError:
        return str(value)


def _joined(value) -> str:
    """A braced header value as SPy split it on commas, joined back (verbatim up to spaces)."""
    if isinstance(value, (list, tuple)):
        return ','.join(str(v).replace('\n', '') for v in value).strip()
    return str(value).strip().strip('{}').strip()


def envi_georef(h: dict, hdr: str) -> Georef | None:
    """:class:`Georef` from a header's ``map info`` / ``coordinate system string`` (or None)."""
    css = _joined(h['coordinate system string']) if 'coordinate system string' in h else None
    pinfo = _joined(h['projection info']) if 'projection info' in h else None
    if 'map info' not in h:
        if css:
            return Georef(transform=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), crs_wkt=_wkt(css, hdr),
                          envi_coordinate_system_string=css, envi_projection_info=pinfo,
                          source='ENVI coordinate system string (no map info: no transform)',
                          notes=('no map info: identity transform',))
        return None
    fields = [str(v).strip() for v in _as_list(h['map info'])]
    mi = ', '.join(fields)
    if len(fields) < 7:
        raise HsbinetError('ENVI map info is too short', file=hdr, key='map info',
                           expected='{projection, ref x, ref y, easting, northing, pixel x, '
                                    'pixel y, ...}', found='{' + mi + '}')
    try:
        rx, ry, east, north, dx, dy = (float(v) for v in fields[1:7])
    except ValueError:
        raise HsbinetError('ENVI map info has a non-numeric reference or pixel size', file=hdr,
                           key='map info', expected='numbers in fields 2-7 (reference pixel, '
                                                    'map coordinates, pixel size)',
                           found='{' + mi + '}') from None
    opts = {k.strip().lower(): v.strip() for k, _, v in
            (f.partition('=') for f in fields[7:] if '=' in f)}
    pos = [f for f in fields[7:] if '=' not in f]
    rot = 0.0
    if 'rotation' in opts:
        try:
            rot = float(opts['rotation'])
        except ValueError:
            raise HsbinetError('ENVI map info has a non-numeric rotation', file=hdr,
                               key='map info rotation', expected='degrees',
                               found=repr(opts['rotation'])) from None
    r = math.radians(rot)
    cr, sr = (1.0, 0.0) if rot == 0 else (math.cos(r), math.sin(r))
    transform = (cr * dx, sr * dx, east - (rx - 1.0) * dx,
                 sr * dy, -cr * dy, north + (ry - 1.0) * dy)
    notes: list[str] = []
    if css:
        crs_wkt, how = _wkt(css, hdr), 'CRS from coordinate system string'
    else:
        crs_wkt, how = _crs_from_map_info(fields[0], pos, hdr, mi)
        if crs_wkt is None:
            notes.append(how)
    return Georef(transform=transform, crs_wkt=crs_wkt, envi_map_info=mi,
                  envi_coordinate_system_string=css, envi_projection_info=pinfo,
                  source=f'ENVI map info ({fields[0]}); {how}', notes=tuple(notes))


def _wkt(text: str, hdr: str) -> str:
    from rasterio.crs import CRS
    from rasterio.errors import CRSError
    try:
        crs = CRS.from_wkt(text)
        # ESRI WKT describes an EPSG CRS without naming it: take the EPSG definition when PROJ
        # matches it with full confidence (as GDAL's ENVI driver does)
        epsg = crs.to_epsg(confidence_threshold=100)
        if epsg is not None:
            crs = CRS.from_epsg(epsg)
        return crs.to_wkt()
    except CRSError as exc:
        raise HsbinetError('ENVI coordinate system string is not a valid WKT CRS', file=hdr,
                           key='coordinate system string', expected='OGC/ESRI WKT',
                           found=f'{text[:80]!r}...: {exc}') from None


def _crs_from_map_info(proj: str, pos: list[str], hdr: str, mi: str) -> tuple[str | None, str]:
    from rasterio.crs import CRS
    name = proj.strip().lower()
    if name == 'utm':
        try:
            zone, hemi, datum = int(float(pos[0])), pos[1].strip().lower(), pos[2].strip().lower()
        except (IndexError, ValueError):
            raise HsbinetError('ENVI UTM map info lacks zone, hemisphere or datum', file=hdr,
                               key='map info', expected='{UTM, ..., zone, North|South, datum}',
                               found='{' + mi + '}') from None
        if datum in _UTM_DATUMS and 1 <= zone <= 60 and hemi in ('north', 'south'):
            north, south = _UTM_DATUMS[datum]
            base = north if hemi == 'north' else south
            if base is not None:
                return (CRS.from_epsg(base + zone).to_wkt(),
                        f'CRS EPSG:{base + zone} from map info (UTM {zone} {hemi}, {datum})')
        return None, f'CRS unknown: UTM {zone} {hemi} datum {datum!r} has no EPSG code here'
    if name == 'geographic lat/lon':
        datum = pos[0].strip().lower() if pos else ''
        if datum == 'wgs-84':
            return CRS.from_epsg(4326).to_wkt(), 'CRS EPSG:4326 from map info (WGS-84 lat/lon)'
        return None, f'CRS unknown: geographic datum {datum!r} without coordinate system string'
    return None, f'CRS unknown: projection {proj!r} without coordinate system string'


# ------------------------------------------------------------------------------------ writing

def envi_paths(path: str | os.PathLike, data_ext: str = '.img') -> tuple[Path, Path]:
    """(header, data file) for a writer path: ``x.hdr`` -> ``x.hdr`` + ``x<data_ext>``; a data
    file ``x.img``/``x.dat``/... -> ``x.hdr`` + itself."""
    p = Path(path)
    if p.suffix.lower() == '.hdr':
        return p, p.with_suffix(data_ext if data_ext.startswith('.') or not data_ext
                                else '.' + data_ext)
    return p.with_suffix('.hdr'), p


def write_envi(path: str | os.PathLike, data: np.ndarray, *, wavelengths_nm=None,
               georef: Georef | None = None, interleave: str = 'bsq',
               byte_order: str | int = 'little', dtype=None, band_names=None, fwhm_nm=None,
               description: str | None = None, header: dict | None = None,
               data_ext: str = '.img') -> tuple[Path, Path]:
    """Write ``data`` (H, W, B) as an ENVI header + data file (module docstring).

    Args:
        path: ``x.hdr`` (data file ``x<data_ext>``) or the data file (``x.img``, ``x.dat``,
            ``x.raw``...; header ``x.hdr``).
        data: (H, W, B) numeric array; stored as ``dtype`` (default: its own) which must be an
            ENVI type (uint8, int16, int32, float32, float64, complex, uint16, uint32, int64,
            uint64).
        wavelengths_nm: (B,) band centres in nm (``wavelength units = Nanometers``), or None.
        georef: :class:`Georef` to write as ``map info`` / ``coordinate system string``.
        interleave: ``'bsq'``, ``'bil'`` or ``'bip'``.
        byte_order: ``'little'``/0 or ``'big'``/1.
        band_names, fwhm_nm: per-band names and full widths (nm), optional.
        description: header ``description``.
        header: other header fields to carry over (e.g. ``Cube.extra['envi_header']``); the
            fields this writer sets (size, type, layout, georeferencing, wavelengths) are ignored.

    Returns:
        (header path, data path). Both are written next to their final names and renamed into
        place (data first), so an interrupted write never leaves a complete-looking pair.

    Raises:
        HsbinetError: wrong rank, unsupported dtype, wrong wavelength/band-name count, bad
            interleave/byte order, a transform ENVI map info cannot express (shear).
    """
    import spectral.io.envi as envi
    hdr_path, data_path = envi_paths(path, data_ext)
    arr = np.asarray(data)
    where = str(hdr_path)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder('='))
    if arr.ndim != 3:
        raise HsbinetError('ENVI writer needs a cube', file=where, key='data',
                           expected='rank 3 (H, W, B)', found=f'shape {tuple(arr.shape)}')
    out_dtype = np.dtype(dtype if dtype is not None else arr.dtype).newbyteorder('=')
    if out_dtype.name not in ENVI_DTYPES.values():
        raise HsbinetError('Data type cannot be stored in ENVI', file=where, key='dtype',
                           expected=', '.join(ENVI_DTYPES.values()), found=out_dtype.name,
                           hint='cast first (e.g. int8 -> int16, float16 -> float32)')
    inter = str(interleave).lower()
    if inter not in ('bsq', 'bil', 'bip'):
        raise HsbinetError('Unknown ENVI interleave', file=where, key='interleave',
                           expected="'bsq', 'bil' or 'bip'", found=repr(interleave))
    bo = {'little': 0, '0': 0, 'big': 1, '1': 1}.get(str(byte_order).lower())
    if bo is None:
        raise HsbinetError('Unknown ENVI byte order', file=where, key='byte_order',
                           expected="'little' (0) or 'big' (1)", found=repr(byte_order))
    nb = arr.shape[2]
    meta: dict = {k: v for k, v in (header or {}).items() if k.lower() not in _STRUCTURAL}
    if description is not None:
        meta['description'] = str(description)
    if wavelengths_nm is not None:
        meta['wavelength'] = _per_band(wavelengths_nm, nb, where, 'wavelengths_nm')
        meta['wavelength units'] = 'Nanometers'
    if fwhm_nm is not None:
        meta['fwhm'] = _per_band(fwhm_nm, nb, where, 'fwhm_nm')
        meta.setdefault('wavelength units', 'Nanometers')
    if band_names is not None:
        names = [str(s).replace(',', ';').replace('{', '(').replace('}', ')') for s in band_names]
        if len(names) != nb:
            raise HsbinetError('Band names do not match the band count', file=where,
                               key='band_names', expected=f'{nb} names', found=f'{len(names)}')
        meta['band names'] = names
    if georef is not None:
        meta.update(envi_georef_fields(georef, where))
    parent = hdr_path.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{hdr_path.stem}.', suffix='.partial', dir=parent))
    try:
        tmp_hdr = tmp / 'cube.hdr'
        ext = ''.join(data_path.suffixes[-1:]) if data_path.suffix else ''
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            envi.save_image(str(tmp_hdr), arr, dtype=out_dtype.char,
                            interleave=inter, byteorder=bo, metadata=meta, force=True, ext=ext)
        os.replace(tmp / ('cube' + ext), data_path)
        os.replace(tmp_hdr, hdr_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return hdr_path, data_path


def _per_band(values, nb: int, where: str, key: str) -> list[str]:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size != nb or not np.all(np.isfinite(v)):
        raise HsbinetError(f'{key} does not match the cube', file=where, key=key,
                           expected=f'{nb} finite values (one per band)',
                           found=f'{v.size} values, {int(np.sum(~np.isfinite(v)))} non-finite')
    return [repr(float(x)) for x in v]


def envi_georef_fields(georef: Georef, where: str = '(ENVI header)') -> dict:
    """``map info`` (as a list of fields) and ``coordinate system string`` for a :class:`Georef`.

    Raises:
        HsbinetError: a sheared transform (ENVI's map info only holds scale + rotation).
    """
    out: dict = {}
    css = georef.envi_coordinate_system_string
    crs = georef.crs()
    if css is None and crs is not None:
        from rasterio.enums import WktVersion
        css = crs.to_wkt(version=WktVersion.WKT1_ESRI)
    if georef.envi_map_info is not None:
        verbatim = [f.strip() for f in georef.envi_map_info.split(',')]
        try:
            same = envi_georef({'map info': verbatim}, where)
        except HsbinetError:
            same = None
        tol = 1e-9 * max(1.0, *map(abs, georef.transform))
        if same is not None and np.allclose(same.transform, georef.transform, rtol=0, atol=tol):
            out['map info'] = verbatim
            if (georef.envi_coordinate_system_string is None and same.crs_wkt is not None
                    and crs is not None and same.crs() == crs):
                css = None  # the source had none and map info alone gives the CRS: keep it so
    if 'map info' not in out:
        out['map info'] = _map_info_fields(georef, crs, where)
    if css:
        out['coordinate system string'] = '{' + css + '}'  # a string: SPy writes it verbatim
    if georef.envi_projection_info and georef.envi_coordinate_system_string is not None:
        out['projection info'] = [f.strip() for f in georef.envi_projection_info.split(',')]
    return out


def _map_info_fields(georef: Georef, crs, where: str) -> list[str]:
    a, b, c, d, e, f = georef.transform
    dx = math.hypot(a, b)
    theta = math.atan2(b, a)
    ct, st = math.cos(theta), math.sin(theta)
    dy = -e / ct if abs(ct) >= abs(st) else d / st
    scale = max(abs(a), abs(b), abs(d), abs(e), 1e-300)
    if dx == 0 or abs(d - st * dy) > 1e-9 * scale or abs(e + ct * dy) > 1e-9 * scale:
        raise HsbinetError('Transform cannot be written as ENVI map info', file=where,
                           key='georef.transform',
                           expected='scale and rotation only (a = cos r dx, b = sin r dx, '
                                    'd = sin r dy, e = -cos r dy)',
                           found=f'{georef.transform} (sheared or degenerate)',
                           hint='write a GeoTIFF instead, which stores any affine transform')
    rot = _tidy(math.degrees(theta))
    dx, dy = _tidy(dx), _tidy(dy)
    if abs(rot) < 1e-12:
        rot = 0.0
    name, tail = 'Arbitrary', []
    epsg = crs.to_epsg() if crs is not None else None
    if epsg is not None and (32601 <= epsg <= 32660 or 32701 <= epsg <= 32760):
        name, tail = 'UTM', [str(epsg % 100), 'North' if epsg < 32700 else 'South', 'WGS-84']
    elif epsg is not None and 26901 <= epsg <= 26923:
        name, tail = 'UTM', [str(epsg - 26900), 'North', 'North America 1983']
    elif epsg is not None and 26701 <= epsg <= 26722:
        name, tail = 'UTM', [str(epsg - 26700), 'North', 'North America 1927']
    elif epsg == 4326:
        name, tail = 'Geographic Lat/Lon', ['WGS-84']
    elif crs is not None:  # the coordinate system string (written too) carries the CRS
        name = _projection_name(crs)
    fields = [name, '1', '1', repr(float(c)), repr(float(f)), repr(float(dx)), repr(float(dy))]
    fields += tail
    if rot != 0.0:
        fields.append(f'rotation={rot!r}')
    return fields


def _tidy(x: float) -> float:
    """``x`` rounded to 12 significant digits when that changes it by < 1e-12 relative (so a
    rotation of 19.999999999999996 degrees from cos/sin is written as 20.0)."""
    r = float(f'{x:.12g}')
    return r if abs(r - x) <= 1e-12 * max(1.0, abs(x)) else x


def _projection_name(crs) -> str:
    """ENVI-style projection name from the ESRI WKT ``PROJECTION["Lambert_Conformal_Conic"]``."""
    import re
    from rasterio.enums import WktVersion
    if crs.is_geographic:
        return 'Geographic Lat/Lon'
    m = re.search(r'PROJECTION\["([^"]+)"\]', crs.to_wkt(version=WktVersion.WKT1_ESRI))
    return m.group(1).replace('_', ' ') if m else 'Arbitrary'

