"""Write a cube in a sensor format, chosen by extension: ENVI or GeoTIFF (:func:`write_cube`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from quant_models.common import HsbinetError
from quant_models.data.readers.cube import Cube
from quant_models.data.readers.envi import ENVI_EXTS, write_envi
from quant_models.data.readers.georef import Georef
from quant_models.data.readers.geotiff import GEOTIFF_EXTS, write_geotiff


def write_cube(path: str | os.PathLike, cube: Cube | np.ndarray, *, wavelengths_nm=None,
               georef: Georef | None = None, **options) -> Path:
    """Write ``cube`` (a :class:`Cube` or an (H, W, B) array) as ENVI or GeoTIFF.

    The format follows the extension: ``.hdr``/``.img``/``.dat``/``.raw``/``.bsq``/``.bil``/
    ``.bip`` -> :func:`~quant_models.data.readers.envi.write_envi`, ``.tif``/``.tiff`` ->
    :func:`~quant_models.data.readers.geotiff.write_geotiff`. From a :class:`Cube`, its
    wavelengths, georef, band names and fwhm are carried over (and, ENVI to ENVI, the other
    header fields) unless given here; ``options`` go to the writer (``interleave``, ``dtype``,
    ``byte_order``, ``compress``...). For a sharpened cube at ``ratio`` times the input
    resolution pass ``georef=cube.georef.scaled(ratio)``.

    Returns:
        the header path (ENVI) or the TIFF path.

    Raises:
        HsbinetError: an extension that is neither ENVI nor GeoTIFF, or the writer's errors.
    """
    ext = Path(path).suffix.lower()
    if isinstance(cube, Cube):
        data = cube.data
        wavelengths_nm = cube.wavelengths_nm if wavelengths_nm is None else wavelengths_nm
        georef = cube.georef if georef is None else georef
        for opt, key in (('band_names', 'band_names'), ('fwhm_nm', 'fwhm_nm')):
            if opt not in options and cube.extra.get(key) is not None:
                options[opt] = cube.extra[key]
        if ext in ENVI_EXTS and 'header' not in options and 'envi_header' in cube.extra:
            options['header'] = cube.extra['envi_header']
    else:
        data = cube
    if ext in ENVI_EXTS:
        return write_envi(path, data, wavelengths_nm=wavelengths_nm, georef=georef, **options)[0]
    if ext in GEOTIFF_EXTS:
        return write_geotiff(path, data, wavelengths_nm=wavelengths_nm, georef=georef, **options)
    raise HsbinetError('Unsupported output format', file=str(path), key='(extension)',
                       expected='ENVI (' + ', '.join(ENVI_EXTS) + ') or GeoTIFF (' +
                                ', '.join(GEOTIFF_EXTS) + ')',
                       found=f'extension {ext or "(none)"!r}')
