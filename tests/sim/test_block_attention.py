"""H8, block-pooled channel attention, end to end: PyTorch -> final QONNX -> folded hls4ml project
(ChannelGate in block mode) -> token simulation -> C-simulation, bit-exact; and the swath geometry
of the report (hw/estimates/swath.py) on cases whose answer is known.

The frame is 16 x 32 PAN pixels with blocks of 8 rows (two gates per frame), so a model that pooled
the whole frame would give other numbers (checked), and the C-simulation of the lowered project
must reproduce the block-pooled PyTorch model bit for bit.
"""

import json

import numpy as np
import pytest
import torch

from quant_models.common import HsbinetError
from quant_models.hsbinet import HSBiNetConfig, build_model
from quant_models.layers import fixed_point_act
from tests.conftest import QUIET, csim_ints, torch_ints

pytest.importorskip('hls4ml')

B, C, H, W, L = 8, 8, 16, 32, 8


def _model(attention_rows: int, state=None):
    torch.manual_seed(0)
    m = build_model(HSBiNetConfig(bands=B, hidden=C, blocks=1, profile='hardware', attention_rows=attention_rows))
    if state is None:
        m.train()
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for _ in range(3):
                m(torch.rand(2, B, H // 4, W // 4, generator=g), torch.rand(2, 1, H, W, generator=g))
    else:
        m.load_state_dict(state)
    return m.eval()


def _inputs(n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    q = fixed_point_act(16, 2).eval()
    with torch.no_grad():
        return q(torch.rand(n, B, H // 4, W // 4, generator=g) * 2 - 0.5), q(torch.rand(n, 1, H, W, generator=g))


@pytest.fixture(scope='module')
def block_build(tmp_path_factory):
    from hw.estimates.folding import plan_folding, replan_fifos
    from hw.export import build_final_qonnx, export_qonnx
    from hw.hls.lower import lower_project
    d = tmp_path_factory.mktemp('block_attention')
    model = _model(L)
    final = build_final_qonnx(export_qonnx(model, d / 'raw.onnx', patch=(H, W), **QUIET), d / 'final.onnx')
    lower_project(final, d / 'hw', folding=lambda x: plan_folding(x, 'XC7Z020', 100.0, target_mpx=0.5),
                  replan=replan_fifos, **QUIET)
    return model, final, d / 'hw'


def test_block_pooling_is_not_frame_pooling_and_a_frame_sized_block_is():
    block = _model(L)
    frame = _model(0, block.state_dict())
    whole = _model(H, block.state_dict())
    ms, pan = _inputs()
    with torch.no_grad():
        assert not torch.equal(block(ms, pan), frame(ms, pan))
        assert torch.equal(whole(ms, pan), frame(ms, pan))
    with pytest.raises(HsbinetError, match='attention block'):
        with torch.no_grad():
            _model(5, block.state_dict())(ms, pan)  # 5 does not divide 16


def test_the_final_graph_carries_the_block_and_is_bit_exact(block_build):
    from qonnx.core.modelwrapper import ModelWrapper

    from sim.qonnx_check import verify_qonnx
    model, final, _ = block_build
    gate = ModelWrapper(str(final)).get_nodes_by_op_type('ChannelGate')[0]
    assert {a.name: a.i for a in gate.attribute}['block_rows'] == L
    ms, pan = _inputs()
    assert verify_qonnx(model, final, ms, pan, log=lambda s: None)['bit_exact']


def test_the_block_gate_is_lowered_token_simulated_and_c_simulated_bit_exact(block_build):
    from hw.design import load_design
    from hw.estimates.analytical import estimate, layer_estimate
    from hw.estimates.stream_sim import simulate
    model, _, hw = block_build
    design, _ = load_design(hw)
    assert max(design['folding']['reuse'].values()) > 1  # folded: the Resource-strategy paths too
    gate = next(lay for lay in design['layers'] if lay['class'] == 'ChannelGate')
    assert gate['attrs']['block_rows'] == L
    buffers = [m for m in layer_estimate(gate, 1).memories if m.kind == 'frame buffer']
    assert [m.depth for m in buffers] == [2 * L * W]  # a ping-pong pair of blocks, not a frame
    assert 'static const unsigned block_rows = 8;' in (hw / 'hls4ml_prj' / 'firmware' / 'parameters.h').read_text()
    sim = simulate(design)
    assert sim['status'] == 'completed'
    assert sim['frame_interval_cycles'] <= 1.05 * estimate(design)['performance']['ii_cycles_per_frame']
    ms, pan = _inputs()
    got, _ = csim_ints(hw, ms, pan)
    assert np.array_equal(got, torch_ints(model, ms, pan, design))


def test_swath_geometry_known_by_construction():
    from hw.estimates.swath import plan_swath, required_mpx
    design = {'model': {'ratio': 4, 'io_bits': [16, 2], 'attention_rows': 16},
              'frame': {'height': 544, 'width': 1032, 'bands': 191}}
    s = plan_swath(design, frames_per_s=10.0, width=6000, line_rate_hz=1000, halo=16)
    # 6 tiles of 1,000 kept columns; 512 kept lines per strip; 10 frames/s -> 10 x 512 / 6 lines/s
    assert (s['tiles_per_strip'], s['centre_columns'], s['centre_lines']) == (6, 1000, 512)
    assert s['lines_per_s'] == pytest.approx(10 * 512 / 6) and s['meets_line_rate'] is False
    assert s['overlap'] == pytest.approx(6 * 544 * 1032 / (512 * 6000))
    assert s['mpixel_per_s'] == pytest.approx(s['lines_per_s'] * 6000 / 1e6)
    assert 'block of 16 lines' in s['attention']
    px_bits = 16 + 191 * 16 / 16
    assert s['external_memory']['line_store_bits'] == int((544 + 512) * 6000 * px_bits)
    assert required_mpx(design, 6000, 1000, halo=16) == pytest.approx(1000 * 6000 * s['overlap'] / 1e6)
    # a frame as wide as the swath is one tile without column halo
    wide = plan_swath({**design, 'frame': {'height': 64, 'width': 6000, 'bands': 191}}, 1.0, 6000, halo=16)
    assert (wide['tiles_per_strip'], wide['centre_columns'], wide['meets_line_rate']) == (1, 6000, None)
    with pytest.raises(HsbinetError, match='too narrow'):
        plan_swath({**design, 'frame': {'height': 544, 'width': 32, 'bands': 191}}, 1.0, 6000, halo=16)


def test_swath_section_in_the_report(block_build, tmp_path, monkeypatch):
    from hw.estimates import swath
    from hw.estimates.report import build_report
    _, _, hw = block_build
    with pytest.raises(HsbinetError, match='too short'):  # 16 lines cannot hold the 12-pixel halos of this model
        build_report(hw, part='XC7Z020', clock_mhz=100.0, out_dir=tmp_path, log=lambda s: None, swath_width=100)
    monkeypatch.setattr(swath, 'halo_of', lambda model: 4)
    r = build_report(hw, part='XC7Z020', clock_mhz=100.0, out_dir=tmp_path, log=lambda s: None, swath_width=100,
                     line_rate_hz=1.0)
    assert r['swath']['source'] == 'analytical' and r['swath']['meets_line_rate'] is True
    assert '## Swath' in (tmp_path / 'report.md').read_text()
    on_disk = json.loads((tmp_path / 'report.json').read_text())['swath']
    # frame 16 x 32, halo 4: a 100-column swath takes ceil(100 / 24) = 5 tiles, 8 lines kept per strip
    assert (on_disk['tiles_per_strip'], on_disk['centre_lines']) == (5, 8) == (r['swath']['tiles_per_strip'], 8)
