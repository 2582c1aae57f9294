"""deform_conv2d must match torchvision.ops.deform_conv2d semantics; the upsampler is bilinear at init."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from quant_models.deform_conv import DeformableUpsampler, DeformConv2d, deform_conv2d
from quant_models.common import HsbinetError

D = torch.float64


def _out_size(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def _bilinear_tv(img, h, w, y, x):
    """torchvision's bilinear_interpolate (deform_conv2d_kernel.cpp), literally."""
    if y <= -1 or h <= y or x <= -1 or w <= x:
        return 0.0
    y_low, x_low = math.floor(y), math.floor(x)
    y_high, x_high = y_low + 1, x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    v1 = img[y_low][x_low] if (y_low >= 0 and x_low >= 0) else 0.0
    v2 = img[y_low][x_high] if (y_low >= 0 and x_high <= w - 1) else 0.0
    v3 = img[y_high][x_low] if (y_high <= h - 1 and x_low >= 0) else 0.0
    v4 = img[y_high][x_high] if (y_high <= h - 1 and x_high <= w - 1) else 0.0
    return hy * hx * v1 + hy * lx * v2 + ly * hx * v3 + ly * lx * v4


def _naive(inp, off, wgt, bias, stride, pad, dil, mask):
    """Explicit-loop reference of torchvision.ops.deform_conv2d (tiny sizes only)."""
    n, cin, h, w = inp.shape
    cout, cin_g, kh, kw = wgt.shape
    groups = cin // cin_g
    og = off.shape[1] // (2 * kh * kw)
    ho, wo = off.shape[2], off.shape[3]
    I, O, W = inp.tolist(), off.tolist(), wgt.tolist()
    M = mask.tolist() if mask is not None else None
    out = torch.zeros(n, cout, ho, wo, dtype=D)
    for b in range(n):
        for co in range(cout):
            g = co // (cout // groups)
            for oy in range(ho):
                for ox in range(wo):
                    acc = 0.0 if bias is None else bias[co].item()
                    for ci_l in range(cin_g):
                        ci = g * cin_g + ci_l
                        gi = ci // (cin // og)
                        for i in range(kh):
                            for j in range(kw):
                                k = i * kw + j
                                dy = O[b][gi * 2 * kh * kw + 2 * k][oy][ox]
                                dx = O[b][gi * 2 * kh * kw + 2 * k + 1][oy][ox]
                                y = oy * stride - pad + i * dil + dy
                                x = ox * stride - pad + j * dil + dx
                                v = _bilinear_tv(I[b][ci], h, w, y, x)
                                if M is not None:
                                    v *= M[b][gi * kh * kw + k][oy][ox]
                                acc += W[co][ci_l][i][j] * v
                    out[b, co, oy, ox] = acc
    return out


@pytest.mark.parametrize('cin,cout,k,stride,pad,dil,groups,og,h,w', [
    (3, 4, 3, 1, 1, 1, 1, 1, 7, 6),
    (4, 6, 3, 2, 0, 1, 2, 2, 9, 8),
    (4, 4, 3, 1, 2, 2, 4, 4, 6, 7),
    (6, 3, (2, 3), (2, 1), (1, 0), (1, 2), 3, 1, 8, 9),
    (2, 2, 1, 1, 0, 1, 1, 2, 1, 5),   # H == 1
    (2, 4, 3, 1, 1, 1, 2, 1, 5, 1),   # W == 1
])
def test_zero_offset_equals_conv2d(cin, cout, k, stride, pad, dil, groups, og, h, w):
    g = torch.Generator().manual_seed(0)
    kh, kw = (k, k) if isinstance(k, int) else k
    s = (stride, stride) if isinstance(stride, int) else stride
    p = (pad, pad) if isinstance(pad, int) else pad
    d = (dil, dil) if isinstance(dil, int) else dil
    x = torch.randn(2, cin, h, w, generator=g, dtype=D)
    wt = torch.randn(cout, cin // groups, kh, kw, generator=g, dtype=D)
    b = torch.randn(cout, generator=g, dtype=D)
    ho, wo = _out_size(h, kh, s[0], p[0], d[0]), _out_size(w, kw, s[1], p[1], d[1])
    off = torch.zeros(2, 2 * og * kh * kw, ho, wo, dtype=D)
    ref = F.conv2d(x, wt, b, stride=s, padding=p, dilation=d, groups=groups)
    out = deform_conv2d(x, off, wt, b, stride=s, padding=p, dilation=d)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    ones = torch.ones(2, og * kh * kw, ho, wo, dtype=D)
    out_m = deform_conv2d(x, off, wt, b, stride=s, padding=p, dilation=d, mask=ones)
    torch.testing.assert_close(out_m, ref, rtol=1e-12, atol=1e-12)
    # float32: integer sample points are exact, so only the summation order differs.
    out32 = deform_conv2d(x.float(), off.float(), wt.float(), b.float(), stride=s, padding=p,
                          dilation=d)
    torch.testing.assert_close(out32, ref.float(), rtol=1e-5, atol=1e-5)


def test_integer_offset_shifts_rows():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 3, 6, 5, generator=g, dtype=D)
    wt = torch.randn(2, 3, 3, 3, generator=g, dtype=D)
    off = torch.zeros(1, 18, 6, 5, dtype=D)
    off[:, 0::2] = 1.0                       # dy = +1 for every tap, dx = 0
    # Tap (i, j) of output (ho, wo) reads padded row ho + i + 1: i.e. conv (no padding) on the
    # zero-padded input shifted up by one row, zero fill at the bottom.
    padded = F.pad(x, (1, 1, 1, 1))
    shifted = torch.zeros_like(padded)
    shifted[:, :, :-1] = padded[:, :, 1:]
    ref = F.conv2d(shifted, wt)
    assert (ref[:, :, 0] != F.conv2d(F.pad(x[:, :, 1:], (0, 0, 0, 1)), wt, padding=1)[:, :, 0]).all()
    torch.testing.assert_close(deform_conv2d(x, off, wt, padding=1), ref, rtol=1e-12, atol=1e-12)


def test_fractional_offset_is_bilinear():
    x = torch.arange(20, dtype=D).reshape(1, 1, 4, 5) ** 1.5
    wt = torch.ones(1, 1, 1, 1, dtype=D)
    dy, dx = 0.25, 0.6
    off = torch.zeros(1, 2, 4, 5, dtype=D)
    off[0, 0, 1, 2], off[0, 1, 1, 2] = dy, dx
    out = deform_conv2d(x, off, wt)
    X = x[0, 0]
    y0, x0 = 1, 2                            # sample (1.25, 2.6)
    hand = ((1 - dy) * (1 - dx) * X[y0, x0] + (1 - dy) * dx * X[y0, x0 + 1]
            + dy * (1 - dx) * X[y0 + 1, x0] + dy * dx * X[y0 + 1, x0 + 1])
    assert abs(out[0, 0, 1, 2].item() - hand.item()) < 1e-12
    # Partially outside (bottom-right corner at (3.5, 4.5)): out-of-image neighbours contribute 0.
    off.zero_()
    off[0, 0, 3, 4], off[0, 1, 3, 4] = 0.5, 0.5
    out = deform_conv2d(x, off, wt)
    assert abs(out[0, 0, 3, 4].item() - 0.25 * X[3, 4].item()) < 1e-12
    # Entirely outside (y <= -1): 0.
    off[0, 0, 0, 0] = -1.0
    assert deform_conv2d(x, off, wt)[0, 0, 0, 0].item() == 0.0


@pytest.mark.parametrize('cin,cout,k,stride,pad,dil,groups,og,use_mask', [
    (2, 2, 3, 1, 1, 1, 1, 1, False),
    (4, 2, 3, 2, 1, 1, 2, 2, True),
    (2, 4, 2, 1, 0, 2, 2, 1, True),
    (4, 4, 3, 1, 2, 1, 4, 2, False),
])
def test_matches_naive_reference(cin, cout, k, stride, pad, dil, groups, og, use_mask):
    g = torch.Generator().manual_seed(2)
    h, w = 5, 4
    x = torch.randn(2, cin, h, w, generator=g, dtype=D)
    wt = torch.randn(cout, cin // groups, k, k, generator=g, dtype=D)
    b = torch.randn(cout, generator=g, dtype=D)
    ho, wo = _out_size(h, k, stride, pad, dil), _out_size(w, k, stride, pad, dil)
    # Offsets up to +-3.5 px: many samples land partly or fully outside the image.
    off = (torch.rand(2, 2 * og * k * k, ho, wo, generator=g, dtype=D) - 0.5) * 7
    off[0, :, 0, 0] = torch.tensor([-1.0, 2.0] * og * k * k, dtype=D)   # some exact integers
    mask = torch.rand(2, og * k * k, ho, wo, generator=g, dtype=D) if use_mask else None
    out = deform_conv2d(x, off, wt, b, stride=stride, padding=pad, dilation=dil, mask=mask)
    ref = _naive(x, off, wt, b, stride, pad, dil, mask)
    torch.testing.assert_close(out, ref, rtol=1e-11, atol=1e-11)


def test_gradcheck():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 4, 4, 3, generator=g, dtype=D, requires_grad=True)
    wt = torch.randn(2, 2, 2, 2, generator=g, dtype=D, requires_grad=True)
    b = torch.randn(2, generator=g, dtype=D, requires_grad=True)
    ho, wo = _out_size(4, 2, 1, 1, 1), _out_size(3, 2, 1, 1, 1)
    # Non-integer offsets (bilinear is not differentiable at integer coordinates), incl. outside.
    off = (torch.rand(1, 2 * 2 * 4, ho, wo, generator=g, dtype=D) * 0.8 + 0.1) \
        * torch.tensor([-2.0, 1.0, 3.0, -1.0] * 4, dtype=D).view(1, -1, 1, 1)
    off.requires_grad_(True)
    mask = torch.rand(1, 2 * 4, ho, wo, generator=g, dtype=D, requires_grad=True)

    def f(x, off, wt, mask, b):
        return deform_conv2d(x, off, wt, b, padding=1, mask=mask)

    assert torch.autograd.gradcheck(f, (x, off, wt, mask, b), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradcheck(lambda x, off, wt: deform_conv2d(x, off, wt, padding=1),
                                    (x, off, wt), eps=1e-6, atol=1e-6)


def test_module_and_shape_errors():
    m = DeformConv2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert m.weight.shape == (6, 2, 3, 3) and m.bias.shape == (6,)
    x = torch.randn(2, 4, 9, 8)
    off = torch.zeros(2, 18, 5, 4)
    torch.testing.assert_close(m(x, off), F.conv2d(x, m.weight, m.bias, stride=2, padding=1,
                                                   groups=2), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        m(x, torch.zeros(2, 18, 4, 4))
    with pytest.raises(ValueError):
        m(x, off, mask=torch.ones(2, 8, 5, 4))


@pytest.mark.parametrize('modulated', [False, True])
@pytest.mark.parametrize('groups', [None, 1])
def test_upsampler_identity_at_init(modulated, groups):
    torch.manual_seed(4)
    b = 191 if groups is None else 12
    up = DeformableUpsampler(b, 4, groups=groups, modulated=modulated)
    hs = torch.rand(2, b, 8, 7)
    out = up(hs)
    ref = F.interpolate(hs, scale_factor=4, mode='bilinear', align_corners=False)
    assert out.shape == (2, b, 32, 28)
    assert torch.equal(out, ref)
    # Offsets receive gradient from the first step (identity kernel, not a zero residual branch).
    out.square().sum().backward()
    assert up.offset_conv.weight.grad.abs().sum() > 0
    assert up.deform.weight.grad.abs().sum() > 0


def test_upsampler_parameter_counts():
    def n(m):
        return sum(p.numel() for p in m.parameters())

    assert n(DeformableUpsampler(191, 4)) == DeformableUpsampler.parameter_count(191) == 32_870
    assert n(DeformableUpsampler(191, 4, modulated=True)) == 48_350
    assert n(DeformableUpsampler(191, 4, groups=1)) == 359_480
    assert n(DeformableUpsampler(191, 4, groups=1, modulated=True)) == 374_960
    assert DeformableUpsampler.parameter_count(191, groups=1, modulated=True) == 374_960
    up = DeformableUpsampler(191, 4)
    assert n(up.offset_conv) == 30_960 and n(up.deform) == 1_910
    with pytest.raises(HsbinetError):
        DeformableUpsampler(191, 4, groups=2)
    with pytest.raises(HsbinetError):
        up(torch.zeros(1, 190, 4, 4))
