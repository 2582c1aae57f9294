"""HyperPanCollection ``.h5`` pan-sharpening sets: read as distributed, write atomically.

Format (exactly how the WDC / Botswana files of HyperPanCollection are distributed)::

    GT   (N, B, H, W)   reference at PAN resolution        (optional: absent in full-res sets)
    LMS  (N, B, H, W)   MS upsampled to PAN resolution (bicubic)
    MS   (N, B, h, w)   low-resolution hyperspectral input, H = ratio * h, W = ratio * w
    PAN  (N, 1, H, W)   panchromatic image

Layout is the network layout (N, C, H, W): patch, channel (band), row, column. Values are used
as stored (no rescaling; files written by :mod:`quant_models.data.prepare` hold reflectance
divided by the scene max, with ``max_value`` in the attributes so it can be undone). Everything is
returned as float32.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from quant_models.common import HsbinetError

REQUIRED_KEYS = ('LMS', 'MS', 'PAN')
ALL_KEYS = ('GT', 'LMS', 'MS', 'PAN')


@dataclass
class PanSet:
    """A pan-sharpening set in memory, all float32, layout (N, C, H, W).

    Attributes:
        gt: (N, B, H, W) reference, or None when the file has no GT.
        lms: (N, B, H, W) upsampled MS.
        ms: (N, B, h, w) low-resolution HS.
        pan: (N, 1, H, W) panchromatic.
        ratio: H // h (integer, same along both axes).
        path: file the set came from ('' for an in-memory set).
        attrs: the file's root attributes (strings/numbers; JSON strings decoded when written by
            :func:`write_hpc`).
    """

    gt: np.ndarray | None
    lms: np.ndarray
    ms: np.ndarray
    pan: np.ndarray
    ratio: int
    path: str = ''
    attrs: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of patches N."""
        return int(self.lms.shape[0])

    @property
    def n_bands(self) -> int:
        """Number of spectral bands B."""
        return int(self.lms.shape[1])


def _count_nonfinite(arr: np.ndarray) -> int:
    if arr.dtype.kind != 'f':
        return 0
    return int(arr.size - np.count_nonzero(np.isfinite(arr)))


def validate_set(arrays: dict[str, np.ndarray | None], file: str,
                 expected_bands: int | None = None, expected_ratio: int | None = None) -> int:
    """Check shapes/values of GT/LMS/MS/PAN (N, C, H, W) arrays and return the ratio.

    ``arrays`` maps 'GT' (may be None), 'LMS', 'MS', 'PAN' to arrays. Raises
    :class:`HsbinetError` naming the file, dataset, expected and found values.
    """
    present = {k: v for k, v in arrays.items() if v is not None}
    missing = [k for k in REQUIRED_KEYS if k not in present]
    if missing:
        raise HsbinetError('Dataset missing from the pan-sharpening set', file=file,
                           key=', '.join(missing), expected='datasets ' + ', '.join(ALL_KEYS),
                           found='datasets ' + (', '.join(present) or '(none)'))
    for k, v in present.items():
        if v.dtype.kind not in 'iuf':
            raise HsbinetError('Dataset has a non-numeric dtype', file=file, key=k,
                               expected='a floating-point or integer dataset',
                               found=f'dtype {v.dtype}')
        if v.ndim != 4:
            raise HsbinetError('Dataset has the wrong rank', file=file, key=k,
                               expected='rank 4 (N, C, H, W)',
                               found=f'rank {v.ndim}, shape {tuple(v.shape)}')
    ms, pan = present['MS'], present['PAN']
    shapes = ', '.join(f'{k} {tuple(v.shape)}' for k, v in present.items())
    ns = {k: v.shape[0] for k, v in present.items()}
    if len(set(ns.values())) != 1:
        raise HsbinetError('Datasets disagree on the number of patches N', file=file,
                           key='/'.join(ns), expected='the same N (first axis) in every dataset',
                           found=shapes)
    if ns['MS'] == 0:
        raise HsbinetError('The set holds no patches', file=file, key='MS',
                           expected='N >= 1', found=shapes)
    bands = {k: v.shape[1] for k, v in present.items() if k != 'PAN'}
    if len(set(bands.values())) != 1:
        raise HsbinetError('Datasets disagree on the band count', file=file,
                           key='/'.join(bands),
                           expected='the same C (second axis) in ' + ', '.join(bands),
                           found=shapes)
    nb = bands['MS']
    if expected_bands is not None and nb != expected_bands:
        raise HsbinetError('Band count differs from the expected one', file=file, key='MS',
                           expected=f'{expected_bands} bands', found=f'{nb} bands ({shapes})')
    if pan.shape[1] != 1:
        raise HsbinetError('PAN must have one channel', file=file, key='PAN',
                           expected='shape (N, 1, H, W)', found=f'shape {tuple(pan.shape)}')
    full = {k: v.shape[2:] for k, v in present.items() if k != 'MS'}
    if len(set(full.values())) != 1:
        raise HsbinetError('PAN-resolution datasets disagree on H x W', file=file,
                           key='/'.join(full), expected='the same H x W in ' + ', '.join(full),
                           found=shapes)
    hh, ww = pan.shape[2:]
    h, w = ms.shape[2:]
    if h == 0 or w == 0 or hh % h or ww % w:
        raise HsbinetError('PAN size is not an integer multiple of the MS size', file=file,
                           key='PAN/MS', expected='H = ratio * h and W = ratio * w, integer ratio',
                           found=f'PAN H x W = {hh} x {ww}, MS h x w = {h} x {w}')
    rh, rw = hh // h, ww // w
    if rh != rw:
        raise HsbinetError('Resolution ratio differs between rows and columns', file=file,
                           key='PAN/MS', expected='the same ratio H/h = W/w',
                           found=f'H/h = {hh}/{h} = {rh}, W/w = {ww}/{w} = {rw}')
    if rh < 2:
        raise HsbinetError('Resolution ratio must be at least 2', file=file, key='PAN/MS',
                           expected='H/h >= 2', found=f'H/h = {hh}/{h} = {rh}')
    if expected_ratio is not None and rh != expected_ratio:
        raise HsbinetError('Resolution ratio differs from the expected one', file=file,
                           key='PAN/MS', expected=f'ratio {expected_ratio}',
                           found=f'ratio {rh} (PAN {hh}x{ww}, MS {h}x{w})')
    for k, v in present.items():
        bad = _count_nonfinite(v)
        if bad:
            raise HsbinetError('Dataset contains non-finite values', file=file, key=k,
                               expected='all values finite',
                               found=f'{bad} non-finite values (NaN/Inf) out of {v.size}')
    return rh


def _decode_attr(value):
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    if isinstance(value, str):
        if value.startswith('json:'):
            try:
                return json.loads(value[5:])
            except ValueError:
                return value
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def read_hpc(path: str | os.PathLike, require_gt: bool = True, expected_bands: int | None = None,
             expected_ratio: int | None = None) -> PanSet:
    """Read a HyperPanCollection-style ``.h5`` file into memory.

    Args:
        path: the ``.h5`` file (datasets GT, LMS, MS, PAN, each (N, C, H, W)).
        require_gt: if True, a missing GT is an error (reduced-resolution sets); if False, GT is
            optional (full-resolution sets) and ``PanSet.gt`` is None when absent.
        expected_bands: if given, the band count B must equal it.
        expected_ratio: if given, the PAN/MS ratio must equal it.

    Returns:
        :class:`PanSet` with float32 arrays in (N, C, H, W) layout.

    Raises:
        HsbinetError: missing/unreadable/non-HDF5 file, missing dataset (lists what was found),
            rank != 4, disagreeing N / band count / sizes, PAN with more than one channel,
            non-integer or disagreeing ratio, NaN/Inf, unexpected band count or ratio.
    """
    import h5py
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise HsbinetError('Pan-sharpening set not found', file=path, key='(file)',
                           expected='an existing HyperPanCollection .h5 file',
                           found='no such file' if not os.path.exists(path) else 'not a file')
    try:
        is_h5 = h5py.is_hdf5(path)
    except Exception:  # noqa: BLE001
        is_h5 = False
    if not is_h5:
        raise HsbinetError('Not an HDF5 file', file=path, key='(file)',
                           expected='an HDF5 .h5 file with datasets GT, LMS, MS, PAN',
                           found='no HDF5 signature (wrong format, truncated or partial file)')
    needed = ALL_KEYS if require_gt else REQUIRED_KEYS
    try:
        with h5py.File(path, 'r') as f:
            keys = sorted(f.keys())
            missing = [k for k in needed if k not in f]
            if missing:
                raise HsbinetError('Dataset missing from the pan-sharpening set', file=path,
                                   key=', '.join(missing),
                                   expected='datasets ' + ', '.join(needed),
                                   found='keys ' + (', '.join(keys) or '(none)'),
                                   hint=("a full-resolution set without GT can be read with "
                                         "require_gt=False") if missing == ['GT'] else None)
            arrays: dict[str, np.ndarray | None] = {}
            for k in ALL_KEYS:
                if k not in f:
                    arrays[k] = None
                    continue
                obj = f[k]
                if not isinstance(obj, h5py.Dataset):
                    raise HsbinetError('Key is not a dataset', file=path, key=k,
                                       expected='an HDF5 dataset (N, C, H, W)',
                                       found=f'{type(obj).__name__}')
                arrays[k] = np.asarray(obj[()])
            attrs = {k: _decode_attr(v) for k, v in f.attrs.items()}
    except HsbinetError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError/KeyError/... on corrupt files
        raise HsbinetError('Cannot read the pan-sharpening set', file=path, key='(file)',
                           expected='a readable HDF5 file', found=f'{type(exc).__name__}: {exc}'
                           ) from None
    ratio = validate_set(arrays, path, expected_bands, expected_ratio)

    def f32(a):
        return None if a is None else np.ascontiguousarray(a, dtype=np.float32)
    return PanSet(gt=f32(arrays['GT']), lms=f32(arrays['LMS']), ms=f32(arrays['MS']),
                  pan=f32(arrays['PAN']), ratio=ratio, path=path, attrs=attrs)


def _encode_attr(key: str, value, file: str):
    if value is None:
        return 'json:null'
    if isinstance(value, (str, bool, int, float, np.integer, np.floating, np.bool_)):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in 'iufb':
        return value
    try:
        return 'json:' + json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise HsbinetError('Attribute cannot be stored in the .h5 file', file=file, key=key,
                           expected='a string, number, numeric array, or JSON-serialisable '
                                    'list/dict', found=f'{type(value).__name__}: {exc}') from None


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f'{type(obj).__name__} is not JSON serialisable')


def _write_datasets(f, arrays: dict[str, np.ndarray]) -> None:
    for k, v in arrays.items():
        f.create_dataset(k, data=v)


def write_hpc(path: str | os.PathLike, gt: np.ndarray | None, lms: np.ndarray, ms: np.ndarray,
              pan: np.ndarray, attrs: dict | None = None) -> str:
    """Write a HyperPanCollection-style ``.h5`` file atomically.

    Arrays are (N, C, H, W) (GT and LMS (N, B, H, W), MS (N, B, h, w), PAN (N, 1, H, W)) and
    are stored as float32 datasets GT (omitted if ``gt`` is None), LMS, MS, PAN; ``attrs`` go
    to the file's root attributes (strings and numbers as-is, lists/dicts as ``'json:...'``
    strings that :func:`read_hpc` decodes). ``ratio`` is always added. The shapes are validated
    as :func:`read_hpc` would. The file is written to ``path + '.partial'`` and renamed with
    ``os.replace`` only once complete, so a crash never leaves a complete-looking file (an
    existing file at ``path`` stays untouched until the rename).

    Returns:
        the path written.
    """
    import h5py
    path = os.fspath(path)
    arrays = {'GT': gt, 'LMS': lms, 'MS': ms, 'PAN': pan}
    arrays = {k: (None if v is None else np.ascontiguousarray(v, dtype=np.float32))
              for k, v in arrays.items()}
    ratio = validate_set(arrays, path)
    all_attrs = dict(attrs or {})
    all_attrs['ratio'] = ratio  # always the ratio of the arrays themselves
    all_attrs.setdefault('layout', 'GT/LMS (N,B,H,W), MS (N,B,h,w), PAN (N,1,H,W), float32')
    encoded = {k: _encode_attr(k, v, path) for k, v in all_attrs.items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = path + '.partial'
    try:
        with h5py.File(partial, 'w') as f:
            _write_datasets(f, {k: v for k, v in arrays.items() if v is not None})
            for k, v in encoded.items():
                try:
                    f.attrs[k] = v
                except (RuntimeError, ValueError, TypeError) as exc:
                    raise HsbinetError('Attribute cannot be stored in the .h5 file', file=path,
                                       key=k, expected='an attribute below 64 KiB of a type HDF5 '
                                                       'stores', found=f'{type(v).__name__} of '
                                       f'{len(str(v))} characters: {exc}') from None
        os.replace(partial, path)
    except BaseException as exc:
        try:
            os.remove(partial)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise HsbinetError('Cannot write the pan-sharpening set', file=path, key='(file)',
                               expected='a writable output folder with free space',
                               found=f'{type(exc).__name__}: {exc}') from None
        raise
    return path
