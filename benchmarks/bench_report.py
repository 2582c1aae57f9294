"""Headline table: hardware-profile HS-BiNet on a part at a clock: the highest throughput that fits.

For each hidden width C and PAN frame size, an untrained hardware-profile model (191 bands,
ratio 4, 2 blocks) is exported and converted by hls4ml (structure and types as the trained
model's), then the folding sweep of ``hsbinet explore`` picks the fastest design that fits
the part; its throughput (Mpixel/s of PAN) and utilisation are printed, with the wall time of the
report and of the exploration. All resource figures are analytical (docs/resources.md).

    python benchmarks/bench_report.py [--part XQRKU060] [--clock 200] [--hidden 32,64] [--frames 32,64] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from build_flows.steps import design_of
from hw.estimates.explore import explore
from hw.estimates.report import build_report
from hw.parts import DEFAULT_CLOCK_MHZ
from quant_models.hsbinet import HSBiNetConfig, build_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--part', default='XQRKU060')
    p.add_argument('--clock', type=float, default=DEFAULT_CLOCK_MHZ)
    p.add_argument('--bands', type=int, default=191)
    p.add_argument('--hidden', default='32,64')
    p.add_argument('--frames', default='32,64', help='PAN frame sizes (square)')
    p.add_argument('--out', default=None)
    a = p.parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix='hsbinet_bench_report_'))
    quiet = lambda s: None  # noqa: E731
    rows = []
    for c in [int(x) for x in a.hidden.split(',')]:
        for f in [int(x) for x in a.frames.split(',')]:
            d = out / f'C{c}_P{f}'
            d.mkdir(parents=True, exist_ok=True)
            t = time.time()
            torch.manual_seed(0)
            model = build_model(HSBiNetConfig(bands=a.bands, hidden=c, blocks=2, profile='hardware')).eval()
            design = design_of(model, (f, f))
            (d / 'design.json').write_text(json.dumps(design, indent=1))
            t_design = time.time() - t
            t = time.time()
            build_report(d, part=a.part, clock_mhz=a.clock, log=quiet)
            t_report = time.time() - t
            t = time.time()
            res = explore({c: design}, d, part=a.part, clock_mhz=a.clock, log=quiet)
            t_explore = time.time() - t
            b = res['best']
            row = {'C': c, 'frame': f, 'design_s': t_design, 'report_s': t_report, 'explore_s': t_explore,
                   'points': len(res['points'])}
            if b:
                u = b['utilization_pct'][res['part']]
                row.update(reuse=max(b['reuse'].values()), target=b['target_cycles_per_px'], mpix=b['performance']['mpixel_per_s'], fps=b['performance']['frames_per_s'],
                           latency_us=b['performance']['latency_us'], bottleneck=b['performance']['bottleneck'],
                           lut=u['lut'], ff=u['ff'], bram=u['bram36'], dsp=u['dsp'])
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f'\nhardware-profile HS-BiNet, {a.bands} bands, 2 blocks, {a.part} at {a.clock:.0f} MHz: fastest design that '
          'fits (analytical)')
    print(f'{"C":>3} {"frame":>6} {"cyc/px":>6} {"Mpix/s":>9} {"frames/s":>10} {"lat us":>8} {"LUT%":>6} {"FF%":>6} '
          f'{"BRAM%":>6} {"DSP%":>6} {"report s":>9} {"explore s":>10}')
    for r in rows:
        if 'mpix' not in r:
            print(f'{r["C"]:>3} {r["frame"]:>6}   no design point fits')
            continue
        print(f'{r["C"]:>3} {r["frame"]:>6} {r["target"]:>6} {r["mpix"]:>9.3f} {r["fps"]:>10,.1f} {r["latency_us"]:>8.1f} '
              f'{r["lut"]:>6.1f} {r["ff"]:>6.1f} {r["bram"]:>6.1f} {r["dsp"]:>6.1f} {r["report_s"]:>9.2f} {r["explore_s"]:>10.2f}')
    (out / 'bench_report.json').write_text(json.dumps(rows, indent=1))
    print(f'(design.json per point: conversion {min(r["design_s"] for r in rows):.0f}-{max(r["design_s"] for r in rows):.0f} s; '
          f'folders under {out})')


if __name__ == '__main__':
    main()
