"""The swath design of configs/prisma_swath.yaml, C-simulated bit-exact at a reduced frame.

The shipped swath design is lowered for 544 x 784 PAN pixels (column tiles of a 6,000-column
swath, hw/estimates/swath.py); its C-simulation at that size takes minutes, so CI runs *the same
folded design*, i.e. the same model configuration (191 bands, C = 32, 2 blocks, H8 attention per
16-line block), the same per-layer reuse factors and DSP binding (configs/prisma_swath_folding.json,
the lower step's plan for the swath frame), the same derived types and kernels, at a frame of
32 x 64 PAN pixels (two attention blocks), and checks it bit for bit against PyTorch; the token
simulation of the same reduced project runs without deadlock at the analytical interval.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import QUIET

pytest.importorskip('hls4ml')

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'prisma_swath.yaml'
FOLDING = ROOT / 'configs' / 'prisma_swath_folding.json'
BANDS, H, W = 191, 32, 64


def test_the_swath_folding_c_simulates_bit_exact_at_a_reduced_frame(tmp_path):
    from build_flows.config import load_config, model_config
    from hw.design import load_design
    from hw.estimates.analytical import estimate
    from hw.estimates.folding import folding_from_file, replan_fifos
    from hw.estimates.stream_sim import simulate
    from hw.export import build_final_qonnx, export_qonnx
    from hw.hls.axis import geometry_of
    from hw.hls.lower import lower_project
    from quant_models.hsbinet import build_model
    from quant_models.layers import fixed_point_act
    from sim.csim import compile_project
    from sim.golden import nhwc
    from sim.parallel import CsimLibrary, run_frames

    cfg = load_config(CONFIG)
    folding = json.loads(FOLDING.read_text())
    assert cfg.model.attention_rows == 16 and list(cfg.hw.frame) == folding['frame']
    torch.manual_seed(0)
    model = build_model(model_config(cfg, BANDS))
    model.train()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(2, BANDS, H // 4, W // 4, generator=g), torch.rand(2, 1, H, W, generator=g))
    model.eval()
    final = build_final_qonnx(export_qonnx(model, tmp_path / 'raw.onnx', patch=(H, W), **QUIET), tmp_path / 'final.onnx')
    lower_project(final, tmp_path / 'hw', folding=lambda d: folding_from_file(d, FOLDING, cfg.hw.clock_mhz),
                  replan=replan_fifos, **QUIET)
    design, _ = load_design(tmp_path / 'hw')
    assert design['folding']['reuse'] == folding['reuse'] and design['folding']['mult_impl'] == folding['mult_impl']
    gate = next(lay for lay in design['layers'] if lay['class'] == 'ChannelGate')
    assert gate['attrs']['block_rows'] == 16
    sim = simulate(design)
    assert sim['status'] == 'completed'
    assert sim['frame_interval_cycles'] <= 1.05 * estimate(design)['performance']['ii_cycles_per_frame']

    linked = compile_project(tmp_path / 'hw' / 'hls4ml_prj')
    geo = geometry_of(design, design['axis']['tdata_bits'], design['axis']['tlast'])
    frac = design['io_bits'][0] - design['io_bits'][1]
    q = fixed_point_act(16, 2).eval()
    with torch.no_grad():
        ms = q(torch.rand(2, BANDS, H // 4, W // 4, generator=g) * 1.5 - 0.25)
        pan = q(torch.rand(2, 1, H, W, generator=g))
        ref = nhwc(model(ms, pan).numpy())
    ms_int = np.round(nhwc(ms.numpy()) * 2 ** frac).astype(np.int64)
    pan_int = np.round(pan.numpy()[:, 0] * 2 ** frac).astype(np.int64)
    lib = CsimLibrary.of(linked._top_function_lib._name, design['project'])
    y, _, _ = run_frames(lib, geo, ms_int, pan_int, workers=1, cdll=linked._top_function_lib)
    assert np.array_equal(np.round(y).astype(np.int64), np.round(ref * 2 ** frac).astype(np.int64))
