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
* **Split**: the scene is cut along its **longer axis** (rows on a tie) into three disjoint
  strips spanning the whole other axis: first the test strip, then val, then train. The test
  strip is ``round(test_fraction * L / test_patch)`` test patches long (at least one), the val
  strip ``round(val_fraction * L / patch)`` patches (at least one), train gets the rest (if that
  is under one patch, test and val shrink to one patch each; logged). Wald's protocol (MTF
  blur, decimation, PAN, bicubic LMS) runs **separately on each strip**, with edge replication
  at the strip borders like at the image borders, so no blur kernel or interpolation reads
  pixels across a split boundary; patches of different splits share no GT pixel. No gap is
  left between strips: the network only ever sees one patch (its receptive field ends at the
  patch border), and the simulation does not cross strips, so no test pixel influences any
  training input or target, and vice versa.
* **Small scenes**: the smallest patch is ``min_patch(ratio)`` = 16 PAN pixels rounded up to a
  multiple of the ratio (MS patches of 4 x 4 at ratio 4), and a scene must be at least
  ``max(64, 4 * min_patch)`` pixels on both sides after cropping (64 x 64 at ratio 4): test,
  val and two train patches along the long axis. When the requested sizes do not fit (the long
  axis needs ``test_patch + 2 * patch``, the short one ``patch``), ``test_patch`` is first
  clipped to the short side, then halved down to ``patch``, then both are halved (multiples of
  the ratio, not below ``min_patch``) until they fit; each shrink is logged. Smaller scenes are
  refused with one HsbinetError paragraph.
* **Patches** (sizes in PAN/GT pixels, corners on multiples of the ratio so MS aligns): train
  ``patch`` x ``patch`` with stride ``stride`` (dense, overlapping; default ``patch // 4``
  rounded down to a multiple of the ratio) plus one last row/column of patches flush with the
  strip's far edge, so the whole strip is used; val ``patch`` and test ``test_patch``
  non-overlapping tiles. Train patches are stored in a seeded random order (``seed``) so any
  prefix of train.h5 is spatially spread; val/test keep raster order. LMS is not clipped:
  bicubic overshoot can leave it slightly outside [0, 1], as in HyperPanCollection.
* **Augmentation** (``augment``): recorded as the ``augment`` attribute of train.h5
  (``'dihedral8'`` or ``'none'``; val/test always ``'none'``); the trainer applies it at load
  time (:class:`quant_models.data.dataset.PanDataset`: one of the 8 flips/rotations per item
  and epoch, chosen from (seed, epoch, index), the same on GT, LMS, MS and PAN). The patches
  on disk are never augmented. Flips and 90-degree rotations commute exactly with the
  block-centre decimation and the ``align_corners=False`` interpolation (:mod:`wald`), so an
  augmented sample is exactly the sample of the transformed scene.
* **Record**: every file carries ``split_axis``, ``strips`` (split -> [start, stop) along it),
  ``region_rows``/``region_cols`` of its own strip, ``patch_size``, ``stride``,
  ``patch_counts`` (all splits), ``augment`` and ``split_gap`` (0), and the same is logged.
"""

from __future__ import annotations

import os
import time
from typing import Callable

import numpy as np

from quant_models.data.hpc_format import write_hpc
from quant_models.data.readers import load_cube
from quant_models.data.sensors import SENSORS, sensor_responses, synthesize
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


def min_patch(ratio: int) -> int:
    """Smallest patch (PAN pixels) the preparation shrinks to: 16 rounded up to the ratio."""
    return -(-max(16, 2 * ratio) // ratio) * ratio


def min_scene_side(ratio: int) -> int:
    """Smallest scene side (PAN pixels, after cropping) :func:`prepare_dataset` accepts."""
    return max(64, 4 * min_patch(ratio))


def _positions(length: int, size: int, stride: int, cover_end: bool = False) -> list[int]:
    if length < size:
        return []
    pos = list(range(0, length - size + 1, stride))
    if cover_end and pos[-1] != length - size:
        pos.append(length - size)  # one more patch flush with the far edge
    return pos


def _cut(sim: dict, size: int, stride: int, ratio: int, cover_end: bool = False) -> tuple[dict, list]:
    """Cut (N, C, H, W) patches from one region's simulated arrays (image layout)."""
    h, w = sim['pan'].shape
    corners = [(r, c) for r in _positions(h, size, stride, cover_end)
               for c in _positions(w, size, stride, cover_end)]
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


def _fit_sizes(long: int, short: int, patch: int, test_patch: int, ratio: int,
               say: Callable[[str], None]) -> tuple[int, int]:
    """(patch, test_patch) shrunk until test + val + train patches fit along ``long``."""
    pmin = min_patch(ratio)

    def half(x: int) -> int:
        return max(min(x, pmin), (x // 2) // ratio * ratio)

    p, tp = patch, min(test_patch, short)
    while not (long >= tp + 2 * p and short >= p):
        if tp > p and half(tp) < tp:
            tp = max(p, half(tp))
        elif half(p) < p or half(tp) < tp:
            p, tp = half(p), half(tp)
        else:
            break
    if (p, tp) != (patch, test_patch):
        say(f'scene {long}x{short} (long x short axis) is too small for patch {patch} / '
            f'test_patch {test_patch}: using patch {p}, test_patch {tp} (test_patch clipped to '
            f'the short side, then halved; multiples of ratio {ratio}, at least {pmin})')
    return p, tp


def prepare_dataset(scene: str, out_dir: str | os.PathLike, ratio: int = 4, gnyq: float = 0.3,
                    patch: int = 32, test_patch: int = 64, stride: int | None = None,
                    val_fraction: float = 0.15, test_fraction: float = 0.25, seed: int = 0,
                    log: Callable[[str], None] | None = print, taps: int = 41,
                    layout: str | None = None, augment: bool = True, sensor: str | None = None) -> dict:
    """Build train/val/test ``.h5`` sets from one scene with Wald's protocol.

    Args:
        scene: anything :func:`quant_models.data.readers.load_cube` accepts (``"indian_pines"``,
            ``path.mat[:key]``, ``path.npy``...).
        out_dir: output folder (created); receives ``train.h5``, ``val.h5``, ``test.h5``.
        ratio: PAN/MS resolution ratio (integer >= 2).
        gnyq: MTF gain at the MS Nyquist frequency.
        patch: train/val patch size in PAN pixels (multiple of ``ratio``), shrunk to fit.
        test_patch: test patch size in PAN pixels (multiple of ``ratio``), shrunk to fit.
        stride: train stride in PAN pixels (multiple of ``ratio``); default ``patch // 4``
            rounded down to a multiple of ``ratio`` (at least ``ratio``), of the patch size
            actually used.
        val_fraction, test_fraction: share of the (cropped) long axis for val and test.
        seed: permutes the order of the train patches in train.h5 (the split itself is
            deterministic).
        log: callable receiving progress lines (``None`` for silence).
        taps: MTF filter size.
        layout: forwarded to :func:`load_cube` (``'HWB'``/``'BHW'`` to override the band-axis
            rule for rank-3 arrays).
        augment: record in train.h5 that the trainer should apply the 8 dihedral
            flips/rotations (``augment`` attribute ``'dihedral8'``; ``False``: ``'none'``).
        sensor: ``None`` (pan-sharpen the hyperspectral cube) or a multispectral sensor of
            :data:`quant_models.data.sensors.SENSORS` (``'worldview3'``: 8 bands, ``'quickbird'``:
            4): the reference is the cube seen through that sensor's band passes and the PAN the
            cube seen through its PAN band (:mod:`quant_models.data.sensors`); needs wavelengths.

    Returns:
        summary dict: ``scene``, ``source``, ``source_sha256``, ``key``, ``orientation``,
        ``cube_shape`` (H, W, B) as loaded, ``cropped_shape``, ``crop`` (rows/cols kept and the
        message or None), ``max_value``, ``clipped_negative``, ``split_axis`` (``'rows'`` or
        ``'cols'``), ``regions`` (split -> half-open (start, stop) along the split axis in
        cropped coordinates; every region spans the whole other axis), ``region_rows`` /
        ``region_cols`` (split -> (start, stop) in each axis), ``augment``, ``split_gap``,
        ``patch_size``, ``stride``, ``patch_counts``, ``shapes`` (split -> dataset -> shape),
        ``files``, ``pan_weights_nonzero``, ``mtf_gain_at_nyquist``, ``seconds``.

    Raises:
        HsbinetError: bad parameters, or a scene smaller than :func:`min_scene_side` on a
            side after cropping (the message gives the minimum size).
    """
    t0 = time.perf_counter()
    say = log if log is not None else (lambda _msg: None)
    ratio = _check_int('ratio', ratio, 2)
    patch = _check_int('patch', patch, ratio, ratio)
    test_patch = _check_int('test_patch', test_patch, ratio, ratio)
    if stride is not None:
        stride = _check_int('stride', stride, ratio, ratio)
    if not isinstance(augment, bool):
        raise HsbinetError('Invalid augment', key='augment', expected='true or false',
                           found=repr(augment))
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
    responses = None
    if sensor is not None:
        responses = sensor_responses(sensor, cube.wavelengths_nm, cube.source)
        say(f'multispectral setting: {sensor} ({len(responses["names"])} bands: ' +
            ', '.join(f'{n} {int((w > 0).sum())} HS bands' for n, w in zip(responses['names'], responses['weights'])) +
            f'; PAN {int((responses["pan_weights"] > 0).sum())} HS bands), rectangular band passes at the '
            'published band edges')

    # --- crop to multiples of the ratio (keep the top-left corner)
    hh, ww = h0 - h0 % ratio, w0 - w0 % ratio
    crop_msg = None
    if (hh, ww) != (h0, w0):
        crop_msg = (f'cropped {h0}x{w0} -> {hh}x{ww} so the size divides by ratio {ratio} '
                    f'(kept rows 0..{hh - 1}, cols 0..{ww - 1}; top-left corner)')
        say(crop_msg)

    # --- strips along the longer axis (rows on a tie): test, val, train
    need = min_scene_side(ratio)
    if hh < need or ww < need:
        raise HsbinetError('Scene is too small to split into train/val/test patches',
                           file=cube.source, key=f'ratio={ratio}',
                           expected=f'at least {need} x {need} PAN pixels (H x W) after cropping '
                                    f'to multiples of ratio {ratio}: test, val and two train '
                                    f'patches of {min_patch(ratio)} px along the longer axis',
                           found=f'{hh} x {ww} (H x W, from {h0} x {w0})',
                           hint='Use a larger scene (patch sizes already shrink to fit)')
    axis = 0 if hh >= ww else 1
    axis_name = ('rows', 'cols')[axis]
    long, short = (hh, ww) if axis == 0 else (ww, hh)
    patch, tp = _fit_sizes(long, short, patch, test_patch, ratio, say)
    if stride is None:
        stride = max(ratio, (patch // 4) // ratio * ratio)
    elif stride > patch:
        say(f'stride {stride} is larger than the patch {patch}: using stride {patch}')
        stride = patch
    n_test = max(1, round(test_fraction * long / tp)) * tp
    n_val = max(1, round(val_fraction * long / patch)) * patch
    if long - n_test - n_val < patch:  # fractions too large for this scene: one patch each
        n_test, n_val = tp, patch
        say(f'val/test fractions leave fewer than {patch} train {axis_name}; using one patch '
            f'each: test {n_test}, val {n_val} {axis_name}')
    strips = {'test': (0, n_test), 'val': (n_test, n_test + n_val),
              'train': (n_test + n_val, long)}
    full = (0, short)
    region_rows = {k: (v if axis == 0 else full) for k, v in strips.items()}
    region_cols = {k: (full if axis == 0 else v) for k, v in strips.items()}
    say(f'split along the longer axis ({axis_name}, {long} px; all {short} '
        f'{("cols", "rows")[axis]} in every split): ' +
        ', '.join(f'{k} {a}..{b - 1} ({b - a} {axis_name})' for k, (a, b) in strips.items()) +
        '; no gap (Wald per strip, the network sees one patch)')

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

    sizes = {'train': (patch, stride), 'val': (patch, patch), 'test': (tp, tp)}
    aug_name = 'dihedral8' if augment else 'none'

    weights = None
    common = {
        'scene': cube.name, 'source': cube.source, 'source_key': cube.key,
        'source_sha256': cube.sha256, 'orientation': cube.orientation,
        'provenance': cube.provenance, 'ratio': ratio, 'gnyq': float(gnyq), 'mtf_taps': taps,
        'mtf': 'Vivone toolbox genMTF: Gaussian frequency response (gain gnyq at 0.5/ratio '
               'cycles/px), fwind1 with 2-D Kaiser(beta 0.5), sum 1; edge-replicated borders',
        'decimation': 'MTF-filtered image sampled at the centre of every ratio x ratio block '
                      '(GT coordinate j*ratio + (ratio-1)/2; even ratio: half-pixel MTF kernel, '
                      'taps-1 taps), the geometry of align_corners=False interpolation',
        'lms_interpolation': 'bicubic (torch, a=-0.75, align_corners=False) of MS',
        'pan_response': f'flat {PAN_RANGE_NM[0]:g}-{PAN_RANGE_NM[1]:g} nm if wavelengths known '
                        '(else uniform over all bands); PAN not blurred',
        'max_value': max_value,
        'scale': 'stored = source value / max_value, negatives clipped to 0; multiply by '
                 'max_value to recover source units',
        'clipped_negative': n_neg, 'cube_shape_hwb': [h0, w0, nb],
        'cropped_shape_hwb': [hh, ww, nb], 'crop': crop_msg or 'none',
        'wald_per_region': 'Wald protocol run separately on each split region',
        'split_axis': axis_name, 'strips': {k: list(v) for k, v in strips.items()},
        'split_gap': 0,
        'split_rule': 'strips along the longer axis: test, val, train; no shared GT pixel; no '
                      'gap (Wald per strip, the network sees one patch at a time)',
        'seed': int(seed), 'tool': 'quant_models.data.prepare.prepare_dataset',
    }
    if cube.wavelengths_nm is not None:
        common['wavelengths_nm'] = np.asarray(cube.wavelengths_nm, dtype=np.float64)
    if responses is not None:
        common.update(sensor=sensor, sensor_bands=list(responses['names']), sensor_source=responses['source'],
                      hyperspectral_wavelengths_nm=np.asarray(cube.wavelengths_nm, dtype=np.float64),
                      wavelengths_nm=responses['centres_nm'],
                      pan_response=f'{sensor} PAN band pass {SENSORS[sensor]["pan"][0]}-{SENSORS[sensor]["pan"][1]} nm '
                                   'over the hyperspectral bands (rectangular); PAN not blurred')

    os.makedirs(out_dir, exist_ok=True)
    files, counts, shapes = {}, {}, {}
    # cut every split first, so each file can record the patch counts of all three
    cut = {}
    for split in SPLITS:
        (r0, r1), (c0, c1) = region_rows[split], region_cols[split]
        if responses is None:
            sim = simulate(data[r0:r1, c0:c1], ratio=ratio, gnyq=gnyq,
                           wavelengths_nm=cube.wavelengths_nm, taps=taps)
        else:  # Wald on the sensor's MS reference; its PAN from the hyperspectral cube (sensor PAN band)
            ms_ref, pan = synthesize(data[r0:r1, c0:c1], responses)
            sim = simulate(ms_ref, ratio=ratio, gnyq=gnyq, wavelengths_nm=None, taps=taps)
            sim['pan'], sim['pan_weights'] = pan, responses['pan_weights']
        weights = sim['pan_weights']
        size, step = sizes[split]
        arrays, corners = _cut(sim, size, step, ratio, cover_end=split == 'train')
        if split == 'train':
            order = np.random.default_rng(seed).permutation(len(corners))
            arrays = {k: np.ascontiguousarray(v[order]) for k, v in arrays.items()}
            corners = [corners[i] for i in order]
        cut[split] = arrays, corners
        counts[split] = len(corners)
    common['patch_counts'] = dict(counts)
    for split in SPLITS:
        arrays, corners = cut.pop(split)
        (r0, r1), (c0, c1) = region_rows[split], region_cols[split]
        size, step = sizes[split]
        attrs = dict(common, split=split, region_rows=[r0, r1], region_cols=[c0, c1],
                     patch_size=size, stride=step, pan_weights=weights,
                     augment=aug_name if split == 'train' else 'none',
                     patch_order=('raster order of (row, col) corners range(0, rows-size+1, '
                                  'stride) x range(0, cols-size+1, stride) in the region' +
                                  (' plus the last position rows-size / cols-size, permuted by '
                                   'numpy default_rng(seed).permutation'
                                   if split == 'train' else '')))
        if len(corners) <= MAX_CORNER_ATTR:  # HDF5 attributes are limited to 64 KiB
            attrs['patch_corners_in_region'] = np.asarray(corners, dtype=np.int32).reshape(-1, 2)
        path = os.path.join(os.fspath(out_dir), f'{split}.h5')
        write_hpc(path, arrays['GT'], arrays['LMS'], arrays['MS'], arrays['PAN'], attrs)
        files[split] = path
        shapes[split] = {k: tuple(v.shape) for k, v in arrays.items()}
        aug = f', augment {aug_name} at train time' if split == 'train' else ''
        say(f'{split}: {len(corners)} patches of {size}x{size} (stride {step}{aug}) from rows '
            f'{r0}..{r1 - 1}, cols {c0}..{c1 - 1} -> {path}')

    seconds = time.perf_counter() - t0
    say(f'prepared {cube.name} in {seconds:.2f} s')
    return {
        'scene': cube.name, 'source': cube.source, 'source_sha256': cube.sha256,
        'key': cube.key, 'orientation': cube.orientation, 'provenance': cube.provenance,
        'cube_shape': (h0, w0, nb), 'cropped_shape': (hh, ww, nb),
        'crop': {'rows': (0, hh), 'cols': (0, ww), 'message': crop_msg},
        'max_value': max_value, 'clipped_negative': n_neg, 'ratio': ratio,
        'split_axis': axis_name, 'regions': strips, 'region_rows': region_rows,
        'region_cols': region_cols, 'split_gap': 0, 'augment': aug_name,
        'patch_size': {k: v[0] for k, v in sizes.items()},
        'stride': {k: v[1] for k, v in sizes.items()}, 'patch_counts': counts,
        'shapes': shapes, 'files': files,
        'pan_weights_nonzero': int(np.count_nonzero(weights)),
        'mtf_gain_at_nyquist': mtf_gain_at_nyquist(kernel, ratio),
        'seconds': seconds,
    }
