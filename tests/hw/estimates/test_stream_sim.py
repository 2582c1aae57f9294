"""Token-level simulation of the stream graph (hw/estimates/stream_sim.py).

The lowered, folded small design (``small_folded``: planned reuse factors and FIFO depths written
into the project) is simulated from its design.json; the hand-built designs below have answers
known by construction."""

import json
import math
import time

import pytest

from hw.estimates import report
from hw.estimates.analytical import FIFO_MIN_DEPTH, FIFO_PAD, estimate, fifo_rules, layer_estimate
from hw.estimates.folding import REFINE_MARGIN
from hw.estimates.stream_sim import simulate
from quant_models.common import HsbinetError
from tests.conftest import QUIET

DEEP = 10 ** 6  # tokens: a FIFO that never fills


@pytest.fixture(scope='module')
def design(small_folded):
    return json.loads((small_folded / 'design.json').read_text())


@pytest.fixture(scope='module')
def planned(design):
    """The design as lowered: the simulation with the FIFO depths written into the project."""
    return simulate(design)


def test_the_lowered_design_runs_at_the_analytical_interval(design, planned):
    e = estimate(design)
    ii = e['performance']['ii_cycles_per_frame']
    assert planned['status'] == 'completed' and planned['deadlock'] is False
    assert planned['source'] == 'token simulation'
    # Every process obeys its analytical cycles per frame, so the analytical interval (the
    # bottleneck's) is a lower bound. The FIFO plan (rules of fifo_rules, refined by simulation
    # when lowering) gives bounded FIFOs deep enough that the 3x3 / 5x5 / 7x7 branches behind one
    # Clone, whose rows take different times, no longer pace each other (docs/resources.md): the
    # simulated interval is the analytical one (the old skew x 1.125 plan lost 24 % here).
    sim = planned['frame_interval_cycles']
    assert ii <= sim <= 1.05 * ii, (sim, ii)
    assert planned['frame_end_cycles'][-1] - planned['frame_end_cycles'][-2] == sim
    # with FIFOs that never fill, the two models agree to the cycle
    deep = simulate(design, depths={m['layer']: DEEP for m in e['fifos']})
    assert deep['frame_interval_cycles'] == ii
    # the analytical latency runs every window fill at the bottleneck's rate and counts padding
    # pixels as delay: an upper bound here
    assert sim < planned['latency_cycles'] < e['performance']['latency_cycles']
    for m in e['fifos']:  # no FIFO ever held more than its depth, and every stream carried tokens
        assert 0 < planned['max_occupancy'][m['layer']] <= m['depth']
        assert planned['max_occupancy'][m['layer']] <= planned['fifo_need'][m['layer']] <= m['depth']
    assert set(planned['stalls']) == {lay['name'] for lay in design['layers']}
    # a run with every FIFO cut to what it needed is the same run
    need = simulate(design, depths={k: max(1, v) for k, v in planned['fifo_need'].items()})
    assert need['frame_end_cycles'] == planned['frame_end_cycles']


def _minimal_depth(design: dict, fifo: str, planned_depth: int, interval: int) -> int:
    """Smallest depth of ``fifo`` that keeps the planned frame interval without deadlock (binary
    search: more depth never delays a token)."""
    lo, hi = 1, planned_depth
    while lo < hi:
        mid = (lo + hi) // 2
        r = simulate(design, depths={fifo: mid})
        if not r['deadlock'] and r['frame_interval_cycles'] <= interval:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _skips(design: dict) -> list[str]:
    """The streams that hold a residual's skip: a Clone output into a Merge, or into the
    BilinearResize that upsamples the skip of the global residual on its own (LR) side."""
    by = {lay['name']: lay for lay in design['layers']}
    out = []
    for lay in design['layers']:
        if lay['class'] != 'Merge':
            continue
        for i in lay['inputs']:
            if by[i]['class'] == 'Clone':
                out.append(f'{i} -> {lay["name"]}')
            elif by[i]['class'] == 'BilinearResize' and by[by[i]['inputs'][0]]['class'] == 'Clone':
                out.append(f'{by[i]["inputs"][0]} -> {i}')
    return out


def test_skip_fifos_are_deep_enough_not_much_deeper_and_one_token_less_fails(design, planned):
    depth = {m['layer']: m['depth'] for m in estimate(design)['fifos']}
    skips = _skips(design)
    assert len(skips) == 3  # the two residual blocks' adds and the global residual
    interval = planned['frame_interval_cycles']
    notes = design['folding']['fifo_notes']
    deadlocked = []
    for fifo in skips:
        need = _minimal_depth(design, fifo, depth[fifo], interval)
        assert FIFO_MIN_DEPTH < need <= depth[fifo], (fifo, need, depth[fifo])
        # refined by the simulation: no deeper than the need (measured with the other FIFOs as they
        # were during the search) plus the stated margin
        assert notes[fifo].startswith('token simulation'), notes[fifo]
        assert depth[fifo] <= math.ceil(need * (1 + REFINE_MARGIN)) + FIFO_PAD + 2, (fifo, need, depth[fifo])
        # ... one token less either deadlocks or slows every frame down ...
        short = simulate(design, depths={fifo: need - 1})
        assert short['deadlock'] or short['frame_interval_cycles'] > interval, (fifo, short['status'])
        # ... and a skip shallower than the long branch's data lead deadlocks: the clone waits on
        # the full skip while the long branch waits for the clone's next pixel
        for d in {need - 1, FIFO_MIN_DEPTH}:
            r = short if d == need - 1 else simulate(design, depths={fifo: d})
            if r['deadlock']:
                clone = fifo.split(' -> ')[0]
                assert r['blocked'][clone] == f'output {fifo} full' and fifo in r['full_fifos']
                deadlocked.append(fifo)
    assert set(deadlocked) == set(skips)


def test_the_rules_alone_reach_the_interval_at_every_folding(small_lowered):
    """The analytical rules (no simulation) on the small design at reuse 1 and at folding targets
    from 2 to 512 cycles per pixel: the simulated interval is within 5 % of the analytical one."""
    d = json.loads((small_lowered / 'design.json').read_text())
    for T in (1, 2, 4, 16, 64, 192, 512):
        e = estimate(d, T)
        core = max(r['cycles_per_frame'] for r in e['layers'] if r['cls'] != 'AxisAdapter')
        r = simulate(d, T)
        assert r['status'] == 'completed' and r['frame_interval_cycles'] <= 1.05 * core, (T, r['frame_interval_cycles'], core)
        assert all(m['note'] for m in e['fifos'])


def _layer(name, cls, inputs, shape, **attrs):
    return {'name': name, 'class': cls, 'inputs': inputs, 'out_shape': shape, 'result_bits': 8, 'in_bits': [8] * len(inputs),
            'attrs': {'reuse_factor': 1, **attrs}, 'weights': {}, 'outputs': 1, 'in_depths': [FIFO_MIN_DEPTH] * len(inputs)}


H = W = 4
C = 4


def _gate_fork_join(skip_depth: int) -> dict:
    """x -> clone -> (ChannelGate g, skip) -> add: the skip must hold the whole frame."""
    layers = [_layer('x', 'Input', [], [H, W, C]), _layer('c', 'Clone', ['x'], [H, W, C]),
              _layer('g', 'ChannelGate', ['c'], [H, W, C], height=H, width=W, n_chan=C),
              _layer('m', 'Merge', ['c', 'g'], [H, W, C])]
    layers[1]['outputs'] = 2
    layers[3]['in_depths'] = [skip_depth, FIFO_MIN_DEPTH]
    return {'frame': {'height': H, 'width': W, 'bands': C}, 'layers': layers}


def test_a_fork_join_known_by_construction():
    n = H * W
    ok = simulate(_gate_fork_join(n), frames=4)
    # the gate's store reads 16 tokens (cycles 2..17: one cycle per FIFO hop), computes C cycles and
    # hands the frame to its replay (one hop), which writes 16; the add passes the last one a cycle
    # later: latency 2 + 16 + C + 1 + 16 + 1 cycles. A skip of exactly one frame couples the store of
    # frame n+1 to the replay of frame n (the clone can refill the skip only as the add drains it):
    # n + C + 4 cycles per frame; with two frames of skip the store alone sets it, n + C + 1 (its
    # analytical n + C plus the hand-over)
    assert ok['status'] == 'completed'
    assert ok['latency_cycles'] == 2 + n + C + 1 + n + 1
    assert ok['frame_interval_cycles'] == n + C + 4
    assert simulate(_gate_fork_join(2 * n), frames=4)['frame_interval_cycles'] == n + C + 1
    assert ok['max_occupancy']['c -> m'] == n and ok['max_occupancy']['c -> g'] <= FIFO_MIN_DEPTH
    # one token less: the clone cannot write the frame's last pixel to the full skip FIFO, so the
    # gate never sees its whole frame
    short = simulate(_gate_fork_join(n - 1))
    assert short['deadlock'] and short['status'] == 'deadlock' and short['frame_interval_cycles'] is None
    assert short['blocked'] == {'x': 'output x -> c full', 'c': 'output c -> m full',
                                'g': 'input c -> g empty', 'm': 'input g -> m empty'}
    assert short['full_fifos'] == ['c -> m', 'x -> c'] and short['empty_fifos'] == ['c -> g', 'g -> m']
    assert report._token_text(report._token_simulated(_gate_fork_join(n - 1), None, 100.0)).startswith(
        'DEADLOCK (4 layers blocked), full FIFOs: c -> m, x -> c')
    # the same stream depth given as an override of the FIFO's name
    assert simulate(_gate_fork_join(n), depths={'c -> m': n - 1})['blocked'] == short['blocked']


def test_a_padded_conv_fills_its_window_first():
    """x (4x4) -> zero pad (6x6) -> 3x3 conv: the pad writes one token per cycle; the conv reads pixel
    j at cycle j + 1, its first window completes at padded pixel 2 rows + 2 px = 14, its last at 35;
    results leave after the kernel pipeline (ceil(log2(9)) + 6 = 10 cycles)."""
    conv = _layer('k', 'Conv2D', ['p'], [H, W, 1], filt_height=3, filt_width=3, n_chan=1, n_filt=1,
                  in_height=H + 2, in_width=W + 2, out_height=H, out_width=W)
    conv['weights'] = {'weight': {'bits': 1}}
    d = {'frame': {'height': H, 'width': W, 'bands': 1},
         'layers': [_layer('x', 'Input', [], [H, W, 1]),
                    _layer('p', 'ZeroPadding2D', ['x'], [H + 2, W + 2, 1], in_height=H, in_width=W,
                           out_height=H + 2, out_width=W + 2), conv]}
    r = simulate(d)
    pipeline = 10
    assert r['latency_cycles'] == 35 + 1 + pipeline + 1
    # a new frame (call) starts once the pipeline has drained: 36 steps + 10 cycles per frame
    assert r['frame_interval_cycles'] == (H + 2) * (W + 2) + pipeline == estimate(d)['performance']['ii_cycles_per_frame']
    assert r['stalls']['k'] == 0  # the network's output is always accepted


def _conv_layer(name, inp, h, w, c_in, c_out, K, reuse):
    """A stride-1 K x K conv on a (K-1)-padded h x w frame (K = 1: a pointwise conv)."""
    lay = _layer(name, 'Conv2D' if K > 1 else 'PointwiseConv2D', [inp], [h, w, c_out], filt_height=K, filt_width=K,
                 n_chan=c_in, n_filt=c_out, in_height=h + K - 1, in_width=w + K - 1, out_height=h, out_width=w)
    lay['attrs']['reuse_factor'] = reuse
    lay['weights'] = {'weight': {'bits': 1}}
    return lay


def _multi_scale(h: int, w: int, r3: int, r7: int, r1: int) -> dict:
    """x -> clone -> (pad 3x3 conv, pad 7x7 conv) -> concat -> 1x1 conv: the multi-scale block, its
    branches' rows of 14 and 18 padded pixels taking r3 and r7 cycles a pixel."""
    c = 4
    layers = [_layer('x', 'Input', [], [h, w, c]), _layer('f', 'Clone', ['x'], [h, w, c])]
    layers[1]['outputs'] = 2
    for K, r in ((3, r3), (7, r7)):
        layers += [_layer(f'p{K}', 'ZeroPadding2D', ['f'], [h + K - 1, w + K - 1, c], in_height=h, in_width=w,
                          out_height=h + K - 1, out_width=w + K - 1),
                   _layer(f'a{K}', 'Activation', [f'p{K}'], [h + K - 1, w + K - 1, c]),
                   _conv_layer(f'k{K}', f'a{K}', h, w, c, c, K, r)]
    layers += [_layer('cat', 'Concatenate', ['k3', 'k7'], [h, w, 2 * c]), _layer('a', 'Activation', ['cat'], [h, w, 2 * c]),
               _conv_layer('k1', 'a', h, w, 2 * c, c, 1, r1)]
    for lay in layers:  # the activations in front of the convs binarise, as in the model
        if lay['class'] == 'Activation':
            lay['result_bits'] = 1
    return {'frame': {'height': h, 'width': w, 'bands': c}, 'layers': layers}


def _reuse(d: dict) -> dict:
    return {lay['name']: lay['attrs']['reuse_factor'] for lay in d['layers'] if lay['class'] in ('Conv2D', 'PointwiseConv2D')}


def test_branches_whose_rows_take_different_times_behind_one_clone():
    """At 6 / 5 / 12 cycles a pixel the 3x3 and 7x7 branches take about the same cycles a frame
    (1176, 1620) below the 1x1 conv's 1728, but not a row: with depth-2 FIFOs the clone moves both
    at the slower one's pace and the 1x1 conv starves through the 7x7's frame transition. The rules
    put the 7x7's longer data lead (2 rows + 2 pixels more than the 3x3's) in front of the 3x3 conv,
    on its 4-bit stream, and a pre-buffer of the 7x7's transition in front of the 1x1 conv."""
    H = W = 12
    d = _multi_scale(H, W, 6, 5, 12)
    reuse = _reuse(d)
    e = estimate(d, reuse)
    ii = e['performance']['ii_cycles_per_frame']
    assert e['performance']['bottleneck'] == 'k1'
    depth = {m['layer']: m['depth'] for m in e['fifos']}
    note = {m['layer']: m['note'] for m in e['fifos']}
    lag = 2 * (W + 1)  # data pixels: the leads 3 (W + 1) and 1 (W + 1) of the two convs
    assert depth['a3 -> k3'] >= lag and 'lags f behind the longest branch' in note['a3 -> k3']
    assert {k for k, v in depth.items() if v > FIFO_MIN_DEPTH} == {'a3 -> k3', 'a -> k1'}
    assert 'pre-buffer' in note['a -> k1']
    planned = simulate(d, reuse, frames=5)
    assert not planned['deadlock'] and planned['frame_interval_cycles'] <= 1.05 * ii
    # without the lag the 3x3 branch fills up before the 7x7 writes its first pixel: deadlock
    assert simulate(d, reuse, depths={'a3 -> k3': FIFO_MIN_DEPTH})['deadlock']
    # without the pre-buffer the 1x1 conv waits for every 7x7 transition
    assert simulate(d, reuse, depths={'a -> k1': FIFO_MIN_DEPTH}, frames=5)['frame_interval_cycles'] > 1.15 * ii


def test_the_rules_scale_to_a_6000_pixel_wide_frame():
    """The rules are closed forms per stream: a 8 x 6000 frame, far beyond what the simulation runs,
    is planned at once, its depths growing with the row (the data leads are rows)."""
    small, wide = _multi_scale(8, 600, 6, 5, 12), _multi_scale(8, 6000, 6, 5, 12)
    t = time.monotonic()
    e = estimate(wide, _reuse(wide))
    assert time.monotonic() - t < 2.0
    d_small = {m['layer']: m['depth'] for m in estimate(small, _reuse(small))['fifos']}
    d_wide = {m['layer']: m['depth'] for m in e['fifos']}
    assert 2 * 6000 <= d_wide['a3 -> k3'] and 9 < d_wide['a3 -> k3'] / d_small['a3 -> k3'] < 11
    assert simulate(wide, _reuse(wide))['status'].startswith('not run')


def _gated(skip: bool = False) -> dict:
    """x -> 1x1 conv (16 cycles a pixel, the bottleneck) -> ChannelGate -> 1x1 conv (8 cycles a
    pixel): the gate replays each frame at its consumer's pace (8 x 64 cycles) while it stores the
    next one in the other half of its ping-pong buffer."""
    h = w = 8
    c = 4
    layers = [_layer('x', 'Input', [], [h, w, c]), _conv_layer('k0', 'x', h, w, c, c, 1, 16),
              _layer('g', 'ChannelGate', ['k0'], [h, w, c], height=h, width=w, n_chan=c),
              _conv_layer('k1', 'g', h, w, c, c, 1, 8)]
    return {'frame': {'height': h, 'width': w, 'bands': c}, 'layers': layers}


def test_a_ping_pong_channel_gate_needs_no_deep_fifo_around_it():
    """Its store reads while its replay writes (a sequential gate, not reading for its whole paced
    replay, needed n / ii x 8 n tokens in front of it, 34 here): the streams around it keep their
    minimum depths (the compute pause of C + 2 cycles at the bottleneck's 1/16 token a cycle aside)
    and the design runs at the bottleneck's interval even with the minimum everywhere."""
    d = _gated()
    reuse = _reuse(d)
    e = estimate(d, reuse)
    ii = e['performance']['ii_cycles_per_frame']
    depth = {m['layer']: m['depth'] for m in e['fifos']}
    assert depth['k0 -> g'] <= FIFO_MIN_DEPTH + FIFO_PAD and depth['g -> k1'] == FIFO_MIN_DEPTH
    assert simulate(d, reuse, frames=5)['frame_interval_cycles'] <= 1.05 * ii
    assert simulate(d, reuse, depths={'k0 -> g': FIFO_MIN_DEPTH}, frames=5)['frame_interval_cycles'] <= 1.05 * ii
    frame = [m for m in layer_estimate(d['layers'][2], 1).memories if m.kind == 'frame buffer']
    assert [m.depth for m in frame] == [2 * 64]  # two frames: one stored while the other is replayed
    # the rules give every stream a note and a floor
    layers = d['layers']
    rules = fifo_rules(layers, {lay['name']: layer_estimate(lay, reuse.get(lay['name'], 1)) for lay in layers})
    assert set(rules) == set(depth) and all(len(v) == 3 and v[2] >= FIFO_MIN_DEPTH for v in rules.values())


def test_limits_and_errors(design):
    cut = simulate(design, max_cycles=1000)
    assert cut['status'] == 'stopped at max_cycles=1000' and cut['frame_interval_cycles'] is None
    assert cut['deadlock'] is False
    big = simulate(design, max_steps=100)
    assert big['status'].startswith('not run') and big['frame_interval_cycles'] is None
    with pytest.raises(HsbinetError, match='does not have'):
        simulate(design, depths={'nowhere -> nothing': 4})
    with pytest.raises(HsbinetError, match='below one token'):
        simulate(_gate_fork_join(16), depths={'c -> m': 0})
    with pytest.raises(HsbinetError, match='frames'):
        simulate(design, frames=1)


def test_the_report_prints_both_figures_with_their_sources(small_folded, planned, tmp_path, monkeypatch):
    r = report.build_report(small_folded, part='XC7Z020', clock_mhz=100.0, out_dir=tmp_path, **QUIET)
    p, s = r['performance'], r['performance']['token_simulated']
    assert p['source'] == 'analytical' and s['source'] == 'token simulation' and s['deadlock'] is False
    assert s['frame_interval_cycles'] == planned['frame_interval_cycles']
    assert s['latency_cycles'] == planned['latency_cycles']
    assert s['mpixel_per_s'] == pytest.approx(100.0 * p['frame_px'] / s['frame_interval_cycles'])
    text, md = report.format_report(r), (tmp_path / 'report.md').read_text()
    assert f'{p["ii_cycles_per_frame"]:,} cycles' in text and f'{s["frame_interval_cycles"]:,} cycles' in text
    assert 'source: analytical' in text and 'source: token simulation' in text
    assert f'{s["frame_interval_cycles"]:,} cycles' in md and '| token simulation |' in md
    # a design above the step limit: the report says so and prints no simulated figure
    monkeypatch.setattr(report, 'simulate', lambda d, reuse: simulate(d, reuse, max_steps=100))
    s = report._token_simulated(json.loads((small_folded / 'design.json').read_text()), None, 100.0)
    assert s['frame_interval_cycles'] is s['mpixel_per_s'] is s['latency_cycles'] is None
    text = report._token_text(s)
    assert text.startswith('not run') and 'Mpixel/s' not in text
