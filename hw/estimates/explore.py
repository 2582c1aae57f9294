"""Design-space exploration: reuse factor (and hidden width C) against throughput and resources.

For every hidden width the design is a lowered design.json: the build's own (its C), or for other
widths one the explore step (build_flows.steps) exports and lowers from an untrained
hardware-profile model of the same configuration (the structure, shapes and types do not depend on
the trained weights except through the bounds-derived accumulator widths, a few bits). Every
point is a folding target T in cycles per PAN pixel, evaluated by the analytical model
(:mod:`hw.estimates.analytical`): each conv takes the largest hls4ml-valid reuse factor that keeps it within
T (balanced folding, as FINN's SetFolding does for PE/SIMD). The fastest point that fits the
chosen part is picked. Outputs: explore.json, explore.md, explore.png.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from hw.estimates.analytical import CONV_CLASSES, bind_multipliers, dsp_bindable, estimate
from hw.parts import DEFAULT_CLOCK_MHZ, DEFAULT_PART, PARTS, get_part, part_fit
from quant_models.common import HsbinetError, atomic_write, atomic_write_text

# targets in cycles per PAN pixel (balanced folding, see hw.estimates.analytical.estimate): every
# integer up to 32 (a line-rate target such as 8.6 Mpixel/s at 200 MHz, <= 23.25 cycles/px, falls
# between the powers of two), then about x1.5 steps
DEFAULT_TARGETS = tuple(range(1, 33)) + (40, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048)


MULTIPLIER_POLICIES = ('auto', 'dsp', 'fabric')


def multiplier_variants(design: dict, multipliers: str = 'auto') -> list[dict[str, str]]:
    """The ``mult_impl`` maps ({layer: 'dsp'}) a plan may choose among under ``multipliers``:
    ``fabric`` = the tool's own binding (none forced), ``dsp`` = every
    :func:`~hw.estimates.analytical.dsp_bindable` layer on DSP48s, ``auto`` = both, the folding
    policy picks (a DSP-bound design uses fewer LUTs at the same speed, so it wins whenever it fits)."""
    if multipliers not in MULTIPLIER_POLICIES:
        raise HsbinetError('Unknown multiplier binding', key='hw.multipliers', expected=' | '.join(MULTIPLIER_POLICIES),
                           found=repr(multipliers))
    dsp = {lay['name']: 'dsp' for lay in design['layers'] if dsp_bindable(lay)}
    return {'fabric': [{}], 'dsp': [dsp], 'auto': [dsp, {}] if dsp else [{}]}[multipliers]


def bound(design: dict, mult_impl: dict[str, str]) -> dict:
    """``design`` with the multiplier binding ``mult_impl`` ({layer: 'dsp'}) in its layers' attrs."""
    return bind_multipliers(design, [k for k, v in mult_impl.items() if v == 'dsp']) if mult_impl else design


def sweep(design: dict, clock_mhz: float, targets=DEFAULT_TARGETS, hidden: int | None = None,
          multipliers: str = 'auto') -> list[dict]:
    """One analytical point per folding target (cycles per PAN pixel) and multiplier binding
    (:func:`multiplier_variants`), with the fit on every part; a point's ``mult_impl`` is its binding."""
    points = []
    for impl, t in ((impl, t) for impl in multiplier_variants(design, multipliers) for t in targets):
        e = estimate(bound(design, impl), t, clock_mhz)
        fits = {k: part_fit(e['total'], p) for k, p in PARTS.items()}
        reuse = {lay['name']: lay['reuse'] for lay in e['layers'] if lay['cls'] in CONV_CLASSES}
        points.append({'hidden': hidden, 'target_cycles_per_px': t, 'reuse': reuse, 'mult_impl': impl,
                       'performance': e['performance'],
                       'total': e['total'], 'fits': {k: f['fits'] for k, f in fits.items()},
                       'utilization_pct': {k: f['utilization_pct'] for k, f in fits.items()}})
    return points


def fastest_fit(points: list[dict], part_key: str) -> dict | None:
    """The point with the highest throughput that fits ``part_key`` (fewest LUTs on a tie)."""
    ok = [p for p in points if p['fits'][part_key]]
    return max(ok, key=lambda p: (p['performance']['mpixel_per_s'], -p['total']['lut'])) if ok else None


def explore(designs: dict[int, dict], out_dir: str | Path, part: str = DEFAULT_PART,
            clock_mhz: float = DEFAULT_CLOCK_MHZ, targets: tuple[int, ...] = DEFAULT_TARGETS,
            log: Callable[[str], None] = print) -> dict:
    """Sweep (C, folding target) over ``designs`` (hidden width C -> design.json dict, lowered by the
    lower step; the explore step lowers the other widths); returns the result and writes explore.*."""
    target = get_part(part)
    t0 = time.time()
    design = next(iter(designs.values()))
    points = []
    for c, d in sorted(designs.items()):
        points += sweep(d, clock_mhz, targets, hidden=c)
        log(f'C={c}: {len(targets)} folding targets evaluated')
    best = fastest_fit(points, target.key)
    res = {'part': target.key, 'clock_mhz': clock_mhz, 'frame': design['frame'], 'points': points, 'best': best,
           'seconds': round(time.time() - t0, 2), 'source': 'analytical'}
    _write(res, Path(out_dir))
    log(format_explore(res))
    return res


def _binding(point: dict) -> str:
    n = len(point.get('mult_impl') or {})
    return f'{n} layers bound to DSP48' if n else "the tool's binding"


def format_explore(res: dict) -> str:
    b = res['best']
    lines = [f'exploration ({len(res["points"])} points, {res["seconds"]:.1f} s, analytical) for {res["part"]} at '
             f'{res["clock_mhz"]:.0f} MHz']
    if b is None:
        lines.append(f'  no design point fits {res["part"]}')
    else:
        u = b['utilization_pct'][res['part']]
        lines.append(f'  fastest that fits: C={b["hidden"]}, {b["target_cycles_per_px"]} cycles/px (reuse up to '
                     f'{max(b["reuse"].values())}, multipliers {_binding(b)}, bottleneck {b["performance"]["bottleneck"]}): {b["performance"]["mpixel_per_s"]:.3f} '
                     f'Mpixel/s ({b["performance"]["frames_per_s"]:,.1f} frames/s), LUT {u["lut"]:.1f} %, '
                     f'BRAM {u["bram36"]:.1f} %, DSP {u["dsp"]:.1f} %')
    return '\n'.join(lines)


def _write(res: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    out.mkdir(parents=True, exist_ok=True)
    md = [f'# Design-space exploration ({res["part"]}, {res["clock_mhz"]:.0f} MHz, source: analytical)', '',
          '| C | cycles/px target | max reuse | products on DSP48 | Mpixel/s | frames/s | LUT | BRAM36 | DSP | '
          + ' | '.join(f'fits {k}' for k in PARTS) + ' |',
          '|---|---|---|---|---|---|---|---|---|' + '---|' * len(PARTS)]
    for p in res['points']:
        md.append(f'| {p["hidden"]} | {p["target_cycles_per_px"]} | {max(p["reuse"].values())} | '
                  f'{_binding(p)} | {p["performance"]["mpixel_per_s"]:.3f} | '
                  f'{p["performance"]["frames_per_s"]:,.1f} | {p["total"]["lut"]:,} | {p["total"]["bram36"]:,} | '
                  f'{p["total"]["dsp"]:,} | ' + ' | '.join('yes' if p['fits'][k] else 'no' for k in PARTS) + ' |')
    md += ['', format_explore(res)]
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.8))
    for c, dsp in sorted({(p['hidden'], bool(p.get('mult_impl'))) for p in res['points']}, key=str):
        pts = [p for p in res['points'] if p['hidden'] == c and bool(p.get('mult_impl')) == dsp]
        for a, key in ((ax[0], 'lut'), (ax[1], 'bram36')):
            a.plot([p['total'][key] for p in pts], [p['performance']['mpixel_per_s'] for p in pts], 'o-' if dsp else 's--',
                   label=f'C={c}' + (', int products on DSP48' if dsp else ''))
    y_low = min(p['performance']['mpixel_per_s'] for p in res['points'])
    for a, key, label in ((ax[0], 'lut', 'LUT'), (ax[1], 'bram36', 'BRAM36')):
        for k, part in PARTS.items():
            a.axvline(getattr(part, key), ls='--', lw=1, color='k' if k == res['part'] else 'gray')
            a.text(getattr(part, key), y_low, f' {k}', rotation=90, fontsize=7, va='bottom')
        a.set_xscale('log')
        a.set_yscale('log')
        a.set_xlabel(f'{label} (analytical)')
        a.set_ylabel('throughput (Mpixel/s of PAN)')
        a.legend(fontsize=8)
    if res['best']:
        for a, key in ((ax[0], 'lut'), (ax[1], 'bram36')):
            a.plot([res['best']['total'][key]], [res['best']['performance']['mpixel_per_s']], '*', ms=16, color='gold',
                   mec='k', label='fastest that fits')
    fig.suptitle(f'{res["frame"]["height"]}x{res["frame"]["width"]} PAN, {res["frame"]["bands"]} bands, '
                 f'{res["clock_mhz"]:.0f} MHz; dashed: part limits', fontsize=10)
    fig.tight_layout()
    atomic_write_text(out / 'explore.json', json.dumps(res, indent=1))
    atomic_write_text(out / 'explore.md', '\n'.join(md) + '\n')
    atomic_write(out / 'explore.png', lambda p: fig.savefig(p, dpi=110, format='png'))
    plt.close(fig)
