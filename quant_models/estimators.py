"""Binarisation estimators: forward is always the hard sign, backward is the estimator's surrogate.

All estimators share one forward, ``binary_sign`` with sign(0) = +1 (the hardware's convention:
a 1-bit activation stores 1 for ``x >= 0``; never ``torch.sign``, which maps 0 to 0). They differ
only in the gradient they pass backwards:

``atiste``  (HS-BiNet paper, eq. 1-2)
    surrogate f(x) = (1 - lam) * tanh(alpha * x) + lam * x, so
    df/dx = (1 - lam) * alpha * (1 - tanh^2(alpha * x)) + lam,
    df/dalpha = (1 - lam) * x * (1 - tanh^2(alpha * x)),  df/dlam = x - tanh(alpha * x).
    alpha is learnable per channel (weights: per output channel, activations: per input channel),
    lam is learnable per layer and constrained to [0, 1] by a sigmoid re-parameterisation.
``ste``     (BNN, Hubara et al. 2016): clipped identity, df/dx = 1{|x| <= 1}.
``reste``   (Wu et al. 2023, "Estimator meets equilibrium perspective"): the power function
    sign(x)|x|^(1/o) as backward surrogate, df/dx = (1/o)|x|^((1-o)/o) for interval < |x| <= t,
    the secant slope interval^(1/o)/interval for |x| <= interval, 0 beyond t; t = 1.5,
    interval = 0.1 and o rises from 1 to o_end (3) over training with
    o(epoch) = 1 + (1 - cos(pi/2 * epoch/epochs)) * (o_end - 1)  (the authors' schedule).

The straight-through construction ``y = f(x) + (sign(x) - f(x)).detach()`` makes autograd return
exactly the surrogate's derivatives for x and for the learnable parameters, while the forward value
is exactly +-1.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

ESTIMATORS = ('atiste', 'ste', 'reste')


def binary_sign(x: Tensor) -> Tensor:
    """Hard sign with sign(0) = +1, same dtype as ``x``."""
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


def straight_through(x: Tensor, surrogate: Tensor) -> Tensor:
    """Forward value ``binary_sign(x)``, gradient of ``surrogate``."""
    return surrogate + (binary_sign(x) - surrogate).detach()



class AtisteEstimator(nn.Module):
    """ATISTE with learnable per-channel sharpness ``alpha`` and per-layer mixing ``lam`` in [0, 1].

    Args:
        shape: broadcast shape of alpha against the tensor being binarised, e.g. (Cout, 1, 1, 1)
            for conv weights or (1, Cin, 1, 1) for NCHW activations; () for a scalar alpha.
        alpha_init: initial sharpness (> 0).
        lam_init: initial mixing coefficient, strictly inside (0, 1).
    """

    def __init__(self, shape=(), alpha_init: float = 2.0, lam_init: float = 0.2):
        super().__init__()
        if not 0.0 < lam_init < 1.0:
            raise ValueError(f'lam_init must be in (0, 1), got {lam_init}')
        if alpha_init <= 0:
            raise ValueError(f'alpha_init must be > 0, got {alpha_init}')
        self.alpha = nn.Parameter(torch.full(tuple(shape), float(alpha_init)))
        # lam = sigmoid(lam_logit) keeps lam in [0, 1] without a clamp that would zero its gradient.
        self.lam_logit = nn.Parameter(torch.tensor(math.log(lam_init / (1.0 - lam_init))))

    @property
    def lam(self) -> Tensor:
        return torch.sigmoid(self.lam_logit)

    def surrogate(self, x: Tensor) -> Tensor:
        lam = self.lam
        return (1.0 - lam) * torch.tanh(self.alpha * x) + lam * x

    def forward(self, x: Tensor) -> Tensor:
        if not torch.is_grad_enabled():
            # inference: the plain sign (f + (sign - f) in float32 is +-1 only while |f| < 2^24)
            return binary_sign(x)
        return straight_through(x, self.surrogate(x))


class _ClippedIdentity(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return binary_sign(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1.0).to(g.dtype)


class SignSTEEstimator(nn.Module):
    """BNN sign with the clipped-identity straight-through gradient 1{|x| <= 1}."""

    def __init__(self, shape=()):
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return _ClippedIdentity.apply(x)


class _ReSTEFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, o: float, t: float, interval: float):
        ctx.save_for_backward(x)
        ctx.o, ctx.t, ctx.interval = o, t, interval
        return binary_sign(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * reste_gradient(x, ctx.o, ctx.t, ctx.interval), None, None, None


def reste_gradient(x: Tensor, o: float, t: float = 1.5, interval: float = 0.1) -> Tensor:
    """ReSTE's backward factor d/dx of sign(x)|x|^(1/o), rectified near 0 and cut beyond t."""
    ax = x.abs()
    power = (1.0 / o) * ax.clamp_min(interval) ** ((1.0 - o) / o)
    secant = (interval ** (1.0 / o)) / interval
    grad = torch.where(ax <= interval, torch.full_like(x, secant), power)
    return torch.where(ax <= t, grad, torch.zeros_like(x))


class ReSTEEstimator(nn.Module):
    """ReSTE with the authors' o schedule (see :meth:`set_progress`)."""

    def __init__(self, shape=(), o_end: float = 3.0, t: float = 1.5, interval: float = 0.1):
        super().__init__()
        self.o_end, self.t, self.interval = float(o_end), float(t), float(interval)
        self.register_buffer('o', torch.tensor(1.0))

    def set_progress(self, epoch: int, epochs: int) -> None:
        ratio = min(max(epoch / max(epochs, 1), 0.0), 1.0)
        beta = 1.0 - math.cos(ratio * math.pi * 0.5)
        self.o.fill_(1.0 + beta * (self.o_end - 1.0))

    def forward(self, x: Tensor) -> Tensor:
        return _ReSTEFunction.apply(x, float(self.o), self.t, self.interval)


def make_estimator(name: str, shape=(), **kwargs) -> nn.Module:
    """Estimator module by name: 'atiste', 'ste' or 'reste'."""
    name = name.lower()
    if name == 'atiste':
        return AtisteEstimator(shape, **kwargs)
    if name == 'ste':
        return SignSTEEstimator(shape)
    if name == 'reste':
        return ReSTEEstimator(shape, **kwargs)
    raise ValueError(f'unknown estimator {name!r}; expected one of {ESTIMATORS}')


def set_estimator_progress(model: nn.Module, epoch: int, epochs: int) -> None:
    """Advance every schedule-driven estimator (ReSTE's o) in ``model`` to ``epoch`` of ``epochs``."""
    for m in model.modules():
        if isinstance(m, ReSTEEstimator):
            m.set_progress(epoch, epochs)
