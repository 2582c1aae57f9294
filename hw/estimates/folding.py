"""The folding and FIFO depths a design is lowered with: chosen from a target, written into the
project by the lower step (:func:`hw.hls.lower.lower_project`), so that the design that is verified
and reported is the folded one.

:func:`plan_folding` takes the design description of a first, unfolded conversion and returns::

    {"reuse": {hls4ml conv layer: ReuseFactor}, "strategy": {layer: "latency" | "resource"},
     "fifo_depths": {"producer -> consumer": depth in stream words (pixels)},
     "fifo_notes": {"producer -> consumer": "rule: ..." | "token simulation: ..."},
     "target_cycles_per_px": T, "policy": what chose T, "fits": {part: bool}, "source": "analytical"}

The folding is balanced (every conv takes the largest hls4ml-valid reuse factor within T cycles
per PAN pixel, :func:`hw.estimates.analytical.estimate`); the FIFO depths are the analytical FIFO
rules for that folding (:func:`hw.estimates.analytical.fifo_rules`: skips, branch lags,
pre-buffers for the units' frame-boundary gaps), which :func:`replan_fifos` refines by token
simulation on the graph that is written (:func:`refine_fifos_by_simulation`; the plan's
``fifo_notes`` say per stream which depths came from the simulation, ``fifo_refinement`` records
the search). Policies: the fastest folding that fits ``part`` (default), or, with ``target_mpx``,
the cheapest (fewest LUTs) folding that fits and reaches ``target_mpx`` Mpixel/s of PAN
(falling back to the fastest that fits, said in ``policy``). Reuse factor 1 keeps hls4ml's
Latency strategy; a larger one uses its Resource strategy.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from hw.estimates.analytical import CONV_CLASSES, FIFO_MIN_DEPTH, FIFO_PAD, estimate, fifo_rules, layer_estimate
from hw.estimates.explore import DEFAULT_TARGETS, bound, fastest_fit, multiplier_variants, sweep
from hw.estimates.stream_sim import DEFAULT_MAX_STEPS, simulate, token_steps
from hw.estimates.stream_sim import SOURCE as SIM_SOURCE
from hw.parts import DEFAULT_CLOCK_MHZ, DEFAULT_PART, get_part
from quant_models.common import HsbinetError


def _plan(design: dict, reuse: dict[str, int], clock_mhz: float, target: int | None, policy: str, fits: dict,
          mult_impl: dict[str, str] | None = None) -> dict:
    mult_impl = dict(mult_impl or {})
    return {'reuse': reuse, 'strategy': {k: 'resource' if r > 1 else 'latency' for k, r in reuse.items()},
            'mult_impl': mult_impl, 'target_cycles_per_px': target, 'policy': policy, 'fits': fits,
            'clock_mhz': clock_mhz, **_fifo_and_performance(bound(design, mult_impl), reuse, clock_mhz),
            'source': 'analytical'}


def _fifo_and_performance(design: dict, reuse: dict[str, int], clock_mhz: float) -> dict:
    e = estimate(design, reuse, clock_mhz)
    return {'fifo_depths': {m['layer']: int(m['depth']) for m in e['fifos']},
            'fifo_notes': {m['layer']: f'rule: {m["note"]}' for m in e['fifos']}, 'performance': e['performance']}


def replan_fifos(design: dict, plan: dict, refine: bool = True) -> dict:
    """``plan`` with its FIFO depths (and performance) planned again on ``design``: the lower step
    chooses the folding on a conversion at reuse 1 and plans the streams of the conversion it writes,
    whose layer graph can differ (hls4ml merges a Quant into its producer depending on types).
    The depths are the analytical rules' (:func:`hw.estimates.analytical.fifo_rules`), refined by
    :func:`refine_fifos_by_simulation` when the design is small enough to simulate."""
    plan = {**plan, **_fifo_and_performance(bound(design, plan.get('mult_impl') or {}), plan['reuse'],
                                            plan['clock_mhz'])}
    return refine_fifos_by_simulation(design, plan) if refine else plan


# --- refinement of the FIFO depths by token simulation (docs/resources.md, "FIFO plan") ------------
REFINE_FRAMES = 4           # frames per simulation (the interval is measured between the last two)
REFINE_TOLERANCE = 0.002    # a simulated interval within this fraction of the analytical one is reached
REFINE_MARGIN = 0.1         # a refined depth keeps this fraction of its simulated need (beyond whole frames) + FIFO_PAD
REFINE_BUDGET_S = 30.0      # wall-clock budget of the search (the verification comes on top)
REFINE_MIN_SAVING = 0.01    # a FIFO is searched alone when it may save this fraction of the FIFO bits


def _core_interval(e: dict) -> int:
    """The analytical interval of the stream graph the simulation plays (no AXI4-Stream adapter)."""
    return max(int(r['cycles_per_frame']) for r in e['layers'] if r['cls'] != 'AxisAdapter')


def refine_fifos_by_simulation(design: dict, plan: dict, budget_s: float = REFINE_BUDGET_S,
                               frames: int = REFINE_FRAMES, max_steps: int = DEFAULT_MAX_STEPS) -> dict:
    """``plan`` with the FIFO depths the token simulation (:mod:`hw.estimates.stream_sim`) finds
    enough for the analytical interval, when ``design`` is small enough to simulate (``max_steps``):

    1. the plan's depths (normally the rules') are simulated; if they miss the interval, they are
       raised to the rules' depths, then the non-minimal ones by x1.5 of what they hold above their
       floor (up to four times) until the interval is reached;
    2. every non-minimal FIFO is cut to what that run needed (exact: the same run results), then all of
       them are scaled down together towards their floors (bisection of one factor), then the widest
       ones (by the bits they may save) one by one, each step accepted only when the simulated
       interval stays within REFINE_TOLERANCE of the analytical one without deadlock;
    3. each searched depth keeps REFINE_MARGIN of its need beyond the whole frames it holds, plus
       FIFO_PAD tokens; the result is simulated once more (2 more frames) and kept only if it reaches
       the interval, else the last depths that did are kept.

    ``fifo_notes`` says for every stream whether its depth comes from the simulation or from the
    rule; ``fifo_refinement`` records the search (intervals, FIFO bits, simulations, seconds)."""
    reuse = plan['reuse']
    e = estimate(design, reuse)
    target = _core_interval(e)
    by_rule = {m['layer']: int(m['depth']) for m in e['fifos']}
    rule = {k: int(plan['fifo_depths'].get(k, v)) for k, v in by_rule.items()}
    rule_note = {m['layer']: m['note'] if rule[m['layer']] == m['depth'] else 'as planned' for m in e['fifos']}
    width = {m['layer']: int(m['width']) for m in e['fifos']}
    floor = _floors(design, reuse)
    notes = {k: f'rule: {v}' for k, v in rule_note.items()}
    bits = lambda d: int(sum(d[k] * width[k] for k in d))  # noqa: E731
    summary = {'target_cycles': target, 'frames': frames, 'fifo_bits_rule': bits(rule), 'source': SIM_SOURCE}
    steps = token_steps(design, frames + 2)
    if steps > max_steps:
        summary['status'] = f'not run: {steps:,} token steps exceed the limit of {max_steps:,}; depths from the rules'
        return {**plan, 'fifo_notes': notes, 'fifo_refinement': summary}
    t0, sims = time.monotonic(), [0]

    def run(d: dict, n: int = frames) -> tuple[bool, dict]:
        sims[0] += 1
        r = simulate(design, reuse, depths=d, frames=n, max_steps=max_steps)
        return (not r['deadlock'] and r['frame_interval_cycles'] is not None
                and r['frame_interval_cycles'] <= target * (1 + REFINE_TOLERANCE)), r

    def trimmed(d: dict, r: dict) -> dict:
        return {k: (max(FIFO_MIN_DEPTH, min(v, r['fifo_need'][k])) if v > FIFO_MIN_DEPTH else v) for k, v in d.items()}

    cur = dict(rule)
    ok, r = run(cur)
    summary['interval_rule'] = r['frame_interval_cycles']
    for step in range(5):  # 1. up where the interval is lost: the rules' depths first, then x1.5
        if ok:
            break
        if step == 0 and any(by_rule[k] > v for k, v in cur.items()):
            cur = {k: max(v, by_rule[k]) for k, v in cur.items()}
        else:
            cur = {k: (floor[k] + math.ceil((v - floor[k]) * 1.5) + FIFO_PAD if v > FIFO_MIN_DEPTH else v)
                   for k, v in cur.items()}
        ok, r = run(cur)
    if not ok:
        summary.update(status='interval not reached with raised depths: depths from the rules', simulations=sims[0],
                       seconds=round(time.monotonic() - t0, 1))
        return {**plan, 'fifo_notes': notes, 'fifo_refinement': summary}
    safe = dict(cur)
    cur = trimmed(cur, r)  # 2. down: what the run needed, then one common factor, then the widest alone
    wide = [k for k, v in cur.items() if v > FIFO_MIN_DEPTH and v > floor[k]]
    top, bottom = dict(cur), {k: floor[k] for k in wide}
    lo_a, hi_a = 0.0, 1.0
    for _ in range(5):
        if time.monotonic() - t0 > budget_s:
            break
        a = (lo_a + hi_a) / 2
        trial = {**cur, **{k: bottom[k] + math.ceil(a * (top[k] - bottom[k])) for k in wide}}
        good, r = run(trial)
        if good:
            hi_a, cur = a, trimmed(trial, r)
        else:
            lo_a = a
    total = max(1, bits(cur))
    for k in sorted(wide, key=lambda k: -(cur[k] - floor[k]) * width[k]):
        if time.monotonic() - t0 > budget_s or (cur[k] - floor[k]) * width[k] < REFINE_MIN_SAVING * total:
            break
        lo, hi = floor[k], cur[k]
        while hi - lo > max(1, int(0.02 * hi)) and time.monotonic() - t0 <= budget_s:
            mid = (lo + hi) // 2
            good, r = run({**cur, k: mid})
            if good:
                hi, cur = mid, trimmed({**cur, k: mid}, r)
            else:
                lo = mid + 1
    final = {}  # 3. margin, verification
    for k, v in cur.items():
        if v <= FIFO_MIN_DEPTH and rule[k] <= FIFO_MIN_DEPTH:
            final[k] = rule[k]
            continue
        held = floor[k] - FIFO_MIN_DEPTH  # whole frames
        final[k] = min(max(safe[k], rule[k]), v + math.ceil(REFINE_MARGIN * (v - held)) + FIFO_PAD)
        notes[k] = (f'token simulation: {v} needed at the analytical interval, {final[k]} with the margin '
                    f'(rule: {rule[k]}, {rule_note[k]})')
    summary['seconds_search'] = round(time.monotonic() - t0, 1)
    good, r = run(final, frames + 2)
    if not good:
        final = safe
        notes = {k: (f'token simulation: the rule\'s depth raised to {v} reaches the interval (rule: {rule[k]}, '
                     f'{rule_note[k]})' if v != rule[k] else f'rule: {rule_note[k]}') for k, v in safe.items()}
        good, r = run(final, frames + 2)
    summary.update(status='completed' if good else 'interval not reached', interval_refined=r['frame_interval_cycles'],
                   fifo_bits_refined=bits(final), simulations=sims[0], seconds=round(time.monotonic() - t0, 1),
                   from_simulation=sorted(k for k in final if notes[k].startswith('token simulation')))
    return {**plan, 'fifo_depths': final, 'fifo_notes': notes, 'fifo_refinement': summary}


def _floors(design: dict, reuse: dict) -> dict[str, int]:
    """Per stream the depth below which it stalls for sure (:func:`fifo_rules`' floor)."""
    est = {lay['name']: layer_estimate(lay, int(reuse.get(lay['name'], lay['attrs'].get('reuse_factor', 1) or 1)))
           for lay in design['layers']}
    return {k: v[2] for k, v in fifo_rules(design['layers'], est).items()}


def plan_folding(design: dict, part: str = DEFAULT_PART, clock_mhz: float = DEFAULT_CLOCK_MHZ,
                 target_mpx: float | None = None, multipliers: str = 'auto') -> dict:
    """The folding plan for ``design`` on ``part`` at ``clock_mhz`` (see the module docstring);
    ``multipliers`` (:func:`multiplier_variants`) says which multiplier bindings it may choose."""
    key = get_part(part).key
    points = sweep(design, clock_mhz, DEFAULT_TARGETS, multipliers=multipliers)
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
    if best['mult_impl']:
        policy += '; fixed-point conv products bound to DSP48'
    return _plan(design, best['reuse'], clock_mhz, best['target_cycles_per_px'], policy, best['fits'],
                 best['mult_impl'])


def unfolded(design: dict, clock_mhz: float = DEFAULT_CLOCK_MHZ, multipliers: str = 'fabric') -> dict:
    """Reuse 1 everywhere (hls4ml's Latency strategy) with the FIFO rules' depths; ``multipliers``
    ``dsp`` binds the bindable layers to DSP48s (``auto`` means the tool's binding here: there is no
    folding choice to make)."""
    reuse = {lay['name']: 1 for lay in design['layers'] if lay['class'] in CONV_CLASSES}
    return _plan(design, reuse, clock_mhz, None, 'unfolded (reuse 1)', {},
                 multiplier_variants(design, multipliers)[0] if multipliers == 'dsp' else {})


def folding_from_file(design: dict, path: str | Path, clock_mhz: float = DEFAULT_CLOCK_MHZ) -> dict:
    """A folding file: ``{"reuse": {layer: R}, "mult_impl": {layer: "dsp"}}`` (e.g. folding.json of
    a lowered build; ``mult_impl`` optional), or the ``explore.json`` of ``hsbinet explore`` (its
    fastest point that fits); FIFO depths re-planned."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise HsbinetError('Unreadable folding file', file=str(path), found=str(e)) from None
    chosen = (data.get('best') or {}) if 'points' in data else data
    reuse, mult_impl = chosen.get('reuse'), chosen.get('mult_impl') or {}
    convs = {lay['name'] for lay in design['layers'] if lay['class'] in CONV_CLASSES}
    if not isinstance(reuse, dict) or not reuse or set(reuse) - convs:
        raise HsbinetError('Folding file does not fit this design', file=str(path), key='reuse',
                           expected='a map of this design\'s conv layers to reuse factors: ' + ', '.join(sorted(convs)),
                           found=', '.join(sorted(set(reuse or {}) - convs)) or repr(reuse))
    bindable = set(multiplier_variants(design, 'dsp')[0])
    if not isinstance(mult_impl, dict) or set(mult_impl) - bindable or set(mult_impl.values()) - {'dsp'}:
        raise HsbinetError('Folding file does not fit this design', file=str(path), key='mult_impl',
                           expected='a map of DSP-bindable conv layers to "dsp": ' + (', '.join(sorted(bindable)) or 'none'),
                           found=repr(mult_impl))
    return _plan(design, {k: int(v) for k, v in reuse.items()}, clock_mhz, data.get('target_cycles_per_px'),
                 f'from {path.name}', {}, mult_impl)
