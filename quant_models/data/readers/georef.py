"""Georeferencing carried with a cube: the affine pixel -> map transform and the CRS.

:class:`Georef` is what the GeoTIFF and ENVI readers return (``Cube.georef``) and what their
writers take, so a scene read from one format can be written to either with its georeferencing.

Conventions (those of GDAL and rasterio):

* ``transform = (a, b, c, d, e, f)``: the map coordinates of the *corner* of pixel
  (row, col) are ``x = a*col + b*row + c``, ``y = d*col + e*row + f``; ``(c, f)`` is the
  upper-left corner of the upper-left pixel, and a north-up image has ``b = d = 0`` and
  ``e < 0``.
* ``crs_wkt``: the coordinate reference system as WKT (whatever GDAL/PROJ gives back), or
  ``None`` when the file has a transform but no CRS.
* ``area_or_point``: GeoTIFF's raster type (``'Area'``, the default, or ``'Point'``). The
  transform is always the pixel-corner one either way (GDAL applies the half-pixel shift).
* ``envi_map_info`` / ``envi_coordinate_system_string`` / ``envi_projection_info``: the ENVI
  header fields verbatim (without braces) when the source was ENVI, so an ENVI writer can
  carry them over unchanged while the transform still matches them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace


_IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class Georef:
    """Affine transform + CRS of a raster (see the module docstring for the conventions)."""

    transform: tuple[float, float, float, float, float, float]
    crs_wkt: str | None = None
    area_or_point: str = 'Area'
    envi_map_info: str | None = None
    envi_coordinate_system_string: str | None = None
    envi_projection_info: str | None = None
    source: str = ''
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, 'transform', tuple(float(v) for v in self.transform))
        if len(self.transform) != 6:
            raise ValueError(f'transform needs 6 coefficients (a, b, c, d, e, f), got '
                             f'{len(self.transform)}')

    @property
    def pixel_size(self) -> tuple[float, float]:
        """(size along a row, size along a column) in CRS units, both positive."""
        a, b, _, d, e, _ = self.transform
        return math.hypot(a, d), math.hypot(b, e)

    @property
    def is_north_up(self) -> bool:
        """No rotation/shear terms."""
        return self.transform[1] == 0.0 and self.transform[3] == 0.0

    def affine(self):
        """The transform as an :class:`affine.Affine` (what rasterio takes)."""
        from rasterio.transform import Affine
        return Affine(*self.transform)

    def crs(self):
        """The CRS as a :class:`rasterio.crs.CRS`, or ``None``."""
        if self.crs_wkt is None:
            return None
        from rasterio.crs import CRS
        return CRS.from_wkt(self.crs_wkt)

    def scaled(self, factor: float) -> 'Georef':
        """The same footprint sampled ``factor`` times finer (e.g. the sharpened cube at the PAN
        resolution, ``factor`` = ratio): pixel size divided by ``factor``, same upper-left corner
        and CRS. The verbatim ENVI ``map info`` no longer matches and is dropped."""
        factor = float(factor)
        if not factor > 0:
            raise ValueError(f'scale factor must be positive, got {factor}')
        a, b, c, d, e, f = self.transform
        return replace(self, transform=(a / factor, b / factor, c, d / factor, e / factor, f),
                       envi_map_info=None,
                       source=f'{self.source}; pixel size divided by {factor:g}'.lstrip('; '))

    def to_dict(self) -> dict:
        """Plain JSON-friendly dict (for manifests/summaries)."""
        return {'transform': list(self.transform), 'crs_wkt': self.crs_wkt,
                'area_or_point': self.area_or_point, 'envi_map_info': self.envi_map_info,
                'envi_coordinate_system_string': self.envi_coordinate_system_string,
                'envi_projection_info': self.envi_projection_info, 'source': self.source,
                'notes': list(self.notes)}


def is_identity(transform) -> bool:
    """True for GDAL's 'no geotransform' default (1, 0, 0, 0, 1, 0)."""
    return tuple(float(v) for v in tuple(transform)[:6]) == _IDENTITY
