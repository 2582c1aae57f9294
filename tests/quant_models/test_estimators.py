"""ATISTE / sign-STE / ReSTE: forward values, autograd gradients vs closed forms, Brevitas export."""

import math

import numpy as np
import pytest
import torch
from brevitas import nn as qnn

from quant_models.estimators import (AtisteEstimator, ReSTEEstimator, SignSTEEstimator, binary_sign,
                                     make_estimator, reste_gradient, set_estimator_progress)
from quant_models.layers import BinaryConv2d
from quant_models.quantizers import act_quant, weight_quant


def test_binary_sign_maps_zero_to_plus_one():
    x = torch.tensor([-2.0, -1e-30, 0.0, -0.0, 1e-30, 3.0])
    assert torch.equal(binary_sign(x), torch.tensor([-1.0, -1.0, 1.0, 1.0, 1.0, 1.0]))


@pytest.mark.parametrize('name', ['atiste', 'ste', 'reste'])
def test_forward_is_hard_sign_for_every_estimator(name):
    est = make_estimator(name, (1, 3, 1, 1)).double()
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    x[0, 0, 0, 0] = 0.0
    y = est(x)
    assert torch.equal(y, binary_sign(x))
    assert y[0, 0, 0, 0] == 1.0
    # inference (no autograd) is the plain sign, also far outside the surrogate's exact range
    big = torch.tensor([3e7, -3e7, 0.0, 5.0], dtype=torch.float64).view(1, 4, 1, 1)
    est4 = make_estimator(name, (1, 4, 1, 1)).double()
    with torch.no_grad():
        assert torch.equal(est4(big), torch.tensor([1.0, -1.0, 1.0, 1.0], dtype=torch.float64).view(1, 4, 1, 1))


def test_atiste_gradients_match_closed_form():
    torch.manual_seed(0)
    est = AtisteEstimator((1, 3, 1, 1), alpha_init=2.0, lam_init=0.3).double()
    with torch.no_grad():
        est.alpha.copy_(torch.tensor([0.5, 2.0, 4.0], dtype=torch.float64).view(1, 3, 1, 1))
    x = (torch.randn(2, 3, 5, 5, dtype=torch.float64) * 1.5).requires_grad_(True)
    g = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    (est(x) * g).sum().backward()

    a, lam = est.alpha.detach(), est.lam.detach()
    th = torch.tanh(a * x.detach())
    dx = (1 - lam) * a * (1 - th ** 2) + lam  # paper eq. 2
    assert torch.allclose(x.grad, g * dx, rtol=0, atol=1e-12)
    d_alpha = (g * (1 - lam) * x.detach() * (1 - th ** 2)).sum(dim=(0, 2, 3), keepdim=True)
    assert torch.allclose(est.alpha.grad, d_alpha, atol=1e-10)
    d_lam = (g * (x.detach() - th)).sum() * lam * (1 - lam)  # through the sigmoid re-parameterisation
    assert torch.allclose(est.lam_logit.grad, d_lam, atol=1e-10)
    # bounds of eq. 3: lam <= f' <= (1 - lam) * alpha + lam
    assert torch.all(dx >= lam - 1e-12) and torch.all(dx <= (1 - lam) * a + lam + 1e-12)


def test_atiste_lambda_stays_in_unit_interval():
    est = AtisteEstimator(lam_init=0.5)
    with torch.no_grad():
        est.lam_logit.fill_(80.0)
    assert 0.0 <= est.lam.item() <= 1.0
    with torch.no_grad():
        est.lam_logit.fill_(-80.0)
    assert 0.0 <= est.lam.item() <= 1.0


def test_sign_ste_gradient_is_clipped_identity():
    x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.7, 1.0, 1.01], requires_grad=True)
    SignSTEEstimator()(x).sum().backward()
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]))


def test_reste_gradient_values_and_schedule():
    x = torch.tensor([0.05, -0.05, 0.5, -0.5, 1.5, 2.0], dtype=torch.float64)
    g = reste_gradient(x, o=3.0)
    secant = 0.1 ** (1 / 3) / 0.1
    power = (1 / 3) * 0.5 ** (-2 / 3)
    expected = torch.tensor([secant, secant, power, power, (1 / 3) * 1.5 ** (-2 / 3), 0.0], dtype=torch.float64)
    assert torch.allclose(g, expected, atol=1e-12)
    # o = 1 is the identity STE clipped at t = 1.5
    assert torch.allclose(reste_gradient(x, o=1.0), torch.tensor([1, 1, 1, 1, 1, 0.0], dtype=torch.float64))

    est = ReSTEEstimator(o_end=3.0)
    est.set_progress(0, 10)
    assert float(est.o) == 1.0
    est.set_progress(5, 10)
    assert math.isclose(float(est.o), 1 + (1 - math.cos(math.pi / 4)) * 2, rel_tol=1e-6)
    est.set_progress(10, 10)
    assert math.isclose(float(est.o), 3.0, rel_tol=1e-6)
    # autograd uses the current o
    xr = x.clone().requires_grad_(True)
    est.double()(xr).sum().backward()
    assert torch.allclose(xr.grad, reste_gradient(x, 3.0))


def test_set_estimator_progress_reaches_nested_modules():
    conv = BinaryConv2d(2, 2, 3, 'reste')
    set_estimator_progress(conv, 10, 10)
    os = [float(m.o) for m in conv.modules() if isinstance(m, ReSTEEstimator)]
    assert len(os) == 2 and all(math.isclose(o, 3.0, rel_tol=1e-6) for o in os)


def test_unknown_estimator_is_rejected():
    with pytest.raises(ValueError, match='unknown estimator'):
        make_estimator('xnor++')


def test_weight_quant_is_sign_times_power_of_two_per_channel_and_never_mutates_weights():
    torch.manual_seed(1)
    conv = qnn.QuantConv2d(4, 3, 3, bias=False, weight_quant=weight_quant('atiste'))
    with torch.no_grad():
        conv.weight.mul_(torch.tensor([0.3, 1.0, 3.0]).view(3, 1, 1, 1))
        conv.weight[0, 0, 0, 0] = 0.0
    before = conv.weight.detach().clone()
    for _ in range(3):
        qw = conv.quant_weight()
    assert torch.equal(conv.weight.detach(), before), 'the quantizer must not clamp the weights in place'
    mean_abs = before.abs().mean(dim=(1, 2, 3))
    scale = 2.0 ** torch.round(torch.log2(mean_abs))
    assert torch.equal(qw.scale.flatten(), scale)
    expected = binary_sign(before) * scale.view(3, 1, 1, 1)
    assert torch.equal(qw.value, expected)
    assert qw.value[0, 0, 0, 0] == scale[0]  # sign(0) = +1


def test_weight_estimator_alpha_is_per_output_channel_and_act_alpha_per_input_channel():
    conv = qnn.QuantConv2d(5, 7, 3, bias=False, weight_quant=weight_quant('atiste'), input_quant=act_quant('atiste', 5))
    shapes = {n: tuple(p.shape) for n, p in conv.named_parameters() if n.endswith('alpha')}
    assert shapes['weight_quant.tensor_quant.estimator.alpha'] == (7, 1, 1, 1)
    assert shapes['input_quant.fused_activation_quant_proxy.tensor_quant.estimator.alpha'] == (1, 5, 1, 1)


@pytest.mark.parametrize('pad_then_binarize', [False, True])
def test_binary_conv_exports_bipolar_quant_and_qonnx_matches_torch_exactly(tmp_path, pad_then_binarize):
    import onnx
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    torch.manual_seed(2)
    layer = BinaryConv2d(4, 6, 3, 'atiste', pad_then_binarize=pad_then_binarize).eval()
    x = torch.randn(1, 4, 9, 9)
    path = tmp_path / 'bconv.onnx'
    export_qonnx(layer, args=x, export_path=str(path))
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count('BipolarQuant') == 2, ops  # weights and activations
    model = cleanup_model(ModelWrapper(str(path)))
    out = execute_onnx(model, {model.graph.input[0].name: x.numpy()})[model.graph.output[0].name]
    with torch.no_grad():
        ref = layer(x).numpy()
    assert np.array_equal(out, ref)
