"""A pushbroom swath covered by the lowered frame design: column tiles with halos down a strip of lines.

A payload's PAN sensor delivers lines of ``width`` columns (PRISMA-like: 6,000 at about 1,380
lines/s). The accelerator works on the frame it was lowered for (H lines x W columns, PAN pixels):
on-chip buffers (conv line buffers, the channel gate's ping-pong buffer, the FIFOs) are sized by
the frame's width W, not by the swath's, so a swath wider than the part's BRAM allows is cut into
column tiles. Geometry (every figure in PAN pixels):

* halo h: the network's receptive-field radius rounded up to a multiple of the ratio
  (:func:`quant_models.infer.receptive_radius`, the tiling policy ``hsbinet infer`` uses, so a
  tile's centre is what a continuous computation over the swath gives at the convolutions);
* columns: a frame at least as wide as the swath is one tile (zero padding at the swath's edges,
  no halo); otherwise each tile keeps W - 2h columns and ceil(width / (W - 2h)) tiles cover a line;
* lines: consecutive strips overlap by 2h lines, each keeps H - 2h;
* the channel attention pools over the frame, or with H8 (``model.attention_rows`` L) over each
  block of L lines of the tile: its pooling region is part of the geometry (docs/model.md).

Throughput: the design's frame rate (analytical, from the report) x (H - 2h) lines per strip /
tiles per strip = swath lines per second; times ``width`` = swath PAN pixels per second. The
overlap factor is the pixels processed per swath pixel.

External memory (counted, not in the lowered project): the tiles are cut from a line store the
sensor writes, H + (H - 2h) lines of the swath (the strip being read plus the lines arriving
meanwhile) x width x (PAN bits + B x HS bits / ratio^2) bits; its write bandwidth is the sensor's
data rate, its read bandwidth that x the overlap; the fused cube leaves at B x output bits per
swath pixel (the halo pixels of each output frame are dropped on the way).
"""

from __future__ import annotations

import math

from quant_models.common import HsbinetError


def halo_of(model_cfg: dict) -> int:
    """Halo (PAN pixels) of the model described by ``model_cfg`` (design.json's ``model``)."""
    from quant_models.archs import build_model
    from quant_models.infer import receptive_radius
    return int(receptive_radius(build_model(dict(model_cfg)))['halo'])


def _axes(frame: tuple[int, int], width: int, halo: int, ratio: int) -> dict:
    H, W = (int(v) for v in frame)
    centre_y = H - 2 * halo
    if centre_y < ratio:
        raise HsbinetError('The frame is too short for a swath strip with halos', key='hw.frame',
                           expected=f'at least 2 x {halo} (halo) + {ratio} lines', found=f'{H} lines')
    if W >= width:
        tiles, centre_x = 1, width
    else:
        centre_x = W - 2 * halo
        if centre_x < ratio:
            raise HsbinetError('The frame is too narrow for a column tile with halos', key='hw.frame',
                               expected=f'at least 2 x {halo} (halo) + {ratio} columns', found=f'{W} columns')
        tiles = math.ceil(width / centre_x)
    return {'frame': [H, W], 'halo': halo, 'centre_lines': centre_y, 'centre_columns': centre_x,
            'tiles_per_strip': tiles, 'overlap': tiles * H * W / (centre_y * width)}


def plan_swath(design: dict, frames_per_s: float, width: int, line_rate_hz: float | None = None,
               halo: int | None = None) -> dict:
    """The swath figures of a lowered design (module docstring) at ``frames_per_s`` (analytical).

    ``width``: swath columns (PAN pixels); ``line_rate_hz``: the sensor's lines per second, for the
    verdict (None: no verdict). Returns the geometry, ``lines_per_s``, ``mpixel_per_s`` (swath PAN
    pixels), ``meets_line_rate``, ``attention`` (its pooling region) and ``external_memory``.
    """
    width = int(width)
    if width < 1:
        raise HsbinetError('Bad swath width', key='hw.swath_width', expected='PAN columns >= 1', found=str(width))
    model = design['model']
    ratio, bands = int(model['ratio']), int(design['frame']['bands'])
    io_bits = int(model['io_bits'][0])
    h = halo_of(model) if halo is None else int(halo)
    g = _axes((design['frame']['height'], design['frame']['width']), width, h, ratio)
    lines = frames_per_s * g['centre_lines'] / g['tiles_per_strip']
    px_bits = io_bits + bands * io_bits / ratio ** 2  # PAN + LR-HS per swath PAN pixel
    store_lines = g['frame'][0] + g['centre_lines']
    sensor_bps = lines * width * px_bits
    L = int(model.get('attention_rows') or 0)
    H, W = g['frame']
    out = {**g, 'width': width, 'lines_per_s': lines, 'mpixel_per_s': lines * width / 1e6,
           'line_rate_hz': line_rate_hz, 'meets_line_rate': None if line_rate_hz is None else lines >= line_rate_hz,
           'attention': (f'pooled per block of {L} lines x {W} columns of each tile (H8)' if L and L < H
                         else f'pooled per frame ({H} x {W}: one tile with its halos)'),
           'external_memory': {
               'line_store_bits': int(store_lines * width * px_bits),
               'note': f'{store_lines} lines x {width} px x {px_bits:g} bit (PAN {io_bits} + {bands} x {io_bits} / '
                       f'{ratio}^2 LR-HS): the strip read plus the lines arriving meanwhile',
               'write_gbit_s': sensor_bps / 1e9,
               'read_gbit_s': sensor_bps * g['overlap'] / 1e9,
               'output_gbit_s': lines * width * bands * io_bits / 1e9}}
    return out


def required_mpx(design: dict, width: int, line_rate_hz: float, halo: int | None = None) -> float:
    """Mpixel/s the frame design must process for ``line_rate_hz`` lines of ``width`` columns
    (the swath's rate x the overlap factor): the folding target of a swath configuration."""
    model = design['model']
    h = halo_of(model) if halo is None else int(halo)
    g = _axes((design['frame']['height'], design['frame']['width']), int(width), h, int(model['ratio']))
    return float(line_rate_hz) * int(width) * g['overlap'] / 1e6


def folding_target(design: dict, target_mpx: float | None, width: int | None, line_rate_hz: float | None):
    """The folding target (Mpixel/s) of a configuration: ``hw.target_mpx`` when given, else the rate
    a swath's line rate needs (:func:`required_mpx`), else None (as fast as fits)."""
    if target_mpx is None and line_rate_hz:
        return required_mpx(design, width, line_rate_hz)
    return target_mpx


def swath_text(s: dict) -> str:
    """One paragraph for the console and report.md."""
    verdict = ('' if s['meets_line_rate'] is None else
               f' against the {s["line_rate_hz"]:,.0f} lines/s needed: {"meets" if s["meets_line_rate"] else "DOES NOT MEET"} it')
    m = s['external_memory']
    return (f'Swath {s["width"]} columns: {s["tiles_per_strip"]} column tile(s) of the {s["frame"][0]}x{s["frame"][1]} '
            f'frame per strip, halo {s["halo"]} px, each keeping {s["centre_lines"]} lines x {s["centre_columns"]} '
            f'columns; overlap x{s["overlap"]:.3f} (pixels processed per swath pixel); '
            f'{s["lines_per_s"]:,.0f} lines/s = {s["mpixel_per_s"]:.3f} Mpixel/s of swath PAN (analytical){verdict}. '
            f'Attention {s["attention"]}. External line store {m["line_store_bits"] / 1e6:.1f} Mbit ({m["note"]}), '
            f'{m["write_gbit_s"]:.2f} Gbit/s in from the sensor, {m["read_gbit_s"]:.2f} Gbit/s out to the accelerator, '
            f'fused cube {m["output_gbit_s"]:.2f} Gbit/s.')
