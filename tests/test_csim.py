"""C-simulation is bit-exact with PyTorch and QONNX on WDC-geometry patches; a 1-bit fault is caught."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from build_flows.flow import data_stage
from quant_models.hsbinet import HSBiNetConfig
from quant_models.train import TrainConfig, train
from sim.csim import run_csim

SHARED = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'
WDC_LIKE = SHARED / 'abu_urban3_aviris_100x100x191.mat'  # 191 bands, like WDC
needs_shared = pytest.mark.skipif(not WDC_LIKE.is_file(), reason=f'shared real cubes not present at {SHARED}')


@pytest.fixture(scope='module')
def wdc_like(tmp_path_factory):
    """A HyperPanCollection test file with WDC geometry (191 bands, ratio 4) and a small checkpoint."""
    root = tmp_path_factory.mktemp('wdc_like')
    quiet = lambda s: None  # noqa: E731
    data_stage(str(WDC_LIKE), root / 'data', {'ratio': 4, 'patch': 16, 'test_patch': 16}, log=quiet)
    train(HSBiNetConfig(bands=191, hidden=8, blocks=1), TrainConfig(epochs=2, seed=0), root / 'data', root / 'ckpt',
          log=quiet, progress=False)
    return root


@needs_shared
def test_csim_is_bit_exact_on_four_wdc_geometry_patches(wdc_like):
    v = run_csim(wdc_like / 'ckpt' / 'last.pt', wdc_like / 'data' / 'test.h5', wdc_like / 'csim', patches=4,
                 log=lambda s: None)
    assert v['bit_exact'] is True and v['mismatches'] == 0 and v['patches'] == 4
    assert v['elements'] == 3 * 4 * 16 * 16 * 191  # torch/qonnx/csim pairs x patches x H x W x B
    on_disk = json.loads((wdc_like / 'csim' / 'verdict.json').read_text())
    assert {'bit_exact', 'patches', 'elements', 'mismatches', 'first_mismatch'} <= set(on_disk)
    table = json.loads((wdc_like / 'csim' / 'precisions.json').read_text())
    assert table and all('range' in row for row in table)


@needs_shared
def test_cli_fault_injection_turns_the_verdict_red(wdc_like):
    out = wdc_like / 'fault'
    r = subprocess.run([sys.executable, '-m', 'build_flows.cli', 'csim', '--checkpoint',
                        str(wdc_like / 'ckpt' / 'last.pt'), '--test', str(wdc_like / 'data' / 'test.h5'),
                        '--out', str(out), '--patches', '1', '--inject-fault'],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr[-2000:]
    v = json.loads((out / 'verdict.json').read_text())
    assert v['bit_exact'] is False and v['mismatches'] > 0
    assert v['fault_injected']['from'] != v['fault_injected']['to']
    assert v['first_mismatch']['between'][1] == 'csim'
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
