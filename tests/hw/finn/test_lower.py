"""FINN lowering (finn-plus 1.6.1 as a library): FINN's python execution of the lowered dataflow
graph equals the final QONNX graph bit for bit (np.array_equal), estimates cover every HW layer,
folding from a target / from a file, bad input -> HsbinetError."""

import json

import numpy as np
import pytest

# finn-plus is part of the install (Makefile): a missing finn must fail here, not skip
from hw.finn.lower import finn_python_model, lower_finn
from quant_models.common import HsbinetError
from sim.golden import execute_final, nhwc
from tests.conftest import QUIET, grid_inputs

# fixtures: small_final (tests/conftest.py: the small model's final.onnx, PAN 16 x 16, raw.onnx
# next to it) and lowered_target (tests/hw/finn/conftest.py)


def test_python_execution_bit_exact(small_final, lowered_target):
    est, out = lowered_target
    ms, pan = grid_inputs(8, 16, seed=3)  # random, wide (saturating), rounding ties, near the top
    ms, pan = nhwc(ms.numpy()), nhwc(pan.numpy())
    y_qonnx = execute_final(small_final, ms, pan)
    y_finn = execute_final(finn_python_model(out / 'finn_lowered.onnx'), ms, pan)
    assert y_finn.shape == y_qonnx.shape == (4, 16, 16, 8)
    assert np.array_equal(y_finn, y_qonnx), f'{int((y_finn != y_qonnx).sum())} elements differ'


def test_estimates_cover_every_hw_layer(lowered_target):
    est, out = lowered_target
    on_disk = json.loads((out / 'finn_estimates.json').read_text())
    assert on_disk['layers'] == est['layers'] and on_disk['finn_plus_version'] == '1.6.1'
    from qonnx.core.modelwrapper import ModelWrapper
    lowered = ModelWrapper(str(out / 'finn_lowered.onnx'))
    hw = [n.name for n in lowered.graph.node if n.domain.startswith('finn.custom_op.fpgadataflow')]
    assert [e['name'] for e in est['layers']] == hw
    ops = {e['op_type'] for e in est['layers']}
    assert {'MVAU_hls', 'ConvolutionInputGenerator_rtl', 'Thresholding_rtl', 'FMPadding_rtl'} <= ops
    for e in est['layers']:
        assert e['cycles'] > 0 and e['LUT'] >= 0 and {'BRAM_18K', 'URAM', 'DSP'} <= set(e)
    # every binary conv of the final graph (9) is an xnor MVAU traced back to its Conv node
    mvaus = [e for e in est['layers'] if e['op_type'] == 'MVAU_hls']
    convs = {s for e in mvaus for s in e['source_nodes'] if s.startswith('Conv_')}
    assert len(mvaus) == 9 and len(convs) == 9
    kinds = {n['op_type'] for n in est['not_converted']}
    assert {'BilinearResize', 'ChannelGate', 'Quant'} <= kinds and all(n['reason'] for n in est['not_converted'])
    assert est['total']['max_cycles_per_frame'] == max(e['cycles'] for e in est['layers'])


def test_target_changes_folding(lowered_target):
    est, out = lowered_target
    mvaus = [e for e in est['layers'] if e['op_type'].startswith('MVAU')]
    assert any(e['folding']['PE'] * e['folding']['SIMD'] > 1 for e in mvaus)
    # fully folded (PE = SIMD = 1) the 7x7 binary conv alone takes 16*16 pixels * 392 * 8 = 802816 cycles
    assert est['total']['max_cycles_per_frame'] < 802816
    folding = json.loads((out / 'folding.json').read_text())
    assert set(folding) - {'Defaults'} == {e['name'] for e in est['layers']}


def test_folding_file_round_trip(small_final, lowered_target, tmp_path):
    est, out = lowered_target
    est2 = lower_finn(small_final, tmp_path, folding_file=out / 'folding.json', **QUIET)
    assert [(e['name'], e['cycles'], e['folding']) for e in est2['layers']] == \
        [(e['name'], e['cycles'], e['folding']) for e in est['layers']]
    assert json.loads((tmp_path / 'folding.json').read_text()) == json.loads((out / 'folding.json').read_text())
    assert not list(tmp_path.glob('*.partial'))


def test_bad_inputs(small_final, tmp_path):
    with pytest.raises(HsbinetError, match='not found'):
        lower_finn(tmp_path / 'missing.onnx', tmp_path / 'o', **QUIET)
    junk = tmp_path / 'junk.onnx'
    junk.write_text('not a model')
    with pytest.raises(HsbinetError) as e:
        lower_finn(junk, tmp_path / 'o', **QUIET)
    assert e.value.file == str(junk)
    raw = small_final.parent / 'raw.onnx'  # the raw export: NCHW, other input names
    with pytest.raises(HsbinetError, match='Not a final QONNX graph'):
        lower_finn(raw, tmp_path / 'o', **QUIET)
    bad_fold = tmp_path / 'fold.json'
    bad_fold.write_text(json.dumps({'MVAU_hls_0': 2}))  # checked before any FINN work
    with pytest.raises(HsbinetError, match='Bad folding file'):
        lower_finn(small_final, tmp_path / 'o', folding_file=bad_fold, **QUIET)
    with pytest.raises(HsbinetError, match='folding target'):
        lower_finn(small_final, tmp_path / 'o', target_cycles_per_frame=0, **QUIET)
    assert not (tmp_path / 'o' / 'finn_estimates.json').exists()
