"""ap_fixed types as small data objects: parse hls4ml/C++ spellings, print them back,
and tell a value's representable range. :meth:`FixedType.parse` is fpga-flow's one parser
of type spellings (the estimate and the dashboard read types through it too)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

# ap_fixed<W,I,Q,O,N>, hls4ml's fixed<W,I,Q,O,N>, and ac_fixed<W,I,S,Q,O> (S: signed, true or false).
_FIXED = re.compile(
    r"^(?:ap_|ac_)?(?P<u>u)?fixed<\s*(?P<w>\d+)\s*,\s*(?P<i>-?\d+)\s*(?:,\s*(?P<s>true|false))?"
    r"\s*(?:,\s*(?:AP_|AC_)?(?P<q>[A-Z_]+))?\s*(?:,\s*(?:AP_|AC_)?(?P<o>[A-Z_]+))?[^>]*>$"
)
_INT = re.compile(r"^(?:ap_|ac_)?(?P<u>u)?int<\s*(?P<w>\d+)\s*(?:,\s*(?P<s>true|false))?\s*>$")

# AP_INT_MAX_W in hls4ml's ap_types/ap_common.h: the widest type g++ and the HLS tools accept.
MAX_WIDTH = 1024


def min_width(signed: bool) -> int:
    """The narrowest useful type: one value bit, plus the sign bit when signed (a signed
    1-bit type holds only 0 and its negative extreme)."""
    return 2 if signed else 1


@dataclass(frozen=True)
class FixedType:
    width: int
    integer: int
    signed: bool = True
    rounding: str = "TRN"
    overflow: str = "WRAP"

    @classmethod
    def parse(cls, text: str) -> "FixedType | None":
        """A fixed or integer type from its spelling (``ap_``, ``ac_`` or hls4ml's bare
        ``fixed``/``int``); None for anything else (float, auto)."""
        text = str(text).strip().replace(" ", "")
        m = _FIXED.match(text)
        if m:
            return cls(int(m["w"]), int(m["i"]), m["u"] is None and m["s"] != "false", m["q"] or "TRN", m["o"] or "WRAP")
        m = _INT.match(text)
        if m:
            return cls(int(m["w"]), int(m["w"]), m["u"] is None and m["s"] != "false")
        return None

    @property
    def is_valid(self) -> bool:
        """A type the precision stage may write: ``min_width <= width <= MAX_WIDTH`` (a
        width below one bit is what made ap_private.h fail to compile), and integer bits
        from ``-MAX_WIDTH`` up to the width (no negative count of fractional bits: every
        type sized here has a step of at most 1)."""
        return min_width(self.signed) <= self.width <= MAX_WIDTH and -MAX_WIDTH <= self.integer <= self.width

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    @property
    def bounds(self) -> tuple[float, float]:
        step = 2.0 ** -self.fractional
        if self.signed:
            return -(2.0 ** (self.integer - 1)), 2.0 ** (self.integer - 1) - step
        return 0.0, 2.0**self.integer - step

    def quantize(self, values) -> np.ndarray:
        """``values`` assigned to this type as ap_fixed does it: rounding to the step
        ``2**-fractional`` (TRN floors, RND rounds half up, RND_CONV half to even), then
        overflow (WRAP keeps the low ``width`` bits, SAT clips to ``bounds``, SAT_SYM also
        clips the most negative code). Exact for float64 inputs: scaling by a power of two
        and flooring lose nothing while the codes fit 53 bits."""
        scaled = np.asarray(values, dtype=np.float64) * 2.0**self.fractional
        if self.rounding == "TRN":
            codes = np.floor(scaled)
        elif self.rounding == "RND":
            codes = np.floor(scaled + 0.5)
        elif self.rounding == "RND_CONV":
            codes = np.round(scaled)  # numpy rounds halves to even
        else:
            raise ValueError(f"rounding mode {self.rounding} is not modelled")
        lo, hi = (round(b * 2.0**self.fractional) for b in self.bounds)
        if self.overflow == "WRAP":
            codes = np.mod(codes - lo, 2.0**self.width) + lo
        elif self.overflow in ("SAT", "SAT_SYM"):
            codes = np.clip(codes, -hi if self.overflow == "SAT_SYM" and self.signed else lo, hi)
        else:
            raise ValueError(f"overflow mode {self.overflow} is not modelled")
        return codes * 2.0**-self.fractional

    def out_of_range(self, values: np.ndarray) -> int:
        lo, hi = self.bounds
        values = np.asarray(values)
        return int(np.count_nonzero((values < lo) | (values > hi)))

    def widened(self, fractional_bits: int = 0, integer_bits: int = 0) -> "FixedType":
        return replace(self, width=self.width + fractional_bits + integer_bits, integer=self.integer + integer_bits)

    def __str__(self) -> str:
        kind = "fixed" if self.signed else "ufixed"
        return f"{kind}<{self.width},{self.integer},{self.rounding},{self.overflow}>"


def is_fixed_spelling(spec: object) -> bool:
    """Whether an hls4ml precision setting spells a fixed or integer type (not ``auto``,
    not a float)."""
    return isinstance(spec, str) and FixedType.parse(spec) is not None


def fixed_for(integer: int, fraction: int, signed: bool = True) -> FixedType:
    """The rounding, saturating type with step ``2**-fraction`` and at least ``integer``
    integer bits (sign included): ``fixed<integer + fraction, integer>``.

    Values whose magnitude is below the step need ``integer <= -fraction`` bits, which
    leaves a width below one bit (``integer_bits_for(1.9e-6) = -18`` with 12 fractional
    bits gives width -6, which no compiler accepts). Such values round to 0 or one step
    whatever the type, so the type keeps its step and grows to the narrowest valid width
    ``W = min_width``, ``I = W - fraction``: its range, at least [-2, 1] steps (or [0, 1]
    unsigned), still holds them."""
    if fraction < 0:
        raise ValueError(f"fractional bits must be >= 0, got {fraction}")
    width = max(integer + fraction, min_width(signed))
    sized = FixedType(width, width - fraction, signed, "RND", "SAT")
    if not sized.is_valid:  # wider than MAX_WIDTH: values beyond any fixed-point type
        raise ValueError(f"{sized} is wider than the {MAX_WIDTH} bits a fixed-point type can have")
    return sized


def integer_bits_for(max_abs: float, signed: bool = True) -> int:
    """Integer bits (sign included when signed) that hold ``max_abs`` without overflow."""
    if max_abs <= 0:
        return 1 if signed else 0
    bits = math.floor(math.log2(max_abs)) + 1
    return bits + 1 if signed else bits


def fractional_bits_for(values: np.ndarray, limit: int = 16) -> int:
    """The fewest fractional bits (up to ``limit``) that represent every value exactly."""
    values = np.asarray(values, dtype=np.float64).ravel()
    for bits in range(limit + 1):
        scaled = values * 2.0**bits
        if np.all(scaled == np.round(scaled)):
            return bits
    return limit
