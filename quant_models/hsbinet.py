"""HS-BiNet (paper profile) and its streamable, exactly-representable hardware profile.

Inputs (NCHW float32): ``ms`` = LR hyperspectral cube (N, B, h, w), reflectance normalised to
[0, 1]; ``pan`` = panchromatic image (N, 1, r*h, r*w) in [0, 1]. Output: HR hyperspectral cube
(N, B, r*h, r*w) on the same scale as ``ms``.

Paper profile (faithful, software only; paper section 3.1 and Fig. 3):
  F0 = deformable-conv upsampler(ms)                        B  -> B   at r*h x r*w
  x  = head(F0)  full-precision 3x3 conv                    B  -> C   (*)
  MSFE: x = x + BN(bconv1x1(cat(BN(bconv3(x)), BN(bconv5(x)), BN(bconv7(x)))))   3C -> C
        x = ResidualBlock^n(x),  block(x) = x + BN(bconv3(BN(bconv3(x))))
  edge  = BN(bconv3(thermometer(pan)))                       1  -> C   (**)
  f     = BN(bconv3(cat(edge, x)))                          2C -> C
  d     = conv1x1(BN(bconv3(f)))  full precision            C  -> B
  out   = F0 + d * sigmoid(bconv1x1(GAP(d)))                channel attention on B channels
(*) The paper adds a residual from the MSFE input to its C-channel output, which needs a C-channel
    input: we read its "blue" (full-precision) kernels as this projection of the B-band cube.
(**) sign(PAN) is +1 everywhere (reflectance >= 0), so binarising PAN directly carries no
    information: a per-channel learned affine (C thresholds, a thermometer code) precedes the
    binary conv. It costs 2C parameters.

Hardware profile: same components, each changed to a streamable exact form (named changes):
  H1 upsampler: fixed bilinear x r (weights multiples of 1/64 for r=4) instead of deformable conv;
  H2 head: int8 1x1 projection of an 8-bit requantised F0 instead of a float 3x3 conv;
  H3 binary convs pad first, then binarise (border taps +1), so 1-bit storage is exact;
  H4 BN affine rounded to 2^-8 at inference, its scale also to at most bn_scale_bits(k, C_in)
     significant bits and to an LSB of at least 2^-19 / 2^k_c behind a conv of weight scale 2^k_c
     (FixedPointBN; float32-exact golden model), feature maps requantised to fixed<16,6> after
     every residual add / concat producer;
  H5 decoder attention acts on the C binarised channels (frame buffer C bits/pixel instead of
     B x 16 bits), and sigmoid is a power-of-two hard sigmoid on an 8-bit grid;
  H6 the decoder's C -> B projection has int8 weights and its output is held on fixed<26,3>;
     inputs are fixed<16,2>, output fixed<16,2>;
  H7 thermometer thresholds rounded to 2^-6 at inference.
Every binary conv in both profiles uses the chosen estimator (ATISTE by default) for activations
and weights; the estimator's alpha/lam exist only for training.

Full-precision twin (``binary=False``, software only, for accuracy comparisons): the same network
and profile, fixed-point/int8 parts included, with every binarisation replaced by the identity:
each binary conv is a float conv of the same shape and init (no sign on activations or weights),
and H5's binarising of the decoder features is dropped. It cannot be exported to hardware.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from brevitas import nn as qnn
from torch import Tensor, nn

from quant_models.common import HsbinetError
from quant_models.model_checks import check_changes, check_common, has_change
from quant_models.layers import (BilinearUpsample, BinaryConv2d, FixedPointBN, HardSigmoidPo2, bn_scale_bits,
                                 count_parameters, exact_add_lsb, fixed_point_act, fixed_point_conv1x1,
                                 latent_weight)
from quant_models.quantizers import act_quant

HW_CHANGES = ('H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'H7')  # docs/model.md, "Hardware profile: the named changes"


@dataclass
class HSBiNetConfig:
    """Model hyper-parameters. ``bands`` = B, ``hidden`` = C, ``ratio`` = PAN/MS scale factor."""

    arch: str = 'hsbinet'  # model.arch (quant_models.archs); HS-BiNet's own config
    bands: int = 191
    hidden: int = 64
    blocks: int = 4
    ratio: int = 4
    profile: str = 'hardware'
    estimator: str = 'atiste'
    deform_groups: int = 1  # paper profile upsampler: 1 = full B->B deformable conv, B = depthwise
    bn_frac_bits: int = 8
    feature_bits: tuple[int, int] = (16, 6)  # fixed<W,I> of requantised feature maps
    io_bits: tuple[int, int] = (16, 2)  # fixed<W,I> of the ms/pan inputs and of the output
    # Ablations only: the hardware-profile changes applied on top of the paper profile (e.g. ['H3']).
    # None = the profile's own set (hardware: all seven, paper: none). A lowerable model has all seven.
    changes: tuple[str, ...] | None = None
    # False: the full-precision twin (every binarisation replaced by the identity; not exportable).
    binary: bool = True
    # H8 (docs/model.md): the channel attention pools each block of this many PAN rows (over the
    # whole width) instead of the whole frame; 0 = the frame. A swath is streamed line by line, so
    # the gate cannot wait for a whole frame; a frame whose height is the block is today's model.
    attention_rows: int = 0
    # H9 (docs/model.md): output channels of the MSFE's 3x3, 5x5 and 7x7 branches; None = C each (the
    # paper). The 5x5 and 7x7 branches hold 47 % of the binary MACs per pixel at C = 64: narrowing
    # them is the lever on the accelerator's LUTs at a given pixel rate (docs/resources.md).
    msfe_widths: tuple[int, int, int] | None = None

    def validate(self) -> 'HSBiNetConfig':
        check_common(self, 'hsbinet', 'HS-BiNet')
        check_changes(self, HW_CHANGES)
        if not isinstance(self.attention_rows, int) or self.attention_rows < 0:
            raise HsbinetError('Bad attention block', key='model.attention_rows',
                               expected='0 (pool the whole frame) or a row count >= 1', found=repr(self.attention_rows))
        if self.attention_rows and not self.has('H5'):
            raise HsbinetError('Block-pooled attention needs the binary attention of the hardware profile',
                               key='model.attention_rows', expected='0 without H5', found=repr(self.attention_rows))
        if self.msfe_widths is not None:
            w = self.msfe_widths
            if (not isinstance(w, (list, tuple)) or len(w) != 3
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in w)):
                raise HsbinetError('Bad MSFE branch widths', key='model.msfe_widths',
                                   expected='three channel counts >= 1 (the 3x3, 5x5 and 7x7 branches), or omitted',
                                   found=repr(w))
            self.msfe_widths = tuple(w)
        self.feature_bits, self.io_bits = tuple(self.feature_bits), tuple(self.io_bits)
        return self

    def branch_widths(self) -> tuple[int, int, int]:
        """Output channels of the MSFE's 3x3, 5x5 and 7x7 branches (H9; C each without it)."""
        return self.msfe_widths or (self.hidden,) * 3  # a tuple once validate() has run

    def has(self, change: str) -> bool:
        """Whether hardware-profile change ``change`` (H1..H7) is applied."""
        return has_change(self, change, HW_CHANGES)

    def to_dict(self) -> dict:
        d = asdict(self)
        del d['arch']  # HS-BiNet checkpoints and graphs keep their old form (no arch: HS-BiNet)
        d['feature_bits'], d['io_bits'] = list(self.feature_bits), list(self.io_bits)
        if self.changes is None:
            del d['changes']  # checkpoints of the two plain profiles keep their old form
        else:
            d['changes'] = list(self.changes)
        if self.binary:
            del d['binary']  # checkpoints of binary models keep their old form
        if not self.attention_rows:
            del d['attention_rows']  # frame-pooled checkpoints keep their old form
        if self.msfe_widths is None:
            del d['msfe_widths']  # checkpoints of the paper's MSFE keep their old form
        else:
            d['msfe_widths'] = list(self.msfe_widths)
        return d


class ThermometerEncoder(nn.Module):
    """PAN (N,1,H,W) -> (N,C,H,W), y_c = w_c * pan + b_c: C learned thresholds before a sign.

    With ``frac_bits`` set, eval mode rounds w and b to 2^-frac_bits and clamps |w| < 4, so for a
    fixed<16,2> PAN every product is exact in float32 and the following sign is a comparator.
    """

    def __init__(self, channels: int, frac_bits: int | None = None):
        super().__init__()
        self.frac_bits = frac_bits
        self.weight = nn.Parameter(torch.ones(channels))
        # thresholds spread over the normalised PAN range so every channel starts informative
        self.bias = nn.Parameter(-torch.linspace(0.05, 0.95, channels))

    @torch.no_grad()
    def init_from_data(self, pan: Tensor) -> None:
        """Thresholds at evenly spaced quantiles (2%..98%) of the PAN values in ``pan``."""
        q = torch.linspace(0.02, 0.98, self.bias.numel())
        self.weight.fill_(1.0)
        self.bias.copy_(-torch.quantile(pan.flatten().float()[:1_000_000], q))

    def folded(self) -> tuple[Tensor, Tensor]:
        w, b = self.weight, self.bias
        if self.frac_bits is not None:
            q = 2.0 ** self.frac_bits
            w = torch.round(w.clamp(-4.0, 4.0 - 1.0 / q) * q) / q
            b = torch.round(b * q) / q
        return w, b

    def forward(self, pan: Tensor) -> Tensor:
        w, b = (self.weight, self.bias) if self.training else self.folded()
        # a 1 -> C 1x1 conv with bias: exports as one Conv node (no broadcast Mul/Add)
        return F.conv2d(pan, w.view(-1, 1, 1, 1), b)


class ConvBN(nn.Sequential):
    """BinaryConv2d followed by BN (FixedPointBN in the hardware profile).

    H4 also puts every BN product on multiples of 2^(I - 1 - 24) for the fixed<W, I> feature maps
    (``FixedPointBN.out_lsb``, the conv's weight scale as its input grid), as S2BNet-style's S4: a
    residual add of a BN output and a fixed<16,6> skip, inside the requantiser's +-2^(I-1), is then
    exact in float32 whatever weight scale a training ends with (the demo's 2^-10 scales put the
    blocks' adds at 24 bits; one more halving would have needed 25).
    """

    def __init__(self, cfg: HSBiNetConfig, cin: int, cout: int, k: int):
        h4 = cfg.has('H4')
        bn = (FixedPointBN(cout, cfg.bn_frac_bits, bn_scale_bits(k, cin), exact_add_lsb(cfg.feature_bits[1]))
              if h4 else FixedPointBN(cout, None))
        super().__init__(BinaryConv2d(cin, cout, k, cfg.estimator, pad_then_binarize=cfg.has('H3'),
                                      binary=cfg.binary), bn)

    def train(self, mode: bool = True):
        super().train(mode)
        self[1].follow_input_grid(self[0])
        return self

    def forward(self, x: Tensor) -> Tensor:
        self[1].follow_input_grid(self[0])
        return super().forward(x)


def _requant(cfg: HSBiNetConfig) -> nn.Module:
    """H4: feature maps requantised to fixed<feature_bits> after every residual add / concat producer."""
    return fixed_point_act(*cfg.feature_bits) if cfg.has('H4') else nn.Identity()


class ResidualBlock(nn.Module):
    """x + BN(bconv3(BN(bconv3(x)))) (paper Fig. 3c)."""

    def __init__(self, cfg: HSBiNetConfig):
        super().__init__()
        C = cfg.hidden
        self.body = nn.Sequential(ConvBN(cfg, C, C, 3), ConvBN(cfg, C, C, 3))
        self.requant = _requant(cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.requant(x + self.body(x))


class MSFE(nn.Module):
    """Multi-scale feature extractor: 3x3/5x5/7x7 binary convs, concat, binary 1x1, residual.

    Branch k maps C -> ``cfg.branch_widths()[i]`` channels (C each unless H9 narrows them); the fuse
    1x1 reads their concatenation (sum of the widths) and maps it back to C.
    """

    def __init__(self, cfg: HSBiNetConfig):
        super().__init__()
        C, widths = cfg.hidden, cfg.branch_widths()
        self.branches = nn.ModuleList([ConvBN(cfg, C, w, k) for w, k in zip(widths, (3, 5, 7))])
        self.fuse = ConvBN(cfg, sum(widths), C, 1)
        self.requant = _requant(cfg)
        self.blocks = nn.Sequential(*[ResidualBlock(cfg) for _ in range(cfg.blocks)])

    def forward(self, x: Tensor) -> Tensor:
        ms = torch.cat([b(x) for b in self.branches], dim=1)
        x = self.requant(x + self.fuse(ms))
        return self.blocks(x)


class EdgeInjector(nn.Module):
    """PAN -> C spatial features: thermometer thresholds, binary 3x3 conv, BN."""

    def __init__(self, cfg: HSBiNetConfig):
        super().__init__()
        self.thermo = ThermometerEncoder(cfg.hidden, 6 if cfg.has('H7') else None)
        self.conv = ConvBN(cfg, cfg.hidden, cfg.hidden, 3)
        self.requant = _requant(cfg)

    def forward(self, pan: Tensor) -> Tensor:
        return self.requant(self.conv(self.thermo(pan)))


class Fusion(nn.Module):
    """concat(spatial, spectral) -> binary 3x3 conv -> BN (2C -> C)."""

    def __init__(self, cfg: HSBiNetConfig):
        super().__init__()
        self.conv = ConvBN(cfg, 2 * cfg.hidden, cfg.hidden, 3)
        self.requant = _requant(cfg)

    def forward(self, spatial: Tensor, spectral: Tensor) -> Tensor:
        return self.requant(self.conv(torch.cat([spatial, spectral], dim=1)))


def decoder_out_bits(io_bits: tuple[int, int]) -> tuple[int, int]:
    """H6: fixed<W_d, I_d> of the decoder's output, the term the global residual adds to the bilinear F0.

    The add is read only by the output quantiser fixed<W_o, I_o> (+-2^(I_o - 1)), so it is exact in
    float32 when its terms are multiples of 2^(I_o - 1 - 24) (``layers.exact_add_lsb``): the decoder's
    output is rounded there, I_d = I_o + 1 integer and 25 - I_o fractional bits, W_d = 26 for any I_o
    (without it a projection scale of 2^-16, the order of its 1e-3 initialisation, put it on 2^-24 and
    the add at 25 bits). I_d = I_o + 1 saturates only where the output saturates anyway (|F0| < 2^(I_o-1)).
    The grid is the finest that keeps the add exact, not the io grid: it leaves a trained projection's
    output as it is (rounding it to fixed<16,2> itself moved the demo by -0.16 dB, one seed).
    """
    return 26, io_bits[1] + 1


class Decoder(nn.Module):
    """bconv3+BN, C -> B projection and channel attention.

    paper:    d = proj(BN(bconv3(x))) (float 1x1, C -> B); out = d * sigmoid(bconv1x1(GAP(d))) on B channels.
    H5:       b = sign(BN(bconv3(x))); out = proj(b * hard_sigmoid(bconv1x1(GAP(b)))): attention on the
              C binary channels (a C-bit/pixel frame buffer), power-of-two hard sigmoid on a 2^-8 grid.
    H6:       proj has int8 weights with a power-of-two scale instead of float, and the decoder's
              output is held on fixed<26, I_o + 1> (:func:`decoder_out_bits`), so the global residual
              add (bilinear on 2^-20 plus it) is exact in float32 whatever scale proj trains to.
    H8:       ``attention_rows`` L > 0: the gate is computed per block of L PAN rows (pooled over
              the block's L x W pixels) and multiplies that block only; a frame of L rows is H5.
    The hardware profile has both; the attribute names are the same in every variant.
    """

    def __init__(self, cfg: HSBiNetConfig):
        super().__init__()
        C, B = cfg.hidden, cfg.bands
        self.binary_attention = cfg.has('H5')
        self.attention_rows = int(cfg.attention_rows)
        # True only while hw.export traces the model: the graph keeps the frame pool and the fusion
        # into ChannelGate gives it its block from the model config carried in the graph
        self.export_frame_pool = False
        self.conv = ConvBN(cfg, C, C, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)
        if self.binary_attention:
            self.binarize = (qnn.QuantIdentity(act_quant=act_quant(cfg.estimator, C)) if cfg.binary
                             else nn.Identity())  # the full-precision twin keeps the real-valued features
            self.att = BinaryConv2d(C, C, 1, cfg.estimator, binary=cfg.binary)
            self.gate = HardSigmoidPo2(8)
        else:
            self.att = BinaryConv2d(B, B, 1, cfg.estimator, binary=cfg.binary)
        if cfg.has('H6'):
            self.proj = fixed_point_conv1x1(C, B)
            with torch.no_grad():
                # small, not zero: the int8 power-of-two scale follows max |w|. Not the plain upsampler
                # either: the C binary inputs give a decoder term of ~0.003 mean |value|, 1.6-2.4 dB below
                # bilinear at epoch 0; a 1000x smaller start trains to the same result (docs/benchmarks.md,
                # "Training hypotheses for the 100 x 100 scenes")
                self.proj.weight.normal_(0.0, 1e-3)
            self.requant = fixed_point_act(*decoder_out_bits(cfg.io_bits))
        else:
            self.proj = nn.Conv2d(C, B, 1)
            nn.init.zeros_(self.proj.weight)  # start as the plain upsampler (global residual)
            nn.init.zeros_(self.proj.bias)
            self.requant = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if self.binary_attention:
            b = self.binarize(self.conv(x))
            return self.requant(self.proj(self._gated(b)))
        d = self.proj(self.conv(x))
        return self.requant(d * torch.sigmoid(self.att(self.pool(d))))

    def _gated(self, b: Tensor) -> Tensor:
        """b (N, C, H, W) times its gate: one per frame, or (H8) one per block of L rows."""
        L = self.attention_rows
        N, C, H, W = b.shape
        if not L or L == H or self.export_frame_pool:
            return b * self.gate(self.att(self.pool(b)))
        if H % L:
            raise HsbinetError('The attention block does not divide the frame', key='model.attention_rows',
                               expected=f'a divisor of the frame height {H}', found=str(L))
        blocks = b.reshape(N, C, H // L, L * W)  # rows r -> block r // L (NCHW is row-major)
        g = self.gate(self.att(blocks.mean(dim=3, keepdim=True)))  # (N, C, H / L, 1): a 1x1 conv per block
        return (blocks * g).reshape(N, C, H, W)


class HSBiNet(nn.Module):
    """HS-BiNet; see the module docstring for both profiles. forward(ms, pan) -> HR cube."""

    def __init__(self, cfg: HSBiNetConfig):
        super().__init__()
        self.cfg = cfg = cfg.validate()
        B, C = cfg.bands, cfg.hidden
        if cfg.has('H6'):  # the sensor streams and the output on the fixed<io_bits> grid
            self.in_ms, self.in_pan = fixed_point_act(*cfg.io_bits), fixed_point_act(*cfg.io_bits)
            self.out = fixed_point_act(*cfg.io_bits)
        else:
            self.in_ms = self.in_pan = self.out = nn.Identity()
        if cfg.has('H1'):
            self.upsample = BilinearUpsample(cfg.ratio)
        else:
            from quant_models.deform_conv import DeformableUpsampler
            self.upsample = DeformableUpsampler(B, cfg.ratio, groups=cfg.deform_groups)
        if cfg.has('H2'):
            self.head = nn.Sequential(fixed_point_act(8, 0, signed=False), fixed_point_conv1x1(B, C),
                                      fixed_point_act(*cfg.feature_bits))
        else:
            self.head = nn.Conv2d(B, C, 3, padding=1)
        self.decoder = Decoder(cfg)
        self.msfe = MSFE(cfg)
        self.edge = EdgeInjector(cfg)
        self.fusion = Fusion(cfg)

    def init_from_data(self, pan: Tensor) -> None:
        """Data-dependent init before training: the edge thermometer's thresholds at PAN quantiles."""
        self.edge.thermo.init_from_data(pan)

    def forward(self, ms: Tensor, pan: Tensor) -> Tensor:
        f0 = self.upsample(self.in_ms(ms))
        spectral = self.msfe(self.head(f0))
        spatial = self.edge(self.in_pan(pan))
        return self.out(f0 + self.decoder(self.fusion(spatial, spectral)))


def build_model(cfg: HSBiNetConfig | dict) -> HSBiNet:
    if isinstance(cfg, dict):
        cfg = HSBiNetConfig(**cfg)
    return HSBiNet(cfg)


def model_summary(model: HSBiNet) -> dict:
    """Parameter count and weight memory in bits as the hardware would store them.

    Binary conv weights cost 1 bit each plus one power-of-two exponent (8 bits) per output
    channel; int8 weights 8 bits; everything else (BN affine, thermometer, float convs, deformable
    upsampler) is counted at 16 bits in the hardware profile and 32 bits in the paper profile.
    The estimator's alpha/lam are training-only and excluded. In the full-precision twin
    (``binary=False``) the convs of the binary layers are float and counted as "other".
    """
    wide = 16 if model.cfg.profile == 'hardware' else 32
    binary = int8 = other = 0
    binary_bits = 0
    for mod in model.modules():
        if isinstance(mod, BinaryConv2d) and mod.binary:
            w = mod.conv.weight
            binary += w.numel()
            binary_bits += w.numel() + 8 * w.shape[0]
    seen = {id(latent_weight(m.conv)) for m in model.modules() if isinstance(m, BinaryConv2d) and m.binary}
    for name, p in model.named_parameters():
        if '.estimator.' in name or id(p) in seen:
            continue
        if isinstance(_owner(model, name), qnn.QuantConv2d) and name.endswith('weight'):
            int8 += p.numel()
        else:
            other += p.numel()
    total = count_parameters(model)
    return {
        'profile': model.cfg.profile, 'parameters': total, 'binary_weights': binary,
        'int8_weights': int8, 'other_parameters': other,
        'weight_memory_bits': binary_bits + 8 * int8 + wide * other,
        'float32_equivalent_bits': 32 * total,
    }


def _owner(model: nn.Module, param_name: str) -> nn.Module:
    mod = model
    for part in param_name.split('.')[:-1]:
        mod = getattr(mod, part)
    return mod
