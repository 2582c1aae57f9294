"""H9, narrow MSFE branches, end to end: PyTorch -> final QONNX -> folded hls4ml project -> token
simulation -> C-simulation, bit-exact; and the model-config rules of ``model.msfe_widths``.

The branches are given odd, unequal widths (C -> 8, 3, 2 channels; the fuse 1x1 reads 13), so a
concatenation or a fuse that assumed 3 x C, or a folding that assumed square matrices, would fail.
"""

import copy

import numpy as np
import pytest
import torch

from quant_models.common import HsbinetError
from quant_models.hsbinet import HSBiNetConfig, build_model
from quant_models.layers import fixed_point_act
from tests.conftest import QUIET, csim_ints, hardware_model, torch_ints

B, C, H, W = 8, 8, 16, 16
WIDTHS = (8, 3, 2)


def _model(widths=WIDTHS):
    return hardware_model(B, C, 1, pan=H, msfe_widths=widths)


def _inputs(n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    q = fixed_point_act(16, 2).eval()
    with torch.no_grad():
        return q(torch.rand(n, B, H // 4, W // 4, generator=g) * 2 - 0.5), q(torch.rand(n, 1, H, W, generator=g))


def test_branch_widths_config_rules():
    m = _model()
    assert [b[0].conv.weight.shape[0] for b in m.msfe.branches] == list(WIDTHS)
    assert m.msfe.fuse[0].conv.weight.shape[1] == sum(WIDTHS)
    cfg = m.cfg.to_dict()
    assert cfg['msfe_widths'] == list(WIDTHS)
    assert HSBiNetConfig(**cfg).validate().msfe_widths == WIDTHS  # a checkpoint's config round-trips
    assert 'msfe_widths' not in HSBiNetConfig(bands=B, hidden=C).validate().to_dict()  # old checkpoints keep their form
    assert HSBiNetConfig(bands=B, hidden=C).validate().branch_widths() == (C, C, C)
    for bad in [(8, 8), (8, 0, 2), (8, 2.5, 2), 'wide']:
        with pytest.raises(HsbinetError, match='MSFE branch widths'):
            HSBiNetConfig(bands=B, hidden=C, msfe_widths=bad).validate()


@pytest.fixture(scope='module')
def h9_build(tmp_path_factory):
    pytest.importorskip('hls4ml')
    from hw.estimates.folding import plan_folding, replan_fifos
    from hw.export import build_final_qonnx, export_qonnx
    from hw.hls.lower import lower_project
    d = tmp_path_factory.mktemp('msfe_widths')
    model = _model()
    final = build_final_qonnx(export_qonnx(model, d / 'raw.onnx', patch=(H, W), **QUIET), d / 'final.onnx')
    lower_project(final, d / 'hw', folding=lambda x: plan_folding(x, 'XC7Z020', 100.0, target_mpx=0.5),
                  replan=replan_fifos, **QUIET)
    return model, final, d / 'hw'


def test_narrow_branches_are_qonnx_exact_lowered_token_simulated_and_c_simulated_bit_exact(h9_build):
    from hw.estimates.analytical import estimate
    from hw.estimates.stream_sim import simulate
    from sim.qonnx_check import verify_qonnx
    model, final, hw = h9_build
    ms, pan = _inputs()
    assert verify_qonnx(model, final, ms, pan, log=lambda s: None)['bit_exact']
    got, design = csim_ints(hw, ms, pan)
    assert max(design['folding']['reuse'].values()) > 1  # folded: the Resource-strategy paths too
    convs = {lay['attrs'].get('n_filt') for lay in design['layers'] if lay['class'] == 'Conv2D'}
    assert {3, 2} <= convs  # the narrow branches are their own convs in the project
    sim = simulate(design)
    assert sim['status'] == 'completed'
    assert sim['frame_interval_cycles'] <= 1.05 * estimate(design)['performance']['ii_cycles_per_frame']
    assert np.array_equal(got, torch_ints(model, ms, pan, design))
    # the check can fail, and the 2-channel 7x7 branch is in it: negating its weights changes PyTorch's answer
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.msfe.branches[2][0].conv.weight.neg_()
    assert not np.array_equal(got, torch_ints(other, ms, pan, design))


def test_the_full_rate_config_carries_h9():
    from pathlib import Path

    from build_flows.config import load_config, model_config
    cfg = load_config(Path(__file__).resolve().parents[2] / 'configs' / 'c64_full_rate.yaml')
    m = model_config(cfg, 191)
    assert (m.hidden, m.blocks, m.msfe_widths) == (64, 1, (64, 8, 8)) and cfg.hw.target_mpx == 8.6
