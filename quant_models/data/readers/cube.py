"""The loaded cube (:class:`Cube`) and the checks every loaded array must pass.

A valid cube is numeric, rank 3 in layout **(H, W, B)** (rows, columns, bands), has at least
:data:`MIN_BANDS` bands and :data:`MIN_SPATIAL` pixels along H and W, and is finite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quant_models.common import HsbinetError
from quant_models.data.readers.georef import Georef


#: Fewest spectral bands a cube may have.
MIN_BANDS = 3
#: Fewest pixels along H and along W (two low-resolution pixels at the default ratio 4).
MIN_SPATIAL = 8


@dataclass
class Cube:
    """A hyperspectral cube as loaded.

    Attributes:
        data: float32 array, layout (H, W, B); the source's values (DN or reflectance), unscaled.
        wavelengths_nm: float64 (B,) band centres in nanometres, or None if unknown.
        name: short scene name (file stem or embedded scene name).
        source: the path as given (without ``:key``) or ``"tensorly:indian_pines"``.
        key: the variable/dataset used (e.g. ``"data"``, ``"Y"``, ``"tensor"``).
        orientation: how the stored array became (H, W, B), in words.
        provenance: where the data comes from (file + sha256, or citation and licence).
        sha256: hex sha256 of the source file's bytes (ENVI: of the data file, the header's is
            in ``provenance``; embedded scenes: of the loaded array's float64 C-order bytes).
        source_dtype: dtype of the stored array before conversion to float32.
        extra: free-form metadata for callers (empty by default). ENVI/GeoTIFF scenes put their
            format extras here: ``format``, ``wavelength_source``, ``band_names``, ``fwhm_nm``,
            ``nodata``, ``envi_header`` (every header field) or ``geotiff_tags``, ``files``.
        georef: :class:`~quant_models.data.readers.georef.Georef` (transform + CRS) of a
            georeferenced ENVI/GeoTIFF scene, else None; the writers carry it over.
    """

    data: np.ndarray
    wavelengths_nm: np.ndarray | None
    name: str
    source: str
    key: str
    orientation: str
    provenance: str
    sha256: str = ''
    source_dtype: str = ''
    extra: dict = field(default_factory=dict)
    georef: Georef | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, B)."""
        return tuple(self.data.shape)  # type: ignore[return-value]


def is_numeric(arr: np.ndarray) -> bool:
    """True for integer, unsigned and floating-point dtypes."""
    return arr.dtype.kind in 'iuf'


def validate_cube(data: np.ndarray, file: str, key: str) -> None:
    """Raise :class:`HsbinetError` unless ``data`` (H, W, B) is a valid cube (module docstring)."""
    if not is_numeric(data):
        raise HsbinetError('Cube array has a non-numeric dtype', file=file, key=key,
                           expected='an integer or floating-point array',
                           found=f'dtype {data.dtype}')
    if data.ndim != 3:
        raise HsbinetError('Cube array has the wrong rank', file=file, key=key,
                           expected='rank 3 (H, W, B) after orientation',
                           found=f'rank {data.ndim}, shape {tuple(data.shape)}')
    h, w, nb = data.shape
    if nb < MIN_BANDS:
        raise HsbinetError('Cube has too few spectral bands', file=file, key=key,
                           expected=f'at least {MIN_BANDS} bands (last axis of (H,W,B))',
                           found=f'{nb} bands, shape (H,W,B)={tuple(data.shape)}',
                           hint="if bands are stored first, pass layout='BHW'")
    if h < MIN_SPATIAL or w < MIN_SPATIAL:
        raise HsbinetError('Cube is spatially too small', file=file, key=key,
                           expected=f'H and W at least {MIN_SPATIAL} pixels',
                           found=f'H x W = {h} x {w} (shape (H,W,B)={tuple(data.shape)})')
    if data.dtype.kind == 'f':
        bad = int(data.size - np.count_nonzero(np.isfinite(data)))
        if bad:
            n_nan = int(np.count_nonzero(np.isnan(data)))
            raise HsbinetError('Cube contains non-finite values', file=file, key=key,
                               expected='all values finite',
                               found=f'{bad} non-finite values ({n_nan} NaN, {bad - n_nan} Inf) '
                                     f'out of {data.size}',
                               hint='mask or interpolate no-data pixels before loading')
