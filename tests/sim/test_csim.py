"""C-simulation of a lowered project, as the flow ships it: bit-exact at WDC geometry (191 bands,
real cube), the CLI verifying an existing lowered build folder without exporting or lowering again,
fault injection turning the verdict red with the first differing layer, and both hls4ml backends
on the small shared design."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from build_flows.config import load_config
from build_flows.steps import Build, run_steps
from quant_models.data.hpc_format import write_hpc
from sim.csim import run_csim
from tests.conftest import SHARED_DATA, grid_inputs

WDC_LIKE = SHARED_DATA / 'abu_urban3_aviris_100x100x191.mat'  # 191 bands, like WDC
needs_shared = pytest.mark.skipif(not WDC_LIKE.is_file(), reason=f'shared real cubes not present at {SHARED_DATA}')
QUIET = lambda s: None  # noqa: E731


@pytest.fixture(scope='module')
def wdc_build(tmp_path_factory):
    """A build folder through the lower step: WDC geometry, a 2-epoch C = 8 model, 16 x 16 patches."""
    root = tmp_path_factory.mktemp('wdc_like')
    cfg = load_config(None, {'scene': str(WDC_LIKE), 'data': {'ratio': 4, 'patch': 16, 'test_patch': 16},
                             'model': {'hidden': 8, 'blocks': 1}, 'train': {'epochs': 2, 'time_budget_min': None}})
    run_steps(Build(root, cfg, log=QUIET, progress=False), ['data', 'train', 'export', 'verify_qonnx', 'lower'])
    return root


@needs_shared
def test_csim_is_bit_exact_on_four_wdc_geometry_patches(wdc_build):
    v = run_csim(wdc_build / 'hw', wdc_build / 'train' / 'best.pt', wdc_build / 'data' / 'test.h5',
                 wdc_build / 'csim', patches=4, log=QUIET)
    assert v['bit_exact'] is True and v['mismatches'] == 0 and v['patches'] == 4
    # torch/qonnx/csim pairs x patches x H x W x B, plus the TLAST of every output beat (6 per pixel:
    # 191 bands of 16 bit on a 512-bit bus); the core runs 192 bands (191 is prime), the bus carries 191
    assert v['elements'] == 3 * 4 * 16 * 16 * 191 + 4 * 16 * 16 * 6
    assert v['core_bands'] == 192 and v['axis']['tdata_bits'] == 512 and v['axis']['beats_per_pixel'] == 6
    on_disk = json.loads((wdc_build / 'csim' / 'verdict.json').read_text())
    assert {'bit_exact', 'patches', 'elements', 'mismatches', 'first_mismatch', 'design_sha256'} <= set(on_disk)
    design = json.loads((wdc_build / 'hw' / 'design.json').read_text())
    assert on_disk['design_sha256'] == design['sha256']  # the verdict names the design it verified
    table = json.loads((wdc_build / 'hw' / 'precisions.json').read_text())
    assert table and all('range' in row for row in table)


@needs_shared
def test_cli_csim_verifies_the_existing_project_and_fault_injection_turns_it_red(wdc_build):
    prj = wdc_build / 'hw' / 'hls4ml_prj'
    before = {p: p.stat().st_mtime_ns for p in prj.rglob('*') if p.is_file() and p.suffix in ('.h', '.cpp', '.txt')}
    out = wdc_build / 'fault'
    r = subprocess.run([sys.executable, '-m', 'build_flows.cli', 'csim', '--build', str(wdc_build),
                        '--out', str(out), '--patches', '1', '--inject-fault'],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr[-2000:]
    v = json.loads((out / 'verdict.json').read_text())
    assert v['bit_exact'] is False and v['mismatches'] > 0
    assert v['fault_injected']['from'] != v['fault_injected']['to']
    assert v['first_mismatch']['between'][1] == 'csim'
    assert v['design_sha256'] != v['lowered_sha256']  # the faulty copy is another design
    # the layer trace puts the first difference in the layer whose weight was flipped, and names
    # the PyTorch module it came from; every layer before it is still exact
    fm = v['first_mismatch']
    assert fm['layer'] == v['fault_injected']['layer'], fm
    assert fm['module'].startswith('decoder.proj'), fm
    trace = json.loads((out / 'layer_trace.json').read_text())['layers']
    names = [row['layer'] for row in trace]
    assert len(trace) > 20 and all(row['mismatches'] == 0 for row in trace[:names.index(fm['layer'])])
    # the golden vectors still agree with each other: only the accelerator was broken
    assert v['comparisons'][0]['mismatches'] == 0
    assert 'bit_exact: false' in r.stdout
    # the shipped project was neither exported, lowered nor edited again
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before


def _small_test_file(tmp_path, model):
    ms, pan = grid_inputs(model.cfg.bands, 16, seed=2)
    path = tmp_path / 'test.h5'
    write_hpc(path, None, torch.nn.functional.interpolate(ms, scale_factor=4).numpy(), ms.numpy(), pan.numpy())
    return path


def test_csim_of_the_small_design_is_bit_exact_on_both_backends(small_model, small_lowered_any, tmp_path):
    ckpt = {'model_config': small_model.cfg.to_dict(), 'state_dict': small_model.state_dict()}
    torch.save(ckpt, tmp_path / 'm.pt')
    v = run_csim(small_lowered_any, tmp_path / 'm.pt', _small_test_file(tmp_path, small_model), tmp_path / 'v',
                 log=QUIET)
    design = json.loads((Path(small_lowered_any) / 'design.json').read_text())
    assert v['bit_exact'] is True and v['patches'] == 4 and v['backend'] == design['backend']
    assert v['design_sha256'] == design['sha256']
    assert v['golden_float32'] == design['golden_float32'] and v['golden_float32']['exact'] is True
    golden = np.load(tmp_path / 'v' / 'golden.npz')
    assert golden['torch_nhwc'].shape == (4, 16, 16, 8)


def test_csim_of_the_folded_design_is_bit_exact(small_model, small_folded, tmp_path):
    """The Resource-strategy code paths (reuse factors > 1) of the folded project, C-simulated."""
    torch.save({'model_config': small_model.cfg.to_dict(), 'state_dict': small_model.state_dict()}, tmp_path / 'm.pt')
    v = run_csim(small_folded, tmp_path / 'm.pt', _small_test_file(tmp_path, small_model), tmp_path / 'v', log=QUIET)
    design = json.loads((Path(small_folded) / 'design.json').read_text())
    assert max(design['folding']['reuse'].values()) > 1
    assert v['bit_exact'] is True and v['design_sha256'] == design['sha256']


def test_csim_refuses_a_checkpoint_of_another_model(small_model, small_lowered, tmp_path):
    from quant_models.common import HsbinetError
    from tests.conftest import hardware_model
    other = hardware_model(8, 16, 1)
    torch.save({'model_config': other.cfg.to_dict(), 'state_dict': other.state_dict()}, tmp_path / 'o.pt')
    with pytest.raises(HsbinetError, match='model.hidden'):
        run_csim(small_lowered, tmp_path / 'o.pt', _small_test_file(tmp_path, small_model), tmp_path / 'v', log=QUIET)


def test_a_float32_golden_model_that_departs_from_qonnx_and_csim_gives_a_red_verdict_not_a_crash(
        small_model, small_lowered, tmp_path, monkeypatch):
    """Measured on a BNNPan-style build (2026-12-03): C-simulation == QONNX, PyTorch 1 LSB off in one
    pixel. The verdict is red, names torch as the odd one out, and nothing raises."""
    import sim.csim as csim
    real = csim.golden_vectors

    def torch_one_lsb_off(*args, **kw):
        g = real(*args, **kw)
        g['torch_nhwc'] = g['torch_nhwc'].copy()
        g['torch_nhwc'][0, 3, 5, 1] += 2.0 ** -14
        return g

    monkeypatch.setattr(csim, 'golden_vectors', torch_one_lsb_off)
    torch.save({'model_config': small_model.cfg.to_dict(), 'state_dict': small_model.state_dict()}, tmp_path / 'm.pt')
    said = []
    v = run_csim(small_lowered, tmp_path / 'm.pt', _small_test_file(tmp_path, small_model), tmp_path / 'v',
                 log=said.append)
    assert v['bit_exact'] is False
    by_pair = {(c['reference'], c['candidate']): c['mismatches'] for c in v['comparisons']}
    assert by_pair[('qonnx', 'csim')] == 0 and by_pair[('torch', 'qonnx')] == 1 and by_pair[('torch', 'csim')] == 1
    assert any('PyTorch (float32) differs' in line for line in said)
