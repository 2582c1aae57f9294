"""Folding plans and the folded, FIFO-sized project the lower step writes from them."""

import json
import re

import pytest

from hw.estimates.folding import folding_from_file, plan_folding, unfolded
from hw.estimates.report import build_report
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
