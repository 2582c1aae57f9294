"""Building blocks shared by both HS-BiNet profiles. All tensors are NCHW float32.

Fixed-point formats are written ap_fixed-style: ``fixed<W,I>`` = W bits, I integer bits incl. sign.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from brevitas import nn as qnn
from brevitas.inject.enum import ScalingImplType
from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Uint8ActPerTensorFixedPoint
from torch import Tensor, nn

from quant_models.distributed import bn_sync_active, sync_batch_norm
from quant_models.quantizers import act_quant, weight_quant


class BinaryConv2d(nn.Module):
    """Binary conv: activations and weights binarised with ``estimator``; stride 1, 'same' size.

    ``pad_then_binarize=False`` (paper profile): binarise, then zero-pad inside the conv, so the
    border taps see 0 (a third value the 1-bit hardware encoding cannot hold).
    ``pad_then_binarize=True`` (hardware profile): zero-pad the real-valued input first, then
    binarise (0 -> +1 since sign(0) = +1), then convolve with padding 0: the border taps see +1 in
    PyTorch and in hardware alike, so 1-bit XNOR storage stays exact (probes/README.md, item 3).

    Weights: +-2^k per output channel (see quantizers.BinaryWeightQuant). Output scale per output
    channel: 2^k_o, i.e. the conv output is an integer popcount sum times 2^k_o.

    ``binary=False`` (the full-precision twin, ``HSBiNetConfig.binary``): a plain float
    ``nn.Conv2d`` of the same shape, init and padding, with neither activations nor weights
    binarised (``estimator`` unused); its one parameter is ``conv.weight`` as in the binary layer.
    """

    def __init__(self, in_ch: int, out_ch: int, k: int, estimator: str = 'atiste',
                 pad_then_binarize: bool = False, binary: bool = True):
        super().__init__()
        self.pad = k // 2
        self.pad_then_binarize = pad_then_binarize
        self.binary = binary
        padding = 0 if pad_then_binarize else self.pad
        if binary:
            self.conv = qnn.QuantConv2d(in_ch, out_ch, k, padding=padding, bias=False,
                                        weight_quant=weight_quant(estimator), input_quant=act_quant(estimator, in_ch))
        else:
            self.conv = nn.Conv2d(in_ch, out_ch, k, padding=padding, bias=False)
        # Paper A.4: Kaiming init with a scaled real-valued weight, so binarisation does not saturate
        # the surrogate from the first step.
        nn.init.kaiming_normal_(self.conv.weight, nonlinearity='linear')
        with torch.no_grad():
            self.conv.weight.mul_(0.1)

    def forward(self, x: Tensor) -> Tensor:
        if self.pad_then_binarize and self.pad:
            x = F.pad(x, (self.pad,) * 4)
        return self.conv(x)


def latent_weight(conv: nn.Module) -> nn.Parameter:
    """The stored weight parameter of a conv (under a parametrisation, e.g. S2BNet's Gabor modulation,
    ``conv.weight`` is computed and the parameter is ``parametrizations.weight.original``)."""
    p = getattr(conv, 'parametrizations', None)
    return p.weight.original if p is not None and 'weight' in p else conv.weight


def exact_add_lsb(int_bits: int) -> float:
    """The finest grid 2^(I - 1 - 24) whose multiples inside a saturating fixed<W, I>'s +-2^(I-1) float32
    holds exactly (2^24 steps): an add read only by that quantiser, of terms on multiples of it, is
    exact in float32 (a correctly rounded add is monotone, so what lies beyond saturates alike).
    Used for the BN products before a residual add (H4, S4, B4) and the decoder output (H6)."""
    return 2.0 ** (int_bits - 1 - 24)


def bn_scale_bits(k: int, cin: int) -> int:
    """Significant bits a hardware BatchNorm scale may keep behind a binary k x k conv of ``cin`` inputs.

    The conv's output is a popcount of up to k^2 cin terms times a power-of-two weight scale
    (BinaryConv2d): an integer of ceil(log2(k^2 cin + 1)) significant bits. Its BatchNorm scale a
    grows as large as the running variance is small (measured: a = 250 on a 2^-8 grid, 16
    significant bits, behind a 9 x 128 popcount: x * a needed 26 bits, and float32 PyTorch rounded one
    pixel 1 LSB away from QONNX and the C-simulation on another CPU). With a held to
    23 - ceil(log2(k^2 cin + 1)) significant bits, x * a is exact in float32 by construction, so the
    golden model is bit-exact on every machine; the hardware stores the same constant.
    Examples at C = 64: 3x3 -> 13 bits, 7x7 -> 11 bits, 1x1 over 3C -> 15 bits.
    """
    return 23 - math.ceil(math.log2(k * k * cin + 1))


class FixedPointBN(nn.BatchNorm2d):
    """BatchNorm whose inference-time affine is rounded to fixed point.

    Training: ordinary BatchNorm (batch statistics, running averages); in a multi-process training
    step (:func:`quant_models.distributed.batch_norm_sync`) the statistics of the global batch over
    every rank (:func:`quant_models.distributed.sync_batch_norm`). Eval: y = x * a_q + b_q with
    a = gamma / sqrt(var + eps), b = beta - mean * a, each rounded to a multiple of 2^-frac_bits
    (the hardware stores them as fixed<.., ..-frac_bits>), so the eval-mode PyTorch model computes
    exactly what a fixed-point multiply-add computes. frac_bits=None keeps float (paper profile).
    """

    def __init__(self, channels: int, frac_bits: int | None = 10, scale_bits: int | None = None,
                 out_lsb: float | None = None):
        super().__init__(channels)
        self.frac_bits = frac_bits
        # scale_bits: at most this many significant bits in each rounded scale a (its LSB is then
        # max(2^-frac_bits, 2^(floor(log2|a|) + 1 - scale_bits))), so x * a of an input with
        # (23 - scale_bits) significant bits is exact in float32 however large a grows; None = no bound.
        self.scale_bits = scale_bits
        # out_lsb (a power of two) with input_lsb (per channel, powers of two, set by the owner in
        # eval mode: the grid of its input, e.g. a binary conv's weight scale 2^k_c): a's LSB is also
        # at least out_lsb / input_lsb_c, so every a * x lands on multiples of out_lsb; a following
        # add with a skip of range +-R is then exact in float32 while R / out_lsb <= 2^24.
        self.out_lsb = out_lsb
        self.input_lsb: Tensor | None = None
        self._grid_of: tuple[int, int] | None = None  # (id, version) of the weight input_lsb came from

    def follow_input_grid(self, conv: BinaryConv2d) -> None:
        """Take ``input_lsb`` from the binary conv in front (its per-channel weight scale 2^k_c).

        In eval mode the grid is held as a constant tensor, so the folded affine and the export see a
        fixed value, not a traced computation; it is recomputed whenever the conv's weights changed in
        place (load_state_dict, an optimiser step). Training, no ``out_lsb`` or a float conv (the
        full-precision twin): no grid. The owner calls this from ``train()`` (so ``eval()`` sets it
        before an export) and from ``forward``.
        """
        if self.training or self.out_lsb is None or not conv.binary:
            self.input_lsb, self._grid_of = None, None
            return
        if self.input_lsb is not None and (torch.compiler.is_compiling() or torch.compiler.is_exporting()):
            return  # an export traces fake weights: the constant of eval() stands
        w = latent_weight(conv.conv)
        if self._grid_of != (id(w), w._version):
            with torch.no_grad():
                self.input_lsb = conv.conv.quant_weight().scale.detach().reshape(-1).clone()
            self._grid_of = (id(w), w._version)

    def folded(self) -> tuple[Tensor, Tensor]:
        """Eval-mode per-channel (scale, shift), already rounded when frac_bits is set."""
        a = self.weight / torch.sqrt(self.running_var + self.eps)
        b = self.bias - self.running_mean * a
        if self.frac_bits is not None:
            q = torch.full_like(a, 2.0 ** self.frac_bits)
            if self.scale_bits is not None:
                e = torch.floor(torch.log2(a.abs().clamp_min(2.0 ** -self.frac_bits)))
                q = torch.minimum(q, 2.0 ** (self.scale_bits - 1 - e))
            if self.out_lsb is not None and self.input_lsb is not None:
                q = torch.minimum(q, self.input_lsb.reshape(-1) / self.out_lsb)
            a, b = torch.round(a * q) / q, torch.round(b * 2.0 ** self.frac_bits) / 2.0 ** self.frac_bits
        return a, b

    def forward(self, x: Tensor) -> Tensor:
        if self.training or self.frac_bits is None:
            if self.training and bn_sync_active():
                return sync_batch_norm(self, x)
            return super().forward(x)
        a, b = self.folded()
        # (x - 0) / sqrt(1 + 0) * a + b == x * a + b exactly; written as batch_norm so the ONNX
        # export is one BatchNormalization node that qonnx and hls4ml map to a fixed-point scale/shift.
        return F.batch_norm(x, torch.zeros_like(a), torch.ones_like(a), a, b, training=False, eps=0.0)


def fixed_point_act(bit_width: int, int_bits: int, signed: bool = True) -> qnn.QuantIdentity:
    """Saturating fixed-point requantiser: fixed<bit_width, int_bits> (signed) or ufixed.

    Scale is the constant 2^(int_bits - bit_width) (signed: int_bits includes the sign bit).
    """
    base = Int8ActPerTensorFixedPoint if signed else Uint8ActPerTensorFixedPoint
    max_val = 2.0 ** (int_bits - 1 if signed else int_bits)
    quant = base.let(scaling_impl_type=ScalingImplType.CONST, bit_width=bit_width,
                     max_val=max_val, min_val=-max_val if signed else 0.0)
    return qnn.QuantIdentity(act_quant=quant, return_quant_tensor=False)


def fixed_point_conv1x1(in_ch: int, out_ch: int, bias: bool = False) -> qnn.QuantConv2d:
    """1x1 conv with int8 weights and a per-tensor power-of-two scale (fixed<8, k>)."""
    return qnn.QuantConv2d(in_ch, out_ch, 1, bias=bias, weight_quant=Int8WeightPerTensorFixedPoint)


class HardSigmoidPo2(nn.Module):
    """Exact-in-hardware sigmoid stand-in: clip(x/4 + 1/2, 0, 1) on a 2^-frac_bits grid.

    x/4 is a shift, so the only rounding is the final quantiser: ufixed<frac_bits, 0>, i.e. the
    output lies in {0, 1/2^f, ..., 1 - 1/2^f}. PyTorch uses it in training and eval, so there is no
    float-sigmoid vs LUT mismatch.
    """

    def __init__(self, frac_bits: int = 8):
        super().__init__()
        self.quant = fixed_point_act(frac_bits, 0, signed=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.quant(x * 0.25 + 0.5)


class BilinearUpsample(nn.Module):
    """Fixed bilinear x``ratio`` upsampling (align_corners=False, edge replicate), NCHW.

    For ratio 4 each output pixel is a weighted sum of 4 inputs with weights that are multiples of
    1/64 (1/8 per axis), so a fixed-point input stays exactly representable with 6 more fractional
    bits.
    """

    def __init__(self, ratio: int):
        super().__init__()
        self.ratio = ratio

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=self.ratio, mode='bilinear', align_corners=False)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, excluding the estimator's own (alpha, lam) which never reach hardware."""
    return sum(p.numel() for n, p in model.named_parameters() if '.estimator.' not in n)
