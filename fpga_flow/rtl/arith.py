"""ap_fixed semantics on da4ml's symbolic fixed-point variables.

Every typed assignment in hls4ml's C++ (``res_T y = x``) becomes :func:`cast` here: first
rounding to the type's step, then its overflow rule. da4ml offers floor (TRN) and
round-half-up (RND) quantization and WRAP/SAT/SAT_SYM overflow; QKeras' convergent
rounding (``AP_RND_CONV``, half to even) is built from them (see :func:`_round_half_even`).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from da4ml.trace import FixedVariable, FixedVariableArray, HWConfig

from fpga_flow.fixed import FixedType

# da4ml's unit cost model: every adder one level deep, cost in LUTs per bit (as hls4ml's DA pass).
HW = HWConfig(1, -1, -1)
# The CMVM solver settings hls4ml's distributed-arithmetic pass uses (DA_HARD_DC defaults to 2).
SOLVER_OPTIONS = {"hard_dc": 2, "search_all_decompose_dc": True}


def kif(t: FixedType) -> tuple[int, int, int]:
    """da4ml's (sign bit, integer bits without sign, fractional bits) of an ap_fixed type."""
    k = int(t.signed)
    return k, t.integer - k, t.fractional


def variables_of(t: FixedType, shape: tuple[int, ...]) -> FixedVariableArray:
    """Free variables spanning every value of ``t``: the inputs of the design."""
    k, i, f = kif(t)
    return FixedVariableArray.from_kif(np.full(shape, k), np.full(shape, i), np.full(shape, f), HW,
                                       solver_options=SOLVER_OPTIONS)


def array(values: np.ndarray) -> FixedVariableArray:
    """An object array of variables (and constants) as one traced array."""
    return FixedVariableArray(np.asarray(values, dtype=object), SOLVER_OPTIONS)


def constant(value: float) -> FixedVariable:
    return FixedVariable.from_const(float(value), HW)


def _round_half_even(v: FixedVariable, f: int) -> FixedVariable:
    """``v`` rounded to the step ``2**-f`` with halves to even, using only floors.

    With ``d`` the finest step of ``v`` and ``b`` the bit of weight ``2**-f`` of ``v``,
    ``floor(v + 2**-(f+1) - d + b*d)`` is the wanted value: above a half the ``-d`` changes
    nothing (the fraction is at least half plus ``d``), below a half it cannot reach the
    next step, and exactly at a half it rounds down when ``b`` is 0 (even) and up when 1.
    ``b`` is a one-bit unsigned wrap of ``v``; ``b*d`` a free shift of it."""
    finest = -v.kif[2]
    bit = v.quantize(0, 1 - f, f, "WRAP", "TRN")  # 0 or 2**-f
    shifted_bit = bit * float(2.0 ** (f + finest))  # 0 or d
    v = v + float(Decimal(2) ** (-f - 1) - Decimal(2) ** finest) + shifted_bit
    k, i, _ = v.kif
    return v.quantize(k, i, f, "WRAP", "TRN")


def at_least(v: FixedVariable, bound: float) -> FixedVariable:
    """``max(v, bound)`` for a constant bound.

    da4ml's own ``max_of``/``min_of`` (and its SAT quantization, built on them) give the
    constant ``v``'s scale factor; after a constant matrix product that factor can be
    2**-44, and the constant's unscaled value then needs more than the 32 bits
    ``da4ml.trace.fixed_variable._const_f`` searches, so da4ml 0.5.2 traces a wrong
    constant. Here the constant keeps scale 1 and the multiplexer aligns the two."""
    if v.low >= bound:
        return v
    c = constant(bound)
    if v.high <= bound:
        return c
    return (v - c).msb_mux(c, v, qint=(c.low, v.high, min(v.step, c.step)))


def at_most(v: FixedVariable, bound: float) -> FixedVariable:
    """``min(v, bound)`` for a constant bound (see :func:`at_least`)."""
    if v.high <= bound:
        return v
    c = constant(bound)
    if v.low >= bound:
        return c
    return (v - c).msb_mux(v, c, qint=(v.low, c.high, min(v.step, c.step)))


def cast_variable(v: FixedVariable, t: FixedType) -> FixedVariable:
    """``t y = v`` as ap_fixed computes it."""
    if v.low == v.high:
        return constant(float(t.quantize(float(v.low))))
    k, i, f = kif(t)
    if v.kif[2] > f:
        if t.rounding == "RND_CONV":
            v = _round_half_even(v, f)
        else:
            if t.rounding == "RND":
                v = v + float(2.0 ** (-f - 1))
            vk, vi, _ = v.kif
            v = v.quantize(vk, vi, f, "WRAP", "TRN")
    if t.overflow in ("SAT", "SAT_SYM"):
        lo, hi = t.bounds
        if t.overflow == "SAT_SYM" and t.signed:
            lo = -hi
        v = at_most(at_least(v, lo), hi)
    return v.quantize(k, i, f, "WRAP", "TRN")


def cast(x: FixedVariableArray, t: FixedType) -> FixedVariableArray:
    """Element-wise :func:`cast_variable`."""
    flat = x._vars.ravel()
    out = np.empty(flat.shape, dtype=object)
    for n, v in enumerate(flat):
        out[n] = cast_variable(v, t)
    return array(out.reshape(x.shape))


def constant_fraction_bits(values: np.ndarray) -> np.ndarray:
    """The fewest fractional bits that hold each (finite, binary) constant exactly."""
    values = np.abs(np.asarray(values, dtype=np.float64))
    bits = np.zeros(values.shape, dtype=np.int64)
    mantissa, exponent = np.frexp(values)
    nonzero = values != 0
    # value = m * 2**e with m in [0.5, 1): strip the trailing zero bits of m's 53-bit mantissa.
    integer = (mantissa[nonzero] * 2.0**53).astype(np.int64)
    trailing = np.array([(int(n) & -int(n)).bit_length() - 1 for n in integer], dtype=np.int64)
    bits[nonzero] = 53 - trailing - exponent[nonzero]
    return bits


def top_bits_index(values: np.ndarray, t: FixedType, bits: int) -> np.ndarray:
    """hls4ml's ``softmax_idx_from_real_val``: the top ``bits`` bits of each value's
    ``t`` code, read as an unsigned table address."""
    codes = np.round(np.asarray(values, dtype=np.float64) * 2.0**t.fractional).astype(np.int64)
    return (codes % (1 << t.width)) >> (t.width - bits)


def warm_solver() -> None:
    """Compile da4ml's CMVM solver once for this environment.

    da4ml's solver is numba code cached on disk (``@jit(cache=True)``, in da4ml's
    ``__pycache__``): the first constant-matrix product in a new environment compiles it,
    about 115 s of CPU on one core here, and every later process loads it in about 2 s.
    Two processes that start cold at once both compile it. This product has the types the
    RTL's own products have (:func:`variables_of`, :data:`SOLVER_OPTIONS`), so it compiles
    what a build would. Run it as ``python -m fpga_flow.rtl.arith``."""
    x = variables_of(FixedType(6, 3), (4,))
    _ = x @ (np.arange(12, dtype=np.float64).reshape(4, 3) / 4 - 1)


if __name__ == "__main__":
    warm_solver()
