"""Hardware-profile changes one at a time (``model.changes``), for every architecture: each single
change on top of the paper profile builds, trains and survives the checkpoint round trip; the paper
profile plus all of them is the hardware profile (same parameters, same output); bad lists are
refused naming the key. benchmarks/profile_cost.py --each measures these models."""

import pytest
import torch
import torch.nn.functional as F

from quant_models.archs import CHANGES, build_model, model_config_from_dict
from quant_models.common import HsbinetError

CASES = [(arch, c) for arch, cs in CHANGES.items() for c in cs]


def _cfg(arch: str, **kw) -> dict:
    d = {'arch': arch, 'bands': 5, 'hidden': 8, 'blocks': 1, 'ratio': 4, **kw}
    if arch == 's2bnet':  # one U-Net level unless S6 (one scale) is among the changes
        d['levels'] = 0 if kw.get('profile') == 'hardware' or 'S6' in (kw.get('changes') or ()) else 1
    return d


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 5, 4, 4, generator=g), torch.rand(2, 1, 16, 16, generator=g)


def _with_batch_stats(model, seed=0):
    """One train-mode forward (running statistics away from their init), then eval mode."""
    torch.manual_seed(seed)
    model.train()
    with torch.no_grad():
        model(*_inputs(seed=seed))
    return model.eval()


@pytest.mark.parametrize('arch,change', CASES)
def test_each_single_change_trains_on_top_of_the_paper_profile(arch, change):
    torch.manual_seed(0)
    cfg = model_config_from_dict(_cfg(arch, profile='paper', changes=[change]))
    model = build_model(cfg)
    assert [c for c in CHANGES[arch] if cfg.has(c)] == [change]
    out = model(*_inputs())
    assert out.shape == (2, 5, 16, 16)
    F.l1_loss(out, torch.rand_like(out)).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing
    assert model_config_from_dict(cfg.to_dict()).changes == (change,)  # survives the checkpoint round trip


@pytest.mark.parametrize('arch,change', CASES)
def test_every_change_but_one_trains(arch, change):
    """The mixed combinations (e.g. BNNPan-style's stacked sub-bands with NBC, or per-sub-band
    convs with frozen BatchNorms) build, run and train."""
    torch.manual_seed(0)
    rest = [c for c in CHANGES[arch] if c != change]
    cfg = model_config_from_dict(_cfg(arch, profile='paper', changes=rest))
    model = build_model(cfg)
    assert [c for c in CHANGES[arch] if not cfg.has(c)] == [change]
    out = model(*_inputs())
    assert out.shape == (2, 5, 16, 16)
    F.l1_loss(out, torch.rand_like(out)).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing


@pytest.mark.parametrize('arch', sorted(CHANGES))
def test_paper_profile_plus_every_change_is_the_hardware_profile(arch):
    torch.manual_seed(3)
    hw = _with_batch_stats(build_model(_cfg(arch, profile='hardware')))
    torch.manual_seed(3)
    abl = _with_batch_stats(build_model(_cfg(arch, profile='paper', changes=list(CHANGES[arch]))))
    assert list(hw.state_dict()) == list(abl.state_dict())
    abl.load_state_dict(hw.state_dict())
    ms, pan = _inputs(seed=5)
    with torch.no_grad():
        assert torch.equal(hw(ms, pan), abl(ms, pan))


@pytest.mark.parametrize('arch', sorted(CHANGES))
def test_plain_profiles_store_no_change_list(arch):
    for profile in ('paper', 'hardware'):
        assert 'changes' not in build_model(_cfg(arch, profile=profile)).cfg.to_dict()


@pytest.mark.parametrize('arch', sorted(CHANGES))
def test_change_list_errors(arch):
    first = CHANGES[arch][0]
    with pytest.raises(HsbinetError, match='model.changes'):
        model_config_from_dict(_cfg(arch, profile='paper', changes=['X9']))
    with pytest.raises(HsbinetError, match='model.changes'):
        model_config_from_dict(_cfg(arch, profile='paper', changes=first))  # a string, not a list
    for bad in ([1, first], [[first]]):  # not names
        with pytest.raises(HsbinetError, match='model.changes'):
            model_config_from_dict(_cfg(arch, profile='paper', changes=bad))
    other = next(cs[0] for a, cs in CHANGES.items() if a != arch)
    assert not build_model(_cfg(arch, profile='hardware')).cfg.has(other)  # another network's change
    with pytest.raises(HsbinetError, match='ablations start from the paper profile'):
        model_config_from_dict(_cfg(arch, profile='hardware', changes=[first]))


def test_s2bnet_one_scale_change_refuses_unet_levels():
    with pytest.raises(HsbinetError, match='model.levels'):
        model_config_from_dict({**_cfg('s2bnet', profile='paper'), 'changes': ['S6'], 'levels': 2})


def _significant_bits(x: torch.Tensor) -> int:
    """Most significant bits (leading to last set bit of the mantissa) of any element of a float tensor."""
    m, _ = torch.frexp(x.double().flatten()[x.flatten() != 0])
    ints = (m.abs() * 2.0 ** 53).long()
    return max((int(v) >> (int(v) & -int(v)).bit_length() - 1).bit_length() for v in ints.tolist())


@pytest.mark.parametrize('arch', list(CHANGES))
def test_hardware_batchnorm_products_are_float32_exact_however_large_the_scale(arch):
    """Every hardware BN behind a binary conv holds its scale to bn_scale_bits(k, C_in) significant bits,
    so popcount x scale fits float32's 24-bit mantissa even for a scale of ~30000 (23 bits on 2^-8);
    the same model without the bound does not (the check can fail)."""
    from quant_models.layers import FixedPointBN
    fits = {}
    for bounded in (True, False):
        torch.manual_seed(0)
        model = _with_batch_stats(build_model(model_config_from_dict(_cfg(arch, profile='hardware'))))
        bns = [m for m in model.modules() if isinstance(m, FixedPointBN) and m.frac_bits is not None]
        assert bns and all(bn.scale_bits is not None for bn in bns)
        seen = {}
        for bn in bns:
            with torch.no_grad():
                bn.weight.fill_(30000.3)
                bn.running_var.fill_(1.0)
            if not bounded:
                bn.scale_bits = None
            bn.register_forward_hook(lambda m, i, o: seen.setdefault(m, []).append(i[0]))
        with torch.no_grad():
            model(*_inputs())
        fits[bounded] = all(_significant_bits(torch.cat([x.flatten() for x in seen[bn]]))
                            + _significant_bits(bn.folded()[0]) <= 24 for bn in bns)
    assert fits == {True: True, False: False}
