"""Resource and latency report of a lowered design against FPGA parts.

``build_report(build_dir)`` reads the build folder's ``design.json`` (written by lowering; made
from ``final.onnx`` when missing), runs the analytical model (:mod:`hw.estimates.analytical`) and
the token simulation of its stream graph (:mod:`hw.estimates.stream_sim`, figures in
``performance.token_simulated``; not run, and said so, above its step limit), adds FINN's
estimates of the same convolutions when ``finn_estimates.json`` exists (``--finn`` runs FINN to
make it) and the vendor reports when Vitis HLS / Vivado left some (:mod:`hw.vendor_flow.reports`), and
checks the totals against each part (:mod:`hw.parts`). Every figure carries its source:
``analytical``, ``token simulation``, ``finn estimate`` or the vendor report's own label.

Writes ``report.json``, ``report.md`` and ``report.png`` (per-layer LUT / BRAM bars and the
utilisation of every part) into the output folder, atomically.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

from hw.estimates.analytical import CONV_CLASSES, closest_valid_reuse, estimate, layer_estimate
from hw.design import find_in_build, load_design
from hw.estimates.explore import fastest_fit, sweep
from hw.estimates.stream_sim import simulate
from hw.estimates.swath import plan_swath, swath_text
from hw.parts import DEFAULT_CLOCK_MHZ, DEFAULT_PART, PARTS, get_part, part_fit
from quant_models.common import atomic_write, atomic_write_text
from quant_models.common import HsbinetError


def finn_cross_check(design: dict, finn: dict) -> list[dict]:
    """Per conv: FINN's MVAU estimate next to the analytical model at the same parallelism.

    FINN folds a conv as PE x SIMD products per cycle; the analytical model is evaluated at the
    hls4ml reuse factor giving the same number of parallel products (closest valid one).
    """
    by_onnx = {lay['onnx_node']: lay for lay in design['layers'] if lay['class'] in CONV_CLASSES}  # design.json provenance
    rows = []
    for f in finn.get('layers', []):
        if not f['op_type'].startswith('MVAU'):
            continue
        src = next((s for s in f.get('source_nodes', []) if s in by_onnx), None)
        if src is None:
            continue
        lay = by_onnx[src]
        a = lay['attrs']
        products = int(a['filt_height']) * int(a['filt_width']) * int(a['n_chan']) * int(a['n_filt'])
        pe, simd = int(f.get('folding', {}).get('PE', 1)), int(f.get('folding', {}).get('SIMD', 1))
        reuse = closest_valid_reuse(lay, max(1, products // (pe * simd)))
        ours = layer_estimate(lay, reuse)
        rows.append({'conv': src, 'finn_layer': f['name'], 'pe': pe, 'simd': simd, 'reuse': reuse,
                     'finn_cycles': f.get('cycles'), 'analytical_cycles': ours.cycles_per_frame,
                     'finn_lut': f.get('LUT'), 'analytical_lut': round(ours.lut + sum(m.lut for m in ours.memories)),
                     'finn_bram36': (f.get('BRAM_18K') or 0) / 2,
                     'analytical_bram36': sum(m.bram36 for m in ours.memories),
                     'finn_dsp': f.get('DSP'), 'analytical_dsp': ours.dsp})
    return rows


def binary_lanes(layers: list[dict]) -> dict:
    """XNOR-popcount lanes of the binary convs (1-bit products per cycle: n_in * n_out / reuse) and
    the LUTs each costs, the layer's weight memory and line buffer included (for scale: FINN's
    BNN-PYNQ designs spend 4.8 (LFC) to 13.5 (CNV) LUT per XNOR lane, all logic included)."""
    rows = [lay for lay in layers if lay['kind'].startswith('binary conv')]
    lanes = sum(-(-lay['weight_bits'] // lay['reuse']) for lay in rows)
    lut = sum(lay['lut_total'] for lay in rows)
    return {'binary_lanes': int(lanes), 'lut_per_binary_lane': round(lut / lanes, 2) if lanes else None}


def _token_simulated(design: dict, reuse, clock_mhz: float) -> dict:
    """Frame interval (cycles), throughput (Mpixel/s of PAN), latency (cycles) and deadlock of the
    token simulation of ``design`` as lowered (or at ``reuse``); None where it was not simulated."""
    sim = simulate(design, reuse)
    interval = sim['frame_interval_cycles']
    frame_px = design['frame']['height'] * design['frame']['width']
    return {'frame_interval_cycles': interval,
            'mpixel_per_s': None if interval is None else clock_mhz * frame_px / interval,
            'latency_cycles': sim['latency_cycles'], 'deadlock': sim['deadlock'], 'status': sim['status'],
            'frames': sim['frames'], 'blocked': sim.get('blocked'), 'full_fifos': sim.get('full_fifos'),
            'source': sim['source']}


def build_report(build_dir: str | Path, part: str = DEFAULT_PART, clock_mhz: float = DEFAULT_CLOCK_MHZ, reuse=None,
                 out_dir: str | Path | None = None, log: Callable[[str], None] = print,
                 swath_width: int | None = None, line_rate_hz: float | None = None) -> dict:
    """The report dict (also written as report.json/.md/.png into ``out_dir`` or ``build_dir``) of the
    lowered design in ``build_dir``; FINN's estimates (``finn_estimates.json`` of the finn step) and
    vendor reports found there are added with their own source labels. ``swath_width`` (PAN
    columns) adds how the frame design covers a pushbroom swath (:mod:`hw.estimates.swath`), with
    a verdict against ``line_rate_hz`` (lines/s) when given."""
    if not clock_mhz or clock_mhz <= 0:
        raise HsbinetError('Bad clock', key='--clock', expected='a frequency in MHz > 0', found=repr(clock_mhz))
    main_part = get_part(part)
    build_dir = Path(build_dir)
    design, design_path = load_design(build_dir)
    est = estimate(design, reuse, clock_mhz)
    parts = [main_part] + [p for p in PARTS.values() if p.key != main_part.key]
    report = {
        'build': str(build_dir), 'design': str(design_path), 'design_sha256': design['sha256'], 'part': main_part.key, 'clock_mhz': clock_mhz,
        'frame': design['frame'],
        'performance': {**est['performance'], 'source': 'analytical',
                        'token_simulated': _token_simulated(design, reuse, clock_mhz)},
        'total': {**est['total'], **binary_lanes(est['layers']), 'source': 'analytical'},
        'parts': {p.key: part_fit(est['total'], p) for p in parts},
        'layers': est['layers'], 'fifos': est['fifos'],
        'fifo_policy': ('depths written by the lower step (branch-balancing rules, refined by the token simulation '
                        'where the frame is small enough; fifo_notes in folding.json); hls4ml writes '
                        f'one full frame per stream by default: {est["hls4ml_default_fifo_bits"] / 1e6:.2f} Mbit'),
        'hls4ml_default_fifo_bits': est['hls4ml_default_fifo_bits'],
        'finn': None, 'vendor': None,
    }
    best = fastest_fit(sweep(design, clock_mhz), main_part.key)
    report['fastest_fit'] = None if best is None else {
        'part': main_part.key, 'target_cycles_per_px': best['target_cycles_per_px'], 'reuse': best['reuse'],
        'performance': best['performance'], 'total': best['total'],
        'utilization_pct': best['utilization_pct'][main_part.key], 'source': 'analytical',
        'status': 'hypothesis: not lowered, generated or C-simulated'}
    if best is not None and report['parts'][main_part.key]['fits'] and \
            est['performance']['mpixel_per_s'] >= best['performance']['mpixel_per_s'] * (1 - 1e-9):
        # the sweep finds nothing faster that fits: the lowered design is the answer, not a hypothesis
        report['fastest_fit']['status'] = 'the lowered design: the sweep finds no faster folding that fits'
    report['folding'] = design.get('folding')
    report['swath'] = None if not swath_width else {
        **plan_swath(design, est['performance']['frames_per_s'], swath_width, line_rate_hz), 'source': 'analytical'}
    modules = {lay['name']: lay.get('module') for lay in design['layers']}
    for lay in report['layers']:
        lay['module'] = modules.get(lay['name'])
    finn_json = find_in_build(build_dir, 'finn_estimates.json')
    if finn_json is not None:
        fe = json.loads(finn_json.read_text())
        report['finn'] = {'source': 'finn estimate', 'file': str(finn_json), 'total': fe.get('total'),
                          'cross_check': finn_cross_check(design, fe),
                          'not_converted': [n.get('op_type') for n in fe.get('not_converted', [])]}
    from hw.vendor_flow.reports import find_vendor_reports
    vendor = find_vendor_reports(build_dir)
    if vendor is not None:
        report['vendor'] = vendor
    write_report(report, Path(out_dir) if out_dir else build_dir)
    log(format_report(report))
    return report


def format_report(r: dict) -> str:
    """Console summary: performance, totals, the fit table."""
    p, t = r['performance'], r['total']
    f = r.get('folding')
    lines = [f'resource/latency report of design {r["design_sha256"][:16]} as lowered ({p["frame"][0]}x{p["frame"][1]} '
             f'PAN px per frame, {r["frame"]["bands"]} bands, {r["clock_mhz"]:.0f} MHz; source: analytical)',
             f'  folding: {f["policy"] + ", reuse up to " + str(max(f["reuse"].values())) if f else "as hls4ml wrote it"}; '
             f'FIFO depths {"as planned and written" if f else "hls4ml defaults (one frame per stream)"}',
             f'  frame interval {p["ii_cycles_per_frame"]:,} cycles (bottleneck {p["bottleneck"]}), latency '
             f'{p["latency_cycles"]:,} cycles = {p["latency_us"]:.1f} us',
             f'  throughput {p["frames_per_s"]:,.1f} frames/s = {p["mpixel_per_s"]:.3f} Mpixel/s (PAN); source: analytical',
             f'  stream graph: {_token_text(p["token_simulated"])}; source: token simulation',
             f'  LUT {t["lut"]:,}  FF {t["ff"]:,}  BRAM36 {t["bram36"]:,}  DSP {t["dsp"]:,}  weights '
             f'{t["weight_bits"]:,} bit  FIFOs {t["fifo_bits"]:,} bit',
             f'  binary convs: {t["binary_lanes"]:,} XNOR lanes, {t["lut_per_binary_lane"]} LUT per lane '
             '(weights and line buffers included)',
             f'  {"part":<10}{"LUT %":>9}{"FF %":>9}{"BRAM %":>9}{"DSP %":>9}  fits']
    for k, f in r['parts'].items():
        u = f['utilization_pct']
        lines.append(f'  {k:<10}{u["lut"]:>9.1f}{u["ff"]:>9.1f}{u["bram36"]:>9.1f}{u["dsp"]:>9.1f}  '
                     f'{"yes" if f["fits"] else "NO (" + f["limiting"] + ")"}')
    b = r.get('fastest_fit')
    if b and b['status'].startswith('the lowered design'):
        lines.append(f'  fastest folding that fits {b["part"]}: {b["status"]} (analytical sweep; hsbinet explore)')
    elif b:
        u = b['utilization_pct']
        lines.append(f'  hypothesis (not lowered): fastest folding that fits {b["part"]}: {b["target_cycles_per_px"]} cycles/px '
                     f'(reuse up to {max(b["reuse"].values())}): {b["performance"]["mpixel_per_s"]:.3f} Mpixel/s, '
                     f'LUT {u["lut"]:.1f} %, BRAM {u["bram36"]:.1f} %, DSP {u["dsp"]:.1f} %  (hsbinet explore for the sweep; '
                     '`hsbinet lower --folding` to build it)')
    elif 'fastest_fit' in r:
        lines.append(f'  no folding of this design fits {r["part"]}')
    if r.get('swath'):
        lines.append('  ' + swath_text(r['swath']))
    if r.get('vendor'):
        lines.append(f'  vendor report found: {r["vendor"]["source"]} ({len(r["vendor"]["files"])} files)')
    if r.get('finn'):
        lines.append(f'  FINN cross-check: {len(r["finn"]["cross_check"])} convolutions (report.md)')
    return '\n'.join(lines)


def _token_text(s: dict) -> str:
    """The token simulation's figures in words, or why there are none."""
    if s['frame_interval_cycles'] is not None:
        return (f'frame interval {s["frame_interval_cycles"]:,} cycles = {s["mpixel_per_s"]:.3f} Mpixel/s (PAN), latency '
                f'{s["latency_cycles"]:,} cycles ({s["frames"]} frames simulated)')
    if s['deadlock']:
        return f'DEADLOCK ({len(s["blocked"])} layers blocked), full FIFOs: ' + ', '.join(s['full_fifos'])
    return f'{s["status"]} (no simulated figure)'


def _markdown(r: dict) -> str:
    p, t = r['performance'], r['total']
    md = ['# Resource and latency report', '',
          f'Design: `{r["design"]}`; frame {p["frame"][0]}x{p["frame"][1]} PAN pixels, {r["frame"]["bands"]} bands; '
          f'clock {r["clock_mhz"]:.0f} MHz. Source of every figure below: **analytical** model '
          '(docs/resources.md) unless the column says otherwise.', '',
          '## Performance', '', '| figure | value | source |', '|---|---|---|',
          f'| frame interval (II) | {p["ii_cycles_per_frame"]:,} cycles | analytical |',
          f'| bottleneck layer | {p["bottleneck"]} | analytical |',
          f'| latency | {p["latency_cycles"]:,} cycles = {p["latency_us"]:.1f} us | analytical |',
          f'| throughput | {p["frames_per_s"]:,.1f} frames/s = {p["mpixel_per_s"]:.3f} Mpixel/s | analytical |',
          f'| stream graph: frame interval, throughput, latency | {_token_text(p["token_simulated"])} | '
          'token simulation |', '']
    if r.get('swath'):
        sw = r['swath']
        md += ['## Swath', '', swath_text(sw), '', '| figure | value | source |', '|---|---|---|',
               f'| swath lines per second | {sw["lines_per_s"]:,.0f} | analytical |',
               f'| swath PAN pixels per second | {sw["mpixel_per_s"]:.3f} M | analytical |',
               f'| overlap (pixels processed per swath pixel) | {sw["overlap"]:.3f} | geometry |',
               f'| external line store | {sw["external_memory"]["line_store_bits"] / 1e6:.1f} Mbit | geometry |', '']
    md += [
          '## Parts', '', '| part | LUT | FF | BRAM36 | DSP | fits |', '|---|---|---|---|---|---|']
    for k, f in r['parts'].items():
        cells = [f'{f["used"][x]:,} / {f["available"][x]:,} ({f["utilization_pct"][x]:.1f} %)'
                 for x in ('lut', 'ff', 'bram36', 'dsp')]
        md.append(f'| {k} ({f["vendor_part"]}) | ' + ' | '.join(cells) + f' | {"yes" if f["fits"] else "**no**"} |')
    b = r.get('fastest_fit')
    if b and b['status'].startswith('the lowered design'):
        md += ['', f'Fastest folding that fits {b["part"]}: {b["status"]} (analytical sweep).']
    elif b:
        md += ['', f'Hypothesis (not lowered, generated or C-simulated): fastest folding that fits {b["part"]} (analytical): {b["target_cycles_per_px"]} cycles per PAN pixel, '
               f'{b["performance"]["mpixel_per_s"]:.3f} Mpixel/s, LUT {b["utilization_pct"]["lut"]:.1f} %, BRAM '
               f'{b["utilization_pct"]["bram36"]:.1f} %, DSP {b["utilization_pct"]["dsp"]:.1f} %; reuse factors: '
               + ', '.join(f'{k} {v}' for k, v in b['reuse'].items()) + '.']
    md += ['', f'Weight memory {t["weight_bits"]:,} bit; line/frame buffers {t["buffer_bits"]:,} bit; '
           f'FIFOs {t["fifo_bits"]:,} bit. FIFO policy: {r["fifo_policy"]}.', '',
           '## Layers', '', '| layer | PyTorch module | kind | reuse | II | cycles/frame | latency (us) | LUT | FF | BRAM36 | DSP | weight bits |',
           '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for lay in r['layers']:
        md.append(f'| {lay["name"]} | {lay.get("module") or "-"} | {lay["kind"]} | {lay["reuse"]} | {lay["ii"]} | {lay["cycles_per_frame"]:,} | '
                  f'{lay["latency_us"]:.2f} | {lay["lut_total"]:,.0f} | {lay["ff_total"]:,.0f} | {lay["bram36_total"]:g} | '
                  f'{lay["dsp"]} | {lay["weight_bits"]:,} |')
    md += ['', '## Buffers and FIFOs', '', '| where | kind | depth | width (bit) | bits | mapped to | LUT | BRAM36 | note |',
           '|---|---|---|---|---|---|---|---|---|']
    for m in [m for lay in r['layers'] for m in lay['memories'] if m['kind'] != 'weights'] + r['fifos']:
        if m['kind'] == 'FIFO' and m['depth'] <= 2:
            continue
        md.append(f'| {m["layer"]} | {m["kind"]} | {m["depth"]:,} | {m["width"]:,} | {m["bits"]:,} | {m["impl"]} | '
                  f'{m["lut"]:,.0f} | {m["bram36"]:g} | {m["note"]} |')
    small = sum(1 for m in r['fifos'] if m['depth'] <= 2)
    md.append(f'\n{small} further FIFOs between rate-matched layers have depth 2 (registers).')
    if r.get('finn'):
        md += ['', '## Cross-check against FINN (source: finn estimate)', '',
               '| conv | FINN layer | PE x SIMD | reuse | cycles FINN / analytical | LUT FINN / analytical | '
               'BRAM36 FINN / analytical | DSP FINN / analytical |', '|---|---|---|---|---|---|---|---|']
        for c in r['finn']['cross_check']:
            md.append(f'| {c["conv"]} | {c["finn_layer"]} | {c["pe"]} x {c["simd"]} | {c["reuse"]} | '
                      f'{c["finn_cycles"]:,} / {c["analytical_cycles"]:,} | {c["finn_lut"]:,} / {c["analytical_lut"]:,} | '
                      f'{c["finn_bram36"]:g} / {c["analytical_bram36"]:g} | {c["finn_dsp"]} / {c["analytical_dsp"]} |')
    if r.get('vendor'):
        v = r['vendor']
        md += ['', f'## Vendor report (source: {v["source"]})', '', '```', json.dumps(v['total'], indent=1)[:4000], '```']
    return '\n'.join(md) + '\n'


def _plot(r: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [(lay['name'], lay['lut_total'], lay['bram36_total']) for lay in r['layers']]
    rows.append(('FIFOs', sum(m['lut'] for m in r['fifos']), sum(m['bram36'] for m in r['fifos'])))
    rows = sorted(rows, key=lambda x: -x[1])[:25]
    fig, ax = plt.subplots(1, 3, figsize=(16, 0.28 * len(rows) + 2), gridspec_kw={'width_ratios': [2, 1.2, 1.6]})
    names = [x[0] for x in rows]
    ax[0].barh(names, [x[1] for x in rows], color='tab:blue')
    ax[0].set_xlabel('LUT (analytical)')
    ax[0].invert_yaxis()
    ax[1].barh(names, [x[2] for x in rows], color='tab:orange')
    ax[1].set_xlabel('BRAM36 (analytical)')
    ax[1].invert_yaxis()
    ax[1].set_yticklabels([])
    keys = ('lut', 'ff', 'bram36', 'dsp')
    parts = list(r['parts'])
    width = 0.8 / len(parts)
    for i, k in enumerate(parts):
        u = r['parts'][k]['utilization_pct']
        ax[2].bar([j + i * width for j in range(len(keys))], [u[x] for x in keys], width, label=k)
    ax[2].axhline(100, color='r', lw=1)
    ax[2].set_xticks([j + width * (len(parts) - 1) / 2 for j in range(len(keys))])
    ax[2].set_xticklabels([k.upper() for k in keys])
    ax[2].set_ylabel('utilisation %')
    ax[2].set_yscale('log')
    ax[2].legend(fontsize=8)
    p = r['performance']
    fig.suptitle(f'{p["frame"][0]}x{p["frame"][1]} PAN, {r["frame"]["bands"]} bands, {r["clock_mhz"]:.0f} MHz: '
                 f'{p["mpixel_per_s"]:.3f} Mpixel/s, latency {p["latency_us"]:.1f} us (analytical)', fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(r: dict, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    r['files'] = {'json': str(out_dir / 'report.json'), 'md': str(out_dir / 'report.md'), 'png': str(out_dir / 'report.png')}
    r['fifo_depths'] = {m['layer']: m['depth'] for m in r['fifos']}
    atomic_write_text(out_dir / 'report.md', _markdown(r))
    atomic_write_text(out_dir / 'report.json', json.dumps(r, indent=1, default=_json_default))
    atomic_write(out_dir / 'report.png', lambda p: _plot(r, p))
    return r


def _json_default(o):
    if isinstance(o, float) and math.isnan(o):
        return None
    try:
        return o.item()
    except AttributeError:
        return str(o)
