"""Multi-band GeoTIFF scenes (``.tif``/``.tiff``): read and write.

Library: `rasterio` (GDAL's Python binding from the rasterio/Mapbox team, maintained with regular
releases). Its PyPI wheels bundle GDAL and PROJ, so reading any GeoTIFF flavour (strips/tiles,
pixel/band interleave, every compression GDAL knows, BigTIFF, COG) and turning its GeoKeys into
a transform + WKT CRS needs nothing installed on the system. tifffile alone would read the
pixels but leave the GeoKeys -> CRS translation to us.

Reading (:func:`read_geotiff`): all bands, ``(B, H, W)`` from GDAL transposed to (H, W, B), the
stored dtype (never scaled; GDAL ``scale``/``offset`` and nodata are reported in ``metadata``,
not applied). Wavelengths, first found of:

1. per-band items ``wavelength`` + ``wavelength_units`` (GDAL's own convention, what its ENVI
   driver exposes and ``gdal_translate`` copies into a GeoTIFF); units may also be a dataset
   item ``wavelength_units``;
2. per-band ``CENTRAL_WAVELENGTH_UM`` in the ``IMAGERY`` domain (GDAL >= 3.10), micrometres;
3. a dataset item ``wavelength`` (``{w1, w2, ...}``, as an ENVI header) with ``wavelength_units``,
   in the default or the ``ENVI`` domain;
4. band descriptions that all carry a number with a unit (``"450.5 nm"``, ``"Band 3 (0.55 um)"``).

A wavelength item on some bands but not all is an error (a broken file), not "no wavelengths".
Georeferencing: ``transform`` and ``crs`` (as WKT) and ``AREA_OR_POINT``; a file without a CRS
and with GDAL's default transform has ``georef = None``.

Writing (:func:`write_geotiff`): the same per-band items (``wavelength`` in nm,
``wavelength_units = Nanometers``, and ``CENTRAL_WAVELENGTH_UM``/``FWHM_UM`` in ``IMAGERY``),
band descriptions from ``band_names``, transform + CRS from :class:`Georef`; written to a
temporary name and renamed into place.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from quant_models.common import HsbinetError, atomic_write
from quant_models.data.readers.georef import Georef, is_identity
from quant_models.data.readers.raster import RasterScene
from quant_models.data.readers.wavelengths import DESCRIPTION_WAVELENGTH, to_nanometres


GEOTIFF_EXTS = ('.tif', '.tiff')

#: dtypes a GeoTIFF band can hold through GDAL (complex types included; validate_cube rejects them).
GEOTIFF_DTYPES = ('uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'uint64', 'int64',
                  'float32', 'float64', 'complex64', 'complex128')


@contextmanager
def _quiet():
    """Silence rasterio's NotGeoreferencedWarning (a plain TIFF is fine: georef is None)."""
    from rasterio.errors import NotGeoreferencedWarning
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        yield


def read_geotiff(path: str | os.PathLike) -> RasterScene:
    """Read a (multi-band) GeoTIFF (module docstring): stored dtype, (H, W, B), wavelengths,
    georef.

    Raises:
        HsbinetError: not a readable TIFF (truncated, corrupt), mixed band dtypes, bad
            wavelength items.
    """
    import rasterio
    from rasterio.errors import RasterioError
    path = os.fspath(path)
    with _quiet():
        try:
            ds = rasterio.open(path)
        except (RasterioError, OSError) as exc:
            raise HsbinetError('Cannot open the GeoTIFF file', file=path, key='(file)',
                               expected='a readable (Geo)TIFF',
                               found=f'{type(exc).__name__}: {_detail(exc)}') from None
        with ds:
            if ds.driver not in ('GTiff', 'COG'):
                raise HsbinetError('File is not a TIFF', file=path, key='(driver)',
                                   expected='a GeoTIFF (GDAL driver GTiff)',
                                   found=f'GDAL opened it as {ds.driver}')
            if len(set(ds.dtypes)) != 1:
                raise HsbinetError('GeoTIFF bands have different data types', file=path,
                                   key='(bands)', expected='one data type for all bands',
                                   found=', '.join(sorted(set(ds.dtypes))))
            try:
                stored = ds.read()                                   # (B, H, W)
            except (RasterioError, OSError) as exc:
                raise HsbinetError('Cannot read the GeoTIFF pixels', file=path, key='(bands)',
                                   expected=f'{ds.count} bands of {ds.height} x {ds.width} '
                                            f'{ds.dtypes[0]} values',
                                   found=f'{type(exc).__name__}: {_detail(exc)} (truncated or '
                                         'corrupt file?)') from None
            data = np.ascontiguousarray(stored.transpose(1, 2, 0))
            wl, wl_src = _wavelengths(ds, path)
            georef = _georef(ds)
            meta = _metadata(ds)
            interleave = ds.interleaving.name.lower() if ds.interleaving is not None else '?'
            orient = (f'GeoTIFF {ds.count} bands x {ds.height} rows x {ds.width} columns '
                      f'{ds.dtypes[0]} ({interleave} interleave, read by GDAL as (B,H,W)): '
                      'transposed (1,2,0) -> (H,W,B)')
    return RasterScene(data=data, wavelengths_nm=wl, wavelength_source=wl_src, georef=georef,
                       kind='GeoTIFF', files=[path], orientation=orient, metadata=meta)


def _on_all_or_none(tags: list[dict], item: str, path: str, key: str, what: str) -> bool:
    """Whether every band's tags carry ``item``; False if none does; an error if only some do."""
    have = [i for i, t in enumerate(tags, 1) if item in t]
    if have and len(have) != len(tags):
        missing = [i for i in range(1, len(tags) + 1) if i not in have]
        raise HsbinetError(f'GeoTIFF has {what} on some bands only', file=path, key=key,
                           expected=f'{what} on all {len(tags)} bands (or none)',
                           found=f'missing on band(s) {_short(missing)}')
    return bool(have)


def _wavelengths(ds, path: str) -> tuple[np.ndarray | None, str]:
    nb = ds.count
    dtags = ds.tags()
    btags = [ds.tags(i) for i in range(1, nb + 1)]
    if _on_all_or_none(btags, 'wavelength', path, 'band metadata wavelength', 'a wavelength item'):
        units = {t.get('wavelength_units', dtags.get('wavelength_units')) for t in btags}
        if len(units) != 1:
            raise HsbinetError('GeoTIFF bands give different wavelength units', file=path,
                               key='band metadata wavelength_units', expected='one unit',
                               found=', '.join(sorted(str(u) for u in units)))
        wl, words = to_nanometres([t['wavelength'] for t in btags], units.pop(), nb, path,
                                  'band metadata wavelength')
        return wl, f'GeoTIFF {words}'
    imagery = [ds.tags(i, ns='IMAGERY') for i in range(1, nb + 1)]
    if _on_all_or_none(imagery, 'CENTRAL_WAVELENGTH_UM', path, 'IMAGERY CENTRAL_WAVELENGTH_UM',
                       'CENTRAL_WAVELENGTH_UM'):
        wl, words = to_nanometres([t['CENTRAL_WAVELENGTH_UM'] for t in imagery], 'um', nb, path,
                                  'IMAGERY CENTRAL_WAVELENGTH_UM')
        return wl, f'GeoTIFF {words}'
    for ns in (None, 'ENVI'):
        tags = dtags if ns is None else ds.tags(ns=ns)
        if 'wavelength' in tags:
            items = [s for s in str(tags['wavelength']).strip().strip('{}').split(',') if s.strip()]
            units = tags.get('wavelength_units', tags.get('wavelength units',
                                                          dtags.get('wavelength_units')))
            key = 'dataset metadata wavelength' + (f' (domain {ns})' if ns else '')
            wl, words = to_nanometres(items, units, nb, path, key)
            return wl, f'GeoTIFF {words}'
    descs = list(ds.descriptions)
    found = [DESCRIPTION_WAVELENGTH.search(d) if d else None for d in descs]
    if nb and all(found):
        units = {m.group(2).lower() for m in found}
        unit = 'nm' if all(u.startswith('n') for u in units) else (
            'um' if not any(u.startswith('n') for u in units) else None)
        if unit is not None:
            wl, words = to_nanometres([m.group(1) for m in found], unit, nb, path,
                                      'band descriptions')
            return wl, f'GeoTIFF {words}'
    return None, 'no wavelength metadata in the GeoTIFF'


def _detail(exc: BaseException) -> str:
    """rasterio's message plus GDAL's own (rasterio chains it as the cause)."""
    text = str(exc)
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = text.replace(' See previous exception for details.', '').strip()
        text = f'{text} ({str(cause).strip()})'
    return text


def _short(items: list[int]) -> str:
    return ', '.join(map(str, items[:8])) + (f' ... ({len(items)} bands)' if len(items) > 8 else '')


def _georef(ds) -> Georef | None:
    transform = tuple(ds.transform)[:6]
    crs = ds.crs
    if crs is None and is_identity(transform):
        return None
    notes = () if crs is not None else ('no CRS in the file',)
    aop = str(ds.tags().get('AREA_OR_POINT', 'Area'))
    return Georef(transform=transform, crs_wkt=crs.to_wkt() if crs is not None else None,
                  area_or_point=aop, source='GeoTIFF transform + CRS (GDAL)', notes=notes)


def _metadata(ds) -> dict:
    meta: dict = {'format': 'GeoTIFF', 'geotiff_tags': dict(ds.tags()),
                  'geotiff_band_tags': [dict(ds.tags(i)) for i in range(1, ds.count + 1)]}
    if any(ds.descriptions):
        meta['band_names'] = [d or '' for d in ds.descriptions]
    if ds.nodata is not None:
        meta['nodata'] = float(ds.nodata)
    scales, offsets = tuple(ds.scales), tuple(ds.offsets)
    if any(s != 1.0 for s in scales) or any(o != 0.0 for o in offsets):
        meta['scales'], meta['offsets'] = list(scales), list(offsets)
    fwhm = [ds.tags(i, ns='IMAGERY').get('FWHM_UM') for i in range(1, ds.count + 1)]
    if all(f is not None for f in fwhm) and ds.count:
        try:
            meta['fwhm_nm'] = np.array([float(f) * 1000.0 for f in fwhm])
        except ValueError:
            pass
    return meta


def write_geotiff(path: str | os.PathLike, data: np.ndarray, *, wavelengths_nm=None,
                  georef: Georef | None = None, dtype=None, band_names=None, fwhm_nm=None,
                  nodata: float | None = None, compress: str | None = None,
                  interleave: str = 'pixel', tags: dict | None = None) -> Path:
    """Write ``data`` (H, W, B) as a multi-band GeoTIFF (module docstring).

    Args:
        path: the ``.tif``/``.tiff`` file.
        data: (H, W, B) numeric array, stored as ``dtype`` (default: its own; one of
            :data:`GEOTIFF_DTYPES`).
        wavelengths_nm: (B,) band centres in nm, or None.
        georef: :class:`Georef` (transform, CRS, AREA_OR_POINT), or None for a plain TIFF.
        band_names: per-band descriptions; fwhm_nm: per-band full widths (nm).
        nodata: the nodata value to record (not applied to the data).
        compress: None (uncompressed) or a lossless GDAL codec (``'deflate'``, ``'lzw'``,
            ``'zstd'``...).
        interleave: ``'pixel'`` (BIP, GDAL's default) or ``'band'`` (BSQ).
        tags: extra dataset-level metadata items.

    Returns:
        the path written.

    Raises:
        HsbinetError: wrong rank, unsupported dtype, wrong wavelength/band-name count.
    """
    import rasterio
    path = Path(path)
    where = str(path)
    arr = np.asarray(data)
    if arr.ndim != 3:
        raise HsbinetError('GeoTIFF writer needs a cube', file=where, key='data',
                           expected='rank 3 (H, W, B)', found=f'shape {tuple(arr.shape)}')
    out_dtype = np.dtype(dtype if dtype is not None else arr.dtype).newbyteorder('=')
    if out_dtype.name not in GEOTIFF_DTYPES:
        raise HsbinetError('Data type cannot be stored in a GeoTIFF', file=where, key='dtype',
                           expected=', '.join(GEOTIFF_DTYPES), found=out_dtype.name,
                           hint='cast first (e.g. float16 -> float32, bool -> uint8)')
    h, w, nb = arr.shape
    wl = _per_band(wavelengths_nm, nb, where, 'wavelengths_nm')
    fw = _per_band(fwhm_nm, nb, where, 'fwhm_nm')
    names = None
    if band_names is not None:
        names = [str(s) for s in band_names]
        if len(names) != nb:
            raise HsbinetError('Band names do not match the band count', file=where,
                               key='band_names', expected=f'{nb} names', found=f'{len(names)}')
    if str(interleave).lower() not in ('pixel', 'band'):
        raise HsbinetError('Unknown GeoTIFF interleave', file=where, key='interleave',
                           expected="'pixel' or 'band'", found=repr(interleave))
    profile = dict(driver='GTiff', width=w, height=h, count=nb, dtype=out_dtype.name,
                   interleave=str(interleave).lower(), BIGTIFF='IF_SAFER')
    if compress:
        profile['compress'] = compress
    if nodata is not None:
        profile['nodata'] = nodata
    if georef is not None:
        profile['transform'] = georef.affine()
        if georef.crs_wkt is not None:
            profile['crs'] = georef.crs()
    bands = np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=out_dtype)

    def write(tmp: Path) -> None:
        with _quiet():
            with rasterio.open(tmp, 'w', **profile) as ds:
                ds.write(bands)
                ds_tags = dict(tags or {})
                if georef is not None and georef.area_or_point.lower() == 'point':
                    ds_tags['AREA_OR_POINT'] = 'Point'
                if ds_tags:
                    ds.update_tags(**{str(k): str(v) for k, v in ds_tags.items()})
                for i in range(nb):
                    if wl is not None:
                        ds.update_tags(i + 1, wavelength=repr(wl[i]),
                                       wavelength_units='Nanometers')
                        ds.update_tags(i + 1, ns='IMAGERY',
                                       CENTRAL_WAVELENGTH_UM=repr(wl[i] / 1000.0))
                    if fw is not None:
                        ds.update_tags(i + 1, fwhm=repr(fw[i]))
                        ds.update_tags(i + 1, ns='IMAGERY', FWHM_UM=repr(fw[i] / 1000.0))
                    if names is not None:
                        ds.set_band_description(i + 1, names[i])

    return atomic_write(path, write)


def _per_band(values, nb: int, where: str, key: str) -> list[float] | None:
    if values is None:
        return None
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size != nb or not np.all(np.isfinite(v)):
        raise HsbinetError(f'{key} does not match the cube', file=where, key=key,
                           expected=f'{nb} finite values (one per band)',
                           found=f'{v.size} values, {int(np.sum(~np.isfinite(v)))} non-finite')
    return [float(x) for x in v]
