"""BNNPan-style binary pan-sharpener (Hou et al., CVPR 2025), paper and hardware profiles.

Inputs and output as HS-BiNet (NCHW float32): ``ms`` (N, B, h, w) in [0, 1], ``pan`` (N, 1, r*h, r*w)
in [0, 1] -> HR cube (N, B, r*h, r*w); r*h and r*w even (one Haar level). "BNNPan-style" because no
code, supplement or table of BNNPan was reachable; the sources are the abstract and two machine
summaries of the paper (``../shared/papers/bnnpan_notes.md``). Every choice where they are silent is
listed in docs/model.md, "BNNPan-style", and summarised here.

PIBF module (Prior-Integrated Binary Frequency module), C -> C at the PAN resolution::

    {X_f} = DWT(X)                         one-level orthonormal Haar, f in LL, LH, HL, HH (C each)
    X_b   = RPReLU(bconv3_f(sign(X_f)))    one binary 3x3 conv per sub-band (BWTC)
    X^_f  = X_f + (s_f / lam)(X_b - m_b) / s_b + m_f + eta
                                           NBC: the binary branch re-normalised to the statistics of
                                           the real-valued sub-band; m, s per sample and channel over
                                           H x W, eps 1e-5; lam (init 1), eta (init 0) per channel
    Y     = IDWT({X^_f})
    Y~    = Y * z_w + z_b                  LDPC: [z_w, z_b] = Linear(z) of the prior vector z
    O     = sigmoid(Linear(cat(mean|Y~|, std(Y~)))) * Y~ + Y      CDC, per channel

Paper profile (software only)::

    LMS = bicubic x r (ms); x = conv3x3(cat(LMS, pan)) float, B+1 -> C
    z   = prior encoder of (LMS, pan): two stride-2 float 3x3 convs + ReLU, global average pool, Linear
          C -> ``prior_dim`` (LDPC's condition; the diffusion denoiser that maps noise to the prior given
          it is not built: its three-stage training has no public recipe, so the prior is the
          condition's deterministic encoding, trained end to end with the L1 loss)
    ``blocks`` PIBF modules; out = LMS + conv3x3(x) float, C -> B, zero-initialised (global residual)

Hardware profile (streamable, exactly representable; the named changes B1-B8 of docs/model.md):
  B1 upsampler: fixed bilinear x r (HS-BiNet's H1) instead of bicubic;
  B2 head and tail: S2BNet-style's S2 (int8 1x1 of the 8-bit LMS plus a PAN 1x1 on 2^-6, each
     fixed<16,6>) and S7 (fixed<W_t, 6> -> int8 1x1 C -> B -> fixed<16,2>), the ms/pan inputs and
     the output on the io grid fixed<16,2>, instead of float 3x3 convs;
  B3 binary convs pad first, then binarise (H3);
  B4 NBC with frozen statistics: the re-normalisation is a BatchNorm of the binary branch (running
     statistics; m_f, s_f / lam and eta folded into its affine), rounded to 2^-8 at inference (H4);
     the sub-band sums X^_f requantised to fixed<23, I+2> before the IDWT (``subband_bits``) and
     the block's output to fixed<16,6>;
  B5 RPReLU dropped (S2BNet-style's S5);
  B6 the four sub-band convs as one binary 3x3 conv over the stacked sub-bands (4C -> 4C): a
     stream carries the four sub-bands of a pixel pair together, and a grouped conv is not among
     the layers the chain lowers (4x the binary MACs of four C -> C convs, at a quarter of the
     PAN pixel rate);
  B7 LDPC omitted: no stream can carry a prior that needs the whole frame before its first pixel;
  B8 CDC omitted: it needs frame statistics (mean, std) before it can scale the frame's first pixel.
Haar DWT/IDWT are exact in fixed point (coefficients +-1/2: one more fractional bit each way).

Full-precision twin (``binary=False``): every binary conv a float conv of the same shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from quant_models.common import HsbinetError
from quant_models.model_checks import check_changes, check_common, config_dict, has_change
from quant_models.layers import (BilinearUpsample, BinaryConv2d, FixedPointBN, bn_scale_bits, exact_add_lsb,
                                 fixed_point_act)
from quant_models.s2bnet import RPReLU, hardware_head, hardware_tail

BNNPAN_CHANGES = ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8')  # docs/model.md, "BNNPan-style"
SUBBANDS = ('LL', 'LH', 'HL', 'HH')
NBC_EPS = 1e-5


@dataclass
class BNNPanConfig:
    """BNNPan-style hyper-parameters. ``bands`` = B, ``hidden`` = C, ``ratio`` = r.

    ``blocks``: PIBF modules (BNNPan: 4; 2 and 6 ablated); ``prior_dim``: length of the LDPC prior
    vector (used without B7: the paper profile and ablations that keep the prior).
    """

    arch: str = 'bnnpan'
    bands: int = 4
    hidden: int = 32
    blocks: int = 4
    ratio: int = 4
    profile: str = 'hardware'
    estimator: str = 'atiste'
    prior_dim: int = 64
    bn_frac_bits: int = 8
    feature_bits: tuple[int, int] = (16, 6)
    io_bits: tuple[int, int] = (16, 2)
    binary: bool = True
    # Ablations only: hardware-profile changes on top of the paper profile (e.g. ['B7']); None = the
    # profile's own set (hardware: B1-B8, paper: none). Lowering takes profile: hardware.
    changes: tuple[str, ...] | None = None

    def validate(self) -> 'BNNPanConfig':
        check_common(self, 'bnnpan', 'BNNPan', sizes=('bands', 'hidden', 'ratio', 'prior_dim'))
        check_changes(self, BNNPAN_CHANGES)
        self.feature_bits, self.io_bits = tuple(self.feature_bits), tuple(self.io_bits)
        return self

    def has(self, change: str) -> bool:
        """Whether hardware-profile change ``change`` (B1..B8) is applied."""
        return has_change(self, change, BNNPAN_CHANGES)

    def to_dict(self) -> dict:
        return config_dict(self)


HAAR = torch.tensor([[[1., 1.], [1., 1.]], [[1., -1.], [1., -1.]], [[1., 1.], [-1., -1.]],
                     [[1., -1.], [-1., 1.]]]) * 0.5  # LL, LH, HL, HH: (4, 2, 2), rows x columns


def _haar_kernel(channels: int, like: Tensor) -> Tensor:
    return HAAR.to(like).unsqueeze(1).repeat(channels, 1, 1, 1)  # (4C, 1, 2, 2)


def haar_dwt(x: Tensor) -> Tensor:
    """One-level orthonormal Haar DWT, (N, C, H, W) -> (N, 4C, H/2, W/2), channel-major sub-bands.

    With a = x[2i, 2j], b = x[2i, 2j+1], c = x[2i+1, 2j], d = x[2i+1, 2j+1]:
    LL = (a+b+c+d)/2, LH = (a-b+c-d)/2, HL = (a+b-c-d)/2, HH = (a-b-c+d)/2; output channel 4c + k
    is sub-band k (LL, LH, HL, HH) of input channel c. Computed as a 2x2 stride-2 conv with groups
    = C (so the export is one Conv node, which the lowering recognises by its weights); a
    fixed<W,I> input gives exact fixed<W+2, I+1> outputs (sums of four, halved).
    """
    if x.shape[-2] % 2 or x.shape[-1] % 2:
        raise HsbinetError('Haar DWT needs an even frame', key='frame', expected='even height and width',
                           found=f'{x.shape[-2]} x {x.shape[-1]}')
    return F.conv2d(x, _haar_kernel(x.shape[1], x), stride=2, groups=x.shape[1])


def haar_idwt(y: Tensor) -> Tensor:
    """Inverse of :func:`haar_dwt`: (N, 4C, h, w) channel-major sub-bands -> (N, C, 2h, 2w), exact.

    A 2x2 stride-2 transposed conv with groups = C and the same kernels (the transform is
    orthonormal): a = (LL+LH+HL+HH)/2, b = (LL-LH+HL-HH)/2, c = (LL+LH-HL-HH)/2, d = (LL-LH-HL+HH)/2.
    """
    return F.conv_transpose2d(y, _haar_kernel(y.shape[1] // 4, y), stride=2, groups=y.shape[1] // 4)


def subbands(y: Tensor) -> list[Tensor]:
    """(N, 4C, h, w) channel-major -> [LL, LH, HL, HH], each (N, C, h, w)."""
    n, c4, h, w = y.shape
    return list(y.view(n, c4 // 4, 4, h, w).unbind(2))


def from_subbands(parts: list[Tensor]) -> Tensor:
    """Inverse of :func:`subbands`."""
    n, c, h, w = parts[0].shape
    return torch.stack(parts, dim=2).reshape(n, 4 * c, h, w)


def _stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per sample and channel mean and std over H x W (biased), NCHW -> (N, C, 1, 1) each."""
    m = x.mean(dim=(2, 3), keepdim=True)
    return m, torch.sqrt(x.var(dim=(2, 3), keepdim=True, unbiased=False) + NBC_EPS)


class NBCRenorm(nn.Module):
    """Paper NBC: (s_f / lam)(x_b - m_b) / s_b + m_f + eta, statistics of the current input."""

    def __init__(self, channels: int):
        super().__init__()
        self.lam = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.eta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, xb: Tensor, xf: Tensor) -> Tensor:
        mb, sb = _stats(xb)
        mf, sf = _stats(xf)
        return (sf / self.lam) * (xb - mb) / sb + mf + self.eta


def subband_bits(feature_bits: tuple[int, int]) -> tuple[int, int]:
    """fixed<W_s, I_s> of a hardware PIBF's sub-band sums X^_f = DWT(x) + BN(...), before the IDWT.

    DWT(x) of a fixed<W, I> x spans +-2^I (the LL band sums four terms, halved); one more integer bit
    leaves the BN's correction as much room again before it saturates: I_s = I + 2. The IDWT then
    adds four of them, halved: +-2^I_s on a 2^(I_s - W_s - 1) grid, W_s + 1 significant bits, so
    W_s = 23 is the widest sum whose IDWT float32 computes exactly (measured without it: the
    demo's IDWTs needed 28-29 bits and its sub-band adds 26-27, exact on the verified data only).
    """
    return 23, feature_bits[1] + 2


class PIBF(nn.Module):
    """Prior-Integrated Binary Frequency module, C -> C (module docstring; B3-B8 in hardware).

    Each change applies on its own (ablations): B6 stacks the sub-bands into one 4C conv (else one C
    conv per sub-band), B5 drops the RPReLUs, B4 replaces NBC by a frozen BatchNorm and requantises
    the output, B7 drops the FiLM of the prior, B8 drops the CDC gate (the output is then the
    FiLM-modulated IDWT, the identity at initialisation).
    """

    def __init__(self, cfg: BNNPanConfig, channels: int):
        super().__init__()
        self.cfg, C = cfg, channels

        def conv(c: int) -> BinaryConv2d:
            return BinaryConv2d(c, c, 3, cfg.estimator, pad_then_binarize=cfg.has('B3'), binary=cfg.binary)

        # B4 with B5: BN products on multiples of 2^(I_s - 1 - 24) for the fixed<W_s, I_s> sub-band
        # requantiser after the add, so DWT(x) + BN(...) is exact in float32 inside its range (S4's
        # rule); with an RPReLU in front the BN's input is not on the conv's grid (no bound)
        sub_lsb = exact_add_lsb(subband_bits(cfg.feature_bits)[1]) if cfg.has('B5') else None
        # Module names of the two plain profiles are kept (checkpoints and exported graphs): hardware
        # conv/bn, paper convs/acts/nbc/film/cdc.
        if cfg.has('B6'):
            self.conv = conv(4 * C)
            if not cfg.has('B5'):
                self.act = RPReLU(4 * C)
            if cfg.has('B4'):
                self.bn = FixedPointBN(4 * C, cfg.bn_frac_bits, bn_scale_bits(3, 4 * C), sub_lsb)
            else:
                self.nbc = NBCRenorm(4 * C)
        else:
            self.convs = nn.ModuleList([conv(C) for _ in SUBBANDS])
            if not cfg.has('B5'):
                self.acts = nn.ModuleList([RPReLU(C) for _ in SUBBANDS])
            if cfg.has('B4'):
                self.bns = nn.ModuleList([FixedPointBN(C, cfg.bn_frac_bits, bn_scale_bits(3, C), sub_lsb)
                                          for _ in SUBBANDS])
            else:
                self.nbc = nn.ModuleList([NBCRenorm(C) for _ in SUBBANDS])
        if not cfg.has('B7'):
            self.film = nn.Linear(cfg.prior_dim, 2 * C)  # LDPC
            with torch.no_grad():  # start as the identity: z_w = 1, z_b = 0
                self.film.weight.zero_()
                self.film.bias.copy_(torch.cat([torch.ones(C), torch.zeros(C)]))
        if not cfg.has('B8'):
            self.cdc = nn.Linear(2 * C, C)
        self.requant = fixed_point_act(*cfg.feature_bits) if cfg.has('B4') else nn.Identity()
        if cfg.has('B4'):
            self.sub_requant = fixed_point_act(*subband_bits(cfg.feature_bits))

    def train(self, mode: bool = True):
        super().train(mode)
        self._bn_grids()
        return self

    def _bn_grids(self) -> None:
        """B4 with B5: each BN reads its binary conv directly, so it takes that conv's weight scale
        as its input grid (FixedPointBN.follow_input_grid); with an RPReLU between them it has none."""
        if self.cfg.has('B4') and self.cfg.has('B5'):
            pairs = [(self.bn, self.conv)] if self.cfg.has('B6') else list(zip(self.bns, self.convs))
            for bn, conv in pairs:
                bn.follow_input_grid(conv)

    def _branch(self, xf: Tensor, i: int | None) -> Tensor:
        """xf + norm(act(conv(xf))) of sub-band i (None: the stacked sub-bands, B6)."""
        def part(one: str, many: str) -> nn.Module:
            return getattr(self, one) if i is None else getattr(self, many)[i]
        b = part('conv', 'convs')(xf)
        if not self.cfg.has('B5'):
            b = part('act', 'acts')(b)
        if self.cfg.has('B4'):
            return self.sub_requant(xf + part('bn', 'bns')(b))
        return xf + part('nbc', 'nbc')(b, xf)

    def forward(self, x: Tensor, z: Tensor | None = None) -> Tensor:
        self._bn_grids()
        sub = haar_dwt(x)
        if self.cfg.has('B6'):
            y = haar_idwt(self._branch(sub, None))
        else:
            y = haar_idwt(from_subbands([self._branch(xf, i) for i, xf in enumerate(subbands(sub))]))
        yt = y
        if not self.cfg.has('B7'):
            zw, zb = torch.chunk(self.film(z), 2, dim=1)
            yt = y * zw[..., None, None] + zb[..., None, None]
        if not self.cfg.has('B8'):
            m, s = yt.abs().mean(dim=(2, 3)), yt.std(dim=(2, 3), unbiased=False)
            gate = torch.sigmoid(self.cdc(torch.cat([m, s], dim=1)))
            yt = gate[..., None, None] * yt + y
        return self.requant(yt)


class PriorEncoder(nn.Module):
    """LDPC's condition (without B7): (LMS, PAN) -> (N, prior_dim) prior vector."""

    def __init__(self, cin: int, channels: int, dim: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, channels, 3, stride=2, padding=1), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU())
        self.proj = nn.Linear(channels, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.body(x).mean(dim=(2, 3)))


class BNNPan(nn.Module):
    """BNNPan-style network; see the module docstring for both profiles. forward(ms, pan) -> HR cube."""

    def __init__(self, cfg: BNNPanConfig):
        super().__init__()
        self.cfg = cfg = cfg.validate()
        B, C = cfg.bands, cfg.hidden
        if cfg.has('B2'):  # the sensor streams and the output on the fixed<io_bits> grid
            self.in_ms, self.in_pan = fixed_point_act(*cfg.io_bits), fixed_point_act(*cfg.io_bits)
            self.out = fixed_point_act(*cfg.io_bits)
        else:
            self.in_ms = self.in_pan = self.out = nn.Identity()
        if cfg.has('B1'):
            self.upsample = BilinearUpsample(cfg.ratio)
        else:
            self.upsample = nn.Upsample(scale_factor=cfg.ratio, mode='bicubic', align_corners=False)
        if cfg.has('B2'):
            self.head_ms, self.head_pan, self.head_requant = hardware_head(B, C, cfg.feature_bits)
        else:
            self.head = nn.Conv2d(B + 1, C, 3, padding=1)
        if not cfg.has('B7'):
            self.prior = PriorEncoder(B + 1, C, cfg.prior_dim)
        if cfg.has('B2'):
            self.tail = hardware_tail(C, B, cfg.feature_bits, cfg.io_bits)
        else:
            self.tail = nn.Conv2d(C, B, 3, padding=1)
            nn.init.zeros_(self.tail.weight)  # start as the plain upsampler (global residual)
            nn.init.zeros_(self.tail.bias)
        self.body = nn.ModuleList([PIBF(cfg, C) for _ in range(cfg.blocks)])

    def init_from_data(self, pan: Tensor) -> None:
        """Data-dependent init before training: none."""

    def forward(self, ms: Tensor, pan: Tensor) -> Tensor:
        lms = self.upsample(self.in_ms(ms))
        pan = self.in_pan(pan)
        both = None if self.cfg.has('B2') and self.cfg.has('B7') else torch.cat([lms, pan], dim=1)
        x = self.head_requant(self.head_ms(lms) + self.head_pan(pan)) if self.cfg.has('B2') else self.head(both)
        z = None if self.cfg.has('B7') else self.prior(both)
        for block in self.body:
            x = block(x, z)
        return self.out(lms + self.tail(x))

    def receptive_radius(self) -> dict:
        """Receptive-field radius in PAN pixels, as :func:`quant_models.infer.receptive_radius`.

        A PIBF's 3x3 conv at half resolution reaches 1 sub-band pixel = 2 PAN pixels, plus the Haar
        block (1 pixel): 3 per block. Without B4, B7 or B8 (the paper profile) NBC's statistics, the
        LDPC prior and the CDC gate see the whole frame (the radius below is then that of the
        convolutions only); without B2 the head and tail are 3x3.
        """
        r, n = int(self.cfg.ratio), self.cfg.blocks
        conv = (0 if self.cfg.has('B2') else 2) + 3 * n
        up = r if self.cfg.has('B1') else 2 * r
        return {'conv': conv, 'upsampler': up, 'radius': conv + up, 'halo': math.ceil((conv + up) / r) * r}
