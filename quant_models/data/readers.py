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

Validation (each raises :class:`~quant_models.errors.HsbinetError` naming file, key, expected,
found): unreadable file, missing key, non-numeric dtype, rank, NaN/Inf (with the count), fewer
than :data:`MIN_BANDS` bands, a spatial size below :data:`MIN_SPATIAL` pixels.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quant_models.errors import HsbinetError

#: Fewest spectral bands a cube may have.
MIN_BANDS = 3
#: Fewest pixels along H and along W (two low-resolution pixels at the default ratio 4).
MIN_SPATIAL = 8

EMBEDDED_SCENES = ('indian_pines',)
_CUBE_EXTS = ('.mat', '.npy', '.npz', '.h5', '.hdf5', '.he5')
_SIZE_KEYS = (('nRow', 'nCol'), ('nrow', 'ncol'), ('lines', 'cols'), ('nrows', 'ncols'),
              ('rows', 'cols'))
_WAVELENGTH_KEYS = ('wavelengths_nm', 'wavelengths', 'wavelength', 'wavelength_nm', 'wl',
                    'lambda', 'bands_nm', 'centers')
_HPC_KEYS = ('GT', 'LMS', 'MS', 'PAN')


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
        sha256: hex sha256 of the source file's bytes (embedded scenes: of the loaded array's
            float64 C-order bytes).
        source_dtype: dtype of the stored array before conversion to float32.
        extra: free-form metadata for callers (empty by default).
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

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, B)."""
        return tuple(self.data.shape)  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------
# helpers

def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def _split_source(source: str) -> tuple[str, str | None]:
    """Split ``path:key`` into (path, key); a path that exists as given is never split."""
    if os.path.exists(source):
        return source, None
    if ':' in source:
        head, tail = source.rsplit(':', 1)
        if head.lower().endswith(_CUBE_EXTS) and tail and not tail.startswith(('\\', '/')):
            return head, tail
    return source, None


def _is_numeric(arr: np.ndarray) -> bool:
    return arr.dtype.kind in 'iuf'


def _describe(arr) -> str:
    return f'{arr.dtype} {tuple(arr.shape)}'


def _scalar(value) -> int | None:
    try:
        a = np.asarray(value)
        if a.dtype.kind in 'iuf' and a.size == 1:
            v = float(a.reshape(-1)[0])
            if v == int(v) and v > 0:
                return int(v)
    except Exception:  # noqa: BLE001 - anything odd is simply "not a scalar"
        pass
    return None


def _find_size(variables: dict, n_pixels: int) -> tuple[int, int, str] | None:
    """Look for (nRow, nCol) scalars whose product is ``n_pixels``."""
    for rk, ck in _SIZE_KEYS:
        if rk in variables and ck in variables:
            r, c = _scalar(variables[rk]), _scalar(variables[ck])
            if r and c and r * c == n_pixels:
                return r, c, f'{rk}={r}, {ck}={c}'
    return None


def _find_wavelengths(variables: dict, n_bands: int) -> np.ndarray | None:
    """A 1-D vector of length B named like a wavelength list; micrometres are converted to nm."""
    lower = {k.lower(): k for k in variables}
    for name in _WAVELENGTH_KEYS:
        if name in lower:
            try:
                v = np.asarray(variables[lower[name]], dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                continue
            if v.size == n_bands and np.all(np.isfinite(v)) and v.max() > 0:
                return v * 1000.0 if v.max() < 30 else v  # < 30 -> micrometres
    return None


def _band_axis_rule(shape: tuple[int, ...], layout: str | None, file: str, key: str
                    ) -> tuple[tuple[int, int, int], str]:
    """Return (transpose to (H,W,B), words) for a rank-3 logical array."""
    a, b, c = shape
    if layout is not None:
        lay = layout.upper()
        if lay == 'HWB':
            return (0, 1, 2), 'layout=HWB given by the caller: used as (H,W,B)'
        if lay == 'BHW':
            return (1, 2, 0), 'layout=BHW given by the caller: transposed (1,2,0) -> (H,W,B)'
        raise HsbinetError('Unknown cube layout', file=file, key='layout',
                           expected="'HWB' or 'BHW'", found=repr(layout))
    if b == c and a != c:
        return (1, 2, 0), (f'first axis is the band axis (last two axes equal, {b}x{c} image, '
                           f'first differs): (B,H,W) transposed (1,2,0) -> (H,W,B)')
    if a == b and c != a:
        return (0, 1, 2), 'first two axes equal (square image), bands last: used as (H,W,B)'
    return (0, 1, 2), ("layout ambiguous, (H,W,B) assumed (bands last); pass layout='BHW' if the "
                       'file stores bands first')


def _validate(data: np.ndarray, file: str, key: str) -> None:
    if not _is_numeric(data):
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


# ----------------------------------------------------------------------------------------------
# per-format loaders: each returns (logical array, key, orientation prefix, variables dict)

def _pick_key(arrays: dict[str, np.ndarray], file: str, kind: str) -> tuple[str, list[str]]:
    """Largest numeric rank-3 array, else a rank-2 pixel matrix with size scalars."""
    found = ', '.join(f'{k}: {_describe(v)}' for k, v in arrays.items()) or 'none'
    rank3 = [k for k, v in arrays.items() if v.ndim == 3 and _is_numeric(v)]
    if rank3:
        return max(rank3, key=lambda k: arrays[k].size), rank3
    rank2 = [k for k, v in arrays.items() if v.ndim == 2 and _is_numeric(v)
             and (_find_size(arrays, v.shape[0]) or _find_size(arrays, v.shape[1]))]
    if rank2:
        return max(rank2, key=lambda k: arrays[k].size), rank2
    raise HsbinetError(f'No hyperspectral cube found in the {kind} file', file=file, key='(auto)',
                       expected='a numeric rank-3 array (H,W,B), or a rank-2 (B, H*W) matrix with '
                                'nRow/nCol (or lines/cols) scalars',
                       found=found, hint='name the variable explicitly as path.mat:key')


def _to_cube_array(arr: np.ndarray, variables: dict, file: str, key: str,
                   layout: str | None, prefix: str) -> tuple[np.ndarray, str]:
    if not _is_numeric(arr):
        raise HsbinetError('Cube array has a non-numeric dtype', file=file, key=key,
                           expected='an integer or floating-point array',
                           found=f'dtype {arr.dtype}, shape {tuple(arr.shape)}')
    if arr.ndim == 3:
        perm, words = _band_axis_rule(arr.shape, layout, file, key)
        out = arr.transpose(perm) if perm != (0, 1, 2) else arr
        return out, f'{prefix} {tuple(arr.shape)}: {words}'
    if arr.ndim == 2:
        for pix_axis in (1, 0):
            size = _find_size(variables, arr.shape[pix_axis])
            if size is not None:
                r, c, words = size
                mat = arr.T if pix_axis == 1 else arr  # (H*W, B)
                nb = mat.shape[1]
                out = mat.reshape(r, c, nb, order='F')
                how = 'Y.T' if pix_axis == 1 else 'Y'
                return out, (f'{prefix} {tuple(arr.shape)} pixel matrix ('
                             f'{"B, H*W" if pix_axis == 1 else "H*W, B"}) with {words}: '
                             f"{how}.reshape({r},{c},{nb}, order='F') (MATLAB column-major pixel "
                             'order) -> (H,W,B)')
        raise HsbinetError('Cube array is rank 2 but the file gives no image size', file=file,
                           key=key, expected='rank 3 (H,W,B), or rank 2 (B, H*W) with nRow/nCol '
                                             '(or lines/cols) scalars whose product is H*W',
                           found=f'rank 2, shape {tuple(arr.shape)}; other small variables: '
                                 f'{", ".join(sorted(variables)) or "none"}')
    raise HsbinetError('Cube array has the wrong rank', file=file, key=key,
                       expected='rank 3 (H,W,B) (or rank 2 (B, H*W) with nRow/nCol scalars)',
                       found=f'rank {arr.ndim}, shape {tuple(arr.shape)}')


def _load_mat_v5(path: str, key: str | None, layout: str | None):
    import scipy.io
    try:
        raw = scipy.io.loadmat(path)
    except Exception as exc:  # noqa: BLE001 - scipy raises many types for corrupt files
        raise HsbinetError('Cannot read the MATLAB file', file=path, key=key or '(auto)',
                           expected='a MATLAB v5 or v7.3 .mat file',
                           found=f'{type(exc).__name__}: {exc}') from None
    variables = {k: v for k, v in raw.items() if not k.startswith('__')}
    arrays = {k: v for k, v in variables.items() if isinstance(v, np.ndarray)}
    if key is None:
        key, _ = _pick_key(arrays, path, 'MATLAB v5')
    elif key not in arrays:
        raise HsbinetError('Variable not found in the MATLAB file', file=path, key=key,
                           expected=f'a variable named {key!r}',
                           found='variables: ' + (', '.join(
                               f'{k} {_describe(v)}' for k, v in arrays.items()) or 'none'))
    data, orient = _to_cube_array(arrays[key], variables, path, key, layout,
                                  'MATLAB v5 (scipy.io.loadmat) stored')
    return data, key, orient, variables, 'MATLAB v5'


def _h5_arrays(h5file, matlab: bool) -> dict[str, object]:
    """Datasets by path (lazy h5py objects), skipping MATLAB's #refs#/#subsystem# groups."""
    import h5py
    found: dict[str, object] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.startswith('#'):
            if matlab and obj.attrs.get('MATLAB_class', b'') in (b'char', 'char'):
                return  # MATLAB strings are stored as uint16 codes: not data
            found[name] = obj
    h5file.visititems(visit)
    return found


def _load_hdf5(path: str, key: str | None, layout: str | None, matlab: bool):
    import h5py
    kind = 'MATLAB v7.3 (HDF5)' if matlab else 'HDF5'
    try:
        f = h5py.File(path, 'r')
    except Exception as exc:  # noqa: BLE001
        raise HsbinetError(f'Cannot open the {kind} file', file=path, key=key or '(auto)',
                           expected='a readable HDF5 file',
                           found=f'{type(exc).__name__}: {exc}') from None
    with f:
        try:
            shapes = _h5_arrays(f, matlab)
            if not matlab and all(k in shapes for k in _HPC_KEYS):
                raise HsbinetError('This is a HyperPanCollection pan-sharpening set, not a cube',
                                   file=path, key='(file)', expected='a single (H,W,B) cube',
                                   found='datasets ' + ', '.join(sorted(shapes)),
                                   hint='read it with quant_models.data.hpc_format.read_hpc '
                                        '(or PanDataset): it is already a training/test set')
            small = {k: np.asarray(d[()]) for k, d in shapes.items()
                     if d.size <= 16 or k.lower() in _WAVELENGTH_KEYS}
            if matlab:  # column-major: reverse the axes to MATLAB's logical order
                small = {k: v.transpose(tuple(range(v.ndim))[::-1]) for k, v in small.items()}
            if key is None:
                # choose by metadata only (shape/dtype), then read just that one array
                meta: dict = {k: _MetaArray(d.shape[::-1] if matlab else d.shape, d.dtype)
                              for k, d in shapes.items()}
                meta.update(small)
                key, _ = _pick_key(meta, path, kind)
            elif key not in shapes:
                raise HsbinetError(f'Dataset not found in the {kind} file', file=path, key=key,
                                   expected=f'a dataset named {key!r}',
                                   found='datasets: ' + (', '.join(
                                       f'{k} {_describe(d)}' for k, d in shapes.items())
                                       or 'none'))
            arr = np.asarray(shapes[key][()])
        except HsbinetError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise HsbinetError(f'Cannot read a dataset of the {kind} file', file=path,
                               key=key or '(auto)', expected='readable numeric datasets',
                               found=f'{type(exc).__name__}: {exc}') from None
    if matlab:
        perm = tuple(range(arr.ndim))[::-1]
        stored_shape = tuple(arr.shape)
        arr = arr.transpose(perm)
        stored = (f'{kind} stored {stored_shape} (column-major, axes reversed): transposed '
                  f'{perm} -> logical')
    else:
        stored = f'{kind} stored'
    data, orient = _to_cube_array(arr, small, path, key, layout, stored)
    return data, key, orient, small, kind


class _MetaArray:
    """Shape/dtype stand-in so key selection never reads large datasets."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)
        self.size = int(np.prod(self.shape)) if self.shape else 1


def _load_npy(path: str, key: str | None, layout: str | None):
    try:
        obj = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise HsbinetError('Cannot read the NumPy file', file=path, key=key or '(array)',
                           expected='a .npy/.npz file of a numeric array (no pickled objects)',
                           found=f'{type(exc).__name__}: {exc}') from None
    if isinstance(obj, np.ndarray):
        data, orient = _to_cube_array(obj, {}, path, '(array)', layout, 'NumPy .npy stored')
        return data, '(array)', orient, {}, 'NumPy .npy'
    with obj:
        variables = {k: obj[k] for k in obj.files}
    if key is None:
        key, _ = _pick_key(variables, path, 'NumPy .npz')
    elif key not in variables:
        raise HsbinetError('Array not found in the .npz file', file=path, key=key,
                           expected=f'an array named {key!r}',
                           found='arrays: ' + (', '.join(sorted(variables)) or 'none'))
    data, orient = _to_cube_array(variables[key], variables, path, key, layout,
                                  'NumPy .npz stored')
    return data, key, orient, variables, 'NumPy .npz'


def _load_embedded(name: str) -> Cube:
    if name != 'indian_pines':
        raise HsbinetError('Unknown embedded scene', file=None, key='scene',
                           expected='one of ' + ', '.join(EMBEDDED_SCENES) + ' or a file path',
                           found=repr(name))
    try:
        import tensorly.datasets as tld
        bunch = tld.load_indian_pines()
    except Exception as exc:  # noqa: BLE001
        raise HsbinetError('Cannot load the embedded Indian Pines scene from tensorly',
                           file='tensorly:indian_pines', key='tensor',
                           expected='tensorly (==0.10.0) installed with its bundled data',
                           found=f'{type(exc).__name__}: {exc}',
                           hint='reinstall the project dependencies (make install)') from None
    arr = np.ascontiguousarray(np.asarray(bunch['tensor'], dtype=np.float64))
    digest = hashlib.sha256(arr.tobytes()).hexdigest()
    wl = None
    ticks = bunch.get('ticks') if hasattr(bunch, 'get') else None
    if ticks:
        cand = np.asarray(ticks[-1], dtype=np.float64).reshape(-1)
        if cand.size == arr.shape[-1]:
            wl = cand
    src = 'tensorly:indian_pines'
    _validate(arr, src, 'tensor')
    prov = ('Indian Pines (AVIRIS, 145x145, 200 water-absorption-corrected bands), embedded in '
            f'tensorly {_tensorly_version()} (tensorly.datasets.load_indian_pines). Reference: '
            f"{bunch.get('reference', '')} {bunch.get('LICENCE', '')}. sha256(float64 C-order "
            f'array)={digest}').strip()
    return Cube(data=arr.astype(np.float32), wavelengths_nm=wl, name='indian_pines', source=src,
                key='tensor',
                orientation=f'tensorly array {arr.shape} documented as (spatial, spatial, bands): '
                            'used as (H,W,B)',
                provenance=prov, sha256=digest, source_dtype='float64 (integer DN values)')


def _tensorly_version() -> str:
    try:
        import tensorly
        return tensorly.__version__
    except Exception:  # noqa: BLE001
        return '?'


# ----------------------------------------------------------------------------------------------

def load_cube(source: str | os.PathLike, layout: str | None = None) -> Cube:
    """Load a hyperspectral cube as float32 (H, W, B) with its provenance.

    Args:
        source: ``"indian_pines"`` / ``"tensorly:indian_pines"`` (embedded default), or a path to
            a ``.mat`` (v5 or v7.3), ``.npy``, ``.npz`` or generic ``.h5`` file, optionally
            suffixed ``:key`` to name the variable/dataset (e.g. ``"scene.mat:data"``).
        layout: ``None`` (apply the band-axis rule in the module docstring), ``"HWB"`` or
            ``"BHW"`` to force how a rank-3 array is read.

    Returns:
        :class:`Cube` with ``data`` float32 (H, W, B) and the key/orientation used.

    Raises:
        HsbinetError: unreadable file, unknown format, missing key, non-numeric dtype, wrong rank,
            NaN/Inf values, fewer than 3 bands, H or W below 8 pixels.
    """
    source = os.fspath(source)
    if source in EMBEDDED_SCENES or source.startswith('tensorly:'):
        return _load_embedded(source.split(':', 1)[-1])
    path, key = _split_source(source)
    if not os.path.exists(path):
        raise HsbinetError('Cube source not found', file=path, key=key or '(auto)',
                           expected='an existing .mat/.npy/.npz/.h5 file, or the embedded scene '
                                    "'indian_pines'",
                           found='no such file')
    if os.path.isdir(path):
        raise HsbinetError('Cube source is a folder', file=path, key=key or '(auto)',
                           expected='a .mat/.npy/.npz/.h5 file', found='a directory')
    ext = Path(path).suffix.lower()
    if ext == '.mat':
        import h5py
        try:
            v73 = h5py.is_hdf5(path)
        except Exception:  # noqa: BLE001
            v73 = False
        if v73:
            data, key, orient, variables, kind = _load_hdf5(path, key, layout, matlab=True)
        else:
            data, key, orient, variables, kind = _load_mat_v5(path, key, layout)
    elif ext in ('.npy', '.npz'):
        data, key, orient, variables, kind = _load_npy(path, key, layout)
    elif ext in ('.h5', '.hdf5', '.he5'):
        data, key, orient, variables, kind = _load_hdf5(path, key, layout, matlab=False)
    else:
        raise HsbinetError('Unsupported cube file format', file=path, key='(extension)',
                           expected='one of .mat (v5/v7.3), .npy, .npz, .h5/.hdf5, or the '
                                    "embedded scene 'indian_pines'",
                           found=f'extension {ext or "(none)"!r}',
                           hint='convert TIFF/ENVI cubes to .npy (H,W,B) with a reader such as '
                                'rasterio or spectral, then load that')
    source_dtype = str(data.dtype)
    _validate(data, path, key)
    digest = file_sha256(path)
    wl = _find_wavelengths(variables, data.shape[2])
    prov = (f'{kind} file {os.path.basename(path)} (sha256 {digest}), key {key!r} '
            f'{source_dtype}, cube (H,W,B)={tuple(data.shape)}')
    return Cube(data=np.ascontiguousarray(data, dtype=np.float32), wavelengths_nm=wl,
                name=Path(path).stem, source=path, key=key, orientation=orient, provenance=prov,
                sha256=digest, source_dtype=source_dtype)
