"""Input checks shared by every index, and per-image averaging over a batch.

Images are numpy arrays (or anything ``np.asarray`` takes): cubes band-first ``(B, H, W)``, PAN
``(H, W)`` or ``(1, H, W)``, batches ``(N, B, H, W)``; the checks return float64 copies/views.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from quant_models.common import HsbinetError


class MetricInputError(HsbinetError, ValueError):
    """Invalid metric input: wrong shape / dimensionality, mismatched shapes, non-finite values."""


def as_cube(x, name: str) -> np.ndarray:
    """``x`` as a finite float64 (B, H, W) cube; ``name`` labels the error."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 3:
        raise MetricInputError(f'{name} must be a band-first cube', key=name,
                               expected='an array of shape (B, H, W)',
                               found=f'shape {a.shape}')
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise MetricInputError(f'{name} contains non-finite values', key=name,
                               expected='finite values only',
                               found=f'{bad} NaN/inf values in an array of shape {a.shape}')
    return a


def cube_pair(ref, out, names=('ref', 'out')) -> tuple[np.ndarray, np.ndarray]:
    """Two checked (B, H, W) cubes of the same shape."""
    r = as_cube(ref, names[0])
    o = as_cube(out, names[1])
    if r.shape != o.shape:
        raise MetricInputError(f'{names[0]} and {names[1]} must have the same shape',
                               key=f'{names[0]}/{names[1]}',
                               expected='equal (B, H, W) shapes',
                               found=f'{names[0]} {r.shape} vs {names[1]} {o.shape}')
    return r, o


def pan_image(pan, name='pan') -> np.ndarray:
    """A finite float64 (H, W) PAN from an (H, W) or (1, H, W) array."""
    a = np.asarray(pan, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise MetricInputError('PAN must be a single-band image', key=name,
                               expected='shape (H, W) or (1, H, W)', found=f'shape {a.shape}')
    if not np.all(np.isfinite(a)):
        raise MetricInputError('PAN contains non-finite values', key=name,
                               expected='finite values only', found=f'shape {a.shape}')
    return a


def integer_ratio(ratio) -> int:
    """The PAN/MS resolution ratio as an int >= 1 (a float like 4.0 is accepted, 4.5 is not)."""
    try:
        r = int(ratio)
    except (TypeError, ValueError):
        r = -1
    if r < 1 or r != ratio:
        raise MetricInputError('the resolution ratio must be a positive integer', key='ratio',
                               expected='an integer >= 1', found=repr(ratio))
    return r


def batch_mean(fn: Callable[..., float | dict], *arrays, **kwargs):
    """Apply ``fn`` image by image and average the results.

    Arrays with 4 dimensions are (N, B, H, W) batches and are indexed per image (all 4-D arrays
    must share N); lower-dimensional arrays (e.g. a (H, W) PAN shared by all) are passed
    unchanged.  A PAN batch may be (N, H, W) or (N, 1, H, W) when another argument is 4-D:
    3-D arrays whose first axis equals N are then indexed too.  ``fn`` may return a float or a
    dict of floats; the mean is taken per key.  With no 4-D argument ``fn`` is called once.
    """
    arrs = [np.asarray(a) for a in arrays]
    n_set = {a.shape[0] for a in arrs if a.ndim == 4}
    if not n_set:
        return fn(*arrs, **kwargs)
    if len(n_set) != 1:
        raise MetricInputError('batched inputs disagree on the number of images', key='N',
                               expected='the same N in every (N, B, H, W) array',
                               found=f'shapes {[a.shape for a in arrs]}')
    n = n_set.pop()
    if n == 0:
        raise MetricInputError('empty batch', key='N', expected='N >= 1', found='N = 0')
    results = []
    for i in range(n):
        args = [a[i] if a.ndim == 4 or (a.ndim == 3 and a.shape[0] == n and n > 1) else a
                for a in arrs]
        results.append(fn(*args, **kwargs))
    if isinstance(results[0], dict):
        return {k: float(np.mean([res[k] for res in results])) for k in results[0]}
    return float(np.mean(results))
