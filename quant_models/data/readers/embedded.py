"""Scenes shipped with the dependencies, loaded offline: AVIRIS Indian Pines from ``tensorly``."""

from __future__ import annotations

import numpy as np

from quant_models.common import HsbinetError, array_sha256
from quant_models.data.readers.cube import Cube, validate_cube


EMBEDDED_SCENES = ('indian_pines',)


def load_embedded(name: str) -> Cube:
    """The embedded scene ``name`` (one of :data:`EMBEDDED_SCENES`) as a checked :class:`Cube`."""
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
    digest = array_sha256(arr)
    wl = None
    ticks = bunch.get('ticks') if hasattr(bunch, 'get') else None
    if ticks:
        cand = np.asarray(ticks[-1], dtype=np.float64).reshape(-1)
        if cand.size == arr.shape[-1]:
            wl = cand
    src = 'tensorly:indian_pines'
    validate_cube(arr, src, 'tensor')
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
    """Installed tensorly version, ``?`` when it cannot be read."""
    try:
        import tensorly
        return tensorly.__version__
    except Exception:  # noqa: BLE001
        return '?'
