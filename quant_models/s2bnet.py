"""S2BNet-style binary pan-sharpener (Jiang et al., arXiv 2509.23321), paper and hardware profiles.

Inputs and output as HS-BiNet (NCHW float32): ``ms`` (N, B, h, w) in [0, 1], ``pan`` (N, 1, r*h, r*w)
in [0, 1] -> HR cube (N, B, r*h, r*w). "S2BNet-style" because the sources reachable here give only
the abstract, reviews and the template it adapts (BiSRNet, Cai et al. 2023); every choice where they
are silent is listed in docs/model.md, "S2BNet-style", and summarised here:

S2B-Conv (abstract: binary conv with a Spectral-Redistribution Mechanism and a Gabor Spatial
Feature Amplifier; dataflow of BiSRNet's BiSR-Conv)::

    y = x + RPReLU(BN(bconv3(sign(SRM(x)))))     C -> C
    SRM(x)  = a * x + b, a per-channel learned affine (static reading (a) of the notes; a and b init
              1 and 0 as BiSRNet's learnable shift), before the sign
    bconv3  = binary 3x3 conv whose latent weights are modulated by a frozen Gabor kernel before
              binarisation (GSFA reading (a), Gabor-CNN style): W_b = 2^k sign(W * G); one kernel per
              output channel, frequency in [0.1, 0.4] cycles/px and orientation in [0, pi) drawn from
              ``gabor_seed``; the draw is a buffer of the checkpoint
    RPReLU  = PReLU(u - gamma) + zeta (ReActNet), per channel

Paper profile (software only)::

    LMS = bicubic x r (ms)                                     (PanCollection's lms is interpolated)
    x   = conv3x3(cat(LMS, pan))          float, B+1 -> C      (BiSRNet's full-precision input conv)
    U-Net of ``levels`` levels (BiSRNet): at each level ``blocks`` S2B-Convs; down = 2x2 average pool
    then two S2B-Convs on copies, concatenated (C -> 2C); up = bilinear x2, the channels split in
    halves, one S2B-Conv on each, averaged (2C -> C); skip fusion = concat with the encoder's output,
    split and averaged the same way (2C -> C)
    out = LMS + conv3x3(x)                float, C -> B, zero-initialised (global residual)

Hardware profile (streamable, exactly representable; the named changes S1-S7 of docs/model.md):
  S1 upsampler: fixed bilinear x r (HS-BiNet's H1) instead of bicubic;
  S2 head: int8 1x1 projection of the 8-bit requantised upsampled cube plus a 1 -> C 1x1 projection
     of PAN with weights on a 2^-6 grid (HS-BiNet's H7 thermometer), added: a 1x1 conv of
     cat(LMS, PAN) with the two parts quantised apart, instead of a float 3x3 conv;
  S3 binary convs pad first, then binarise (HS-BiNet's H3);
  S4 SRM and BN affines rounded to 2^-8 at inference (the SRM's a clamped to [-2, 2) and b to
     [-32, 32), so a * x + b of a fixed<16,6> x is exact in float32 wherever its sign can change;
     the BN's scale also to at most bn_scale_bits(k, C) significant bits, so popcount x scale fits
     float32, and to an LSB of at least 2^(I - 1 - 24) / 2^k_c behind a conv of weight scale 2^k_c,
     so the residual add with the fixed<W, I> skip fits float32 too), feature maps requantised to
     fixed<16,6> after every residual add (HS-BiNet's H4);
  S5 RPReLU dropped: the block is x + BN(bconv3(sign(SRM(x)))), the nonlinearity being the next
     block's sign (a PReLU is not among the layers this chain lowers and verifies today);
  S6 one scale: no U-Net levels (``levels`` = 0): every block runs at the PAN resolution, so the
     stream needs no average pool, no x2 upsamplers and no skip FIFOs across scales;
  S7 tail: an int8 1x1 C -> B projection (HS-BiNet's H6) of the features requantised to
     fixed<W_t, 6>, W_t = min(16, 18 - ceil(log2 C)) (:func:`tail_input_bits`), its output rounded
     to the io grid fixed<16,2> before the global residual add (the ms/pan inputs and the output on
     that grid too, as HS-BiNet's H6), instead of a float 3x3 conv. Why:
     float32 PyTorch is the golden model, and it is exact only while every integer sum stays below
     2^24: a fixed<16,6> x int8 x C sum does not (measured: 13 of 204,800 outputs 1 LSB off the
     C-simulation at C = 8 with the tail on fixed<16,6>), a fixed<W_t,6> one does for any C;
     likewise the two head parts of S2 are each requantised to fixed<16,6> before their add.
GSFA costs nothing in hardware (the Gabor term is inside the binary weights), so it stays.

Full-precision twin (``binary=False``): every binary conv a float conv, SRM and Gabor modulation
kept, as HS-BiNet's twin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from quant_models.common import HsbinetError
from quant_models.model_checks import check_changes, check_common, config_dict, has_change
from quant_models.hsbinet import ThermometerEncoder
from quant_models.layers import (BilinearUpsample, BinaryConv2d, FixedPointBN, bn_scale_bits, exact_add_lsb,
                                 fixed_point_act, fixed_point_conv1x1)

S2B_CHANGES = ('S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7')  # docs/model.md, "S2BNet-style"
GABOR_FREQ = (0.1, 0.4)  # cycles per pixel of the drawn Gabor kernels (the sources give no range)
GABOR_SIGMA, GABOR_GAMMA = 1.0, 0.5  # envelope width (px) and aspect ratio of the Gabor kernels


@dataclass
class S2BNetConfig:
    """S2BNet-style hyper-parameters. ``bands`` = B, ``hidden`` = C (first level), ``ratio`` = r.

    ``blocks``: S2B-Convs per U-Net stage; ``levels``: U-Net down/up levels (paper profile; the
    hardware profile has none, S6); ``gabor_seed``: seed of the frozen Gabor draw (GSFA).
    """

    arch: str = 's2bnet'
    bands: int = 4
    hidden: int = 32
    blocks: int = 2
    levels: int = 2
    ratio: int = 4
    profile: str = 'hardware'
    estimator: str = 'atiste'
    bn_frac_bits: int = 8
    feature_bits: tuple[int, int] = (16, 6)
    io_bits: tuple[int, int] = (16, 2)
    binary: bool = True
    gabor_seed: int = 0
    # Ablations only: hardware-profile changes on top of the paper profile (e.g. ['S6', 'S1']);
    # None = the profile's own set (hardware: S1-S7, paper: none). Lowering takes profile: hardware.
    changes: tuple[str, ...] | None = None

    def validate(self) -> 'S2BNetConfig':
        check_common(self, 's2bnet', 'S2BNet')
        check_changes(self, S2B_CHANGES)
        if self.levels < 0:
            raise HsbinetError('Negative level count', key='model.levels', expected='>= 0', found=repr(self.levels))
        if self.has('S6') and self.levels:
            raise HsbinetError('Change S6 (the hardware profile\'s one scale) takes no U-Net levels', key='model.levels',
                               expected='0 with profile: hardware or with S6 in model.changes', found=repr(self.levels),
                               hint='set levels: 0, or use profile: paper without S6 for the U-Net (software only)')
        self.feature_bits, self.io_bits = tuple(self.feature_bits), tuple(self.io_bits)
        return self

    def has(self, change: str) -> bool:
        """Whether hardware-profile change ``change`` (S1..S7) is applied."""
        return has_change(self, change, S2B_CHANGES)

    def to_dict(self) -> dict:
        return config_dict(self)


def tail_input_bits(channels: int) -> int:
    """W_t of the S7 tail input fixed<W_t, 6>: the int8 x fixed<W_t> x C sum stays below 2^24.

    |x_int| <= 2^(W_t - 1), |w_int| <= 2^7, C terms: 2^(W_t + 6 + ceil(log2 C)) <= 2^24.
    """
    return min(16, 18 - math.ceil(math.log2(max(int(channels), 1))))


def hardware_head(bands: int, channels: int, feature_bits) -> tuple[nn.Module, nn.Module, nn.Module]:
    """S2: (head_ms, head_pan, requant); the head is ``requant(head_ms(lms) + head_pan(pan))``.

    head_ms: ufixed<8,0> LMS -> int8 1x1 B -> C -> fixed<feature_bits>; head_pan: PAN -> C (weights
    and bias on 2^-6, HS-BiNet's thermometer form, init U(-0.5, 0.5) and 0: a linear 1x1 input of
    fan-in 1) -> fixed<feature_bits>. Each integer sum stays below 2^24, so float32 is exact.
    """
    head_ms = nn.Sequential(fixed_point_act(8, 0, signed=False), fixed_point_conv1x1(bands, channels),
                            fixed_point_act(*feature_bits))
    head_pan = nn.Sequential(ThermometerEncoder(channels, 6), fixed_point_act(*feature_bits))
    with torch.no_grad():
        head_pan[0].weight.uniform_(-0.5, 0.5)
        head_pan[0].bias.zero_()
    return head_ms, head_pan, fixed_point_act(*feature_bits)


def hardware_tail(channels: int, bands: int, feature_bits, io_bits) -> nn.Sequential:
    """S7: fixed<W_t, I_feature> (:func:`tail_input_bits`) -> int8 1x1 C -> B (weights ~N(0, 1e-3):
    the model starts as its upsampler) -> fixed<io_bits>, before the global residual add."""
    tail = fixed_point_conv1x1(channels, bands)
    with torch.no_grad():
        tail.weight.normal_(0.0, 1e-3)
    return nn.Sequential(fixed_point_act(tail_input_bits(channels), feature_bits[1]), tail, fixed_point_act(*io_bits))


def gabor_bank(out_ch: int, k: int, seed: int) -> Tensor:
    """(out_ch, 1, k, k) real Gabor kernels, peak |G| = 1, one random frequency/orientation per channel.

    G(x, y) = exp(-(x'^2 + g^2 y'^2) / (2 s^2)) cos(2 pi f x'), x' = x cos t + y sin t,
    y' = -x sin t + y cos t, (x, y) in pixels from the kernel centre; f uniform in GABOR_FREQ,
    t uniform in [0, pi), s = GABOR_SIGMA, g = GABOR_GAMMA.
    """
    gen = torch.Generator().manual_seed(int(seed))
    f = GABOR_FREQ[0] + (GABOR_FREQ[1] - GABOR_FREQ[0]) * torch.rand(out_ch, generator=gen, dtype=torch.float64)
    t = math.pi * torch.rand(out_ch, generator=gen, dtype=torch.float64)
    r = torch.arange(k, dtype=torch.float64) - (k - 1) / 2
    y, x = torch.meshgrid(r, r, indexing='ij')
    c, s = torch.cos(t).view(-1, 1, 1), torch.sin(t).view(-1, 1, 1)
    xp, yp = x * c + y * s, -x * s + y * c
    g = torch.exp(-(xp ** 2 + GABOR_GAMMA ** 2 * yp ** 2) / (2 * GABOR_SIGMA ** 2)) * torch.cos(2 * math.pi * f.view(-1, 1, 1) * xp)
    g = g / g.abs().amax(dim=(1, 2), keepdim=True)
    return g.unsqueeze(1).float()


class GaborModulation(nn.Module):
    """Parametrisation W -> W * G of a conv weight (O, I, k, k), G a frozen (O, 1, k, k) buffer."""

    def __init__(self, bank: Tensor):
        super().__init__()
        self.register_buffer('bank', bank)

    def forward(self, w: Tensor) -> Tensor:
        return w * self.bank


class ChannelAffine(nn.Module):
    """SRM: y = a * x + b per channel (a init 1, b init 0), before a sign.

    With ``frac_bits`` set, eval mode rounds a and b to 2^-frac_bits (S4) and writes the affine as a
    BatchNormalization (mean 0, var 1, eps 0), so the export is one node that hls4ml maps to a
    fixed-point scale/shift, as FixedPointBN.
    """

    def __init__(self, channels: int, frac_bits: int | None = None):
        super().__init__()
        self.frac_bits = frac_bits
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def folded(self) -> tuple[Tensor, Tensor]:
        """(a, b) as the hardware holds them: on 2^-frac_bits, a in [-2, 2), b in [-32, 32) (S4)."""
        a, b = self.weight, self.bias
        if self.frac_bits is not None:
            q = 2.0 ** self.frac_bits
            a = torch.round(a.clamp(-2.0, 2.0 - 1.0 / q) * q) / q
            b = torch.round(b.clamp(-32.0, 32.0 - 1.0 / q) * q) / q
        return a, b

    def forward(self, x: Tensor) -> Tensor:
        if self.training or self.frac_bits is None:
            return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        a, b = self.folded()
        return F.batch_norm(x, torch.zeros_like(a), torch.ones_like(a), a, b, training=False, eps=0.0)


class RPReLU(nn.Module):
    """ReActNet's RPReLU: PReLU(x - gamma) + zeta, per channel (slope init 0.25, shifts 0)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.zeta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.prelu = nn.PReLU(channels, 0.25)

    def forward(self, x: Tensor) -> Tensor:
        return self.prelu(x - self.gamma) + self.zeta


class S2BConv(nn.Module):
    """x + RPReLU(BN(bconv_k(sign(SRM(x))))), C -> C; hardware: x + BN(bconv_k(sign(SRM(x)))) (S5)."""

    def __init__(self, cfg: S2BNetConfig, channels: int, seed: int, k: int = 3):
        super().__init__()
        frac = cfg.bn_frac_bits if cfg.has('S4') else None
        self.srm = ChannelAffine(channels, frac)
        self.conv = BinaryConv2d(channels, channels, k, cfg.estimator, pad_then_binarize=cfg.has('S3'),
                                 binary=cfg.binary)
        parametrize.register_parametrization(self.conv.conv, 'weight', GaborModulation(gabor_bank(channels, k, seed)))
        # S4: the BN's products on multiples of 2^(I - 1 - 24) for the fixed<W, I> skip they are added
        # to, so the residual add (inside the requantiser's +-2^(I-1)) is exact in float32 (measured
        # before: a 2^-12 weight scale put the BN output on 2^-20 and the add needed 25 bits)
        out_lsb = exact_add_lsb(cfg.feature_bits[1])
        self.bn = (FixedPointBN(channels, frac, bn_scale_bits(k, channels), out_lsb) if frac is not None
                   else FixedPointBN(channels, None))
        self.act = nn.Identity() if cfg.has('S5') else RPReLU(channels)
        self.requant = fixed_point_act(*cfg.feature_bits) if cfg.has('S4') else nn.Identity()

    def train(self, mode: bool = True):
        super().train(mode)
        self.bn.follow_input_grid(self.conv)
        return self

    def forward(self, x: Tensor) -> Tensor:
        self.bn.follow_input_grid(self.conv)
        return self.requant(x + self.act(self.bn(self.conv(self.srm(x)))))


class _Seeds:
    """Distinct Gabor seeds for the S2B-Convs of one network, derived from ``gabor_seed``."""

    def __init__(self, base: int):
        self.next = int(base) * 100_003

    def __call__(self) -> int:
        self.next += 1
        return self.next


class SplitAverage(nn.Module):
    """2C -> C: split the channels in halves, one S2B-Conv on each, average (BiSRNet's fusion)."""

    def __init__(self, cfg: S2BNetConfig, channels: int, seeds: _Seeds):
        super().__init__()
        self.a, self.b = S2BConv(cfg, channels, seeds()), S2BConv(cfg, channels, seeds())

    def forward(self, x: Tensor) -> Tensor:
        xa, xb = torch.chunk(x, 2, dim=1)
        return 0.5 * (self.a(xa) + self.b(xb))


class Down(nn.Module):
    """C -> 2C at half resolution: 2x2 average pool, two S2B-Convs on copies, concatenated."""

    def __init__(self, cfg: S2BNetConfig, channels: int, seeds: _Seeds):
        super().__init__()
        self.a, self.b = S2BConv(cfg, channels, seeds()), S2BConv(cfg, channels, seeds())

    def forward(self, x: Tensor) -> Tensor:
        x = F.avg_pool2d(x, 2)
        return torch.cat([self.a(x), self.b(x)], dim=1)


class Up(nn.Module):
    """2C -> C at double resolution: bilinear x2, then split-and-average."""

    def __init__(self, cfg: S2BNetConfig, channels: int, seeds: _Seeds):
        super().__init__()
        self.fuse = SplitAverage(cfg, channels, seeds)

    def forward(self, x: Tensor) -> Tensor:
        return self.fuse(F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False))


def _stage(cfg: S2BNetConfig, channels: int, seeds: _Seeds) -> nn.Sequential:
    return nn.Sequential(*[S2BConv(cfg, channels, seeds()) for _ in range(cfg.blocks)])


class S2BNet(nn.Module):
    """S2BNet-style network; see the module docstring for both profiles. forward(ms, pan) -> HR cube."""

    def __init__(self, cfg: S2BNetConfig):
        super().__init__()
        self.cfg = cfg = cfg.validate()
        B, C, L = cfg.bands, cfg.hidden, cfg.levels
        seeds = _Seeds(cfg.gabor_seed)
        if cfg.has('S7'):  # the sensor streams and the output on the fixed<io_bits> grid (HS-BiNet's H6)
            self.in_ms, self.in_pan = fixed_point_act(*cfg.io_bits), fixed_point_act(*cfg.io_bits)
            self.out = fixed_point_act(*cfg.io_bits)
        else:
            self.in_ms = self.in_pan = self.out = nn.Identity()
        if cfg.has('S1'):
            self.upsample = BilinearUpsample(cfg.ratio)
        else:
            self.upsample = nn.Upsample(scale_factor=cfg.ratio, mode='bicubic', align_corners=False)
        if cfg.has('S2'):
            self.head_ms, self.head_pan, self.head_requant = hardware_head(B, C, cfg.feature_bits)
        else:
            self.head = nn.Conv2d(B + 1, C, 3, padding=1)
        if cfg.has('S7'):
            self.tail = hardware_tail(C, B, cfg.feature_bits, cfg.io_bits)
        else:
            self.tail = nn.Conv2d(C, B, 3, padding=1)
            nn.init.zeros_(self.tail.weight)  # start as the plain upsampler (global residual)
            nn.init.zeros_(self.tail.bias)
        self.encoders = nn.ModuleList([_stage(cfg, C << i, seeds) for i in range(L)])
        self.downs = nn.ModuleList([Down(cfg, C << i, seeds) for i in range(L)])
        self.bottleneck = _stage(cfg, C << L, seeds)
        self.ups = nn.ModuleList([Up(cfg, C << i, seeds) for i in reversed(range(L))])
        self.skips = nn.ModuleList([SplitAverage(cfg, C << i, seeds) for i in reversed(range(L))])
        self.decoders = nn.ModuleList([_stage(cfg, C << i, seeds) for i in reversed(range(L))])

    def init_from_data(self, pan: Tensor) -> None:
        """Data-dependent init before training: none (the SRM starts as the identity, as BiSRNet's)."""

    def forward(self, ms: Tensor, pan: Tensor) -> Tensor:
        lms = self.upsample(self.in_ms(ms))
        pan = self.in_pan(pan)
        if self.cfg.has('S2'):
            x = self.head_requant(self.head_ms(lms) + self.head_pan(pan))
        else:
            x = self.head(torch.cat([lms, pan], dim=1))
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.bottleneck(x)
        for up, skip, dec in zip(self.ups, self.skips, self.decoders):
            x = dec(skip(torch.cat([up(x), skips.pop()], dim=1)))
        return self.out(lms + self.tail(x))

    def receptive_radius(self) -> dict:
        """Receptive-field radius in PAN pixels, as :func:`quant_models.infer.receptive_radius`.

        Each S2B-Conv reaches 1 pixel at its level's scale (2^level PAN pixels); a down/up level adds
        its pool/upsampler reach (1 px at the finer scale). The head and tail of the hardware
        profile are 1x1; the paper's are 3x3 (1 px each).
        """
        r, L, n = int(self.cfg.ratio), self.cfg.levels, self.cfg.blocks
        ends = (0 if self.cfg.has('S2') else 1) + (0 if self.cfg.has('S7') else 1)
        conv = ends + n * (1 << L)  # bottleneck
        for i in range(L):  # encoder + down (pool, 1 conv) + up (upsample, 1 conv) + skip (1 conv) + decoder
            conv += (2 * n + 2) * (1 << i) + 2 * (1 << (i + 1)) + (1 << i)
        up = r if self.cfg.has('S1') else 2 * r  # bilinear: r; bicubic: 2r
        return {'conv': conv, 'upsampler': up, 'radius': conv + up, 'halo': math.ceil((conv + up) / r) * r}
