"""The folding and FIFO depths a design is lowered with: chosen from a target, written into the
project by the lower step (:func:`hw.hls.lower.lower_project`), so that the design that is verified
and reported is the folded one.

:func:`plan_folding` takes the design description of a first, unfolded conversion and returns::

    {"reuse": {hls4ml conv layer: ReuseFactor}, "strategy": {layer: "latency" | "resource"},
     "fifo_depths": {"producer -> consumer": depth in stream words (pixels)},
     "target_cycles_per_px": T, "policy": what chose T, "fits": {part: bool}, "source": "analytical"}

The folding is balanced (every conv takes the largest hls4ml-valid reuse factor within T cycles
per PAN pixel, :func:`hw.estimates.analytical.estimate`); the FIFO depths are the analytical
branch-balancing plan for that folding (the earlier input of every Merge/Concatenate buffers the
path skew). Policies: the fastest folding that fits ``part`` (default), or, with ``target_mpx``,
the cheapest (fewest LUTs) folding that fits and reaches ``target_mpx`` Mpixel/s of PAN
(falling back to the fastest that fits, said in ``policy``). Reuse factor 1 keeps hls4ml's
Latency strategy; a larger one uses its Resource strategy.
"""

from __future__ import annotations

import json
from pathlib import Path

from hw.estimates.analytical import CONV_CLASSES, estimate
from hw.estimates.explore import DEFAULT_TARGETS, fastest_fit, sweep
from hw.parts import DEFAULT_CLOCK_MHZ, DEFAULT_PART, get_part
from quant_models.common import HsbinetError


def _plan(design: dict, reuse: dict[str, int], clock_mhz: float, target: int | None, policy: str, fits: dict) -> dict:
    return {'reuse': reuse, 'strategy': {k: 'resource' if r > 1 else 'latency' for k, r in reuse.items()},
            'target_cycles_per_px': target, 'policy': policy, 'fits': fits, 'clock_mhz': clock_mhz,
            **_fifo_and_performance(design, reuse, clock_mhz), 'source': 'analytical'}


def _fifo_and_performance(design: dict, reuse: dict[str, int], clock_mhz: float) -> dict:
    e = estimate(design, reuse, clock_mhz)
    return {'fifo_depths': {m['layer']: int(m['depth']) for m in e['fifos']}, 'performance': e['performance']}


def replan_fifos(design: dict, plan: dict) -> dict:
    """``plan`` with its FIFO depths (and performance) planned again on ``design``: the lower step
    chooses the folding on a first conversion and plans the streams of the conversion it writes,
    whose layer graph can differ (hls4ml merges a Quant into its producer depending on types)."""
    return {**plan, **_fifo_and_performance(design, plan['reuse'], plan['clock_mhz'])}


def plan_folding(design: dict, part: str = DEFAULT_PART, clock_mhz: float = DEFAULT_CLOCK_MHZ,
                 target_mpx: float | None = None) -> dict:
    """The folding plan for ``design`` on ``part`` at ``clock_mhz`` (see the module docstring)."""
    key = get_part(part).key
    points = sweep(design, clock_mhz, DEFAULT_TARGETS)
    best = fastest_fit(points, key)
    policy = f'fastest folding that fits {key}'
    if target_mpx is not None and best is not None:
        ok = [p for p in points if p['fits'][key] and p['performance']['mpixel_per_s'] >= target_mpx]
        if ok:
            best = min(ok, key=lambda p: (p['total']['lut'], -p['performance']['mpixel_per_s']))
            policy = f'fewest LUTs at >= {target_mpx:g} Mpixel/s on {key}'
        else:
            policy += f' (no folding reaches {target_mpx:g} Mpixel/s on {key})'
    if best is None:  # nothing fits: the most folded point, reported as not fitting
        best = max(points, key=lambda p: p['target_cycles_per_px'])
        policy = f'most folded point (no folding fits {key})'
    return _plan(design, best['reuse'], clock_mhz, best['target_cycles_per_px'], policy, best['fits'])


def unfolded(design: dict, clock_mhz: float = DEFAULT_CLOCK_MHZ) -> dict:
    """Reuse 1 everywhere (hls4ml's Latency strategy) with the branch-balancing FIFO depths."""
    reuse = {lay['name']: 1 for lay in design['layers'] if lay['class'] in CONV_CLASSES}
    return _plan(design, reuse, clock_mhz, None, 'unfolded (reuse 1)', {})


def folding_from_file(design: dict, path: str | Path, clock_mhz: float = DEFAULT_CLOCK_MHZ) -> dict:
    """A folding file: ``{"reuse": {layer: R}}`` (e.g. folding.json of a lowered build), or the
    ``explore.json`` of ``hsbinet explore`` (its fastest point that fits); FIFO depths re-planned."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise HsbinetError('Unreadable folding file', file=str(path), found=str(e)) from None
    reuse = (data.get('best') or {}).get('reuse') if 'points' in data else data.get('reuse')
    convs = {lay['name'] for lay in design['layers'] if lay['class'] in CONV_CLASSES}
    if not isinstance(reuse, dict) or not reuse or set(reuse) - convs:
        raise HsbinetError('Folding file does not fit this design', file=str(path), key='reuse',
                           expected='a map of this design\'s conv layers to reuse factors: ' + ', '.join(sorted(convs)),
                           found=', '.join(sorted(set(reuse or {}) - convs)) or repr(reuse))
    return _plan(design, {k: int(v) for k, v in reuse.items()}, clock_mhz, data.get('target_cycles_per_px'),
                 f'from {path.name}', {})
