"""Brevitas quantizers for binary weights/activations driven by a named estimator (ATISTE by default).

Brevitas ships binary quantizers whose backward is fixed (``binary_sign_ste``): to get ATISTE's
learnable surrogate we plug our own ``tensor_quant`` into Brevitas' injector system. It has the
exact interface of ``brevitas.core.quant.BinaryQuant`` (returns value, scale, zero-point,
bit-width = 1), so Brevitas' QONNX export emits a standard ``BipolarQuant`` node for it and every
qonnx/hls4ml/FINN pass treats it as an ordinary bipolar quantiser.

Weights: value = sign(W) * s_o, with s_o = mean|W_o| per output channel rounded to the nearest
power of two (in the log2 domain, straight-through), so every weight is +-2^k_o exactly.
The latent weights are clamped *out of place* to +-``weight_clip`` (Brevitas' default binary weight
quantizer clamps the parameter in place, which with a statistics-based scale makes every forward
pass shrink the weights; see probes/README.md).
Activations: value = sign(x) with a constant scale of 1 (= 2^0).
"""

from __future__ import annotations

from typing import Tuple

import torch
from brevitas.core.bit_width import BitWidthConst
from brevitas.core.function_wrapper import RoundSte
from brevitas.core.utils import StatelessBuffer
from brevitas.inject import this
from brevitas.inject.enum import RestrictValueType, ScalingImplType, ScalingPerOutputType, StatsOp
from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
from torch import Tensor, nn

from quant_models.estimators import make_estimator


class EstimatorBinaryQuant(nn.Module):
    """Scaled binary quantisation whose backward is a named estimator.

    Same call contract as ``brevitas.core.quant.BinaryQuant``:
    ``forward(x) -> (sign(x) * scale, scale, zero_point=0, bit_width=1)``.
    """

    def __init__(self, scaling_impl: nn.Module, estimator_name: str = 'atiste', estimator_shape=(),
                 weight_clip: float | None = None):
        super().__init__()
        self.scaling_impl = scaling_impl
        self.estimator = make_estimator(estimator_name, tuple(estimator_shape))
        self.estimator_name = estimator_name
        self.weight_clip = weight_clip
        self.bit_width = BitWidthConst(1)
        self.zero_point = StatelessBuffer(torch.tensor(0.0))

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        scale = self.scaling_impl(x)
        if self.weight_clip is not None:
            x = torch.clamp(x, -self.weight_clip, self.weight_clip)  # out of place, never x.clamp_()
        y = self.estimator(x) * scale
        return y, scale, self.zero_point(), self.bit_width()


class BinaryWeightQuant(SignedBinaryWeightPerTensorConst):
    """+-2^k per output channel, k = round(log2(mean|W_o|)); estimator per output channel."""

    tensor_quant = EstimatorBinaryQuant
    scaling_impl_type = ScalingImplType.STATS
    scaling_stats_op = StatsOp.AVE
    scaling_per_output_type = ScalingPerOutputType.CHANNEL
    restrict_scaling_type = RestrictValueType.POWER_OF_TWO
    restrict_value_float_to_int_impl = RoundSte
    scaling_min_val = 2.0 ** -24
    estimator_name = 'atiste'
    estimator_shape = this.scaling_per_output_channel_shape
    weight_clip = 1.0


class BinaryActQuant(SignedBinaryActPerTensorConst):
    """+-1 activations; the estimator's alpha has ``estimator_shape`` (e.g. (1, Cin, 1, 1))."""

    tensor_quant = EstimatorBinaryQuant
    scaling_const = 1.0
    estimator_name = 'atiste'
    estimator_shape = ()


def weight_quant(estimator: str):
    """Binary weight quantizer class for ``estimator`` ('atiste' | 'ste' | 'reste')."""
    return BinaryWeightQuant.let(estimator_name=estimator)


def act_quant(estimator: str, channels: int | None):
    """Binary activation quantizer for NCHW inputs with ``channels`` channels (None: scalar alpha)."""
    shape = () if channels is None else (1, channels, 1, 1)
    return BinaryActQuant.let(estimator_name=estimator, estimator_shape=shape)
