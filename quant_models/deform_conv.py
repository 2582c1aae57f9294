"""Deformable convolution (DCNv1 / DCNv2) in plain PyTorch, and HS-BiNet's deformable upsampler.

torchvision is not available on the training machine (there is no CPU build for this torch), so
:func:`deform_conv2d` re-implements ``torchvision.ops.deform_conv2d`` with exactly its semantics on
top of :func:`torch.nn.functional.grid_sample` and one batched matmul (im2col style).

Semantics (identical to torchvision)
------------------------------------
For output pixel ``(ho, wo)`` and kernel tap ``(i, j)`` (row-major, ``k = i * kw + j``) of offset
group ``g``, the input of every channel in that offset group is sampled at::

    y = ho * stride_h - pad_h + i * dil_h + offset[n, g*2*K + 2*k,     ho, wo]
    x = wo * stride_w - pad_w + j * dil_w + offset[n, g*2*K + 2*k + 1, ho, wo]

(``K = kh * kw``; so ``offset`` is ``(N, 2*offset_groups*K, Hout, Wout)`` with ``[dy, dx]`` pairs
per tap, taps row-major, offset groups outermost). The value is bilinearly interpolated from the 4
integer neighbours of ``(y, x)``; every neighbour outside ``[0, H-1] x [0, W-1]`` contributes 0.
With a ``mask`` (DCNv2, ``(N, offset_groups*K, Hout, Wout)``) the sampled value is multiplied by
``mask[n, g*K + k, ho, wo]``. The sampled columns are then contracted with ``weight``
``(Cout, Cin/groups, kh, kw)`` per weight group, and ``bias`` is added.

Why grid_sample reproduces the per-neighbour zero rule
------------------------------------------------------
``grid_sample(mode='bilinear', padding_mode='zeros', align_corners=True)`` maps a normalised
coordinate ``u`` to the pixel coordinate ``(u + 1) / 2 * (size - 1)`` (pixel centres at integers,
which is torchvision's convention), takes the 4 integer neighbours and zeroes every neighbour that is
out of bounds individually -- the same rule as torchvision's ``bilinear_interpolate``. Two details:

* The input is zero-padded at the bottom/right to sizes of the form ``2**k + 1`` (>= 2). The extra
  zeros lie outside the original image, where torchvision's neighbours contribute 0 anyway, so the
  result is unchanged; but ``(size - 1) / 2`` becomes a power of two, so the normalise /
  un-normalise round trip is exact for integer sample points (a zero offset samples a pixel
  *exactly*, not to within ~1e-5 as the naive ``2x/(W-1) - 1`` mapping does in float32 at W=128),
  and ``H == 1`` / ``W == 1`` (where ``2x/(W-1)`` divides by zero) need no special case.
* Gradients w.r.t. input, offset (through the grid), mask, weight and bias come from autograd.
  They equal torchvision's analytic gradients everywhere except on the measure-zero set of sample
  points with an exactly integer coordinate, where the bilinear kernel is not differentiable and
  both implementations pick a one-sided derivative.

Memory
------
The column buffer holds ``N * Cin * kh*kw * Hout*Wout`` values (same dtype as the input) and is
kept for the backward pass (weight gradient); with a mask, the un-masked samples are kept too
(another buffer of the same size). The sampling grid adds ``2 * N * offset_groups * kh*kw *
Hout*Wout`` values, and the padded input copy at most ``N * Cin * (2H) * (2W)``. Example: the
upsampler below at B=191, 3x3, a 128x128 output, N=1: ``191 * 9 * 16384`` = 28.2 M floats = 113 MB
per column buffer in float32. Process large batches in chunks if this is too much.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from quant_models.common import HsbinetError

__all__ = ['deform_conv2d', 'DeformConv2d', 'DeformableUpsampler']


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    t = tuple(v)
    if len(t) != 2 or not all(isinstance(e, int) for e in t):
        raise ValueError(f'{name} must be an int or a pair of ints, got {v!r}')
    return t  # type: ignore[return-value]


def _exact_size(n: int) -> int:
    """Smallest ``2**k + 1 >= max(n, 2)``: makes grid_sample's (size-1)/2 scale a power of two."""
    return 2 if n <= 2 else (1 << math.ceil(math.log2(n - 1))) + 1


def deform_conv2d(input: Tensor, offset: Tensor, weight: Tensor, bias: Tensor | None = None,
                  stride=1, padding=0, dilation=1, mask: Tensor | None = None) -> Tensor:
    """Deformable 2-D convolution with exactly ``torchvision.ops.deform_conv2d``'s semantics.

    Args:
        input: ``(N, Cin, H, W)``.
        offset: ``(N, 2*offset_groups*kh*kw, Hout, Wout)``; ``[dy, dx]`` per kernel tap, taps
            row-major, offset groups outermost. ``offset_groups`` is inferred from its channels.
        weight: ``(Cout, Cin/groups, kh, kw)``; ``groups`` is inferred as ``Cin // weight.shape[1]``.
        bias: ``(Cout,)`` or None.
        stride, padding, dilation: int or (h, w) pair.
        mask: None (DCNv1) or ``(N, offset_groups*kh*kw, Hout, Wout)`` modulation (DCNv2).

    Returns:
        ``(N, Cout, Hout, Wout)`` with ``Hout = (H + 2*pad_h - dil_h*(kh-1) - 1) // stride_h + 1``.

    Differentiable w.r.t. input, offset, mask, weight and bias. See the module docstring for the
    memory cost (the column buffer is ``N * Cin * kh*kw * Hout*Wout`` values).
    """
    sh, sw = _pair(stride, 'stride')
    ph, pw = _pair(padding, 'padding')
    dh, dw = _pair(dilation, 'dilation')
    if input.dim() != 4 or weight.dim() != 4 or offset.dim() != 4:
        raise ValueError(f'expected 4-D input, offset and weight, got {tuple(input.shape)}, '
                         f'{tuple(offset.shape)}, {tuple(weight.shape)}')
    if sh < 1 or sw < 1 or dh < 1 or dw < 1 or ph < 0 or pw < 0:
        raise ValueError(f'need stride >= 1, dilation >= 1, padding >= 0; got stride={stride}, '
                         f'dilation={dilation}, padding={padding}')
    n, cin, h, w = input.shape
    cout, cin_g, kh, kw = weight.shape
    kk = kh * kw
    if cin_g == 0 or cin % cin_g:
        raise ValueError(f'input channels {cin} not divisible by weight.shape[1]={cin_g}')
    groups = cin // cin_g
    if cout % groups:
        raise ValueError(f'out channels {cout} not divisible by groups={groups}')
    if offset.shape[1] % (2 * kk) or offset.shape[1] == 0:
        raise ValueError(f'offset has {offset.shape[1]} channels, expected a positive multiple '
                         f'of 2*kh*kw={2 * kk}')
    og = offset.shape[1] // (2 * kk)
    if cin % og:
        raise ValueError(f'input channels {cin} not divisible by offset_groups={og}')
    hout = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wout = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if hout <= 0 or wout <= 0:
        raise ValueError(f'output size would be {hout}x{wout} for input {h}x{w}')
    if tuple(offset.shape) != (n, 2 * og * kk, hout, wout):
        raise ValueError(f'offset shape {tuple(offset.shape)} != expected '
                         f'{(n, 2 * og * kk, hout, wout)}')
    if mask is not None and tuple(mask.shape) != (n, og * kk, hout, wout):
        raise ValueError(f'mask shape {tuple(mask.shape)} != expected {(n, og * kk, hout, wout)}')
    if bias is not None and tuple(bias.shape) != (cout,):
        raise ValueError(f'bias shape {tuple(bias.shape)} != ({cout},)')
    if n == 0:
        return input.new_zeros((0, cout, hout, wout))

    dt, dev = input.dtype, input.device
    # Zero-pad bottom/right to 2**k + 1 (see module docstring): exact integer sampling, H/W == 1 ok.
    hp, wp = _exact_size(h), _exact_size(w)
    x = F.pad(input, (0, wp - w, 0, hp - h)) if (hp, wp) != (h, w) else input

    # Regular-grid sample positions per tap and output pixel: (K, Hout, 1) and (K, 1, Wout).
    ki = torch.arange(kh, device=dev, dtype=dt).repeat_interleave(kw) * dh       # (K,)
    kj = torch.arange(kw, device=dev, dtype=dt).repeat(kh) * dw                  # (K,)
    base_y = (torch.arange(hout, device=dev, dtype=dt) * sh - ph)[None, :, None] + ki[:, None, None]
    base_x = (torch.arange(wout, device=dev, dtype=dt) * sw - pw)[None, None, :] + kj[:, None, None]

    off = offset.reshape(n, og, kk, 2, hout, wout)
    gy = (base_y + off[:, :, :, 0]).mul_(2.0 / (hp - 1)).sub_(1.0)             # (N, og, K, Ho, Wo)
    gx = (base_x + off[:, :, :, 1]).mul_(2.0 / (wp - 1)).sub_(1.0)
    grid = torch.stack((gx, gy), dim=-1).view(n * og, kk * hout, wout, 2)
    del gx, gy

    cg = cin // og
    cols = F.grid_sample(x.reshape(n * og, cg, hp, wp), grid, mode='bilinear',
                         padding_mode='zeros', align_corners=True)             # (N*og, cg, K*Ho, Wo)
    del grid
    cols = cols.view(n, og, cg, kk, hout * wout)
    if mask is not None:
        cols = cols * mask.reshape(n, og, 1, kk, hout * wout)
    # Column channel order is (c, k) -> c*K + k, matching weight.view(Cout, Cin_g*kh*kw).
    cols = cols.view(n, groups, cin_g * kk, hout * wout)
    wmat = weight.reshape(groups, cout // groups, cin_g * kk)
    out = torch.matmul(wmat, cols)                                             # (N, g, Cout_g, L)
    out = out.reshape(n, cout, hout, wout)
    if bias is not None:
        out = out + bias.view(1, cout, 1, 1)
    return out


class DeformConv2d(nn.Module):
    """Drop-in for ``torchvision.ops.DeformConv2d``: ``forward(x, offset, mask=None)``.

    Parameters ``weight`` ``(out, in/groups, kh, kw)`` and ``bias`` ``(out,)`` (or None), initialised
    like torchvision (kaiming_uniform with a=sqrt(5), bias uniform in +-1/sqrt(fan_in)).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f'in_channels={in_channels} and out_channels={out_channels} must be '
                             f'divisible by groups={groups}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, 'kernel_size')
        self.stride = _pair(stride, 'stride')
        self.padding = _pair(padding, 'padding')
        self.dilation = _pair(dilation, 'dilation')
        self.groups = groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups,
                                               *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.weight.shape[2] * self.weight.shape[3]
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor | None = None) -> Tensor:
        return deform_conv2d(x, offset, self.weight, self.bias, stride=self.stride,
                             padding=self.padding, dilation=self.dilation, mask=mask)

    def extra_repr(self) -> str:
        s = (f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, '
             f'stride={self.stride}, padding={self.padding}, dilation={self.dilation}')
        if self.groups != 1:
            s += f', groups={self.groups}'
        return s + ('' if self.bias is not None else ', bias=False')


class DeformableUpsampler(nn.Module):
    """HS-BiNet's deformable-convolution upsampler (Dai et al. 2017): ``(N,B,h,w) -> (N,B,rh,rw)``.

    Architecture (all full precision)::

        u      = F.interpolate(hs, scale_factor=r, mode='bilinear', align_corners=False)
        o      = offset_conv(u)        # nn.Conv2d(B, 2*G*9 [+ G*9 if modulated], 3, padding=1)
        offset = o[:, :2*G*9]          # torchvision layout, G = offset_groups
        mask   = 2 * sigmoid(o[:, 2*G*9:])                     # only if modulated (DCNv2)
        out    = DeformConv2d(B, B, 3, padding=1, groups=groups, bias=True)(u, offset, mask)

    The output *is* the deformable conv output (no extra residual add): its weights start as the
    identity kernel (centre tap 1, bias 0) and ``offset_conv`` starts at zero (weight and bias), so
    offsets are 0 and the mask is ``2*sigmoid(0) = 1`` -- at initialisation the upsampler returns
    the bilinear interpolation bit-exactly (deform_conv2d samples integer points exactly).
    Unlike a zero-initialised residual branch, the identity start gives the offsets a non-zero
    gradient from the first step (d out / d offset = image gradient at the sampled point), and
    learned offsets warp the interpolated image itself. The mask range is (0, 2) so that 1 is
    reachable without saturating the sigmoid.

    Parameter count (3x3, G offset groups, B bands; see :meth:`parameter_count`)::

        offset_conv:  B*9*(2*G*9) + 2*G*9         (+ B*9*(G*9) + G*9 if modulated)
        deform conv:  B*(B/groups)*9 + B

    At B=191, G=1: offset_conv 30,960 (DCNv1) / 46,440 (DCNv2); deform conv 1,910 depthwise
    (groups=B, the default) / 328,520 full (groups=1). Totals: depthwise 32,870 (DCNv1) /
    48,350 (DCNv2); full 359,480 (DCNv1) / 374,960 (DCNv2).
    """

    KERNEL = 3

    def __init__(self, bands: int, ratio: int, groups: int | None = None, offset_groups: int = 1,
                 modulated: bool = False):
        super().__init__()
        if not isinstance(bands, int) or bands < 1:
            raise HsbinetError('Deformable upsampler needs a positive band count', key='bands',
                               expected='an int >= 1', found=repr(bands))
        if not isinstance(ratio, int) or ratio < 1:
            raise HsbinetError('Deformable upsampler needs a positive integer ratio', key='ratio',
                               expected='an int >= 1', found=repr(ratio))
        groups = bands if groups is None else groups
        if not isinstance(groups, int) or groups < 1 or bands % groups:
            raise HsbinetError('Deformable upsampler groups must divide the band count',
                               key='groups', expected=f'a divisor of bands={bands}',
                               found=repr(groups))
        if not isinstance(offset_groups, int) or offset_groups < 1 or bands % offset_groups:
            raise HsbinetError('Deformable upsampler offset_groups must divide the band count',
                               key='offset_groups', expected=f'a divisor of bands={bands}',
                               found=repr(offset_groups))
        self.bands, self.ratio, self.groups = bands, ratio, groups
        self.offset_groups, self.modulated = offset_groups, bool(modulated)
        k = self.KERNEL
        kk = k * k
        self._n_off = 2 * offset_groups * kk
        n_pred = self._n_off + (offset_groups * kk if self.modulated else 0)
        self.offset_conv = nn.Conv2d(bands, n_pred, k, padding=k // 2)
        self.deform = DeformConv2d(bands, bands, k, padding=k // 2, groups=groups, bias=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Identity-at-init: zero offset/mask predictor, identity (centre-tap) deformable kernel."""
        nn.init.zeros_(self.offset_conv.weight)
        nn.init.zeros_(self.offset_conv.bias)
        with torch.no_grad():
            w = self.deform.weight                      # (B, B/groups, 3, 3)
            w.zero_()
            per = w.shape[1]
            c = self.KERNEL // 2
            for o in range(self.bands):
                w[o, o % per, c, c] = 1.0               # out band o reads in band o (its group)
            self.deform.bias.zero_()

    @staticmethod
    def parameter_count(bands: int, groups: int | None = None, offset_groups: int = 1,
                        modulated: bool = False) -> int:
        groups = bands if groups is None else groups
        kk = DeformableUpsampler.KERNEL ** 2
        n_pred = 2 * offset_groups * kk + (offset_groups * kk if modulated else 0)
        return bands * kk * n_pred + n_pred + bands * (bands // groups) * kk + bands

    def forward(self, hs: Tensor) -> Tensor:
        if hs.dim() != 4 or hs.shape[1] != self.bands:
            raise HsbinetError('Deformable upsampler got an input of the wrong shape',
                               key='hs', expected=f'(N, {self.bands}, h, w)',
                               found=str(tuple(hs.shape)))
        u = F.interpolate(hs, scale_factor=self.ratio, mode='bilinear', align_corners=False)
        pred = self.offset_conv(u)
        offset = pred[:, :self._n_off]
        mask = 2.0 * torch.sigmoid(pred[:, self._n_off:]) if self.modulated else None
        return self.deform(u, offset, mask)

    def extra_repr(self) -> str:
        return (f'bands={self.bands}, ratio={self.ratio}, groups={self.groups}, '
                f'offset_groups={self.offset_groups}, modulated={self.modulated}')
