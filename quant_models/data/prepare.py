"""Turn one hyperspectral scene into train/val/test pan-sharpening sets (Wald's protocol).

``prepare_dataset(scene, out_dir)`` writes ``out_dir/train.h5``, ``val.h5``, ``test.h5`` in the
HyperPanCollection format (:mod:`quant_models.data.hpc_format`: GT/LMS (N,B,H,W), MS (N,B,h,w),
PAN (N,1,H,W), float32), so the rest of the toolchain treats a prepared scene and the
distributed WDC files alike.

Decisions
---------
* **Crop**: H and W are cropped down to multiples of the ratio, keeping the top-left corner
  (rows/columns at the bottom/right are dropped); the crop is logged and recorded.
* **Normalisation**: values are divided by the maximum of the (cropped) cube so they lie in
  [0, 1], as in HyperPanCollection (which stores normalised data); the divisor is stored as the
  ``max_value`` attribute (multiply by it to get the source units back). Negative values (a few
  sensor DNs are negative, e.g. ABU urban-1) are clipped to 0; the count is logged and stored.
* **Split**: the scene is cut into three spatially disjoint horizontal bands of rows, top to
  bottom train / val / test, each a multiple of the ratio high and spanning the full width. Val
  and test get ``val_fraction`` / ``test_fraction`` of the rows (rounded to the ratio) but at
  least one patch height; train gets the rest. Wald's protocol (MTF blur, decimation, PAN,
  bicubic LMS) runs **separately on each region**, so no blur kernel or interpolation reads
  pixels across a split boundary: no test pixel influences a training input, and vice versa.
  Each region's borders are handled by edge replication, like the image borders.
* **Patches** (sizes in PAN/GT pixels, top-left corners on multiples of the ratio so MS aligns):
  train ``patch`` x ``patch`` with stride ``stride`` (default ``patch // 2`` rounded down to a
  multiple of the ratio); val ``patch`` with stride ``patch`` (non-overlapping); test
  ``test_patch`` non-overlapping, shrunk to the largest multiple of the ratio that fits the test
  region (logged) when the region is smaller. Train patches are stored in a seeded random order
  (``seed``) so any prefix of train.h5 is spatially spread; val/test keep raster order.
  LMS is not clipped: bicubic overshoot can leave it slightly outside [0, 1], as in
  HyperPanCollection.
"""

from __future__ import annotations

import os
import time
from typing import Callable

import numpy as np

from quant_models.data.hpc_format import write_hpc
from quant_models.data.readers import load_cube
from quant_models.data.wald import PAN_RANGE_NM, mtf_gain_at_nyquist, mtf_gaussian_kernel, simulate
from quant_models.common import HsbinetError

SPLITS = ('train', 'val', 'test')
#: Patch corners are stored as an attribute only up to this many patches (64 KiB HDF5 limit).
MAX_CORNER_ATTR = 4000


def _check_int(name: str, value, minimum: int, ratio: int | None = None) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise HsbinetError(f'Invalid {name}', key=name, expected=f'an integer >= {minimum}',
                           found=repr(value))
    if ratio is not None and value % ratio:
        raise HsbinetError(f'{name} must be a multiple of the ratio so MS pixels align', key=name,
                           expected=f'a multiple of ratio {ratio}', found=repr(value))
    return int(value)


def _round_to(x: float, m: int) -> int:
    return int(m * round(x / m))


def _positions(length: int, size: int, stride: int) -> list[int]:
    return list(range(0, length - size + 1, stride)) if length >= size else []


def _cut(sim: dict, size: int, stride: int, ratio: int) -> tuple[dict, list]:
    """Cut (N, C, H, W) patches from one region's simulated arrays (image layout)."""
    h, w = sim['pan'].shape
    corners = [(r, c) for r in _positions(h, size, stride) for c in _positions(w, size, stride)]
    s = size // ratio
    out = {
        'GT': np.stack([sim['gt'][r:r + size, c:c + size].transpose(2, 0, 1)
                        for r, c in corners]),
        'LMS': np.stack([sim['lms'][r:r + size, c:c + size].transpose(2, 0, 1)
                         for r, c in corners]),
        'MS': np.stack([sim['ms'][r // ratio:r // ratio + s, c // ratio:c // ratio + s]
                        .transpose(2, 0, 1) for r, c in corners]),
        'PAN': np.stack([sim['pan'][None, r:r + size, c:c + size] for r, c in corners]),
    }
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}, corners


def prepare_dataset(scene: str, out_dir: str | os.PathLike, ratio: int = 4, gnyq: float = 0.3,
                    patch: int = 32, test_patch: int = 64, stride: int | None = None,
                    val_fraction: float = 0.15, test_fraction: float = 0.25, seed: int = 0,
                    log: Callable[[str], None] | None = print, taps: int = 41,
                    layout: str | None = None) -> dict:
    """Build train/val/test ``.h5`` sets from one scene with Wald's protocol.

    Args:
        scene: anything :func:`quant_models.data.readers.load_cube` accepts (``"indian_pines"``,
            ``path.mat[:key]``, ``path.npy``...).
        out_dir: output folder (created); receives ``train.h5``, ``val.h5``, ``test.h5``.
        ratio: PAN/MS resolution ratio (integer >= 2).
        gnyq: MTF gain at the MS Nyquist frequency.
        patch: train/val patch size in PAN pixels (multiple of ``ratio``).
        test_patch: test patch size in PAN pixels (multiple of ``ratio``), shrunk to fit.
        stride: train stride in PAN pixels (multiple of ``ratio``); default ``patch // 2``
            rounded down to a multiple of ``ratio``.
        val_fraction, test_fraction: share of the (cropped) rows for val and test.
        seed: permutes the order of the train patches in train.h5 (the split itself is
            deterministic).
        log: callable receiving progress lines (``None`` for silence).
        taps: MTF filter size.
        layout: forwarded to :func:`load_cube` (``'HWB'``/``'BHW'`` to override the band-axis
            rule for rank-3 arrays).

    Returns:
        summary dict: ``scene``, ``source``, ``source_sha256``, ``key``, ``orientation``,
        ``cube_shape`` (H, W, B) as loaded, ``cropped_shape``, ``crop`` (rows/cols kept and the
        message or None), ``max_value``, ``clipped_negative``, ``regions`` (split -> half-open
        (row_start, row_stop) in cropped coordinates; every region spans all columns),
        ``patch_size``, ``stride``, ``patch_counts``, ``shapes`` (split -> dataset -> shape),
        ``files``, ``pan_weights_nonzero``, ``mtf_gain_at_nyquist``, ``seconds``.

    Raises:
        HsbinetError: bad parameters, or a scene too small for three regions of one patch
            each (the message gives the minimum size).
    """
    t0 = time.perf_counter()
    say = log if log is not None else (lambda _msg: None)
    ratio = _check_int('ratio', ratio, 2)
    patch = _check_int('patch', patch, ratio, ratio)
    test_patch = _check_int('test_patch', test_patch, ratio, ratio)
    if stride is None:
        stride = max(ratio, (patch // 2) // ratio * ratio)
    else:
        stride = _check_int('stride', stride, ratio, ratio)
    for name, frac in (('val_fraction', val_fraction), ('test_fraction', test_fraction)):
        if not (0.0 < float(frac) < 1.0):
            raise HsbinetError(f'Invalid {name}', key=name, expected='a fraction in (0, 1)',
                               found=repr(frac))
    if val_fraction + test_fraction >= 1.0:
        raise HsbinetError('Validation and test fractions leave no training rows',
                           key='val_fraction + test_fraction', expected='a sum below 1',
                           found=f'{val_fraction} + {test_fraction} = '
                                 f'{val_fraction + test_fraction}')
    kernel = mtf_gaussian_kernel(ratio, gnyq, taps)  # validates gnyq/taps early

    cube = load_cube(scene, layout=layout)
    h0, w0, nb = cube.data.shape
    say(f'loaded {cube.name}: (H,W,B)=({h0},{w0},{nb}) from {cube.source} key {cube.key!r}; '
        f'{cube.orientation}')

    # --- crop to multiples of the ratio (keep the top-left corner)
    hh, ww = h0 - h0 % ratio, w0 - w0 % ratio
    crop_msg = None
    if (hh, ww) != (h0, w0):
        crop_msg = (f'cropped {h0}x{w0} -> {hh}x{ww} so the size divides by ratio {ratio} '
                    f'(kept rows 0..{hh - 1}, cols 0..{ww - 1}; top-left corner)')
        say(crop_msg)

    # --- region layout (rows), each a multiple of the ratio
    test_min = min(patch, test_patch)
    min_rows = 2 * patch + test_min
    if hh < min_rows or ww < max(patch, test_min):
        raise HsbinetError('Scene is too small for the requested patches', file=cube.source,
                           key=f'patch={patch}, test_patch={test_patch}, ratio={ratio}',
                           expected=f'at least {min_rows} rows (train {patch} + val {patch} + '
                                    f'test {test_min}) and {max(patch, test_min)} columns after '
                                    f'cropping to multiples of {ratio}',
                           found=f'{hh} x {ww} (H x W, from {h0} x {w0})',
                           hint='Use a smaller patch or a larger scene')
    n_test = max(_round_to(test_fraction * hh, ratio), test_min)
    n_val = max(_round_to(val_fraction * hh, ratio), patch)
    n_train = hh - n_test - n_val
    if n_train < patch:  # fractions too large for this scene: shrink test, then val, to minimum
        n_test, n_val = test_min, patch
        n_train = hh - n_test - n_val
        say(f'val/test fractions leave fewer than {patch} train rows; using the minimum '
            f'val {n_val} and test {n_test} rows')
    regions = {'train': (0, n_train), 'val': (n_train, n_train + n_val),
               'test': (n_train + n_val, hh)}
    say('regions (rows, all columns): ' + ', '.join(f'{k} {a}..{b - 1} ({b - a} rows)'
                                                    for k, (a, b) in regions.items()))

    # --- normalise to [0, 1] by the cube's max
    data = cube.data[:hh, :ww, :]
    max_value = float(data.max())
    if not max_value > 0:
        raise HsbinetError('Cube cannot be normalised by its maximum', file=cube.source,
                           key=cube.key, expected='a positive maximum value',
                           found=f'max {max_value}')
    n_neg = int(np.count_nonzero(data < 0))
    data = data.astype(np.float32) / np.float32(max_value)
    if n_neg:
        min_value = float(data.min()) * max_value
        np.maximum(data, 0.0, out=data)
        say(f'clipped {n_neg} negative values (min {min_value:g} in source units) to 0')
    say(f'normalised by max_value {max_value:g} to [0, 1]')

    # --- test patch size
    test_rows = n_test
    tp = test_patch
    if test_rows < tp or ww < tp:
        tp = min(test_rows, ww, test_patch) // ratio * ratio
        say(f'test region {test_rows}x{ww} is smaller than test_patch {test_patch}: using '
            f'{tp}x{tp} test patches (largest multiple of ratio {ratio} that fits)')
    sizes = {'train': (patch, stride), 'val': (patch, patch), 'test': (tp, tp)}

    weights = None
    common = {
        'scene': cube.name, 'source': cube.source, 'source_key': cube.key,
        'source_sha256': cube.sha256, 'orientation': cube.orientation,
        'provenance': cube.provenance, 'ratio': ratio, 'gnyq': float(gnyq), 'mtf_taps': taps,
        'mtf': 'Vivone toolbox genMTF: Gaussian frequency response (gain gnyq at 0.5/ratio '
               'cycles/px), fwind1 with 2-D Kaiser(beta 0.5), sum 1; edge-replicated borders',
        'decimation': 'one of every ratio pixels, offset 0',
        'lms_interpolation': 'bicubic (torch, a=-0.75, align_corners=False) of MS',
        'pan_response': f'flat {PAN_RANGE_NM[0]:g}-{PAN_RANGE_NM[1]:g} nm if wavelengths known '
                        '(else uniform over all bands); PAN not blurred',
        'max_value': max_value,
        'scale': 'stored = source value / max_value, negatives clipped to 0; multiply by '
                 'max_value to recover source units',
        'clipped_negative': n_neg, 'cube_shape_hwb': [h0, w0, nb],
        'cropped_shape_hwb': [hh, ww, nb], 'crop': crop_msg or 'none',
        'wald_per_region': 'Wald protocol run separately on each split region',
        'seed': int(seed), 'tool': 'quant_models.data.prepare.prepare_dataset',
    }
    if cube.wavelengths_nm is not None:
        common['wavelengths_nm'] = np.asarray(cube.wavelengths_nm, dtype=np.float64)

    os.makedirs(out_dir, exist_ok=True)
    files, counts, shapes = {}, {}, {}
    for split in SPLITS:
        a, b = regions[split]
        sim = simulate(data[a:b], ratio=ratio, gnyq=gnyq, wavelengths_nm=cube.wavelengths_nm,
                       taps=taps)
        weights = sim['pan_weights']
        size, step = sizes[split]
        arrays, corners = _cut(sim, size, step, ratio)
        if split == 'train':
            order = np.random.default_rng(seed).permutation(len(corners))
            arrays = {k: np.ascontiguousarray(v[order]) for k, v in arrays.items()}
            corners = [corners[i] for i in order]
        attrs = dict(common, split=split, region_rows=[a, b], region_cols=[0, ww],
                     patch_size=size, stride=step, pan_weights=weights,
                     patch_order=('raster order of (row, col) corners range(0, rows-size+1, '
                                  'stride) x range(0, cols-size+1, stride) in the region' +
                                  (', permuted by numpy default_rng(seed).permutation'
                                   if split == 'train' else '')))
        if len(corners) <= MAX_CORNER_ATTR:  # HDF5 attributes are limited to 64 KiB
            attrs['patch_corners_in_region'] = np.asarray(corners, dtype=np.int32).reshape(-1, 2)
        path = os.path.join(os.fspath(out_dir), f'{split}.h5')
        write_hpc(path, arrays['GT'], arrays['LMS'], arrays['MS'], arrays['PAN'], attrs)
        files[split] = path
        counts[split] = len(corners)
        shapes[split] = {k: tuple(v.shape) for k, v in arrays.items()}
        say(f'{split}: {len(corners)} patches of {size}x{size} (stride {step}) from rows '
            f'{a}..{b - 1} -> {path}')

    seconds = time.perf_counter() - t0
    say(f'prepared {cube.name} in {seconds:.2f} s')
    return {
        'scene': cube.name, 'source': cube.source, 'source_sha256': cube.sha256,
        'key': cube.key, 'orientation': cube.orientation, 'provenance': cube.provenance,
        'cube_shape': (h0, w0, nb), 'cropped_shape': (hh, ww, nb),
        'crop': {'rows': (0, hh), 'cols': (0, ww), 'message': crop_msg},
        'max_value': max_value, 'clipped_negative': n_neg, 'ratio': ratio,
        'regions': regions, 'patch_size': {k: v[0] for k, v in sizes.items()},
        'stride': {k: v[1] for k, v in sizes.items()}, 'patch_counts': counts,
        'shapes': shapes, 'files': files,
        'pan_weights_nonzero': int(np.count_nonzero(weights)),
        'mtf_gain_at_nyquist': mtf_gain_at_nyquist(kernel, ratio),
        'seconds': seconds,
    }
