"""Which array of a file is the cube (when no ``:key`` is given), and its wavelengths."""

from __future__ import annotations

import numpy as np

from quant_models.common import HsbinetError
from quant_models.data.readers.cube import is_numeric
from quant_models.data.readers.orientation import find_size


#: Variable names (lower case) searched for band centres; values < 30 are taken as micrometres.
WAVELENGTH_KEYS = ('wavelengths_nm', 'wavelengths', 'wavelength', 'wavelength_nm', 'wl',
                   'lambda', 'bands_nm', 'centers')


def describe(arr) -> str:
    """``"<dtype> (<shape>)"`` of an array (or a shape/dtype stand-in), for error messages."""
    return f'{arr.dtype} {tuple(arr.shape)}'


def pick_key(arrays: dict[str, np.ndarray], file: str, kind: str) -> tuple[str, list[str]]:
    """Largest numeric rank-3 array, else a rank-2 pixel matrix with size scalars."""
    found = ', '.join(f'{k}: {describe(v)}' for k, v in arrays.items()) or 'none'
    rank3 = [k for k, v in arrays.items() if v.ndim == 3 and is_numeric(v)]
    if rank3:
        return max(rank3, key=lambda k: arrays[k].size), rank3
    rank2 = [k for k, v in arrays.items() if v.ndim == 2 and is_numeric(v)
             and (find_size(arrays, v.shape[0]) or find_size(arrays, v.shape[1]))]
    if rank2:
        return max(rank2, key=lambda k: arrays[k].size), rank2
    raise HsbinetError(f'No hyperspectral cube found in the {kind} file', file=file, key='(auto)',
                       expected='a numeric rank-3 array (H,W,B), or a rank-2 (B, H*W) matrix with '
                                'nRow/nCol (or lines/cols) scalars',
                       found=found, hint='name the variable explicitly as path.mat:key')


def find_wavelengths(variables: dict, n_bands: int) -> np.ndarray | None:
    """A 1-D vector of length B named like a wavelength list; micrometres are converted to nm."""
    lower = {k.lower(): k for k in variables}
    for name in WAVELENGTH_KEYS:
        if name in lower:
            try:
                v = np.asarray(variables[lower[name]], dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                continue
            if v.size == n_bands and np.all(np.isfinite(v)) and v.max() > 0:
                return v * 1000.0 if v.max() < 30 else v  # < 30 -> micrometres
    return None
