"""S2BNet-style: both profiles' shapes and gradients, the Gabor-modulated binary weights, the
hardware profile's named changes, config validation and the architecture registry."""

import math

import pytest
import torch
import torch.nn.functional as F

from quant_models.archs import ARCHS, build_model, display_name, model_config_from_dict
from quant_models.common import HsbinetError
from quant_models.hsbinet import HSBiNetConfig, model_summary
from quant_models.layers import BinaryConv2d
from quant_models.s2bnet import ChannelAffine, RPReLU, S2BConv, S2BNet, S2BNetConfig, gabor_bank, tail_input_bits


def _inputs(B=5, h=4, r=4, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, B, h, h, generator=g), torch.rand(n, 1, h * r, h * r, generator=g)


@pytest.mark.parametrize('profile,levels', [('paper', 2), ('paper', 0), ('hardware', 0)])
def test_forward_shape_and_every_trainable_parameter_gets_a_gradient(profile, levels):
    torch.manual_seed(0)
    model = S2BNet(S2BNetConfig(bands=5, hidden=8, blocks=1, levels=levels, profile=profile))
    ms, pan = _inputs()
    out = model(ms, pan)
    assert out.shape == (2, 5, 16, 16)
    F.l1_loss(out, torch.rand_like(out)).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing
    # per level: encoder 1 + down 2 + up 2 + skip 2 + decoder 1; plus the bottleneck's 1
    assert sum(isinstance(m, S2BConv) for m in model.modules()) == 8 * levels + 1


def test_paper_profile_starts_as_bicubic_upsampling():
    torch.manual_seed(0)
    model = S2BNet(S2BNetConfig(bands=5, hidden=8, blocks=1, levels=1, profile='paper')).eval()
    ms, pan = _inputs()
    with torch.no_grad():
        assert torch.equal(model(ms, pan), F.interpolate(ms, scale_factor=4, mode='bicubic', align_corners=False))


def test_hardware_profile_applies_its_named_changes():
    model = S2BNet(S2BNetConfig(bands=5, hidden=8, blocks=2, levels=0, profile='hardware'))
    assert all(model.cfg.has(c) for c in ('S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7'))
    assert not any(isinstance(m, RPReLU) for m in model.modules())  # S5
    assert all(m.pad_then_binarize for m in model.modules() if isinstance(m, BinaryConv2d))  # S3
    paper = S2BNet(S2BNetConfig(bands=5, hidden=8, blocks=2, levels=0, profile='paper'))
    assert sum(isinstance(m, RPReLU) for m in paper.modules()) == 2
    assert not any(paper.cfg.has(c) for c in ('S1', 'S5'))


def test_gabor_bank_is_deterministic_normalised_and_seeded():
    a, b, c = gabor_bank(6, 3, 1), gabor_bank(6, 3, 1), gabor_bank(6, 3, 2)
    assert a.shape == (6, 1, 3, 3) and torch.equal(a, b) and not torch.equal(a, c)
    assert torch.allclose(a.abs().amax(dim=(1, 2, 3)), torch.ones(6))
    # an isotropic centre: the kernel's centre is the envelope's peak and cos(0) = 1
    assert torch.all(a[:, 0, 1, 1] == 1.0)


def test_binary_weights_are_the_signs_of_the_gabor_modulated_latent_weights():
    torch.manual_seed(0)
    block = S2BConv(S2BNetConfig(bands=5, hidden=8, levels=0), 8, seed=3).eval()
    conv = block.conv.conv
    latent = conv.parametrizations.weight.original
    modulated = latent * gabor_bank(8, 3, 3)
    assert torch.equal(conv.weight, modulated)
    wq = conv.quant_weight().value.detach()
    nz = modulated != 0
    assert torch.equal(torch.sign(wq)[nz], torch.sign(modulated)[nz])
    # +-2^k per output channel: one magnitude per row, a power of two
    mags = wq.abs().flatten(1)
    assert torch.all(mags == mags[:, :1])
    k = torch.log2(mags[:, 0])
    assert torch.equal(k, torch.round(k))
    # two models from the same config draw the same Gabor kernels (they are checkpoint buffers)
    assert 'conv.conv.parametrizations.weight.0.bank' in block.state_dict()


def test_model_summary_counts_each_binary_weight_once():
    model = S2BNet(S2BNetConfig(bands=5, hidden=8, blocks=2, levels=0, profile='hardware'))
    s = model_summary(model)
    assert s['binary_weights'] == 2 * 8 * 8 * 9
    # training-only estimator parameters excluded, every other parameter in exactly one class
    assert s['parameters'] == s['binary_weights'] + s['int8_weights'] + s['other_parameters']
    assert s['int8_weights'] == 5 * 8 + 8 * 5  # head 1x1 B -> C and tail 1x1 C -> B


@pytest.mark.parametrize('kw,key', [
    ({'levels': 2, 'profile': 'hardware'}, 'model.levels'),
    ({'profile': 'fpga'}, 'model.profile'),
    ({'hidden': 0}, 'model.hidden'),
    ({'arch': 'hsbinet'}, 'model.arch'),
])
def test_config_errors_name_the_key(kw, key):
    with pytest.raises(HsbinetError) as e:
        S2BNetConfig(**{'bands': 5, **kw}).validate()
    assert e.value.key == key


def test_architecture_registry_round_trips_stored_configs():
    assert set(ARCHS) == {'hsbinet', 's2bnet', 'bnnpan'}
    s2b = S2BNetConfig(bands=7, hidden=8, levels=0)
    back = model_config_from_dict(s2b.to_dict())
    assert isinstance(back, S2BNetConfig) and back == s2b.validate()
    assert isinstance(build_model(s2b.to_dict()), S2BNet) and display_name(s2b) == 'S2BNet-style'
    # a stored HS-BiNet config has no 'arch' key (checkpoints written before archs were selectable)
    hs = HSBiNetConfig(bands=7, hidden=8).to_dict()
    assert 'arch' not in hs and isinstance(model_config_from_dict(hs), HSBiNetConfig)
    assert display_name(hs) == 'HS-BiNet'
    with pytest.raises(HsbinetError) as e:
        model_config_from_dict({**hs, 'arch': 'bnn'})
    assert e.value.key == 'model.arch'


@pytest.mark.parametrize('channels', [1, 7, 8, 64, 100, 1024])
def test_tail_sum_stays_exact_in_float32(channels):
    # S7: |x_int| * |w_int| * C <= 2^24 for the tail's fixed<W_t, 6> input and int8 weights
    w = tail_input_bits(channels)
    assert w <= 16 and 2 ** (w - 1) * 2 ** 7 * channels <= 2 ** 24
    assert w == 16 or 2 ** w * 2 ** 7 * 2 ** math.ceil(math.log2(channels)) > 2 ** 24  # as wide as allowed


def test_srm_affine_is_clamped_and_rounded_in_eval():
    srm = ChannelAffine(3, frac_bits=8).eval()
    with torch.no_grad():
        srm.weight.copy_(torch.tensor([5.0, -3.0, 0.1234]))
        srm.bias.copy_(torch.tensor([40.0, -50.0, 0.0017]))
    a, b = srm.folded()
    assert a.tolist() == [2 - 2 ** -8, -2.0, round(0.1234 * 256) / 256]
    assert b.tolist() == [32 - 2 ** -8, -32.0, 0.0]
    x = torch.rand(1, 3, 4, 4)
    assert torch.equal(srm(x), x * a.view(1, -1, 1, 1) + b.view(1, -1, 1, 1))


def test_s4_block_residual_add_is_exact_in_float32_for_any_weight_scale():
    """S4: a small binary weight scale (2^-14 here) would put the BN output on 2^-22, and x + BN(...)
    of a skip near +-32 would then need 27 bits. With out_lsb every BN product lands on 2^-19 and the
    float32 block equals its float64 value; without it, it does not (the check can fail)."""
    cfg = S2BNetConfig(bands=5, hidden=8, blocks=1, profile='hardware', levels=0)
    exact = {}
    for bounded in (True, False):
        torch.manual_seed(0)
        blk = S2BConv(cfg, 8, seed=0)
        with torch.no_grad():
            blk.conv.conv.parametrizations.weight.original.mul_(2.0 ** -8)  # weight scale ~2^-14
            blk.bn.weight.copy_(torch.linspace(3.3, 9.7, 8))
            blk.bn.bias.copy_(torch.linspace(-0.4, 0.4, 8))
        if not bounded:
            blk.bn.out_lsb = None
        blk.eval()
        x = torch.round((torch.rand(2, 8, 6, 6, generator=torch.Generator().manual_seed(1)) * 60 - 30) * 1024) / 1024
        with torch.no_grad():
            y = blk.bn(blk.conv(blk.srm(x)))
            assert float(blk.conv.conv.quant_weight().scale.max()) <= 2.0 ** -13
        on_grid = torch.equal(y * 2 ** 19, torch.round(y * 2 ** 19))
        exact[bounded] = on_grid and torch.equal((x + y).double(), x.double() + y.double())
    assert exact == {True: True, False: False}
