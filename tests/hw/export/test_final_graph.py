"""QONNX export end to end: raw Brevitas export -> final channels-last (NHWC) graph with the two
fused custom ops, and the bit-exact contract eval-mode PyTorch == qonnx execute_onnx
(np.array_equal)."""

import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper

from hw.custom_ops import DOMAIN
from hw.export import build_final_qonnx, export_qonnx
from quant_models.common import HsbinetError
from quant_models.train import model_from_checkpoint
from sim.qonnx_check import verify_qonnx
from tests.conftest import LSB, QUIET, SMALL, grid_inputs, hardware_model


def export_and_verify(model_or_ckpt, out_dir, ms, pan, log=print):
    """The export and verify_qonnx steps on one model: raw + final QONNX, then torch == qonnx
    on NCHW ``ms`` (N, B, h, w), ``pan`` (N, 1, H, W)."""
    raw = export_qonnx(model_or_ckpt, out_dir / 'raw.onnx', patch=tuple(pan.shape[2:]), log=log)
    final = build_final_qonnx(raw, out_dir / 'final.onnx')
    model = model_or_ckpt if isinstance(model_or_ckpt, torch.nn.Module) else model_from_checkpoint(model_or_ckpt)
    return {**verify_qonnx(model, final, ms, pan, log=log), 'raw': str(raw)}


def _verified(model, tmp_path_factory, pan, source=None):
    ms, x_pan = grid_inputs(SMALL['bands'], pan, seed=pan)
    out = tmp_path_factory.mktemp(f'pan{pan}')
    return export_and_verify(model if source is None else source, out, ms, x_pan, **QUIET), ms, x_pan


@pytest.fixture(scope='module')
def small_run_16(small_model, tmp_path_factory):
    # exported from a checkpoint dict (as `hsbinet train` writes it) to exercise that path too
    ckpt = {'model_config': small_model.cfg.to_dict(), 'state_dict': small_model.state_dict()}
    return _verified(small_model, tmp_path_factory, 16, source=ckpt)


@pytest.fixture(scope='module')
def small_run_32(small_model, tmp_path_factory):
    return _verified(small_model, tmp_path_factory, 32)


def _check_final_graph(result, bands, pan):
    """No Transpose, both fused ops, NHWC inputs ms (1, h, w, B), pan (1, H, W, 1), output (1, H, W, B)."""
    ops = result['ops']
    assert result['transposes'] == 0 and 'Transpose' not in ops
    assert ops['BilinearResize'] == 1 and ops['ChannelGate'] == 1
    for gone in ('Resize', 'ReduceMean', 'Mul'):
        assert gone not in ops, ops
    assert result['inputs'] == {'ms': [1, pan // 4, pan // 4, bands], 'pan': [1, pan, pan, 1]}
    assert result['output'] == [1, pan, pan, bands]


@pytest.mark.parametrize('pan', [16, 32])
def test_final_graph_is_channels_last_fused_and_bit_exact(small_model, request, pan):
    result, ms, x_pan = request.getfixturevalue(f'small_run_{pan}')
    bands = SMALL['bands']
    _check_final_graph(result, bands, pan)
    assert result['bit_exact'], result['first_mismatch']
    assert result['mismatches'] == 0 and result['max_abs_diff'] == 0.0
    assert result['n_elements'] == ms.shape[0] * bands * pan * pan
    # the outputs really reach both saturation limits of fixed<16,2>
    with torch.no_grad():
        y = small_model(ms, x_pan)
    assert y.max().item() == 2 - LSB and y.min().item() == -2.0
    final = ModelWrapper(result['final'])
    assert DOMAIN in final.get_opset_imports()
    assert [i.name for i in final.graph.input] == ['ms', 'pan'] and final.graph.output[0].name == 'out'


def test_large_model_191_bands_64_channels_is_bit_exact(tmp_path):
    model = hardware_model(191, 64, 2, pan=32, seed=1)
    g = torch.Generator().manual_seed(5)
    ms = torch.cat([torch.rand(1, 191, 8, 8, generator=g), torch.rand(1, 191, 8, 8, generator=g) * 5 - 2.5])
    pan = torch.cat([torch.rand(1, 1, 32, 32, generator=g), torch.rand(1, 1, 32, 32, generator=g) * 5 - 2.5])
    result = export_and_verify(model, tmp_path, ms, pan, **QUIET)
    _check_final_graph(result, 191, 32)
    assert result['bit_exact'] and result['mismatches'] == 0, result['first_mismatch']


def test_export_rejects_a_patch_that_is_not_a_multiple_of_the_ratio(small_model, tmp_path):
    with pytest.raises(HsbinetError, match='multiple of the ratio'):
        export_qonnx(small_model, tmp_path / 'raw.onnx', patch=(18, 16), **QUIET)
