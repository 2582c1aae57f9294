"""Folding plans and the folded, FIFO-sized project the lower step writes from them."""

import json
import re

import pytest

from hw.estimates.analytical import FIFO_MIN_DEPTH, estimate
from hw.estimates.folding import (REFINE_TOLERANCE, folding_from_file, plan_folding, refine_fifos_by_simulation,
                                  replan_fifos, unfolded)
from hw.estimates.report import build_report
from hw.estimates.stream_sim import simulate
from quant_models.common import HsbinetError
from tests.conftest import QUIET


@pytest.fixture(scope='module')
def design(small_lowered):
    return json.loads((small_lowered / 'design.json').read_text())


def test_plans_fit_and_a_throughput_target_buys_fewer_luts(design):
    fast = plan_folding(design, 'XC7Z020', 100.0)
    cheap = plan_folding(design, 'XC7Z020', 100.0, target_mpx=0.5)
    assert fast['fits']['XC7Z020'] and cheap['fits']['XC7Z020']
    assert cheap['performance']['mpixel_per_s'] >= 0.5
    assert cheap['performance']['mpixel_per_s'] < fast['performance']['mpixel_per_s']
    assert max(cheap['reuse'].values()) > 1 and 'resource' in cheap['strategy'].values()
    assert all(cheap['strategy'][k] == ('resource' if r > 1 else 'latency') for k, r in cheap['reuse'].items())
    # a target no folding reaches falls back to the fastest that fits, and says so
    assert 'no folding reaches' in plan_folding(design, 'XC7Z020', 100.0, target_mpx=1e6)['policy']
    assert set(unfolded(design)['reuse'].values()) == {1}


def test_a_folding_file_is_checked_against_the_design(design, tmp_path):
    convs = [lay['name'] for lay in design['layers'] if lay['class'] in ('Conv2D', 'PointwiseConv2D')]
    good = tmp_path / 'f.json'
    good.write_text(json.dumps({'reuse': {convs[0]: 2}}))
    assert folding_from_file(design, good)['reuse'] == {convs[0]: 2}
    bad = tmp_path / 'b.json'
    bad.write_text(json.dumps({'reuse': {'Conv2D_nope': 2}}))
    with pytest.raises(HsbinetError, match='Conv2D_nope'):
        folding_from_file(design, bad)


def test_the_lowered_project_carries_the_plan_and_the_report_describes_it(small_folded):
    design = json.loads((small_folded / 'design.json').read_text())
    plan = design['folding']
    assert plan == json.loads((small_folded / 'folding.json').read_text())
    convs = {lay['name']: lay for lay in design['layers'] if lay['name'] in plan['reuse']}
    assert {k: lay['attrs']['reuse_factor'] for k, lay in convs.items()} == plan['reuse']
    assert any(lay['attrs'].get('strategy') == 'resource' for lay in convs.values())
    # every stream has the planned depth, in design.json and in the C++ hls4ml wrote
    cpp = (small_folded / 'hls4ml_prj' / 'firmware' / 'hsbinet.cpp').read_text()
    written = {int(d) for d in re.findall(r'#pragma HLS STREAM variable=\S+ depth=(\d+)', cpp)}
    depths = [d for lay in design['layers'] for d in lay['in_depths']]
    assert depths and None not in depths and set(depths) == written
    assert sorted(depths) == sorted(plan['fifo_depths'].values())
    r = build_report(small_folded, part='XC7Z020', clock_mhz=100.0, **QUIET)
    assert r['parts']['XC7Z020']['fits'] and r['folding']['policy'] == plan['policy']
    assert r['total']['fifo_bits'] == sum(m['bits'] for m in r['fifos'])
    assert all(m['note'] == 'depth as written in the project' for m in r['fifos'])
    assert r['performance']['mpixel_per_s'] == pytest.approx(plan['performance']['mpixel_per_s'], rel=0, abs=0)
    # the depths written are the rules' refined by the token simulation, which reaches the
    # analytical interval with them; every stream says where its depth comes from
    ref = plan['fifo_refinement']
    assert ref['status'] == 'completed' and ref['source'] == 'token simulation'
    assert ref['interval_refined'] <= ref['target_cycles'] * (1 + REFINE_TOLERANCE)
    assert ref['fifo_bits_refined'] <= ref['fifo_bits_rule'] and ref['seconds'] < 60
    notes = plan['fifo_notes']
    assert set(notes) == set(plan['fifo_depths'])
    assert all(n.startswith(('token simulation: ', 'rule: ')) for n in notes.values())
    assert set(ref['from_simulation']) == {k for k, n in notes.items() if n.startswith('token simulation')}
    assert all(plan['fifo_depths'][k] > FIFO_MIN_DEPTH for k in ref['from_simulation'])
    sim = r['performance']['token_simulated']
    assert sim['frame_interval_cycles'] <= 1.05 * r['performance']['ii_cycles_per_frame']


def test_the_refinement_cuts_the_rules_to_what_the_simulation_needs_and_raises_a_short_plan(design):
    plan = replan_fifos(design, unfolded(design), refine=False)
    assert 'fifo_refinement' not in plan and all(n.startswith('rule: ') for n in plan['fifo_notes'].values())
    target = max(r['cycles_per_frame'] for r in estimate(design, plan['reuse'])['layers'] if r['cls'] != 'AxisAdapter')
    rule_bits = refine_fifos_by_simulation(design, plan, budget_s=0)['fifo_refinement']['fifo_bits_rule']
    ref = refine_fifos_by_simulation(design, plan, budget_s=20)
    assert ref['fifo_refinement']['status'] == 'completed'
    assert ref['fifo_refinement']['fifo_bits_refined'] <= rule_bits
    for frames in (3, 8):  # the start and the steady state
        r = simulate(design, plan['reuse'], depths=ref['fifo_depths'], frames=frames)
        assert not r['deadlock'] and r['frame_interval_cycles'] <= target * (1 + REFINE_TOLERANCE), frames
    # a plan with the skips cut to the minimum misses the interval (here: deadlocks); the refinement
    # raises it back (to the rules' depths first) before it cuts
    short = {**plan, 'fifo_depths': {k: (FIFO_MIN_DEPTH if ' -> Add_' in k else v) for k, v in plan['fifo_depths'].items()}}
    assert simulate(design, plan['reuse'], depths=short['fifo_depths'])['deadlock']
    fixed = refine_fifos_by_simulation(design, short, budget_s=0)
    r = simulate(design, plan['reuse'], depths=fixed['fifo_depths'], frames=6)
    assert fixed['fifo_refinement']['status'] == 'completed' and r['frame_interval_cycles'] <= target * (1 + REFINE_TOLERANCE)
    # a design above the simulation's step limit keeps the rules' depths, and says so
    big = refine_fifos_by_simulation(design, plan, max_steps=1000)
    assert big['fifo_depths'] == plan['fifo_depths'] and big['fifo_refinement']['status'].startswith('not run')
    assert all(n.startswith('rule: ') for n in big['fifo_notes'].values())


def test_the_fixed_point_products_bound_to_dsps_are_what_the_project_and_the_estimate_say(design, small_folded,
                                                                                        tmp_path):
    import shutil

    from hw.estimates.analytical import dsp_bindable
    from hw.estimates.explore import bound, multiplier_variants
    from hw.hls.dsp_binding import HEADER, bind_dsp_products, bound_layers
    bindable = [lay['name'] for lay in design['layers'] if dsp_bindable(lay)]
    assert bindable  # the int8 head and decoder projections
    assert all(lay['weights']['weight']['bits'] == 8 for lay in design['layers'] if lay['name'] in bindable)
    # the same folding with the products on DSP48s: fewer LUTs, more DSPs, the same speed
    reuse = plan_folding(design, 'XC7Z020', 100.0, target_mpx=0.5, multipliers='fabric')['reuse']
    fabric = estimate(design, reuse, 100.0)
    dsp = estimate(bound(design, multiplier_variants(design, 'dsp')[0]), reuse, 100.0)
    assert dsp['total']['lut'] < fabric['total']['lut'] and dsp['total']['dsp'] > fabric['total']['dsp']
    assert dsp['performance'] == fabric['performance']
    assert plan_folding(design, 'XC7Z020', 100.0, multipliers='fabric')['mult_impl'] == {}
    with pytest.raises(HsbinetError, match='hw.multipliers'):
        plan_folding(design, multipliers='lut')
    # the lowered project binds exactly the plan's layers: the pragma header, one product line each
    lowered = json.loads((small_folded / 'design.json').read_text())
    plan = lowered['folding']
    assert plan['mult_impl'] and set(plan['mult_impl']) <= set(bindable)
    prj = small_folded / 'hls4ml_prj'
    assert len(bound_layers(prj, 'hsbinet')) == len(plan['mult_impl'])
    header = (prj / 'firmware' / 'nnet_utils' / HEADER).read_text()
    assert 'BIND_OP variable=p op=mul impl=dsp' in header and 'core=DSP48' in header
    assert f'#include "nnet_utils/{HEADER}"' in (prj / 'firmware' / 'parameters.h').read_text()
    assert {lay['name'] for lay in lowered['layers'] if lay['attrs'].get('mult_impl') == 'dsp'} == set(plan['mult_impl'])
    r = build_report(small_folded, part='XC7Z020', clock_mhz=100.0, **QUIET)
    assert r['total']['dsp'] > 0
    assert any('bound to DSP48' in row['kind'] for row in r['layers'])
    # a layer whose product is not hls4ml's fixed-point mult (a binary conv) cannot be bound: the
    # lower step stops rather than ship a design its estimate describes wrongly
    binary = next(lay['name'] for lay in design['layers'] if lay['class'] in ('Conv2D', 'PointwiseConv2D')
                  and lay['in_bits'][0] == 1)
    copy = tmp_path / 'prj'
    shutil.copytree(prj, copy)
    with pytest.raises(HsbinetError, match=binary):
        bind_dsp_products(copy, 'hsbinet', [binary])
