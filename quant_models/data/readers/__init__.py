"""Hyperspectral cube readers: one call, any supported source -> a validated (H, W, B) float32 cube.

Layouts and units
-----------------
* :class:`Cube.data` is always ``float32`` with layout **(H, W, B)**: rows, columns, spectral
  bands. Values are the file's values converted to float32 (digital numbers or reflectance, as
  stored; no scaling happens here -- :mod:`quant_models.data.prepare` normalises).
* :class:`Cube.wavelengths_nm` is a ``float64`` vector of length B in **nanometres**, or ``None``
  when the source carries no wavelengths.

Sources (``load_cube(source)``)
-------------------------------
``"indian_pines"`` (or ``"tensorly:indian_pines"``)
    The embedded default scene: AVIRIS Indian Pines (145 x 145 x 200, corrected), shipped by the
    ``tensorly`` package and loaded offline with ``tensorly.datasets.load_indian_pines()``.
    Wavelengths (nm) come from the dataset's ``ticks``; its citation and licence go to
    ``provenance``.
``path.mat`` / ``path.mat:key``
    MATLAB v5 files (``scipy.io.loadmat``) and v7.3 files (HDF5, ``h5py``). MATLAB v7.3 stores
    arrays column-major, so h5py sees the axes reversed: they are transposed back
    (``(2, 1, 0)`` for rank 3) to MATLAB's logical order before anything else.
``path.npy``, ``path.npz`` / ``path.npz:key``
    NumPy arrays, C order, used as stored (``allow_pickle=False``).
``path.h5`` / ``path.hdf5`` [``:key``]
    Generic HDF5 cubes (row-major, used as stored). HyperPanCollection ``.h5`` files (datasets
    GT/LMS/MS/PAN) are *not* cubes: they are already pan-sharpening sets, read them with
    :func:`quant_models.data.hpc_format.read_hpc`.
``path.hdr`` (or its data file ``path.img``/``.dat``/``.raw``/``.bsq``/``.bil``/``.bip``)
    ENVI scenes, read with ``spectral`` (SPy): any ENVI data type, BSQ/BIL/BIP, either byte
    order, ``header offset``; read as (H,W,B) = (lines, samples, bands). The data file's size
    must match the header exactly. Wavelengths from ``wavelength`` + ``wavelength units``
    (converted to nm); ``map info`` / ``coordinate system string`` -> :attr:`Cube.georef`.
``path.tif`` / ``path.tiff``
    Multi-band GeoTIFFs, read with ``rasterio`` (GDAL): bands (B,H,W) transposed to (H,W,B).
    Wavelengths from GDAL's per-band ``wavelength``/``wavelength_units`` items, ``IMAGERY``
    ``CENTRAL_WAVELENGTH_UM``, a dataset ``wavelength`` list, or band descriptions such as
    ``"450 nm"``; transform + CRS -> :attr:`Cube.georef`.

ENVI and GeoTIFF values are never scaled (scale factors and nodata go to ``Cube.extra``); their
layout is declared by the format (no band-axis rule). :func:`write_cube` writes a cube back to
either format with its wavelengths (nm) and georeferencing (:mod:`.envi`, :mod:`.geotiff`).

Key choice
----------
With ``path:key`` that variable/dataset is used. Otherwise the largest numeric rank-3 array in
the file (by element count) is used; if the file has no rank-3 array, a rank-2 array ``(B, H*W)``
(or ``(H*W, B)``) is accepted when the file also holds the image size as scalars -- ``nRow``/
``nCol`` or ``lines``/``cols`` (as in the Jasper Ridge distribution: ``Y`` (198, 10000) with
``lines = cols = 100``). Such a pixel matrix is reshaped MATLAB-style, pixels in column-major
order: ``Y.T.reshape(nRow, nCol, B, order='F')``.

Band-axis rule (rank-3 arrays, after the v7.3 transpose)
--------------------------------------------------------
A rank-3 array of shape ``(a, b, c)`` is taken as **(H, W, B)** unless the first axis is
*clearly* the band axis, which we define as: the last two axes are equal (a square image) and the
first differs (``b == c != a``), e.g. ``(64, 100, 100)`` -> (B, H, W), transposed ``(1, 2, 0)``.
Any other shape is read as (H, W, B); the ``orientation`` string says whether the layout was
detected or assumed, and ``layout='BHW'`` / ``layout='HWB'`` overrides the rule.

Validation (each raises :class:`~quant_models.common.HsbinetError` naming file, key, expected,
found): unreadable file, missing key, non-numeric dtype, rank, NaN/Inf (with the count), fewer
than :data:`MIN_BANDS` bands, a spatial size below :data:`MIN_SPATIAL` pixels.

Modules: :mod:`.load` (:func:`load_cube`), :mod:`.cube` (:class:`Cube`, checks),
:mod:`.orientation` (band-axis rule, pixel matrices), :mod:`.keys` (key choice, wavelengths),
:mod:`.mat_hdf5` (.mat v5/v7.3, .h5), :mod:`.numpy_files` (.npy/.npz), :mod:`.embedded`
(Indian Pines), :mod:`.envi` (ENVI read/write), :mod:`.geotiff` (GeoTIFF read/write),
:mod:`.georef` (:class:`Georef`), :mod:`.wavelengths` (units -> nm), :mod:`.raster`
(:class:`RasterScene`), :mod:`.write` (:func:`write_cube`).
"""

from quant_models.data.readers.cube import MIN_BANDS, MIN_SPATIAL, Cube
from quant_models.data.readers.embedded import EMBEDDED_SCENES
from quant_models.data.readers.envi import read_envi, write_envi
from quant_models.data.readers.georef import Georef
from quant_models.data.readers.geotiff import read_geotiff, write_geotiff
from quant_models.data.readers.load import load_cube
from quant_models.data.readers.write import write_cube

__all__ = ['Cube', 'EMBEDDED_SCENES', 'Georef', 'MIN_BANDS', 'MIN_SPATIAL', 'load_cube',
           'read_envi', 'read_geotiff', 'write_cube', 'write_envi', 'write_geotiff']
