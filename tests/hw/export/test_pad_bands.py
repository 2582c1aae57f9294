"""PadBands: the core's zero bands change nothing in the first B bands and stay exactly 0."""

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from hw.export.graph import QonnxPassError
from hw.export.passes.pad_bands import PadBands
from tests.conftest import ODD, grid_inputs


def _run(model, ms, pan):
    return execute_onnx(model, {'ms': ms.astype(np.float32), 'pan': pan.astype(np.float32)})['out']


def test_padded_core_equals_the_final_graph_on_its_bands(odd_final):
    _, final = odd_final
    q = ModelWrapper(str(final))
    core = q.transform(PadBands(8))
    assert core.get_tensor_shape('ms')[-1] == 8 and core.get_tensor_shape('out')[-1] == 8
    ms, pan = grid_inputs(ODD['bands'], ODD['pan'], seed=3)
    ms, pan = ms.permute(0, 2, 3, 1).numpy(), pan.permute(0, 2, 3, 1).numpy()
    for i in range(ms.shape[0]):  # random, saturating, rounding ties, near the top of the range
        ref = _run(q, ms[i:i + 1], pan[i:i + 1])
        got = _run(core, np.pad(ms[i:i + 1], [(0, 0)] * 3 + [(0, 1)]), pan[i:i + 1])
        assert np.array_equal(got[..., :ODD['bands']], ref)
        assert not got[..., ODD['bands']:].any()


def test_the_check_can_fail_a_nonzero_padded_band_changes_the_output(odd_final):
    _, final = odd_final
    q = ModelWrapper(str(final))
    core = q.transform(PadBands(8))
    ms, pan = grid_inputs(ODD['bands'], ODD['pan'], seed=3)
    ms, pan = ms.permute(0, 2, 3, 1).numpy()[:1], pan.permute(0, 2, 3, 1).numpy()[:1]
    padded = np.pad(ms, [(0, 0)] * 3 + [(0, 1)])
    # the head's padded weight column is zero: only a padded input band that is not zero could
    # change the first B bands, and it must (the weights of the real bands were not zeroed)
    mutated = core.transform(PadBands(8))  # no-op on an already padded graph
    w_name = next(n.input[1] for n in mutated.graph.node if n.op_type == 'Conv'
                  and n.input[0] != 'ms' and mutated.get_tensor_shape(n.input[0])[-1] == 8)
    q_node = mutated.find_producer(w_name)
    w = mutated.get_initializer(q_node.input[0])
    assert not w[..., ODD['bands']:].any()  # the padded input channel has zero weights
    w = w.copy()
    w[..., ODD['bands']:] = w[..., :1]
    mutated.set_initializer(q_node.input[0], w)
    padded[..., ODD['bands']:] = 0.5
    assert not np.array_equal(_run(mutated, padded, pan)[..., :ODD['bands']], _run(q, ms, pan))


def test_padding_to_fewer_bands_is_refused(odd_final):
    with pytest.raises(QonnxPassError, match='fewer channels'):
        ModelWrapper(str(odd_final[1])).transform(PadBands(6))


@pytest.mark.parametrize('arch', ['s2bnet', 'bnnpan'])
def test_other_architectures_pad_through_the_requantised_projection(tmp_path, arch):
    # S2BNet-/BNNPan-style round the C -> B projection to the io grid (S7) before the residual add
    import torch

    from hw.export import build_final_qonnx, export_qonnx
    from quant_models.archs import build_model
    torch.manual_seed(0)
    extra = {'levels': 0} if arch == 's2bnet' else {}
    model = build_model({'arch': arch, 'bands': 7, 'hidden': 4, 'blocks': 1, 'profile': 'hardware', **extra}).eval()
    raw = export_qonnx(model, tmp_path / 'raw.onnx', patch=(16, 16), log=lambda s: None)
    q = ModelWrapper(str(build_final_qonnx(raw, tmp_path / 'final.onnx')))
    core = q.transform(PadBands(8))
    ms, pan = grid_inputs(7, 16, seed=1)
    ms, pan = ms.permute(0, 2, 3, 1).numpy()[:2], pan.permute(0, 2, 3, 1).numpy()[:2]
    for i in range(2):
        got = _run(core, np.pad(ms[i:i + 1], [(0, 0)] * 3 + [(0, 1)]), pan[i:i + 1])
        assert np.array_equal(got[..., :7], _run(q, ms[i:i + 1], pan[i:i + 1])) and not got[..., 7:].any()
