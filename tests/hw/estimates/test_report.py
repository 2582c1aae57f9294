"""Analytical resource/latency model, the report against FPGA parts, and the exploration.

A small hardware-profile design (8 bands, C = 8, PAN 16x16) is lowered once; everything else
runs on its design.json (no hls4ml needed after that)."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hw.estimates.analytical import estimate, memory, valid_reuse_factors
from hw.estimates.explore import explore
from hw.parts import PARTS, get_part, part_fit
from hw.estimates.report import build_report
from hw.finn.lower import lower_finn
from quant_models.common import HsbinetError

FIXTURES = Path(__file__).resolve().parents[2] / 'fixtures' / 'vendor_reports'
QUIET = {'log': lambda s: None}


@pytest.fixture(scope='module')
def build(small_lowered):
    """The small design's lowered folder (design.json, precisions.json, hls4ml_prj/)."""
    return small_lowered


@pytest.fixture(scope='module')
def design(build):
    return json.loads((build / 'design.json').read_text())


def test_reuse_factor_rule_matches_hls4ml():
    from hls4ml.backends import get_backend
    backend = get_backend('Vitis')
    for n_in, n_out in ((72, 8), (576, 64), (1600, 64), (191, 64), (24, 8)):
        assert list(valid_reuse_factors(n_in, n_out)) == backend.get_valid_reuse_factors(n_in, n_out)


def test_memory_mapping():
    assert memory('x', 'FIFO', 2, 100).impl == 'registers'
    small = memory('x', 'FIFO', 30, 64, shift_register=True)
    assert small.impl == 'SRL' and small.lut == 64
    big = memory('x', 'frame buffer', 4096, 64)  # 256 Kbit: 1K x 36 needs 4 x 2 = 8, 512 x 72 needs 8 x 1 = 8
    assert big.impl == 'BRAM' and big.bram36 == 8
    assert memory('x', 'FIFO', 1024, 36).bram36 == 1


def test_conv_timing_and_parallelism_follow_the_reuse_factor(design):
    conv = next(lay for lay in design['layers'] if lay['class'] == 'Conv2D')
    a = conv['attrs']
    px = a['in_height'] * a['in_width']
    products = a['filt_height'] * a['filt_width'] * a['n_chan'] * a['n_filt']
    luts = []
    for r in (1, 2, 4, 8):
        row = next(x for x in estimate(design, {conv['name']: r})['layers'] if x['name'] == conv['name'])
        assert row['reuse'] == r and row['ii'] == r
        assert px * r <= row['cycles_per_frame'] <= px * r + 20
        luts.append(row['lut'])
    assert luts == sorted(luts, reverse=True)
    assert luts[0] == products * 2.0  # fully parallel XNOR-popcount: an HLS adder tree, ~2 LUT per product
    # a folding target in cycles per PAN pixel: every conv stays within it with a valid reuse factor
    e = estimate(design, 8)
    frame_px = e['performance']['frame_px']
    for row in e['layers']:
        if row['cls'] in ('Conv2D', 'PointwiseConv2D'):
            lay = next(x for x in design['layers'] if x['name'] == row['name'])
            n_in = lay['attrs']['filt_height'] * lay['attrs']['filt_width'] * lay['attrs']['n_chan']
            assert row['reuse'] in valid_reuse_factors(n_in, lay['attrs']['n_filt'])
            assert row['reuse'] == 1 or row['cycles_per_frame'] <= 8 * frame_px + 20


def test_throughput_latency_and_fifos(design):
    e = estimate(design, None, clock_mhz=200.0)
    p = e['performance']
    assert p['frame_px'] == 16 * 16
    assert p['ii_cycles_per_frame'] == max(x['cycles_per_frame'] for x in e['layers'])
    assert math.isclose(p['frames_per_s'], 200e6 / p['ii_cycles_per_frame'])
    assert math.isclose(p['mpixel_per_s'], p['frames_per_s'] * 256 / 1e6)
    assert p['latency_cycles'] > p['ii_cycles_per_frame']  # at least one frame plus the path delays
    # as lowered (no folding plan): the FIFOs are hls4ml's one-frame defaults, as written in the project
    assert all(m['note'] == 'depth as written in the project' for m in e['fifos'])
    written = [d for lay in design['layers'] for d in lay['in_depths']]
    assert sorted(m['depth'] for m in e['fifos']) == sorted(written) and None not in written
    # the branch-balancing plan (a hypothetical folding, here reuse 1): the global residual waits
    # for the whole network including the ChannelGate's full frame, on the LR side (its own
    # upsampler, hw/export/passes/upsample_skip_again.py): more than one LR frame (16 pixels)
    plan = estimate(design, {lay['name']: 1 for lay in design['layers'] if lay['class'] in ('Conv2D', 'PointwiseConv2D')})
    glob = next(m for m in plan['fifos'] if m['layer'].endswith('-> BilinearResize_0_skip'))
    assert glob['depth'] > 16 and glob['width'] == 8 * 16  # LR words of B = 8 bands x 16 bit
    assert plan['hls4ml_default_fifo_bits'] > plan['total']['fifo_bits']
    assert e['total']['fifo_bits'] > plan['total']['fifo_bits']  # the one-frame defaults cost more


def test_part_fit_counts_every_resource():
    total = {'lut': 331_680, 'ff': 10, 'bram36': 1081, 'dsp': 0}
    f = part_fit(total, get_part('xqrku060'))
    assert f['utilization_pct']['lut'] == 100.0 and not f['fits'] and f['limiting'] == 'bram36'
    assert get_part('zcu102').key == 'ZU9EG' and get_part('xc7z020clg400-1').key == 'XC7Z020'
    with pytest.raises(HsbinetError, match='Unknown FPGA part'):
        get_part('virtex2')


def test_report_files_and_parts(build, tmp_path):
    r = build_report(build, part='ZU9EG', clock_mhz=150.0, out_dir=tmp_path, **QUIET)
    assert list(r['parts'])[0] == 'ZU9EG' and set(r['parts']) == set(PARTS)
    for f in r['parts'].values():
        assert set(f['used']) == {'lut', 'ff', 'bram36', 'dsp'} and isinstance(f['fits'], bool)
    assert r['performance']['source'] == r['total']['source'] == 'analytical'
    on_disk = json.loads((tmp_path / 'report.json').read_text())
    assert on_disk['parts']['XQRKU060']['available']['lut'] == 331_680
    md = (tmp_path / 'report.md').read_text()
    assert 'line buffer' in md and 'frame buffer' in md and 'FIFO' in md and 'BilinearResize' in md
    assert (tmp_path / 'report.png').read_bytes()[:4] == b'\x89PNG'
    assert r['fastest_fit'] is not None and r['fastest_fit']['part'] == 'ZU9EG'
    assert not list(tmp_path.glob('*.partial*'))


def test_report_reads_vendor_reports_when_present(build, tmp_path):
    b = tmp_path / 'b'
    shutil.copytree(build, b, ignore=shutil.ignore_patterns('hls4ml_prj'))
    shutil.copytree(FIXTURES / 'hls', b / 'vendor' / 'hls')
    r = build_report(b, **QUIET)
    assert r['vendor'] is not None and r['vendor']['source'] == 'vitis_hls csynth'
    assert r['total']['source'] == 'analytical'  # the analytical figures stay, labelled


def test_explore_picks_the_fastest_point_that_fits(build, tmp_path):
    res = explore({8: json.loads((build / 'design.json').read_text())}, tmp_path, part='XC7Z020', **QUIET)
    fitting = [p for p in res['points'] if p['fits']['XC7Z020']]
    assert res['best'] is not None
    assert res['best']['performance']['mpixel_per_s'] == max(p['performance']['mpixel_per_s'] for p in fitting)
    # more reuse, fewer LUTs in the layers (FIFO depths depend on the folding: one that shrinks below
    # 8 Kbit moves from BRAM into LUTs, so the FIFOs are left out of this comparison)
    # (per multiplier binding: the sweep evaluates the tool's binding and the DSP48 binding; from
    # reuse 2 on: going from 1 to 2 turns constant weights into a memory and adds accumulators,
    # which can cost a cheap layer more than the halved products save)
    for dsp in (False, True):
        lut = [p['total']['lut'] - p['total']['fifo_lut'] for p in res['points']
               if bool(p['mult_impl']) == dsp and p['target_cycles_per_px'] >= 2]
        assert lut and lut == sorted(lut, reverse=True)
    assert (tmp_path / 'explore.png').is_file() and (tmp_path / 'explore.md').is_file()


def test_cli_report_and_errors(build, tmp_path):
    cli = [sys.executable, '-m', 'build_flows.cli']
    r = subprocess.run(cli + ['report', '--build', str(build), '--out', str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'XQRKU060' in r.stdout and 'Mpixel/s' in r.stdout
    bad = subprocess.run(cli + ['report', '--build', str(tmp_path / 'none')], capture_output=True, text=True)
    assert bad.returncode == 2 and 'Build folder not found' in bad.stderr and 'Traceback' not in bad.stderr
    empty = tmp_path / 'empty'
    empty.mkdir()
    bad = subprocess.run(cli + ['report', '--build', str(empty)], capture_output=True, text=True)
    assert bad.returncode == 2 and 'design.json' in bad.stderr
    bad = subprocess.run(cli + ['report', '--build', str(build), '--clock', '0'], capture_output=True, text=True)
    assert bad.returncode == 2 and '--clock' in bad.stderr


def test_finn_cross_check(build, tmp_path):
    b = tmp_path / 'b'
    shutil.copytree(build, b, ignore=shutil.ignore_patterns('hls4ml_prj'))
    lower_finn(b / 'final.onnx', b / 'finn', **QUIET)
    r = build_report(b, **QUIET)
    rows = r['finn']['cross_check']
    assert len(rows) >= 7  # every binary conv lowered to an MVAU has a row
    for c in rows:
        assert c['finn_cycles'] > 0 and c['analytical_cycles'] > 0 and c['finn_lut'] is not None
    assert 'Cross-check against FINN' in (b / 'report.md').read_text()


def test_a_lowered_design_that_is_the_fastest_fit_is_not_called_a_hypothesis(small_lowered, small_folded, tmp_path):
    """Reuse 1 everywhere is as fast as it gets; when it fits, the sweep's answer is the design itself."""
    lines = []
    r = build_report(small_lowered, part='XQRKU060', out_dir=tmp_path, log=lines.append)
    assert r['parts']['XQRKU060']['fits']
    assert r['fastest_fit']['status'].startswith('the lowered design')
    assert 'hypothesis' not in lines[0] and 'fits XQRKU060: the lowered design' in lines[0]
    # folded for 0.5 Mpixel/s with the fewest LUTs, it fits, and a faster folding would too: that one is
    # a hypothesis (never lowered)
    slow = build_report(small_folded, part='XC7Z020', clock_mhz=100.0, out_dir=tmp_path / 'z', log=lambda s: None)
    assert slow['parts']['XC7Z020']['fits'] and slow['fastest_fit']['status'].startswith('hypothesis')
    assert slow['fastest_fit']['performance']['mpixel_per_s'] > slow['performance']['mpixel_per_s']
