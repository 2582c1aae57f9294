"""MATLAB ``.mat`` (v5 via scipy, v7.3 via h5py) and generic HDF5 cube files.

Each loader returns ``(data (H,W,B), key, orientation words, small variables, kind)``.
MATLAB v7.3 files are HDF5 with arrays stored column-major: h5py sees the axes reversed, so
every array is transposed back (``(2, 1, 0)`` for rank 3) to MATLAB's logical order before the
band-axis rule. Generic HDF5 arrays are row-major and used as stored.
"""

from __future__ import annotations

import numpy as np

from quant_models.common import HsbinetError
from quant_models.data.readers.keys import WAVELENGTH_KEYS, describe, pick_key
from quant_models.data.readers.orientation import to_cube_array


_HPC_KEYS = ('GT', 'LMS', 'MS', 'PAN')  # datasets of a HyperPanCollection .h5 (not a cube)


def load_mat_v5(path: str, key: str | None, layout: str | None):
    """A MATLAB v5 file (``scipy.io.loadmat``): variable ``key`` (or the auto-chosen one)."""
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
        key, _ = pick_key(arrays, path, 'MATLAB v5')
    elif key not in arrays:
        raise HsbinetError('Variable not found in the MATLAB file', file=path, key=key,
                           expected=f'a variable named {key!r}',
                           found='variables: ' + (', '.join(
                               f'{k} {describe(v)}' for k, v in arrays.items()) or 'none'))
    data, orient = to_cube_array(arrays[key], variables, path, key, layout,
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


def load_hdf5(path: str, key: str | None, layout: str | None, matlab: bool):
    """An HDF5 file: MATLAB v7.3 (``matlab=True``: axes reversed back) or generic row-major HDF5.

    Only small datasets (size scalars, wavelengths) and the chosen cube are read.
    """
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
                     if d.size <= 16 or k.lower() in WAVELENGTH_KEYS}
            if matlab:  # column-major: reverse the axes to MATLAB's logical order
                small = {k: v.transpose(tuple(range(v.ndim))[::-1]) for k, v in small.items()}
            if key is None:
                # choose by metadata only (shape/dtype), then read just that one array
                meta: dict = {k: _MetaArray(d.shape[::-1] if matlab else d.shape, d.dtype)
                              for k, d in shapes.items()}
                meta.update(small)
                key, _ = pick_key(meta, path, kind)
            elif key not in shapes:
                raise HsbinetError(f'Dataset not found in the {kind} file', file=path, key=key,
                                   expected=f'a dataset named {key!r}',
                                   found='datasets: ' + (', '.join(
                                       f'{k} {describe(d)}' for k, d in shapes.items())
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
    data, orient = to_cube_array(arr, small, path, key, layout, stored)
    return data, key, orient, small, kind


class _MetaArray:
    """Shape/dtype stand-in so key selection never reads large datasets."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)
        self.size = int(np.prod(self.shape)) if self.shape else 1
