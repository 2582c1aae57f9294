"""The :func:`load_cube` dispatcher: source string -> format loader -> checked :class:`Cube`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from quant_models.common import HsbinetError, file_sha256
from quant_models.data.readers.cube import MIN_BANDS, Cube, validate_cube
from quant_models.data.readers.embedded import EMBEDDED_SCENES, load_embedded
from quant_models.data.readers.envi import ENVI_EXTS, read_envi
from quant_models.data.readers.geotiff import GEOTIFF_EXTS, read_geotiff
from quant_models.data.readers.keys import find_wavelengths
from quant_models.data.readers.mat_hdf5 import load_hdf5, load_mat_v5
from quant_models.data.readers.numpy_files import load_npy
from quant_models.data.readers.raster import RasterScene


_CUBE_EXTS = ('.mat', '.npy', '.npz', '.h5', '.hdf5', '.he5')

#: Sensor formats (no ``:key``; layout fixed by the format): extension -> reader returning a
#: :class:`RasterScene` (stored dtype, (H, W, B), wavelengths, georef).
SCENE_READERS = {**{ext: read_envi for ext in ENVI_EXTS},
                 **{ext: read_geotiff for ext in GEOTIFF_EXTS}}

_FORMATS = ('.mat (v5/v7.3), .npy, .npz, .h5/.hdf5, ENVI (.hdr + .img/.dat/.raw), GeoTIFF '
            '(.tif/.tiff)')


def split_source(source: str) -> tuple[str, str | None]:
    """Split ``path:key`` into (path, key); a path that exists as given is never split."""
    if os.path.exists(source):
        return source, None
    if ':' in source:
        head, tail = source.rsplit(':', 1)
        if head.lower().endswith(_CUBE_EXTS) and tail and not tail.startswith(('\\', '/')):
            return head, tail
    return source, None


def load_cube(source: str | os.PathLike, layout: str | None = None) -> Cube:
    """Load a hyperspectral cube as float32 (H, W, B) with its provenance.

    Args:
        source: ``"indian_pines"`` / ``"tensorly:indian_pines"`` (embedded default), or a path to
            a ``.mat`` (v5 or v7.3), ``.npy``, ``.npz`` or generic ``.h5`` file, optionally
            suffixed ``:key`` to name the variable/dataset (e.g. ``"scene.mat:data"``), or an
            ENVI scene (``x.hdr``, or its data file ``x.img``/``.dat``/``.raw``/...) or a
            GeoTIFF (``.tif``/``.tiff``).
        layout: ``None`` (apply the band-axis rule in the module docstring), ``"HWB"`` or
            ``"BHW"`` to force how a rank-3 array is read. ENVI and GeoTIFF declare their
            layout: only ``None``/``"HWB"`` are accepted there.

    Returns:
        :class:`Cube` with ``data`` float32 (H, W, B) and the key/orientation used; for ENVI
        and GeoTIFF also ``georef`` and the header's wavelengths (nm) and extras.

    Raises:
        HsbinetError: unreadable file, unknown format, missing key, non-numeric dtype, wrong rank,
            NaN/Inf values, fewer than 3 bands, H or W below 8 pixels.
    """
    source = os.fspath(source)
    if source in EMBEDDED_SCENES or source.startswith('tensorly:'):
        return load_embedded(source.split(':', 1)[-1])
    path, key = split_source(source)
    if not os.path.exists(path):
        raise HsbinetError('Cube source not found', file=path, key=key or '(auto)',
                           expected=f'an existing {_FORMATS} file, or the embedded scene '
                                    "'indian_pines'",
                           found='no such file')
    if os.path.isdir(path):
        raise HsbinetError('Cube source is a folder', file=path, key=key or '(auto)',
                           expected=f'a {_FORMATS} file', found='a directory')
    ext = Path(path).suffix.lower()
    if ext in SCENE_READERS:
        if layout is not None and str(layout).upper() != 'HWB':
            raise HsbinetError('A layout override does not apply to this format', file=path,
                               key='layout', expected="None or 'HWB' (the header/TIFF declares "
                                                      'the band layout)',
                               found=repr(layout))
        return _scene_cube(SCENE_READERS[ext](path), path)
    if ext == '.mat':
        import h5py
        try:
            v73 = h5py.is_hdf5(path)
        except Exception:  # noqa: BLE001
            v73 = False
        if v73:
            data, key, orient, variables, kind = load_hdf5(path, key, layout, matlab=True)
        else:
            data, key, orient, variables, kind = load_mat_v5(path, key, layout)
    elif ext in ('.npy', '.npz'):
        data, key, orient, variables, kind = load_npy(path, key, layout)
    elif ext in ('.h5', '.hdf5', '.he5'):
        data, key, orient, variables, kind = load_hdf5(path, key, layout, matlab=False)
    else:
        raise HsbinetError('Unsupported cube file format', file=path, key='(extension)',
                           expected=f"one of {_FORMATS}, or the embedded scene 'indian_pines'",
                           found=f'extension {ext or "(none)"!r}',
                           hint='convert other cubes to .npy (H,W,B) or GeoTIFF first')
    source_dtype = str(data.dtype)
    validate_cube(data, path, key)
    digest = file_sha256(path)
    wl = find_wavelengths(variables, data.shape[2])
    prov = (f'{kind} file {os.path.basename(path)} (sha256 {digest}), key {key!r} '
            f'{source_dtype}, cube (H,W,B)={tuple(data.shape)}')
    return Cube(data=np.ascontiguousarray(data, dtype=np.float32), wavelengths_nm=wl,
                name=Path(path).stem, source=path, key=key, orientation=orient, provenance=prov,
                sha256=digest, source_dtype=source_dtype)


def _scene_cube(scene: RasterScene, path: str) -> Cube:
    """A checked float32 :class:`Cube` from an ENVI/GeoTIFF :class:`RasterScene`."""
    data, key = scene.data, '(image)'
    source_dtype = str(data.dtype)
    if data.ndim == 3 and data.shape[2] < MIN_BANDS:
        raise HsbinetError('Cube has too few spectral bands', file=path, key='bands',
                           expected=f'at least {MIN_BANDS} bands',
                           found=f'{data.shape[2]} band(s), (H,W,B)={tuple(data.shape)}',
                           hint='a single-band or RGB image is not a hyperspectral cube')
    validate_cube(data, path, key)
    if data.dtype.kind == 'f' and data.dtype.itemsize > 4:
        big = float(np.max(np.abs(data))) if data.size else 0.0
        if big > float(np.finfo(np.float32).max):
            raise HsbinetError('Cube values overflow float32', file=path, key=key,
                               expected=f'|values| <= {float(np.finfo(np.float32).max):.4g} '
                                        '(cubes are float32)',
                               found=f'max |value| {big:.4g} ({data.dtype})')
    digests = [(f, file_sha256(f)) for f in scene.files]
    digest = digests[-1][1]  # the data file (ENVI: after the header; GeoTIFF: the only file)
    files = ', '.join(f'{os.path.basename(f)} (sha256 {d})' for f, d in digests)
    prov = (f'{scene.kind} {files}, {source_dtype}, cube (H,W,B)={tuple(data.shape)}; '
            f'wavelengths: {scene.wavelength_source}')
    if scene.georef is not None:
        prov += f'; georeferenced: {scene.georef.source}'
    extra = dict(scene.metadata)
    extra.update(wavelength_source=scene.wavelength_source, files=list(scene.files))
    name = Path(scene.files[-1]).stem
    return Cube(data=np.ascontiguousarray(data, dtype=np.float32),
                wavelengths_nm=scene.wavelengths_nm, name=name, source=path, key=key,
                orientation=scene.orientation, provenance=prov, sha256=digest,
                source_dtype=source_dtype, extra=extra, georef=scene.georef)
