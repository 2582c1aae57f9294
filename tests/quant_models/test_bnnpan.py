"""BNNPan-style: the Haar DWT/IDWT (exact, against numpy), both profiles' shapes and gradients,
the NBC re-normalisation, the hardware profile's named changes and its fixed-point exactness."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from quant_models.archs import build_model, display_name, model_config_from_dict
from quant_models.bnnpan import (BNNPAN_CHANGES, PIBF, BNNPan, BNNPanConfig, NBCRenorm, from_subbands, haar_dwt,
                                 haar_idwt, subband_bits, subbands)
from quant_models.common import HsbinetError
from quant_models.layers import BinaryConv2d
from quant_models.s2bnet import RPReLU


def _inputs(B=5, h=4, r=4, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, B, h, h, generator=g), torch.rand(n, 1, h * r, h * r, generator=g)


def _numpy_haar(x):
    """Reference DWT, one pixel block at a time (NCHW numpy)."""
    n, c, h, w = x.shape
    out = np.zeros((n, 4 * c, h // 2, w // 2), dtype=np.float64)
    for i in range(h // 2):
        for j in range(w // 2):
            a, b = x[:, :, 2 * i, 2 * j], x[:, :, 2 * i, 2 * j + 1]
            cc, d = x[:, :, 2 * i + 1, 2 * j], x[:, :, 2 * i + 1, 2 * j + 1]
            for k, v in enumerate(((a + b + cc + d), (a - b + cc - d), (a + b - cc - d), (a - b - cc + d))):
                out[:, k::4, i, j] = v / 2  # channel 4c + k: sub-band k of channel c
    return out


def test_haar_dwt_matches_numpy_and_is_exact_on_a_fixed_point_grid():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(-2 ** 15, 2 ** 15, (2, 3, 6, 8), generator=g).float() * 2.0 ** -10  # fixed<16,6>
    y = haar_dwt(x)
    assert y.shape == (2, 12, 3, 4)
    ref = _numpy_haar(x.double().numpy())
    assert np.array_equal(y.double().numpy(), ref)  # float32 is exact: 18-bit results
    assert np.array_equal(np.round(ref * 2 ** 11), ref * 2 ** 11)  # one more fractional bit
    # perfect reconstruction, bit for bit
    assert torch.equal(haar_idwt(y), x)
    # the inverse is the inverse in the other direction too
    z = torch.randint(-2 ** 12, 2 ** 12, (1, 8, 3, 5), generator=g).float() * 2.0 ** -8
    assert torch.equal(haar_dwt(haar_idwt(z)), z)
    parts = subbands(y)
    assert len(parts) == 4 and torch.equal(parts[0][:, 1], y[:, 4]) and torch.equal(from_subbands(parts), y)


def test_haar_dwt_refuses_an_odd_frame():
    with pytest.raises(HsbinetError) as e:
        haar_dwt(torch.zeros(1, 1, 5, 4))
    assert 'even' in e.value.expected


@pytest.mark.parametrize('profile', ['paper', 'hardware'])
def test_forward_shape_and_every_trainable_parameter_gets_a_gradient(profile):
    torch.manual_seed(0)
    model = BNNPan(BNNPanConfig(bands=5, hidden=8, blocks=2, profile=profile, prior_dim=16))
    ms, pan = _inputs()
    out = model(ms, pan)
    assert out.shape == (2, 5, 16, 16)
    F.l1_loss(out, torch.rand_like(out)).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing
    per_block = 1 if profile == 'hardware' else 4  # B6: one conv over the four sub-bands
    assert sum(isinstance(m, BinaryConv2d) for m in model.modules()) == 2 * per_block


def test_paper_profile_starts_as_bicubic_upsampling():
    torch.manual_seed(0)
    model = BNNPan(BNNPanConfig(bands=5, hidden=8, blocks=1, profile='paper', prior_dim=16)).eval()
    ms, pan = _inputs()
    with torch.no_grad():
        assert torch.equal(model(ms, pan), F.interpolate(ms, scale_factor=4, mode='bicubic', align_corners=False))


def test_nbc_gives_the_binary_branch_the_statistics_of_the_real_subband():
    nbc = NBCRenorm(3)
    g = torch.Generator().manual_seed(2)
    xb = torch.randn(2, 3, 8, 8, generator=g) * 5 + 2
    xf = torch.randn(2, 3, 8, 8, generator=g) * 0.3 - 1
    y = nbc(xb, xf)
    assert torch.allclose(y.mean(dim=(2, 3)), xf.mean(dim=(2, 3)), atol=1e-5)
    assert torch.allclose(y.std(dim=(2, 3), unbiased=False), xf.std(dim=(2, 3), unbiased=False), atol=1e-3)


def test_hardware_profile_applies_its_named_changes_and_stays_on_its_grids():
    torch.manual_seed(0)
    cfg = BNNPanConfig(bands=5, hidden=8, blocks=2, profile='hardware')
    model = BNNPan(cfg)
    assert all(cfg.has(c) for c in BNNPAN_CHANGES)
    assert not any(isinstance(m, (RPReLU, NBCRenorm)) for m in model.modules())  # B4, B5
    assert not hasattr(model, 'prior') and all(not hasattr(b, 'film') and not hasattr(b, 'cdc')
                                               for b in model.body)  # B7, B8
    assert all(m.pad_then_binarize for m in model.modules() if isinstance(m, BinaryConv2d))  # B3
    model.train()
    ms, pan = _inputs()
    with torch.no_grad():
        model(ms, pan)  # BN running statistics
    model.eval()
    seen = {}
    hooks = [b.register_forward_hook(lambda m, i, o, k=k: seen.__setitem__(k, o)) for k, b in enumerate(model.body)]
    with torch.no_grad():
        out = model(ms, pan)
    for h in hooks:
        h.remove()
    for o in seen.values():  # every PIBF output on the fixed<16,6> grid
        assert torch.equal(o * 2 ** 10, torch.round(o * 2 ** 10)) and o.abs().max() <= 32
    assert torch.equal(out * 2 ** 14, torch.round(out * 2 ** 14))  # output on fixed<16,2>


def test_a_hardware_block_is_the_inverse_transform_of_its_requantised_subband_sums():
    # requant(IDWT(Q_s(DWT(x) + r))), Q_s = fixed<23,8>: the sums are on Q_s's grid and, where Q_s
    # neither rounds nor saturates, the block is x + IDWT(r) (the residual path needs no transform)
    torch.manual_seed(0)
    block = PIBF(BNNPanConfig(bands=5, hidden=4, profile='hardware'), 4).eval()
    assert subband_bits((16, 6)) == (23, 8)
    x = torch.round(torch.rand(1, 4, 8, 8) * 2 ** 10) / 2 ** 10
    with torch.no_grad():
        sub = haar_dwt(x)
        branch = block.bn(block.conv(sub))
        sums = block.sub_requant(sub + branch)
        assert torch.equal(sums * 2 ** 15, torch.round(sums * 2 ** 15))
        assert torch.equal(block(x), block.requant(haar_idwt(sums)))
        assert torch.equal(sums, sub + branch)  # an untrained BN: Q_s neither rounds nor saturates here
        assert torch.equal(block(x), block.requant(x + haar_idwt(branch)))


def test_b4_pibf_is_exact_in_float32_for_any_weight_scale():
    """A binary weight scale of ~2^-16 puts the BN output on ~2^-24: DWT(x) + BN(...) of a fixed<16,6>
    x then needs ~30 bits, and so does the IDWT of those sums. With B4's bounds (BN products on
    2^-17, the sums requantised to fixed<23,8>) both equal their float64 values; without them they
    do not (the check can fail)."""
    exact = {}
    for bounded in (True, False):
        torch.manual_seed(0)
        block = PIBF(BNNPanConfig(bands=5, hidden=4, profile='hardware'), 4).eval()
        with torch.no_grad():
            block.conv.conv.weight.mul_(2.0 ** -10)
            block.bn.weight.copy_(torch.linspace(3.3, 9.7, 16))
            block.bn.bias.copy_(torch.linspace(-0.4, 0.4, 16))
        if not bounded:
            block.bn.out_lsb, block.sub_requant = None, torch.nn.Identity()
        x = torch.round((torch.rand(2, 4, 8, 8, generator=torch.Generator().manual_seed(1)) * 60 - 30) * 1024) / 1024
        with torch.no_grad():
            block(x)  # the BN takes its conv's grid in forward, after the in-place weight change
            sub = haar_dwt(x)
            y = block.bn(block.conv(sub))
            assert float(block.conv.conv.quant_weight().scale.max()) <= 2.0 ** -15
            sums = block.sub_requant(sub + y)
        add_exact = torch.equal((sub + y).double(), sub.double() + y.double())
        exact[bounded] = add_exact and torch.equal(haar_idwt(sums).double(), haar_idwt(sums.double()))
    assert exact == {True: True, False: False}


def test_config_and_registry():
    with pytest.raises(HsbinetError) as e:
        BNNPanConfig(arch='s2bnet').validate()
    assert e.value.key == 'model.arch'
    with pytest.raises(HsbinetError) as e:
        BNNPanConfig(prior_dim=0).validate()
    assert e.value.key == 'model.prior_dim'
    cfg = BNNPanConfig(bands=7, hidden=8)
    assert model_config_from_dict(cfg.to_dict()) == cfg.validate()
    assert isinstance(build_model(cfg.to_dict()), BNNPan) and display_name(cfg) == 'BNNPan-style'


def test_b4_batchnorm_scale_keeps_the_product_exact_in_float32():
    """Measured failure this guards (2026-12-03): a = 250 on a 2^-8 grid behind a binary conv whose
    output is on 2^-16 made x * a + b 1 LSB off in float32 for one pixel. With the scale held to
    bn_scale_bits(3, C) significant bits the eval BN equals its float64 value; without it, it does not."""
    from quant_models.layers import FixedPointBN, bn_scale_bits
    C = 128
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-9 * C, 9 * C + 1, (1, C, 16, 16), generator=g).float() * 2.0 ** -16  # popcount x 2^-9 scale
    results = {}
    for bits in (None, bn_scale_bits(3, C)):
        bn = FixedPointBN(C, 8, bits)
        with torch.no_grad():
            bn.weight.copy_(250.0 + torch.rand(C, generator=g) * 50)
            bn.bias.copy_(torch.rand(C, generator=g) - 0.5)
        bn.eval()
        a, b = bn.folded()
        assert torch.equal(a * 256, torch.round(a * 256))  # still on the 2^-8 grid the hardware stores
        exact = x.double() * a.double().view(1, C, 1, 1) + b.double().view(1, C, 1, 1)
        results[bits] = torch.equal(bn(x).double(), exact)
    assert results[bn_scale_bits(3, C)] and not results[None]
