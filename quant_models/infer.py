"""Scene inference: a whole cube through HS-BiNet in the accelerator's tile geometry.

``infer(model, scene, out_dir, engine, frame)`` pan-sharpens one scene (any file
:func:`~quant_models.data.readers.load_cube` reads) tile by tile and writes the fused cube.
The engines are interchangeable callables on batches of tiles; this module holds the eval-mode
PyTorch engine (:class:`TorchEngine`) and the final QONNX graph run by qonnx
(:class:`QonnxEngine`); the C-simulated accelerator is :class:`sim.infer.CsimEngine`, and
:func:`sim.infer.make_engine` picks one for a lowered design. None of this module imports
``hw`` or ``sim``.

Modes
-----
* **reduced** (evaluation, Wald's protocol): the cube is the reference. It is cropped to multiples
  of the ratio (top-left kept), normalised by its maximum (negatives clipped to 0) exactly as
  :func:`quant_models.data.prepare.prepare_dataset` does, and degraded by
  :func:`quant_models.data.wald.simulate` at the model's ratio and the training data's GNyq:
  MS (MTF blur + block-centre decimation), PAN (flat 450-900 nm response), GT = the cube. The
  fused cube is compared with GT (:func:`quant_models.metrics.reference_metrics`, and bicubic
  as the baseline).
* **full resolution**: the cube is the LR-HS input (MS) and ``pan`` a real panchromatic image of
  exactly ratio x its size. The repository simulates PAN only from a reference cube (DESIGN.md,
  *Data and metrics*), so a full-resolution pair needs that real PAN file; without one, only the
  reduced mode is available. MS is normalised by its maximum; PAN is matched to the MS intensity
  (mean and standard deviation of the flat-response intensity of the bicubic-upsampled MS, the
  equalisation classical pan-sharpening applies), then clipped at 0. Quality is reported with
  the no-reference indices D_lambda, D_s, QNR.

Tiling policy (the accelerator's geometry)
------------------------------------------
* Tiles are ``frame`` = (height, width) PAN pixels: the frame the design was lowered for
  (design.json) or, for the PyTorch engine without a design, ``--tile`` (default 32). LR tiles
  are frame / ratio.
* Halo (per side, PAN pixels) = the network's receptive-field radius (:func:`receptive_radius`:
  the sum of (k-1)/2 over the longest conv chain, the parallel MSFE branches counting their
  largest kernel, plus the upsampler's support, ``ratio`` PAN pixels for the bilinear x ratio
  upsampler), rounded up to a multiple of the ratio so that LR and PAN tiles stay aligned. Each
  tile keeps its central ``frame - 2 * halo`` pixels. If the frame is too small for that
  (centre < ratio), the halo is cut to the largest multiple of the ratio that leaves a centre of
  at least one LR pixel, and the summary says so (``halo_truncated``): kept pixels near a seam
  then see the tile border.
* An axis whose length equals the frame exactly is one tile without halo (nothing to stitch), so a
  scene of exactly one frame is the model's direct output on it. A scene smaller than the frame
  is refused.
* Borders: the scene is mirror-padded to whole tiles, half-sample symmetric
  (``numpy.pad(mode='symmetric')``: the edge pixel is repeated, ... c b a | a b c ...), by
  ``halo`` before and ``tiles * centre - size + halo`` after, on PAN and on MS with the same
  amounts divided by the ratio. With the block-centre geometry (LR pixel j covers PAN pixels
  j*ratio .. j*ratio + ratio - 1) both mirrors are about the same line, the scene edge, so the
  padded MS is the MS of the mirrored scene.
* The channel attention (global average pool) therefore pools over each tile, halo and padding
  included, exactly as the accelerator's frame buffer does: a tiled result differs from a
  whole-scene forward pass, and the PyTorch engine tiles exactly like the accelerator so the
  two agree bit for bit.
* Inputs are put on the sensor's fixed<io_bits> grid once (round half to even, saturate) before
  tiling; every engine sees the same tiles and returns outputs on the output grid.

Outputs in ``out_dir`` (all written to a hidden staging folder, then renamed into place, the
summary last, so a failed run leaves no complete-looking set): ``fused.h5`` (HyperPanCollection
layout: ``FUSED`` (1,B,H,W) plus MS, LMS, PAN and, reduced, GT; normalised units, ``max_value``
attribute), ``fused.tif`` or ``fused.hdr``/``fused.img`` (source units, wavelengths, georef: the
input's when the input was at the output resolution, scaled by the ratio with
:meth:`Georef.scaled` when it was the LR input, a real PAN's own when it has one), ``fused.png``
(pseudo-colour, bands nearest 650/550/450 nm or at 3/4, 1/2, 1/4 of the band range) and
``infer.json`` (tiling, metrics, timings, files).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from quant_models.common import HsbinetError, atomic_write_json
from quant_models.archs import has_io_grid

Log = Callable[[str], None]
DEFAULT_TILE = 32
DEFAULT_GNYQ = 0.3
FORMATS = ('tif', 'envi')
PAD_MODE = 'symmetric'
PAD_POLICY = ("mirror padding, half-sample symmetric (numpy.pad mode='symmetric': the edge pixel is repeated), "
              'on PAN and on MS with the same amounts / ratio')
ATTENTION_POLICY = ('channel attention pools over each whole tile (halo and padding included), as the '
                    "accelerator's frame buffer does")


# --- receptive field -------------------------------------------------------------------------------

def _radius(module: nn.Module) -> int:
    """(k-1)/2 of the largest conv kernel inside ``module`` (0 without a conv)."""
    ks = [max(c.kernel_size) for c in module.modules() if isinstance(c, nn.Conv2d)]
    return (max(ks) - 1) // 2 if ks else 0


def receptive_radius(model) -> dict:
    """Receptive-field radius of HS-BiNet in PAN pixels (module docstring, *Tiling policy*).

    Returns ``{'conv': c, 'upsampler': u, 'radius': c + u, 'halo': ceil((c + u) / ratio) * ratio}``.
    The spectral and the spatial (edge) chains meet at the fusion conv; the longer one counts.
    """
    if hasattr(model, 'receptive_radius'):  # another architecture (quant_models.archs) knows its own
        return model.receptive_radius()
    r = int(model.cfg.ratio)
    msfe, dec = model.msfe, model.decoder
    spectral = (_radius(model.head) + max(_radius(b) for b in msfe.branches) + _radius(msfe.fuse)
                + sum(_radius(c) for blk in msfe.blocks for c in blk.body))
    spatial = _radius(model.edge)
    tail = _radius(model.fusion) + _radius(dec.conv) + _radius(dec.proj)
    conv = max(spectral, spatial) + tail
    # bilinear x r (align_corners=False): an HR pixel reads the two LR pixels whose centres lie
    # within r PAN pixels; the paper's deformable upsampler adds its kernel's reach (offsets assumed
    # within it)
    up = r if model.cfg.has('H1') else r * (1 + _radius(model.upsample))
    return {'conv': conv, 'upsampler': up, 'radius': conv + up, 'halo': math.ceil((conv + up) / r) * r}


# --- tiling ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AxisPlan:
    """Tiling along one axis, PAN pixels: ``tiles`` tiles of ``tile`` px starting every ``centre``
    px of the padded axis; tile i keeps its pixels ``halo .. halo + centre`` = scene pixels
    ``i*centre .. (i+1)*centre`` (clipped to ``size``)."""
    size: int
    tile: int
    halo: int
    centre: int
    tiles: int
    pad_before: int
    pad_after: int
    halo_needed: int

    @property
    def halo_truncated(self) -> bool:
        return self.tiles > 1 and self.halo < self.halo_needed


def plan_axis(size: int, tile: int, halo: int, ratio: int, what: str = 'rows', file: str | None = None) -> AxisPlan:
    """The tiling of one axis (module docstring); raises HsbinetError for a scene below one tile."""
    if tile < ratio or tile % ratio:
        raise HsbinetError('Tile size must be a positive multiple of the ratio', key='--tile',
                           expected=f'a multiple of {ratio} PAN pixels', found=f'{tile}')
    if size < tile:
        raise HsbinetError('Scene is smaller than one tile', file=file, key=f'scene {what}',
                           expected=f'at least {tile} PAN pixels (the frame the accelerator processes)',
                           found=f'{size} PAN pixels',
                           hint='use a larger scene, or a design/--tile with a smaller frame')
    if size == tile:
        return AxisPlan(size, tile, 0, tile, 1, 0, 0, halo)
    used = halo
    if tile - 2 * used < ratio:
        used = ((tile - ratio) // 2) // ratio * ratio
    centre = tile - 2 * used
    n = math.ceil(size / centre)
    return AxisPlan(size, tile, used, centre, n, used, n * centre - size + used, halo)


@dataclass(frozen=True)
class TilePlan:
    rows: AxisPlan
    cols: AxisPlan
    ratio: int

    @property
    def count(self) -> int:
        return self.rows.tiles * self.cols.tiles

    def corners(self) -> list[tuple[int, int]]:
        """(row, col) of every tile's top-left corner in the padded PAN grid, raster order."""
        return [(i * self.rows.centre, j * self.cols.centre)
                for i in range(self.rows.tiles) for j in range(self.cols.tiles)]

    def to_dict(self) -> dict:
        d = {'frame_pan': [self.rows.tile, self.cols.tile], 'tiles': self.count,
             'tiles_rows_cols': [self.rows.tiles, self.cols.tiles],
             'halo_needed_pan': self.rows.halo_needed, 'halo_pan': [self.rows.halo, self.cols.halo],
             'kept_centre_pan': [self.rows.centre, self.cols.centre],
             'pad_pan': {'top': self.rows.pad_before, 'bottom': self.rows.pad_after,
                         'left': self.cols.pad_before, 'right': self.cols.pad_after},
             'halo_truncated': self.rows.halo_truncated or self.cols.halo_truncated,
             'padding': PAD_POLICY, 'attention': ATTENTION_POLICY,
             'single_tile_axes': 'an axis exactly one frame long is one tile without halo'}
        return d


def plan_tiles(pan_hw: tuple[int, int], frame: tuple[int, int], halo: int, ratio: int,
               file: str | None = None) -> TilePlan:
    return TilePlan(plan_axis(pan_hw[0], frame[0], halo, ratio, 'rows (H)', file),
                    plan_axis(pan_hw[1], frame[1], halo, ratio, 'columns (W)', file), ratio)


def pad_inputs(plan: TilePlan, ms: np.ndarray, pan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror-pad MS (B, h, w) and PAN (1, H, W) to whole tiles (module docstring)."""
    r, a, b = plan.ratio, plan.rows, plan.cols
    pan_p = np.pad(pan, ((0, 0), (a.pad_before, a.pad_after), (b.pad_before, b.pad_after)), mode=PAD_MODE)
    ms_p = np.pad(ms, ((0, 0), (a.pad_before // r, a.pad_after // r), (b.pad_before // r, b.pad_after // r)),
                  mode=PAD_MODE)
    return ms_p, pan_p


def run_tiles(plan: TilePlan, ms: np.ndarray, pan: np.ndarray, engine, progress: bool = False,
              desc: str = 'tiles') -> np.ndarray:
    """Fused (B, H, W) of MS (B, h, w) and PAN (1, H, W) (already on the io grid): mirror padding,
    tiles through ``engine`` (``engine.batch`` at a time), central parts stitched."""
    from tqdm import tqdm
    r, a, b = plan.ratio, plan.rows, plan.cols
    ms_p, pan_p = pad_inputs(plan, ms, pan)
    out = np.zeros((ms.shape[0], a.size, b.size), dtype=np.float32)
    corners = plan.corners()
    step = max(1, int(getattr(engine, 'batch', 1)))
    with tqdm(total=len(corners), desc=desc, unit='tile', disable=not progress, leave=False) as bar:
        for s in range(0, len(corners), step):
            chunk = corners[s:s + step]
            ms_t = np.stack([ms_p[:, y // r:(y + a.tile) // r, x // r:(x + b.tile) // r] for y, x in chunk])
            pan_t = np.stack([pan_p[:, y:y + a.tile, x:x + b.tile] for y, x in chunk])
            y_t = np.asarray(engine(np.ascontiguousarray(ms_t), np.ascontiguousarray(pan_t)))
            for (y, x), t in zip(chunk, y_t):
                h = min(a.centre, a.size - y)
                w = min(b.centre, b.size - x)
                out[:, y:y + h, x:x + w] = t[:, a.halo:a.halo + h, b.halo:b.halo + w]
            bar.update(len(chunk))
    return out


# --- engines ---------------------------------------------------------------------------------------

class TorchEngine:
    """The eval-mode PyTorch model on NCHW tiles (``batch`` tiles per forward pass)."""

    name = 'torch'

    def __init__(self, model, batch: int = 8):
        self.model, self.batch = model.eval(), batch

    def __call__(self, ms: np.ndarray, pan: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.model(torch.from_numpy(ms), torch.from_numpy(pan)).numpy()


class QonnxEngine:
    """The final QONNX graph (channels-last, batch 1, fixed frame) run by qonnx, one tile at a time."""

    name = 'qonnx'
    batch = 1

    def __init__(self, final_onnx: str | os.PathLike):
        from qonnx.core.modelwrapper import ModelWrapper
        self.path = Path(final_onnx)
        self.graph = ModelWrapper(str(final_onnx))
        self.inputs = [i.name for i in self.graph.graph.input]
        self.output = self.graph.graph.output[0].name

    def __call__(self, ms: np.ndarray, pan: np.ndarray) -> np.ndarray:
        import onnxruntime
        from qonnx.core.onnx_exec import execute_onnx
        onnxruntime.set_default_logger_severity(3)
        ys = []
        for m, p in zip(ms, pan):
            feed = {self.inputs[0]: np.ascontiguousarray(m.transpose(1, 2, 0)[None], dtype=np.float32),
                    self.inputs[1]: np.ascontiguousarray(p.transpose(1, 2, 0)[None], dtype=np.float32)}
            ys.append(execute_onnx(self.graph, feed)[self.output][0].transpose(2, 0, 1))
        return np.stack(ys)


# --- scene inputs ----------------------------------------------------------------------------------

@dataclass
class SceneInputs:
    """Normalised network inputs of one scene, band-first: ``ms`` (B, h, w), ``pan`` (1, H, W),
    ``lms`` (B, H, W) bicubic, ``gt`` (B, H, W) in reduced mode else None."""
    ms: np.ndarray
    pan: np.ndarray
    lms: np.ndarray
    gt: np.ndarray | None
    cube: object  # the loaded Cube
    mode: str
    max_value: float
    georef: object | None
    georef_note: str
    notes: list[str] = field(default_factory=list)
    pan_source: str = ''


def training_data_gnyq(ckpt: dict) -> tuple[float, str]:
    """GNyq of the data the checkpoint was trained on (``data_dir/train.h5`` attribute), else 0.3."""
    data_dir = ckpt.get('data_dir') if isinstance(ckpt, dict) else None
    h5 = Path(data_dir) / 'train.h5' if data_dir else None
    if h5 is not None and h5.is_file():
        try:
            import h5py
            with h5py.File(h5, 'r') as f:
                if 'gnyq' in f.attrs:
                    return float(f.attrs['gnyq']), f'training data {h5}'
        except OSError:
            pass
    return DEFAULT_GNYQ, 'default (the training data could not be read)'


def _normalise(data: np.ndarray, file: str, key: str, notes: list[str]) -> tuple[np.ndarray, float]:
    max_value = float(data.max())
    if not max_value > 0:
        raise HsbinetError('Cube cannot be normalised by its maximum', file=file, key=key,
                           expected='a positive maximum value', found=f'max {max_value}')
    n_neg = int(np.count_nonzero(data < 0))
    out = np.maximum(data.astype(np.float32) / np.float32(max_value), 0.0)
    if n_neg:
        notes.append(f'clipped {n_neg} negative values to 0')
    return out, max_value


def _hwb_to_bhw(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(a, (2, 0, 1)), dtype=np.float32)


def load_pan(source: str | os.PathLike) -> tuple[np.ndarray, object | None, str]:
    """A single-band PAN image (H, W) float32 from GeoTIFF/ENVI (one band), ``.npy``/``.npz`` or
    ``.mat`` (the largest 2-D array, or ``FILE:KEY``); returns (pan, georef or None, key)."""
    from quant_models.data.readers.load import SCENE_READERS, split_source
    path, key = split_source(os.fspath(source))
    if not os.path.isfile(path):
        raise HsbinetError('PAN image not found', file=path, key='--pan', expected='an existing file',
                           found='no such file' if not os.path.exists(path) else 'not a file')
    ext = Path(path).suffix.lower()
    georef = None
    try:
        if ext in SCENE_READERS:
            scene = SCENE_READERS[ext](path)
            arr, georef, key = scene.data, scene.georef, '(image)'
        elif ext == '.npy':
            arr, key = np.load(path, allow_pickle=False), '(array)'
        elif ext in ('.npz', '.mat'):
            if ext == '.npz':
                with np.load(path, allow_pickle=False) as z:
                    variables = {k: z[k] for k in z.files}
            else:
                import h5py
                if h5py.is_hdf5(path):
                    with h5py.File(path, 'r') as f:
                        variables = {k: np.asarray(v[()]).T for k, v in f.items() if isinstance(v, h5py.Dataset)}
                else:
                    import scipy.io
                    variables = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith('__')}
            arrays = {k: np.asarray(v) for k, v in variables.items()
                      if isinstance(v, np.ndarray) and v.dtype.kind in 'iuf' and np.squeeze(v).ndim == 2}
            if key is None:
                if not arrays:
                    raise HsbinetError('No image in the PAN file', file=path, key='(auto)',
                                       expected='a numeric 2-D array', found=', '.join(variables) or 'no variables')
                key = max(arrays, key=lambda k: arrays[k].size)
            elif key not in variables:
                raise HsbinetError('Key not in the PAN file', file=path, key=key, expected='one of ' +
                                   ', '.join(variables), found='missing')
            arr = np.asarray(variables[key])
        else:
            raise HsbinetError('Unsupported PAN file format', file=path, key='(extension)',
                               expected='.tif/.tiff, ENVI, .npy, .npz or .mat', found=repr(ext or '(none)'))
    except HsbinetError:
        raise
    except Exception as e:  # noqa: BLE001 - unreadable file for the user
        raise HsbinetError('PAN image could not be read', file=path, key=key or '(auto)',
                           found=f'{type(e).__name__}: {e}') from None
    arr = np.squeeze(np.asarray(arr))
    if arr.ndim != 2 or arr.dtype.kind not in 'iuf':
        raise HsbinetError('PAN must be one numeric band', file=path, key=key,
                           expected='a single-band image (H, W)', found=f'{arr.dtype} array of shape {arr.shape}')
    if not np.all(np.isfinite(arr)):
        raise HsbinetError('PAN contains non-finite values', file=path, key=key, expected='all values finite',
                           found=f'{int(np.count_nonzero(~np.isfinite(arr)))} non-finite values')
    return arr.astype(np.float32), georef, key


def prepare_scene(scene: str, ratio: int, gnyq: float, reduced: bool, pan: str | None = None,
                  bands: int | None = None, taps: int = 41) -> SceneInputs:
    """Load ``scene`` and build the normalised network inputs of either mode (module docstring)."""
    from quant_models.data.readers import load_cube
    from quant_models.data.wald import PAN_RANGE_NM, bicubic_upsample, pan_spectral_response, simulate
    if not reduced and pan is None:
        raise HsbinetError('Full-resolution inference needs a real PAN image', file=str(scene), key='--pan',
                           expected='--pan FILE (ratio x the cube\'s size), or --reduced for Wald\'s protocol',
                           found='neither', hint='the toolchain simulates PAN only from a reference cube, which '
                                                 'is the reduced mode')
    if reduced and pan is not None:
        raise HsbinetError('A real PAN does not apply to the reduced mode', key='--pan', expected='--pan or --reduced',
                           found='both')
    cube = load_cube(scene)
    h0, w0, nb = cube.data.shape
    if bands is not None and nb != bands:
        raise HsbinetError('The scene has another band count than the model', file=cube.source, key='bands',
                           expected=f'{bands} bands (the checkpoint\'s model)', found=f'{nb} bands, cube (H,W,B)='
                                    f'{cube.shape}', hint='use a checkpoint trained on this sensor')
    notes: list[str] = []
    if reduced:
        hh, ww = h0 - h0 % ratio, w0 - w0 % ratio
        if (hh, ww) != (h0, w0):
            notes.append(f'cropped {h0}x{w0} -> {hh}x{ww} so the size divides by ratio {ratio} (top-left kept)')
        data, max_value = _normalise(cube.data[:hh, :ww], cube.source, cube.key, notes)
        sim = simulate(data, ratio=ratio, gnyq=gnyq, wavelengths_nm=cube.wavelengths_nm, taps=taps)
        return SceneInputs(ms=_hwb_to_bhw(sim['ms']), pan=np.ascontiguousarray(sim['pan'][None], dtype=np.float32),
                           lms=_hwb_to_bhw(sim['lms']), gt=_hwb_to_bhw(sim['gt']), cube=cube, mode='reduced',
                           max_value=max_value, georef=cube.georef,
                           georef_note='the input\'s (the output is on the reference grid, top-left kept)',
                           notes=notes, pan_source=f'simulated (flat {PAN_RANGE_NM[0]:g}-{PAN_RANGE_NM[1]:g} nm '
                                                   'response, uniform without wavelengths; not blurred)')
    p, pan_georef, pan_key = load_pan(pan)
    if p.shape != (ratio * h0, ratio * w0):
        raise HsbinetError('PAN size is not ratio x the cube\'s size', file=str(pan), key=pan_key,
                           expected=f'{ratio * h0} x {ratio * w0} (ratio {ratio} x MS {h0} x {w0})',
                           found=f'{p.shape[0]} x {p.shape[1]}')
    ms, max_value = _normalise(cube.data, cube.source, cube.key, notes)
    lms = bicubic_upsample(ms, ratio)
    inten = np.tensordot(lms, pan_spectral_response(cube.wavelengths_nm, nb), axes=([2], [0]))
    sd = float(p.std())
    p = (p - float(p.mean())) * (float(inten.std()) / sd if sd > 0 else 1.0) + float(inten.mean())
    p = np.maximum(p, 0.0).astype(np.float32)
    notes.append('PAN matched to the MS intensity (mean, std), clipped at 0')
    if pan_georef is not None:
        georef, note = pan_georef, 'the PAN\'s'
    elif cube.georef is not None:
        georef, note = cube.georef.scaled(ratio), f'the input\'s, pixel size / {ratio} (Georef.scaled)'
    else:
        georef, note = None, 'none (the inputs carry none)'
    return SceneInputs(ms=_hwb_to_bhw(ms), pan=p[None], lms=_hwb_to_bhw(lms), gt=None, cube=cube, mode='full',
                       max_value=max_value, georef=georef, georef_note=note, notes=notes,
                       pan_source=f'{pan} (key {pan_key})')


def on_io_grid(model, *arrays: np.ndarray) -> list[np.ndarray]:
    """Arrays put on the model's fixed<io_bits> input grid (round half to even, saturate); a model
    without that grid (no H6 / S7 / B2, the paper profile) takes them as they are."""
    if not has_io_grid(model.cfg):
        return [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
    from quant_models.layers import fixed_point_act
    q = fixed_point_act(*model.cfg.io_bits).eval()
    with torch.no_grad():
        return [q(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))).numpy() for a in arrays]


# --- outputs ---------------------------------------------------------------------------------------

def _default_format(source: str) -> str:
    from quant_models.data.readers.envi import ENVI_EXTS
    return 'envi' if Path(source).suffix.lower() in ENVI_EXTS else 'tif'


def _metrics(inp: SceneInputs, fused: np.ndarray, ratio: int) -> dict:
    from quant_models.metrics import CONVENTIONS, no_reference_metrics, reference_metrics
    if inp.gt is not None:
        return {'hsbinet': reference_metrics(inp.gt, fused, ratio),
                'bicubic': reference_metrics(inp.gt, inp.lms, ratio),
                'units': 'normalised (source / max_value)', 'conventions': CONVENTIONS}
    return {'hsbinet': no_reference_metrics(fused, inp.ms, inp.pan, ratio),
            'bicubic': no_reference_metrics(inp.lms, inp.ms, inp.pan, ratio),
            'units': 'normalised (source / max_value)', 'conventions': CONVENTIONS}


def _write_all(stage: Path, inp: SceneInputs, fused: np.ndarray, fmt: str, attrs: dict, title: str) -> dict[str, Path]:
    """Every output file into ``stage``; returns name -> path (ENVI: data file before header)."""
    import h5py

    from quant_models.data.hpc_format import write_hpc
    from quant_models.data.readers import write_envi, write_geotiff
    from quant_models.plots import pseudo_colour, rgb_bands
    cube, files = inp.cube, {}
    h5 = write_hpc(stage / 'fused.h5', None if inp.gt is None else inp.gt[None], inp.lms[None], inp.ms[None],
                   inp.pan[None], attrs)
    with h5py.File(h5, 'a') as f:
        f.create_dataset('FUSED', data=fused[None].astype(np.float32))
    files['h5'] = Path(h5)
    src_units = np.ascontiguousarray(np.transpose(fused, (1, 2, 0)) * np.float32(inp.max_value), dtype=np.float32)
    extra = {k: cube.extra[k] for k in ('band_names', 'fwhm_nm') if cube.extra.get(k) is not None}
    if fmt == 'envi':
        hdr, dat = write_envi(stage / 'fused.hdr', src_units, wavelengths_nm=cube.wavelengths_nm, georef=inp.georef,
                              description=title, **extra)
        files['cube_data'], files['cube'] = Path(dat), Path(hdr)
    else:
        files['cube'] = Path(write_geotiff(stage / 'fused.tif', src_units, wavelengths_nm=cube.wavelengths_nm,
                                           georef=inp.georef, **extra))
    rgb = rgb_bands(cube.wavelengths_nm, fused.shape[0])
    wl = cube.wavelengths_nm
    label = (' / '.join(f'{wl[b]:.0f}' for b in rgb) + ' nm') if wl is not None else f'bands {rgb}'
    files['png'] = pseudo_colour(fused, rgb, stage / 'fused.png', title=f'{title}: R/G/B = {label}')
    return files


def infer(model, scene: str, out_dir: str | os.PathLike, engine, frame: tuple[int, int] | None = None,
          reduced: bool = False, pan: str | None = None, fmt: str | None = None, gnyq: float = DEFAULT_GNYQ,
          log: Log = print, progress: bool = True, record: dict | None = None) -> dict:
    """Pan-sharpen ``scene`` tile by tile with ``engine`` and write the outputs (module docstring).

    Args:
        model: the eval-mode HSBiNet (its config gives bands, ratio, io grid; its structure the halo).
        scene: a cube file (anything load_cube reads); reduced mode: the reference, else the LR input.
        out_dir: output folder (created).
        engine: a callable (N,B,h,w), (N,1,H,W) -> (N,B,H,W) on NCHW float32 tiles on the io grid, with
            ``name`` and ``batch``: :class:`TorchEngine`, :class:`QonnxEngine`, ``sim.infer.CsimEngine``.
        frame: (H, W) tile in PAN pixels (default :data:`DEFAULT_TILE` square).
        reduced / pan: the mode (module docstring); ``pan`` is the real PAN file of the full mode.
        fmt: 'tif' or 'envi' (default: ENVI for an ENVI input, else GeoTIFF).
        gnyq: MTF gain at Nyquist of the reduced mode's degradation.
        record: extra entries for infer.json (checkpoint, design hash, ...).

    Returns:
        the summary written to ``infer.json``, plus ``fused`` (B, H, W) normalised float32 (not in the file).
    """
    t0 = time.time()
    ratio = int(model.cfg.ratio)
    frame = tuple(int(v) for v in (frame or (DEFAULT_TILE, DEFAULT_TILE)))
    fmt = fmt.lower() if fmt else None
    if fmt is not None and fmt not in FORMATS:
        raise HsbinetError('Unknown output format', key='--format', expected=' or '.join(FORMATS), found=repr(fmt))
    rf = receptive_radius(model)
    inp = prepare_scene(scene, ratio, gnyq, reduced, pan, bands=model.cfg.bands)
    fmt = fmt or _default_format(inp.cube.source)
    plan = plan_tiles(tuple(inp.pan.shape[1:]), frame, rf['halo'], ratio, file=inp.cube.source)
    for n in inp.notes:
        log(n)
    tiling = {**plan.to_dict(), 'receptive_field_pan': rf}
    log(f'{inp.cube.name}: {inp.mode} resolution, MS {inp.ms.shape[1]}x{inp.ms.shape[2]} -> '
        f'{inp.pan.shape[1]}x{inp.pan.shape[2]} x {inp.ms.shape[0]} bands; {plan.count} tiles of '
        f'{frame[0]}x{frame[1]} ({plan.rows.tiles} x {plan.cols.tiles}), halo {plan.rows.halo}/{plan.cols.halo} px '
        f'(receptive field {rf["radius"]} px), engine {engine.name}')
    if tiling['halo_truncated']:
        log(f'warning: the frame {frame[0]}x{frame[1]} is too small for the receptive-field halo of {rf["halo"]} px '
            f'per side: halo cut to {plan.rows.halo}/{plan.cols.halo} px, so pixels near tile seams see the tile '
            'border')
    ms_q, pan_q = on_io_grid(model, inp.ms, inp.pan)
    t1 = time.time()
    fused = run_tiles(plan, ms_q, pan_q, engine, progress=progress, desc=f'infer ({engine.name})')
    t_tiles = time.time() - t1
    metrics = _metrics(inp, fused, ratio)
    cube = inp.cube
    timings = {'tiles_s': round(t_tiles, 3), 'per_tile_s': round(t_tiles / plan.count, 4)}
    summary = {
        'tool': 'quant_models.infer.infer', 'mode': inp.mode, 'engine': engine.name, 'scene': cube.name,
        'source': cube.source, 'source_key': cube.key, 'source_sha256': cube.sha256, 'pan': inp.pan_source,
        'model': model.cfg.to_dict(), 'ratio': ratio, 'gnyq': gnyq if inp.mode == 'reduced' else None,
        'max_value': inp.max_value, 'scale': 'the .h5 holds source / max_value (negatives clipped to 0); the cube '
        'file holds source units (x max_value)', 'notes': inp.notes,
        'shapes': {'ms': list(inp.ms.shape), 'pan': list(inp.pan.shape), 'fused': list(fused.shape)},
        'io_grid': f'fixed<{model.cfg.io_bits[0]},{model.cfg.io_bits[1]}>' if has_io_grid(model.cfg) else 'none (float)',
        'tiling': tiling, 'metrics': metrics, 'georef': inp.georef.to_dict() if inp.georef is not None else None,
        'georef_source': inp.georef_note, 'format': fmt,
        'wavelengths_nm': None if cube.wavelengths_nm is None else [float(v) for v in cube.wavelengths_nm],
        **(record or {})}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix='.infer.partial.', dir=out_dir))
    try:
        attrs = {k: summary[k] for k in ('tool', 'mode', 'engine', 'scene', 'source', 'source_sha256', 'ratio',
                                         'max_value', 'scale')}
        attrs.update(tiling=tiling, model=summary['model'], gnyq=summary['gnyq'],
                     fused='FUSED (1,B,H,W): the network output, stitched from tiles')
        if cube.wavelengths_nm is not None:
            attrs['wavelengths_nm'] = np.asarray(cube.wavelengths_nm, dtype=np.float64)
        files = _write_all(stage, inp, fused, fmt, attrs, f'{cube.name} HS-BiNet ({engine.name})')
        (out_dir / 'infer.json').unlink(missing_ok=True)  # the summary marks a complete set: it goes last
        final = {}
        for name, p in files.items():
            os.replace(p, out_dir / p.name)
            final[name] = str(out_dir / p.name)
        timings['total_s'] = round(time.time() - t0, 3)
        summary.update(files={**final, 'summary': str(out_dir / 'infer.json')}, timings=timings)
        atomic_write_json(out_dir / 'infer.json', summary)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    m = metrics['hsbinet']
    keys = [k for k in ('psnr', 'cc', 'ssim', 'sam', 'ergas', 'd_lambda', 'd_s', 'qnr') if k in m]
    log('metrics (' + ('reference GT' if inp.mode == 'reduced' else 'no reference') + '): ' + '  '.join(
        f'{k} {m[k]:.4f} (bicubic {metrics["bicubic"][k]:.4f})' for k in keys))
    names = ', '.join(Path(p).name for p in final.values())
    log(f'{plan.count} tiles in {t_tiles:.2f} s ({engine.name}); wrote {out_dir} ({names}, infer.json)')
    return {**summary, 'fused': fused}


__all__ = ['AxisPlan', 'TilePlan', 'TorchEngine', 'QonnxEngine', 'SceneInputs', 'receptive_radius', 'plan_axis',
           'plan_tiles', 'pad_inputs', 'run_tiles', 'prepare_scene', 'load_pan', 'on_io_grid', 'training_data_gnyq',
           'infer', 'DEFAULT_TILE', 'FORMATS']
