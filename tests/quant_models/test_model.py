"""HS-BiNet profiles: shapes, gradients, init behaviour, fixed-point grids, parameter accounting."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from quant_models.common import HsbinetError
from quant_models.hsbinet import HSBiNetConfig, build_model, model_summary
from quant_models.layers import BinaryConv2d, FixedPointBN


def _inputs(B=6, h=4, r=4, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, B, h, h, generator=g), torch.rand(n, 1, h * r, h * r, generator=g)


@pytest.mark.parametrize('profile', ['paper', 'hardware'])
def test_forward_shape_and_every_trainable_parameter_gets_a_gradient(profile):
    torch.manual_seed(0)
    model = build_model(HSBiNetConfig(bands=6, hidden=8, blocks=1, profile=profile))
    ms, pan = _inputs()
    out = model(ms, pan)
    assert out.shape == (2, 6, 16, 16)
    F.l1_loss(out, torch.rand_like(out)).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing
    n_binary = sum(isinstance(m, BinaryConv2d) for m in model.modules())
    assert n_binary == 3 + 1 + 2 + 1 + 1 + 1 + 1  # MSFE 3+1, block 2, edge, fusion, decoder conv + attention


def test_paper_profile_starts_as_bilinear_upsampling():
    torch.manual_seed(0)
    model = build_model(HSBiNetConfig(bands=6, hidden=8, blocks=1, profile='paper')).eval()
    ms, pan = _inputs()
    with torch.no_grad():
        out = model(ms, pan)
    assert torch.equal(out, F.interpolate(ms, scale_factor=4, mode='bilinear', align_corners=False))


def test_hardware_profile_output_lies_on_the_io_fixed_point_grid():
    torch.manual_seed(0)
    model = build_model(HSBiNetConfig(bands=6, hidden=8, blocks=1, profile='hardware'))
    ms, pan = _inputs()
    model.train()
    model(ms, pan)  # populate BN running statistics
    model.eval()
    with torch.no_grad():
        out = model(ms, pan).numpy().astype(np.float64)
    scaled = out * 2.0 ** 14  # fixed<16,2>: 14 fractional bits
    assert np.array_equal(scaled, np.round(scaled))
    assert scaled.min() >= -2 ** 15 and scaled.max() <= 2 ** 15 - 1


def test_fixed_point_bn_rounds_its_affine_at_inference():
    bn = FixedPointBN(3, frac_bits=8)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([0.3, -1.7, 2.2]))
        bn.bias.copy_(torch.tensor([0.01, 0.5, -0.123]))
        bn.running_mean.copy_(torch.tensor([0.2, -0.1, 3.0]))
        bn.running_var.copy_(torch.tensor([0.5, 2.0, 1.5]))
    bn.eval()
    a, b = bn.folded()
    assert torch.equal(a * 256, torch.round(a * 256)) and torch.equal(b * 256, torch.round(b * 256))
    x = torch.randint(-50, 50, (1, 3, 4, 4)).float()
    assert torch.equal(bn(x), x * a.view(1, 3, 1, 1) + b.view(1, 3, 1, 1))


def test_h4_block_residual_add_is_exact_in_float32_for_any_weight_scale():
    """H4 (as S2BNet-style's S4): a binary weight scale of ~2^-16 would put the second BN's output on
    2^-24, and x + body(x) of a skip near +-32 would then need 30 bits. With out_lsb every BN product
    lands on 2^-19 and the float32 block equals its float64 value; without it, it does not (the check
    can fail). Set after eval() as load_state_dict would: the grid follows the weights."""
    from quant_models.hsbinet import ResidualBlock
    cfg = HSBiNetConfig(bands=5, hidden=8, blocks=1, profile='hardware')
    exact = {}
    for bounded in (True, False):
        torch.manual_seed(0)
        blk = ResidualBlock(cfg).eval()
        bn = blk.body[1][1]
        with torch.no_grad():
            blk.body[1][0].conv.weight.mul_(2.0 ** -10)  # weight scale ~2^-16, after eval()
            bn.weight.copy_(torch.linspace(3.3, 9.7, 8))
            bn.bias.copy_(torch.linspace(-0.4, 0.4, 8))
        if not bounded:
            bn.out_lsb = None
        x = torch.round((torch.rand(2, 8, 6, 6, generator=torch.Generator().manual_seed(1)) * 60 - 30) * 1024) / 1024
        with torch.no_grad():
            y = blk.body(x)
            assert float(blk.body[1][0].conv.quant_weight().scale.max()) <= 2.0 ** -15
        on_grid = torch.equal(y * 2 ** 19, torch.round(y * 2 ** 19))
        exact[bounded] = on_grid and torch.equal((x + y).double(), x.double() + y.double())
    assert exact == {True: True, False: False}


def test_h6_global_residual_add_is_exact_in_float32_for_any_projection_scale():
    """H6: a decoder projection of weights ~1e-5 (int8 scale 2^-23) would put the decoder output on
    ~2^-31 and bilinear + decoder (|sum| near 1) beyond float32's significand. Held on fixed<26,3>
    (multiples of 2^-23) the add equals its float64 value; without it, it does not (can fail)."""
    from quant_models.hsbinet import decoder_out_bits
    from quant_models.layers import exact_add_lsb
    for io_int in (1, 2, 4):
        w, i = decoder_out_bits((16, io_int))
        assert (w, i) == (26, io_int + 1) and 2.0 ** (i - w) == exact_add_lsb(io_int)
    exact = {}
    for bounded in (True, False):
        torch.manual_seed(0)
        model = build_model(HSBiNetConfig(bands=5, hidden=8, blocks=1, profile='hardware')).eval()
        with torch.no_grad():
            model.decoder.proj.weight.normal_(0.0, 1e-5)
        if not bounded:
            model.decoder.requant = torch.nn.Identity()
        ms, pan = _inputs(B=5)
        with torch.no_grad():
            f0 = model.upsample(model.in_ms(ms))
            d = model.decoder(model.fusion(model.edge(model.in_pan(pan)), model.msfe(model.head(f0))))
        assert bool((d != 0).any())
        exact[bounded] = torch.equal((f0 + d).double(), f0.double() + d.double())
    assert exact == {True: True, False: False}


def test_parameter_count_and_weight_memory_for_the_paper_setting(capsys):
    paper = model_summary(build_model(HSBiNetConfig(bands=191, hidden=64, blocks=8, profile='paper')))
    hw = model_summary(build_model(HSBiNetConfig(bands=191, hidden=64, blocks=4, profile='hardware')))
    print(f"\npaper profile: {paper['parameters']:,} parameters (paper: 1.60 M), "
          f"{paper['weight_memory_bits']:,} bits; hardware profile: {hw['parameters']:,} parameters, "
          f"{hw['weight_memory_bits']:,} bits")
    assert paper['parameters'] == 1_611_064  # configs/paper.yaml; the paper reports 1.60 M
    assert abs(paper['parameters'] - 1.60e6) / 1.60e6 < 0.01
    # binary weights dominate the hardware profile: memory far below float32 storage
    assert hw['weight_memory_bits'] < hw['float32_equivalent_bits'] / 16
    assert hw['binary_weights'] > 0.9 * hw['parameters']


def test_config_errors_name_the_key():
    with pytest.raises(HsbinetError, match='model.profile'):
        build_model(HSBiNetConfig(bands=4, profile='fpga'))
    with pytest.raises(HsbinetError, match='model.hidden'):
        build_model(HSBiNetConfig(bands=4, hidden=0))


def _trained_stats(model, seed=0):
    torch.manual_seed(seed)
    model.train()
    with torch.no_grad():
        model(*_inputs(seed=seed))
    return model.eval()


@pytest.mark.parametrize('profile', ['hardware', 'paper'])
def test_full_precision_twin_same_parameters_no_binarisation_not_exportable(profile, tmp_path):
    """binary=False: the same parameter names and shapes (bar the estimators' alpha/lam) and, for
    one seed, the same initial weights; no sign anywhere, so the forward differs from the binary
    model's; a checkpoint records the key only for the twin; export refuses the twin."""
    from hw.export import export_qonnx
    from quant_models.layers import BinaryConv2d
    cfg = dict(bands=6, hidden=8, blocks=1, profile=profile)
    torch.manual_seed(0)
    binary = _trained_stats(build_model(HSBiNetConfig(**cfg)))
    torch.manual_seed(0)
    twin = _trained_stats(build_model(HSBiNetConfig(**cfg, binary=False)))
    shapes = lambda m: {n: tuple(p.shape) for n, p in m.named_parameters() if '.estimator.' not in n}  # noqa: E731
    assert shapes(binary) == shapes(twin)
    assert not any('.estimator.' in n for n, _ in twin.named_parameters())
    twin_params = dict(twin.named_parameters())
    assert all(torch.equal(p, twin_params[n]) for n, p in binary.named_parameters() if '.estimator.' not in n)
    convs = [m for m in twin.modules() if isinstance(m, BinaryConv2d)]
    assert len(convs) == 10 and all(type(m.conv) is torch.nn.Conv2d and not m.binary for m in convs)
    if profile == 'hardware':
        assert type(twin.decoder.binarize) is torch.nn.Identity
    ms, pan = _inputs(seed=5)
    with torch.no_grad():
        for m in (binary, twin):  # the same non-zero projection (the init is near zero: out ~ upsampler)
            w = m.decoder.proj.weight
            w.copy_(torch.randn(w.shape, generator=torch.Generator().manual_seed(1)))
        assert not torch.allclose(binary(ms, pan), twin(ms, pan), atol=1e-3)
    # no sign on the input: doubling it leaves a binary conv's output unchanged and doubles the twin's
    h3 = profile == 'hardware'
    bconv, tconv = BinaryConv2d(16, 8, 3, pad_then_binarize=h3), BinaryConv2d(16, 8, 3, pad_then_binarize=h3, binary=False)
    x = torch.randn(1, 16, 6, 6)
    with torch.no_grad():
        assert torch.equal(bconv(x), bconv(2 * x)) and torch.allclose(tconv(2 * x), 2 * tconv(x), atol=1e-6)
    assert 'binary' not in binary.cfg.to_dict() and twin.cfg.to_dict()['binary'] is False
    assert HSBiNetConfig(**twin.cfg.to_dict()).validate().binary is False  # survives the checkpoint round trip
    s = model_summary(twin)
    assert s['binary_weights'] == 0 and s['parameters'] == model_summary(binary)['parameters']
    if profile == 'hardware':
        with pytest.raises(HsbinetError, match='model.binary') as e:
            export_qonnx(twin, tmp_path / 'raw.onnx', patch=(16, 16), log=lambda s: None)
        assert 'full-precision twin cannot be exported' in e.value.paragraph()
    with pytest.raises(HsbinetError, match='model.binary'):
        HSBiNetConfig(bands=4, binary='no').validate()
