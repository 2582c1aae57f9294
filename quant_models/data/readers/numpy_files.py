"""NumPy ``.npy`` / ``.npz`` cube files (C order, used as stored, ``allow_pickle=False``)."""

from __future__ import annotations

import numpy as np

from quant_models.common import HsbinetError
from quant_models.data.readers.keys import pick_key
from quant_models.data.readers.orientation import to_cube_array


def load_npy(path: str, key: str | None, layout: str | None):
    """A ``.npy`` array (``key`` ignored, reported as ``(array)``) or an ``.npz`` member."""
    try:
        obj = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise HsbinetError('Cannot read the NumPy file', file=path, key=key or '(array)',
                           expected='a .npy/.npz file of a numeric array (no pickled objects)',
                           found=f'{type(exc).__name__}: {exc}') from None
    if isinstance(obj, np.ndarray):
        data, orient = to_cube_array(obj, {}, path, '(array)', layout, 'NumPy .npy stored')
        return data, '(array)', orient, {}, 'NumPy .npy'
    with obj:
        variables = {k: obj[k] for k in obj.files}
    if key is None:
        key, _ = pick_key(variables, path, 'NumPy .npz')
    elif key not in variables:
        raise HsbinetError('Array not found in the .npz file', file=path, key=key,
                           expected=f'an array named {key!r}',
                           found='arrays: ' + (', '.join(sorted(variables)) or 'none'))
    data, orient = to_cube_array(variables[key], variables, path, key, layout,
                                  'NumPy .npz stored')
    return data, key, orient, variables, 'NumPy .npz'
