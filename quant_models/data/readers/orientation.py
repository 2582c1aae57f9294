"""How a stored array becomes (H, W, B): the band-axis rule and pixel matrices with a size.

Rank-3 arrays (after any MATLAB v7.3 axis reversal) follow :func:`band_axis_rule` (see
:mod:`quant_models.data.readers`); rank-2 ``(B, H*W)`` / ``(H*W, B)`` pixel matrices are
reshaped with the image size found in the file's scalars (:func:`find_size`), pixels in MATLAB
column-major order.
"""

from __future__ import annotations

import numpy as np

from quant_models.common import HsbinetError
from quant_models.data.readers.cube import is_numeric


_SIZE_KEYS = (('nRow', 'nCol'), ('nrow', 'ncol'), ('lines', 'cols'), ('nrows', 'ncols'),
              ('rows', 'cols'))


def _scalar(value) -> int | None:
    """A positive integer held by a size-1 numeric array, else None."""
    try:
        a = np.asarray(value)
        if a.dtype.kind in 'iuf' and a.size == 1:
            v = float(a.reshape(-1)[0])
            if v == int(v) and v > 0:
                return int(v)
    except Exception:  # noqa: BLE001 - anything odd is simply "not a scalar"
        pass
    return None


def find_size(variables: dict, n_pixels: int) -> tuple[int, int, str] | None:
    """Look for (nRow, nCol) scalars whose product is ``n_pixels``."""
    for rk, ck in _SIZE_KEYS:
        if rk in variables and ck in variables:
            r, c = _scalar(variables[rk]), _scalar(variables[ck])
            if r and c and r * c == n_pixels:
                return r, c, f'{rk}={r}, {ck}={c}'
    return None


def band_axis_rule(shape: tuple[int, ...], layout: str | None, file: str, key: str
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


def to_cube_array(arr: np.ndarray, variables: dict, file: str, key: str,
                   layout: str | None, prefix: str) -> tuple[np.ndarray, str]:
    """``arr`` (logical axes) as (H, W, B) plus the orientation in words, prefixed by ``prefix``
    (how the array was stored). ``variables``: the file's small arrays, for size scalars."""
    if not is_numeric(arr):
        raise HsbinetError('Cube array has a non-numeric dtype', file=file, key=key,
                           expected='an integer or floating-point array',
                           found=f'dtype {arr.dtype}, shape {tuple(arr.shape)}')
    if arr.ndim == 3:
        perm, words = band_axis_rule(arr.shape, layout, file, key)
        out = arr.transpose(perm) if perm != (0, 1, 2) else arr
        return out, f'{prefix} {tuple(arr.shape)}: {words}'
    if arr.ndim == 2:
        for pix_axis in (1, 0):
            size = find_size(variables, arr.shape[pix_axis])
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
