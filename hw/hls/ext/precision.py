"""Exact fixed-point types of the two extension layers (pure functions, no hls4ml state).

BilinearResize, ratio r = 2^k
    Per axis the weight of a source sample is n / (2r) with n an integer in [0, 2r] (the source
    coordinate is (2d + 1 - r) / (2r)), so a 1-D weight needs k + 1 fractional bits and a 2-D
    product (wy * wx) needs 2 * (k + 1) (r = 4: 1-D multiples of 1/8, 2-D of 1/64, i.e. 6 bits).
    r = 1 is the identity (0 extra bits). The weights are non-negative and sum to 1, so each output
    is a convex combination of input samples and stays inside the input range: no extra integer
    bit is needed. For an input ap_fixed<W, I> (or ap_ufixed, or ap_int<W> == ap_fixed<W, W>) the
    exact output type is therefore

        ap_[u]fixed<W + 2 * (log2(r) + 1), I>      (r >= 2)   e.g. ap_fixed<16,2> -> ap_fixed<22,2>

    Any r that is not a power of two has non-dyadic weights (1/3, 1/6, ...) and no exact
    fixed-point output: such a node is refused.

HaarDWT / HaarIDWT (one-level orthonormal Haar transform and its inverse)
    Every output is (+-x0 +-x1 +-x2 +-x3) / 2 of four inputs: two more integer bits for the sum of
    four, one removed and one fractional bit added by the halving, so ap_fixed<W, I> gives exactly
    ap_fixed<W + 2, I + 1> (ap_ufixed<W, I>: ap_fixed<W + 3, I + 2>, the differences need a sign).

ChannelGate, gate fraction bits f
    Y = X * g with X in {-1, +1} and g = q / 2^f, q in [0, 2^f - 1], so Y in [-(1 - 2^-f), 1 - 2^-f]:
    exactly ap_fixed<f + 1, 1> (the contract's ap_fixed<f + 2, 2> holds it too, one bit wider).
"""

from __future__ import annotations

import math

from hls4ml.model.types import (
    FixedPrecisionType,
    IntegerPrecisionType,
    PrecisionType,
    UnspecifiedPrecisionType,
    XnorPrecisionType,
)

from .errors import HlsExtensionError


def is_power_of_two(n: int) -> bool:
    return n >= 1 and (n & (n - 1)) == 0


def clog2(n: int) -> int:
    """Smallest b with 2^b >= n (n >= 1)."""
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0


def signed_width(lo: int, hi: int) -> int:
    """Bits of the smallest two's-complement integer holding every value in [lo, hi] (>= 2)."""
    b = 2
    while lo < -(1 << (b - 1)) or hi > (1 << (b - 1)) - 1:
        b += 1
    return b


def bilinear_extra_frac_bits(ratio: int) -> int:
    """Fractional bits the 2-D bilinear weights add: 2 * (log2(r) + 1) for r >= 2, 0 for r == 1."""
    if not is_power_of_two(ratio):
        raise HlsExtensionError(f'BilinearResize ratio {ratio} is not a power of two: its weights are not dyadic '
                                'and the output has no exact fixed-point type')
    return 0 if ratio == 1 else 2 * (int(math.log2(ratio)) + 1)


def fixed_view(p: PrecisionType) -> tuple[int, int, bool]:
    """(width, integer bits, signed) of an Integer or Fixed precision; the XNOR bit is refused."""
    if isinstance(p, XnorPrecisionType):
        raise HlsExtensionError('a 1-bit XNOR (binary) tensor has no fixed-point value')
    if isinstance(p, IntegerPrecisionType):
        return p.width, p.width, bool(p.signed)
    if isinstance(p, FixedPrecisionType):
        return p.width, p.integer, bool(p.signed)
    raise HlsExtensionError(f'unsupported precision {p} ({type(p).__name__}): expected ap_int/ap_fixed')


def bilinear_result_precision(input_precision: PrecisionType, ratio: int) -> FixedPrecisionType:
    """Exact output type of BilinearResize for the given input type (module docstring)."""
    w, i, s = fixed_view(input_precision)
    extra = bilinear_extra_frac_bits(ratio)
    return FixedPrecisionType(width=w + extra, integer=i, signed=s)


def bilinear_accum_precision(input_precision: PrecisionType, ratio: int) -> FixedPrecisionType:
    """Signed accumulator of the separable interpolation: exact fraction, one guard integer bit."""
    w, i, s = fixed_view(input_precision)
    extra = bilinear_extra_frac_bits(ratio)
    frac = (w - i) + extra
    integer = i + (1 if s else 2)  # signed view of an unsigned input needs its sign bit
    return FixedPrecisionType(width=integer + frac, integer=integer, signed=True)


def bilinear_weight_precision(ratio: int) -> FixedPrecisionType:
    """ap_ufixed<log2(r) + 2, 1>: every 1-D weight n / (2r), n in [0, 2r], exactly; raw bits == n."""
    k = int(math.log2(ratio))
    return FixedPrecisionType(width=k + 2, integer=1, signed=False)


def haar_result_precision(input_precision: PrecisionType) -> FixedPrecisionType:
    """Exact output type of HaarDWT / HaarIDWT: sums of four inputs halved, ap_fixed<W+2, I+1>
    (signed: the detail sub-bands are differences)."""
    w, i, s = fixed_view(input_precision)
    if not s:  # an unsigned input: one more integer bit for the sign of the differences
        w, i = w + 1, i + 1
    return FixedPrecisionType(width=w + 2, integer=i + 1, signed=True)


def haar_accum_precision(input_precision: PrecisionType) -> FixedPrecisionType:
    """Signed type of the Haar sums before halving: ap_fixed<W+3, I+2> of the signed view of the
    input (two integer bits for a sum of four, one fractional bit so the halving is a shift)."""
    w, i, s = fixed_view(input_precision)
    if not s:
        w, i = w + 1, i + 1
    return FixedPrecisionType(width=w + 3, integer=i + 2, signed=True)


def gate_result_precision(frac_bits: int) -> FixedPrecisionType:
    return FixedPrecisionType(width=frac_bits + 1, integer=1, signed=True)


def _range(p: PrecisionType) -> tuple[float, float, int]:
    """(min, max, fractional bits) of an Integer/Fixed precision."""
    w, i, s = fixed_view(p)
    frac = w - i
    lsb = 2.0 ** -frac
    if s:
        return -(2.0 ** (i - 1)), 2.0 ** (i - 1) - lsb, frac
    return 0.0, 2.0 ** i - lsb, frac


def holds_exactly(outer: PrecisionType, inner: PrecisionType) -> bool:
    """True if every value of ``inner`` is representable in ``outer`` (both Integer/Fixed)."""
    if isinstance(outer, UnspecifiedPrecisionType) or isinstance(inner, UnspecifiedPrecisionType):
        return False
    try:
        olo, ohi, ofrac = _range(outer)
        ilo, ihi, ifrac = _range(inner)
    except HlsExtensionError:
        return False
    return ofrac >= ifrac and olo <= ilo and ohi >= ihi
