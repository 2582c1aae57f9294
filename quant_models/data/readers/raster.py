"""A sensor-format raster as read (ENVI, GeoTIFF), before it becomes a float32 :class:`Cube`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quant_models.data.readers.georef import Georef


@dataclass
class RasterScene:
    """A sensor-format raster as read: stored dtype, (H, W, B), with its header metadata.

    Attributes:
        data: (H, W, B) array in the stored dtype (native byte order), unscaled.
        wavelengths_nm: float64 (B,) nm or None; ``wavelength_source`` says where they came from.
        georef: :class:`Georef` or None.
        kind: ``'ENVI'`` or ``'GeoTIFF'``.
        files: the files read (header first for ENVI).
        orientation: how the stored layout became (H, W, B), in words.
        metadata: format extras (``envi_header``, ``band_names``, ``fwhm_nm``, ``nodata``,
            ``geotiff_tags``...), copied into ``Cube.extra``.
    """

    data: np.ndarray
    wavelengths_nm: np.ndarray | None
    wavelength_source: str
    georef: Georef | None
    kind: str
    files: list[str]
    orientation: str
    metadata: dict = field(default_factory=dict)
