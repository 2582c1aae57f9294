"""The :func:`load_cube` dispatcher: source string -> format loader -> checked :class:`Cube`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from quant_models.common import HsbinetError, file_sha256
from quant_models.data.readers.cube import Cube, validate_cube
from quant_models.data.readers.embedded import EMBEDDED_SCENES, load_embedded
from quant_models.data.readers.keys import find_wavelengths
from quant_models.data.readers.mat_hdf5 import load_hdf5, load_mat_v5
from quant_models.data.readers.numpy_files import load_npy


_CUBE_EXTS = ('.mat', '.npy', '.npz', '.h5', '.hdf5', '.he5')


def split_source(source: str) -> tuple[str, str | None]:
    """Split ``path:key`` into (path, key); a path that exists as given is never split."""
    if os.path.exists(source):
        return source, None
    if ':' in source:
        head, tail = source.rsplit(':', 1)
        if head.lower().endswith(_CUBE_EXTS) and tail and not tail.startswith(('\\', '/')):
            return head, tail
    return source, None


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
        return load_embedded(source.split(':', 1)[-1])
    path, key = split_source(source)
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
            data, key, orient, variables, kind = load_hdf5(path, key, layout, matlab=True)
        else:
            data, key, orient, variables, kind = load_mat_v5(path, key, layout)
    elif ext in ('.npy', '.npz'):
        data, key, orient, variables, kind = load_npy(path, key, layout)
    elif ext in ('.h5', '.hdf5', '.he5'):
        data, key, orient, variables, kind = load_hdf5(path, key, layout, matlab=False)
    else:
        raise HsbinetError('Unsupported cube file format', file=path, key='(extension)',
                           expected='one of .mat (v5/v7.3), .npy, .npz, .h5/.hdf5, or the '
                                    "embedded scene 'indian_pines'",
                           found=f'extension {ext or "(none)"!r}',
                           hint='convert TIFF/ENVI cubes to .npy (H,W,B) with a reader such as '
                                'rasterio or spectral, then load that')
    source_dtype = str(data.dtype)
    validate_cube(data, path, key)
    digest = file_sha256(path)
    wl = find_wavelengths(variables, data.shape[2])
    prov = (f'{kind} file {os.path.basename(path)} (sha256 {digest}), key {key!r} '
            f'{source_dtype}, cube (H,W,B)={tuple(data.shape)}')
    return Cube(data=np.ascontiguousarray(data, dtype=np.float32), wavelengths_nm=wl,
                name=Path(path).stem, source=path, key=key, orientation=orient, provenance=prov,
                sha256=digest, source_dtype=source_dtype)
