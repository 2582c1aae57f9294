"""Headline table: a hardware-profile network lowered with the fastest folding that fits a part.

``--arch hsbinet`` (default) or ``--arch s2bnet`` (S2BNet-style, one scale: ``levels`` 0).

For each hidden width C and PAN frame (H x W), an untrained hardware-profile model (``--bands``
bands, default 191; ratio 4; 2 blocks; weights do not change structure, types or folding) is
exported and *lowered* with the folding plan the default ``hsbinet run`` uses (fastest balanced
folding that fits ``--part``, or with ``--target-mpx`` the fewest-LUT one reaching it, the
fixed-point products on DSP48s when that is chosen, ``--multipliers``; the bands padded for the core, the AXI4-Stream adapter around it);
the report of that lowered project (``hsbinet report``) gives the row. So every row describes a
project that was generated, with the design hash that identifies it; it was not synthesised (no
vendor tool here): its throughput and resources are the analytical model's, with the token-level
stream simulation's frame interval beside it (each labelled).

Columns: cycles per PAN pixel and Mpixel/s (analytical, and token-simulated where the frame is
small enough to simulate), LUT/FF/BRAM36/DSP % on XQRKU060, ZU9EG and XC7Z020, and LUT per binary
MAC (XNOR) lane. ``--csim`` also times, on the first C's largest frame, the compilation of the
lowered project and the C-simulation of one frame through the adapter (random inputs on the io
grid), per 128 x 128 PAN pixels.

    python benchmarks/bench_report.py [--part XQRKU060] [--clock 200] [--bands 191] [--hidden 32,64]
                                      [--frames 32x32,8x256] [--target-mpx 8.6] [--multipliers auto]
                                      [--attention-rows L] [--swath-width 6000 --line-rate 1380]
                                      [--csim] [--out DIR]
    python benchmarks/bench_report.py --config configs/prisma_swath.yaml      # the swath design

``--config`` takes the model's hidden width, blocks and attention block, and the hw section's
part, clock, frame, target, multipliers and swath from a build configuration (flags override).
With ``--swath-width`` the report covers a pushbroom swath with the frame as column tiles
(hw/estimates/swath.py); with ``--line-rate`` and no ``--target-mpx`` the folding target is the
rate that line rate needs, tile overlap included.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from build_flows.steps import design_of
from hw.estimates.folding import plan_folding
from hw.estimates.report import build_report
from hw.estimates.swath import folding_target, swath_text
from hw.parts import DEFAULT_CLOCK_MHZ, PARTS
from quant_models.archs import build_model, config_class, display_name


def _frames(text: str) -> list[tuple[int, int]]:
    out = []
    for f in text.split(','):
        h, _, w = f.partition('x')
        out.append((int(h), int(w or h)))
    return out


def _csim_time(folder: Path, design: dict) -> dict:
    """Compile the lowered project (hls4ml's build script, adapter included) and run one frame."""
    from hw.hls.axis import geometry_of, run_frame
    from sim.csim import compile_project
    t = time.time()
    linked = compile_project(folder / 'hls4ml_prj')
    compile_s = time.time() - t
    geo = geometry_of(design, design['axis']['tdata_bits'], design['axis']['tlast'])
    rng = np.random.default_rng(0)
    ms = rng.integers(0, 2 ** 14, (geo.h, geo.w, geo.bands))
    pan = rng.integers(0, 2 ** 14, (geo.H, geo.W))
    t = time.time()
    run_frame(linked._top_function_lib, design['project'], geo, ms, pan)
    frame_s = time.time() - t
    return {'compile_s': round(compile_s, 1), 'csim_s_per_frame': round(frame_s, 2),
            'csim_s_per_128x128': round(frame_s * 128 * 128 / (geo.H * geo.W), 1)}


def _util(u: dict) -> str:
    return '/'.join(f'{u[m]:.0f}' for m in ('lut', 'ff', 'bram36', 'dsp'))


def _config_defaults(path: str) -> dict:
    """Parser defaults from a build configuration (see the module docstring)."""
    from build_flows.config import load_config
    cfg = load_config(path)
    h, m = cfg.hw, cfg.model
    out = {'arch': m.arch, 'part': h.part, 'clock': h.clock_mhz, 'hidden': str(m.hidden), 'blocks': m.blocks,
           'attention_rows': getattr(m, 'attention_rows', 0),
           'msfe_widths': ','.join(map(str, getattr(m, 'msfe_widths', None) or ())) or None,
           'target_mpx': h.target_mpx, 'multipliers': h.multipliers,
           'swath_width': h.swath_width, 'line_rate': h.line_rate_hz}
    if h.frame:
        out['frames'] = f'{h.frame[0]}x{h.frame[1]}'
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default=None, help='take defaults from a build configuration (YAML)')
    p.add_argument('--arch', default='hsbinet', help='model.arch: hsbinet | s2bnet (hardware profile)')
    p.add_argument('--blocks', type=int, default=2)
    p.add_argument('--attention-rows', type=int, default=0, help='model.attention_rows (H8); 0: the frame')
    p.add_argument('--msfe-widths', default=None,
                   help='model.msfe_widths (H9): channels of the 3x3,5x5,7x7 MSFE branches, e.g. 64,8,8; '
                        'default C each')
    p.add_argument('--swath-width', type=int, default=None, help='hw.swath_width: PAN columns of a pushbroom swath')
    p.add_argument('--line-rate', type=float, default=None, help='hw.line_rate_hz: lines/s the swath needs')
    p.add_argument('--part', default='XQRKU060')
    p.add_argument('--clock', type=float, default=DEFAULT_CLOCK_MHZ)
    p.add_argument('--bands', type=int, default=191)
    p.add_argument('--hidden', default='32,64')
    p.add_argument('--frames', default='32x32', help='PAN frames HxW, comma-separated')
    p.add_argument('--target-mpx', type=float, default=None,
                   help='lower with the fewest-LUT folding reaching this many Mpixel/s (hw.target_mpx)')
    p.add_argument('--multipliers', default='auto', help='hw.multipliers: auto | dsp | fabric')
    p.add_argument('--csim', action='store_true', help='time compile + C-simulation of the first C, largest frame')
    p.add_argument('--out', default=None)
    a = p.parse_args()
    if a.config:
        p.set_defaults(**_config_defaults(a.config))
        a = p.parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix='hsbinet_bench_report_'))
    quiet = lambda s: None  # noqa: E731
    rows = []
    widths = tuple(int(x) for x in a.msfe_widths.split(',')) if a.msfe_widths else None
    for c in [int(x) for x in a.hidden.split(',')]:
        for (fh, fw) in _frames(a.frames):
            d = out / f'C{c}_{fh}x{fw}'
            t = time.time()
            torch.manual_seed(0)
            arch_kw = {'hsbinet': {'attention_rows': a.attention_rows, 'msfe_widths': widths},
                       's2bnet': {'levels': 0}}.get(a.arch, {})  # S2BNet-style: one scale (S6)
            mcfg = config_class(a.arch)(bands=a.bands, hidden=c, blocks=a.blocks, profile='hardware', **arch_kw)
            model = build_model(mcfg).eval()
            design = design_of(model, (fh, fw), out_dir=d, folding=lambda x: plan_folding(
                x, a.part, a.clock, folding_target(x, a.target_mpx, a.swath_width, a.line_rate), a.multipliers))
            t_lower = time.time() - t
            t = time.time()
            rep = build_report(d, part=a.part, clock_mhz=a.clock, log=quiet, swath_width=a.swath_width,
                               line_rate_hz=a.line_rate)
            t_report = time.time() - t
            perf, tot, tok = rep['performance'], rep['total'], rep['performance']['token_simulated']
            row = {'C': c, 'frame': f'{fh}x{fw}', 'design_sha256': rep['design_sha256'][:16],
                   'core_bands': design['frame']['core_bands'], 'policy': design['folding']['policy'],
                   'cycles_per_px': perf['ii_cycles_per_frame'] / (fh * fw), 'mpix': perf['mpixel_per_s'],
                   'bottleneck': perf['bottleneck'], 'mpix_token': tok['mpixel_per_s'], 'token_status': tok['status'],
                   'util': {k: rep['parts'][k]['utilization_pct'] for k in PARTS},
                   'fits': {k: rep['parts'][k]['fits'] for k in PARTS},
                   'dsp_bound_layers': sorted(design['folding'].get('mult_impl') or {}),
                   'lut_per_lane': tot['lut_per_binary_lane'], 'lanes': tot['binary_lanes'],
                   'lower_s': round(t_lower, 1), 'report_s': round(t_report, 1), 'swath': rep['swath']}
            rows.append(row)
            print(json.dumps(row), flush=True)
    timing = None
    if a.csim:
        first = max((r for r in rows if r['C'] == rows[0]['C']),
                    key=lambda r: int(r['frame'].split('x')[0]) * int(r['frame'].split('x')[1]))
        folder = out / f'C{first["C"]}_{first["frame"]}'
        timing = {'C': first['C'], 'frame': first['frame'],
                  **_csim_time(folder, json.loads((folder / 'design.json').read_text()))}
    print(f'\nhardware-profile {display_name({"arch": a.arch})}, {a.bands} bands (core {rows[0]["core_bands"]}), {a.blocks} blocks'
          f'{f", attention per {a.attention_rows}-line block (H8)" if a.attention_rows else ""}'
          f'{f", MSFE branches {a.msfe_widths} channels (H9)" if widths else ""}, lowered with '
          f'"{rows[0]["policy"]}" at {a.clock:.0f} MHz (generated, not synthesised; analytical model)')
    parts = list(PARTS)
    head = ''.join(f'{k + " LUT/FF/BRAM/DSP %":>28}' for k in parts)
    print(f'{"C":>3} {"frame":>8} {"cyc/px":>7} {"Mpix/s":>7} {"tok Mpix/s":>10} {"LUT/lane":>8}{head}  design')
    for r in rows:
        util = ''.join(f'{_util(r["util"][k]):>24}{" ok" if r["fits"][k] else " NO":>4}' for k in parts)
        tok = f'{r["mpix_token"]:.3f}' if r['mpix_token'] else r['token_status']
        print(f'{r["C"]:>3} {r["frame"]:>8} {r["cycles_per_px"]:>7.2f} {r["mpix"]:>7.3f} {tok:>10} '
              f'{r["lut_per_lane"]:>8}{util}  {r["design_sha256"]}')
    for r in rows:
        if r['swath']:
            print(f'C={r["C"]} {r["frame"]}: ' + swath_text(r['swath']))
    if timing:
        print(f'\nC-simulation of the lowered C={timing["C"]} {timing["frame"]} project (adapter + core): compile '
              f'{timing["compile_s"]} s, {timing["csim_s_per_frame"]} s per frame = {timing["csim_s_per_128x128"]} s '
              'per 128 x 128 PAN pixels')
    (out / 'bench_report.json').write_text(json.dumps({'rows': rows, 'csim': timing}, indent=1))
    print(f'(lowered folders under {out})')


if __name__ == '__main__':
    main()
