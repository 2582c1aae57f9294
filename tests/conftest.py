"""Fixtures shared by the whole suite: a small hardware-profile model, its final QONNX graph and
its lowered hls4ml projects (Vitis and Vivado), each built once per session.

The small design (8 bands, C = 8, 1 residual block, PAN 16 x 16) keeps every layer class of the
real one, so export, lowering, C-simulation, reports and vendor projects are exercised in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from quant_models.hsbinet import HSBiNetConfig, build_model

SHARED_DATA = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'
FIXTURES = Path(__file__).resolve().parent / 'fixtures'
QUIET = {'log': lambda s: None}
LSB = 2.0 ** -14  # fixed<16,2> of the ms/pan inputs and of the output
SMALL = {'bands': 8, 'hidden': 8, 'blocks': 1, 'pan': 16}


def hardware_model(bands, hidden, blocks, pan=16, seed=0, **model_kw):
    """Hardware-profile model with BN running statistics from a few train-mode forwards.

    ``pan``: PAN frame side, or (H, W); ``model_kw``: further HSBiNetConfig keys (e.g. msfe_widths).
    """
    H, W = (pan, pan) if isinstance(pan, int) else pan
    torch.manual_seed(seed)
    model = build_model(HSBiNetConfig(bands=bands, hidden=hidden, blocks=blocks, profile='hardware', **model_kw))
    model.train()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(2, bands, H // 4, W // 4, generator=g), torch.rand(2, 1, H, W, generator=g))
    return model.eval()


def csim_ints(hw_dir, ms, pan):
    """C-simulate NCHW (ms, pan) through the lowered project in ``hw_dir`` (compiled here, adapter
    included): the NHWC output as integers of its fixed-point grid, and the design."""
    import numpy as np

    from hw.design import load_design
    from hw.hls.axis import geometry_of
    from sim.csim import compile_project
    from sim.golden import nhwc
    from sim.parallel import CsimLibrary, run_frames
    design, _ = load_design(hw_dir)
    linked = compile_project(Path(hw_dir) / 'hls4ml_prj')
    geo = geometry_of(design, design['axis']['tdata_bits'], design['axis']['tlast'])
    frac = design['io_bits'][0] - design['io_bits'][1]
    ms_int = np.round(nhwc(ms.numpy()) * 2 ** frac).astype(np.int64)
    pan_int = np.round(pan.numpy()[:, 0] * 2 ** frac).astype(np.int64)
    lib = CsimLibrary.of(linked._top_function_lib._name, design['project'])
    y, _, _ = run_frames(lib, geo, ms_int, pan_int, workers=1, cdll=linked._top_function_lib)
    return np.round(y).astype(np.int64), design


def torch_ints(model, ms, pan, design):
    """The PyTorch model's NHWC output on the same grid as ``csim_ints``."""
    import numpy as np

    from sim.golden import nhwc
    frac = design['io_bits'][0] - design['io_bits'][1]
    with torch.no_grad():
        return np.round(nhwc(model(ms, pan).numpy()) * 2 ** frac).astype(np.int64)


def grid_inputs(bands, pan, seed=0):
    """NCHW (ms, pan) batches of 4: random, wide (saturating), rounding ties of the input
    quantisers, and values near the top of the input range."""
    g = torch.Generator().manual_seed(seed)
    h = pan // 4
    plain = (torch.rand(1, bands, h, h, generator=g), torch.rand(1, 1, pan, pan, generator=g))
    wide = (torch.rand(1, bands, h, h, generator=g) * 6 - 3, torch.rand(1, 1, pan, pan, generator=g) * 6 - 3)
    ties_ms = (torch.randint(-2 ** 15, 2 ** 15, (1, bands, h, h), generator=g).float() + 0.5) * LSB
    ties_ms.view(-1)[:5] = torch.tensor([2.0, -2.0, 2 - LSB, 2 - LSB / 2, -2 - LSB / 2])
    ties_pan = (torch.randint(-2 ** 15, 2 ** 15, (1, 1, pan, pan), generator=g).float() + 0.5) * LSB
    near_top = (torch.full((1, bands, h, h), 1.99), torch.full((1, 1, pan, pan), -0.5))
    cases = [plain, wide, (ties_ms, ties_pan), near_top]
    return torch.cat([c[0] for c in cases]), torch.cat([c[1] for c in cases])


def load_benchmark(name: str):
    """The script benchmarks/<name>.py as a module (benchmarks/ is not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f'{name}_bench', Path(__file__).resolve().parents[1] / 'benchmarks'
                                                  / f'{name}.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def shared_data_or_skip() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f'needs the real cubes of ../shared/data ({SHARED_DATA} is absent)')
    return SHARED_DATA


@pytest.fixture(scope='session')
def small_model():
    return hardware_model(SMALL['bands'], SMALL['hidden'], SMALL['blocks'], SMALL['pan'])


@pytest.fixture(scope='session')
def small_final(small_model, tmp_path_factory):
    """final.onnx of the small model at PAN 16 x 16 (the export step's output)."""
    from hw.export import build_final_qonnx, export_qonnx
    out = tmp_path_factory.mktemp('small_final')
    raw = export_qonnx(small_model, out / 'raw.onnx', patch=(SMALL['pan'], SMALL['pan']), **QUIET)
    return build_final_qonnx(raw, out / 'final.onnx')


def _lowered(small_final, tmp_path_factory, backend):
    from hw.hls.lower import lower_project
    out = tmp_path_factory.mktemp(f'small_lowered_{backend}')
    lower_project(small_final, out, backend=backend, **QUIET)
    return out


@pytest.fixture(scope='session')
def small_lowered(small_final, tmp_path_factory):
    """The lower step's folder for the small model, Vitis backend: hls4ml_prj/ (written, not
    compiled), precisions.json, design.json (with the model config and the layer -> module map)."""
    return _lowered(small_final, tmp_path_factory, 'Vitis')


@pytest.fixture(scope='session', params=['Vitis', 'Vivado'])
def small_lowered_any(request, small_final, small_lowered, tmp_path_factory):
    """The lowered small project for each hls4ml backend (Vitis reuses ``small_lowered``)."""
    if request.param == 'Vitis':
        return small_lowered
    return _lowered(small_final, tmp_path_factory, request.param)


os.environ.setdefault('TORCH_CPP_LOG_LEVEL', 'ERROR')


@pytest.fixture(scope='session')
def small_folded(small_final, tmp_path_factory):
    """The small design lowered with a folding plan: the cheapest folding reaching 0.5 Mpixel/s on
    XC7Z020 at 100 MHz (reuse factors > 1, hls4ml's Resource strategy), planned FIFO depths."""
    from hw.estimates.folding import plan_folding, replan_fifos
    from hw.hls.lower import lower_project
    out = tmp_path_factory.mktemp('small_folded')
    lower_project(small_final, out, folding=lambda d: plan_folding(d, 'XC7Z020', 100.0, target_mpx=0.5),
                  replan=replan_fifos, **QUIET)
    return out


ODD = {'bands': 7, 'hidden': 8, 'blocks': 1, 'pan': 16}  # a prime band count: the core pads it to 8


@pytest.fixture(scope='session')
def odd_final(tmp_path_factory):
    """(model, final.onnx) of a small hardware-profile model with 7 bands at PAN 16 x 16."""
    from hw.export import build_final_qonnx, export_qonnx
    model = hardware_model(ODD['bands'], ODD['hidden'], ODD['blocks'], ODD['pan'], seed=1)
    out = tmp_path_factory.mktemp('odd_final')
    raw = export_qonnx(model, out / 'raw.onnx', patch=(ODD['pan'], ODD['pan']), **QUIET)
    return model, build_final_qonnx(raw, out / 'final.onnx')


@pytest.fixture
def restore_torch_threads():
    """Put torch's thread count back after a test that trains (train() sets train.threads)."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)
