"""ap_fixed arithmetic on integer numpy arrays, bit for bit as the ap_types headers
hls4ml 1.3.0 ships (``templates/vivado/ap_types/ap_fixed_base.h``) compute it.

A value of type ``T = ap_[u]fixed<W, I, Q, O>`` is held as its raw integer ``r``, the
two's-complement (or unsigned) word, so that value = ``r * 2**-F`` with ``F = W - I``
fractional bits. The C++ operators are exact in full precision (``a * b`` has
``F_a + F_b`` fractional bits, ``a + b`` the larger of the two), and every loss happens
in one place, the assignment to a narrower type (``ap_fixed_base::operator=``):

1. quantization, when the source has more fractional bits: with ``d`` dropped bits,
   ``q = floor(r / 2**d)`` plus one when the mode says so, judged from the first
   dropped bit ``qb`` (the half), whether any later dropped bit is set (``r != 0``
   below the half), and the source's sign -- ``quantization_adjust`` in the header:

   ===========  ===========================================================
   TRN          never (floor)
   TRN_ZERO     negative and any dropped bit set (toward zero)
   RND          qb (half rounds up, toward +inf)
   RND_ZERO     qb and (below-half bits or negative) (half toward zero)
   RND_MIN_INF  qb and below-half bits (half toward -inf)
   RND_INF      qb and (below-half bits or not negative) (half away from zero)
   RND_CONV     qb and (below-half bits or q odd) (half to even)
   ===========  ===========================================================

2. overflow, on the quantized integer against ``[min, max]`` of ``W`` bits: WRAP keeps
   the low ``W`` bits (sign-extended when signed); SAT clamps; SAT_ZERO gives 0;
   SAT_SYM clamps to ``[-max, max]`` when both types are signed (``overflow_adjust``).

Raw integers are int64 while every word involved fits in 62 bits; wider words (the
state update of a recurrent layer with 32-bit types multiplies two of them) are Python
integers in object arrays, which numpy operates on exactly, only slower.
"""

from __future__ import annotations

import math

import numpy as np

from fpga_flow.fixed import FixedType

ROUNDING_MODES = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV")
OVERFLOW_MODES = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")
INT64_BITS = 62  # words up to this many bits (sign included) stay int64; shifts and sums keep headroom


def raw_bounds(t: FixedType) -> tuple[int, int]:
    """The smallest and largest raw word of ``t``."""
    if t.signed:
        return -(1 << (t.width - 1)), (1 << (t.width - 1)) - 1
    return 0, (1 << t.width) - 1


def fits_int64(bits: int) -> bool:
    return bits <= INT64_BITS


def as_dtype(raw: np.ndarray, bits: int) -> np.ndarray:
    """``raw`` as int64 when ``bits`` fit, else as exact Python integers."""
    if fits_int64(bits):
        return raw if raw.dtype == np.int64 else raw.astype(np.int64)
    return raw if raw.dtype == object else raw.astype(object)


def magnitude_bits(raw: np.ndarray) -> int:
    """Bits (sign included) that hold every word of ``raw``."""
    if raw.size == 0:
        return 1
    largest = max(abs(int(raw.max())), abs(int(raw.min())))
    return largest.bit_length() + 1


class CastAborts(ArithmeticError):
    """A cast the C simulation cannot execute: ap_types asserts ("Attempting to read bit
    beyond MSB") when a rounding cast drops more bits than the source word has."""


def quantize_raw(raw: np.ndarray, fractional: int, t: FixedType, source: FixedType | None = None) -> np.ndarray:
    """The raw word of ``t`` that C++ assigns from the exact value ``raw * 2**-fractional``
    (of type ``source``, when known)."""
    if t.overflow not in OVERFLOW_MODES:
        raise ValueError(f"overflow mode {t.overflow}")
    return _overflow(round_raw(raw, fractional, t, source), t)


def round_raw(raw: np.ndarray, fractional: int, t: FixedType, source: FixedType | None = None) -> np.ndarray:
    """Step 1 of the cast alone: ``raw`` at ``t``'s fractional bits, rounded by ``t``'s
    mode, not yet fitted to its width."""
    if t.rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding mode {t.rounding}")
    raw = np.asarray(raw)
    shift = fractional - t.fractional
    reads_dropped_bits = t.rounding != "TRN" and not (t.rounding == "TRN_ZERO" and source is not None and not source.signed)
    if source is not None and shift > source.width and reads_dropped_bits:
        raise CastAborts(f"a {t.rounding} cast to {t} drops {shift} bits of a {source.width}-bit word")
    if shift < 0:
        if raw.dtype != object and magnitude_bits(raw) - shift > INT64_BITS:
            raw = raw.astype(object)
        return raw << -shift
    if shift == 0:
        return raw
    if raw.dtype != object and shift >= INT64_BITS:
        raw = raw.astype(object)
    q = raw >> shift  # floor, for int64 and Python integers alike
    if t.rounding == "TRN":
        return q
    below = raw - (q << shift)  # the dropped bits, 0 <= below < 2**shift
    half = 1 << (shift - 1)
    negative = raw < 0
    if t.rounding == "TRN_ZERO":
        up = negative & (below != 0)
    elif t.rounding == "RND":
        up = below >= half
    elif t.rounding == "RND_ZERO":
        up = (below > half) | ((below == half) & negative)
    elif t.rounding == "RND_MIN_INF":
        up = below > half
    elif t.rounding == "RND_INF":
        up = (below > half) | ((below == half) & ~negative)
    else:  # RND_CONV
        up = (below > half) | ((below == half) & ((q & 1) == 1))
    return np.where(up, q + 1, q)


def _overflow(q: np.ndarray, t: FixedType) -> np.ndarray:
    lo, hi = raw_bounds(t)
    out_bits = t.width + 1
    if t.overflow == "WRAP":
        if q.dtype == object:
            wrapped = (q - lo) % (1 << t.width) + lo
        else:
            wrapped = ((q - lo) & ((1 << t.width) - 1)) + lo
        return as_dtype(wrapped, out_bits)
    if t.overflow == "SAT_SYM" and t.signed and t.width > 1:
        lo = -hi  # the most negative word counts as an underflow too (not in 1 bit: its max is 0)
    outside = (q < lo) | (q > hi)
    if not np.any(outside):
        return as_dtype(q, out_bits)
    if t.overflow == "SAT_ZERO":
        return as_dtype(np.where(outside, 0, q), out_bits)
    return as_dtype(np.where(q > hi, hi, np.where(q < lo, lo, q)), out_bits)


def cast(raw: np.ndarray, source: FixedType, target: FixedType) -> np.ndarray:
    """``(target) x`` for ``x`` of type ``source``."""
    if source == target:
        return raw
    return quantize_raw(raw, source.fractional, target, source)


def from_float(values: np.ndarray, t: FixedType) -> np.ndarray:
    """``ap_fixed_base(double d)``: the raw word of ``t`` for ``d`` by ``t``'s modes.

    A finite double is ``m * 2**(e - 53)`` with an integer ``|m| < 2**53``, so the
    conversion is :func:`quantize_raw` of ``m`` with ``53 - e`` fractional bits (values
    are grouped by exponent, one vectorized call each). An infinity's bits decode as
    ``±2**1024``, which then overflows by ``t``'s mode (a SAT type holds its maximum)."""
    values = np.asarray(values, dtype=np.float64)
    if np.any(np.isnan(values)):
        raise ValueError("NaN cannot be converted to ap_fixed")
    infinite = np.isinf(values)
    finite = np.where(infinite, 0.0, values)
    mantissa, exponent = np.frexp(finite)
    m53 = (mantissa * 2.0**53).astype(np.int64)
    fractional = np.where(finite == 0, 0, 53 - exponent)
    out = np.empty(values.shape, dtype=np.int64 if fits_int64(t.width + 1) else object)
    for bits in np.unique(fractional):
        chosen = fractional == bits
        out[chosen] = quantize_raw(m53[chosen], int(bits), t)
    if np.any(infinite):
        huge = np.array([(1 << 1024) * (1 if v > 0 else -1) for v in values[infinite]], dtype=object)
        out[infinite] = quantize_raw(huge, 0, t)
    return out


def to_float(raw: np.ndarray, t: FixedType) -> np.ndarray:
    """``x.to_double()``: exact up to 53 significant bits, beyond that rounded to nearest
    even (what to_double's ``m += a; m >>= 1`` computes, and Python's int -> float)."""
    raw = np.asarray(raw)
    if raw.dtype == object:
        flat = [math.ldexp(float(v), -t.fractional) for v in raw.ravel()]
        return np.array(flat, dtype=np.float64).reshape(raw.shape)
    return np.ldexp(raw.astype(np.float64), -t.fractional)


def product(a: np.ndarray, a_type: FixedType, b: np.ndarray, b_type: FixedType) -> tuple[np.ndarray, FixedType]:
    """``a * b``: exact, ``W_a + W_b`` bits with ``I_a + I_b`` integer bits (RType::mult)."""
    t = FixedType(a_type.width + b_type.width, a_type.integer + b_type.integer, a_type.signed or b_type.signed)
    bits = t.width + 1
    return as_dtype(a, bits) * as_dtype(b, bits), t


def align(raw: np.ndarray, t: FixedType, fractional: int) -> np.ndarray:
    """``raw`` rescaled (exactly) to ``fractional`` >= t.fractional bits."""
    shift = fractional - t.fractional
    return raw if shift == 0 else raw << shift


def sum_type(a: FixedType, b: FixedType) -> FixedType:
    """RType::plus: the exact type of ``a + b``."""
    fractional = max(a.fractional, b.fractional)
    integer = max(a.integer + (b.signed and not a.signed), b.integer + (a.signed and not b.signed)) + 1
    return FixedType(integer + fractional, integer, a.signed or b.signed)


def add(a: np.ndarray, a_type: FixedType, b: np.ndarray, b_type: FixedType) -> tuple[np.ndarray, FixedType]:
    """``a + b``, exact."""
    t = sum_type(a_type, b_type)
    bits = t.width + 1
    return as_dtype(align(as_dtype(a, bits), a_type, t.fractional), bits) + as_dtype(
        align(as_dtype(b, bits), b_type, t.fractional), bits), t


def subtract(a: np.ndarray, a_type: FixedType, b: np.ndarray, b_type: FixedType) -> tuple[np.ndarray, FixedType]:
    """``a - b``, exact (RType::minus is always signed)."""
    t = sum_type(a_type, b_type)
    t = FixedType(t.width, t.integer, True)
    bits = t.width + 1
    return as_dtype(align(as_dtype(a, bits), a_type, t.fractional), bits) - as_dtype(
        align(as_dtype(b, bits), b_type, t.fractional), bits), t


def int_type(bits: int = 32, signed: bool = True) -> FixedType:
    """A C integer as ap_types see it in mixed expressions: ``ap_fixed<bits, bits>``."""
    return FixedType(bits, bits, signed)
