"""Lookup tables in the traced design: hls4ml's softmax tables, and element-wise
activations as tables of the C++ function's own outputs.

A da4ml lookup is a ROM addressed by every value its input variable can take, from its
lowest to its highest. An element-wise function given for every input word (2**bits
entries) is made small before it becomes a ROM, and the result still reproduces the
function on every word:

1. clamp: below the last input where the output stops changing from its lowest-input
   value, and above the first input from which it stays at its highest-input value,
   the output is constant, so the input is clamped to that range (two comparators);
2. drop low bits: the output changes only at *breakpoints*; if every breakpoint code is
   congruent modulo ``2**d`` (after an offset ``o``), the output is a function of
   ``floor((x + o) / 2**d)`` and the ROM needs ``2**d`` times fewer entries. Rounding
   toward zero (``int`` conversion in hls4ml's sigmoid/tanh index) shifts the breakpoints
   of negative inputs by one code, so when the whole range does not compress, each sign
   gets its own ROM and the sign bit selects between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from da4ml.trace import FixedVariable, FixedVariableArray

from fpga_flow.errors import RTLUnsupportedError
from fpga_flow.fixed import FixedType
from fpga_flow.rtl import arith

MAX_INPUT_BITS = 16  # element-wise functions are read for every input word: 2**16 values at most
MAX_TABLE_ENTRIES = 4096  # one ROM after compression


def lookup_top_bits(v: FixedVariable, t: FixedType, table: np.ndarray, where: str) -> FixedVariable:
    """``table[softmax_idx_from_real_val<t, N>(v)]`` for ``v`` of type ``t``: the top
    ``N = log2(len(table))`` bits of its code address the table."""
    bits = int(math.log2(len(table)))
    if 2**bits != len(table) or bits > t.width:
        raise RTLUnsupportedError(f"{where}: a {len(table)}-entry table addressed by {t} is not mirrored in RTL")
    k, i, _ = arith.kif(t)
    address = v.quantize(k, i, bits - t.integer, "WRAP", "TRN")  # the low width-N bits dropped
    values = _values(address)
    entries = table[arith.top_bits_index(values, t, bits)]
    if len(values) == 1:
        return arith.constant(entries[0])
    return address.lookup(entries)


def _values(v: FixedVariable) -> np.ndarray:
    """Every value ``v`` can take, lowest first."""
    low, high, step = float(v.low), float(v.high), float(v.step)
    return low + step * np.arange(round((high - low) / step) + 1)


def _function_of(t: FixedType, outputs: np.ndarray):
    """The element-wise function as values -> outputs, from outputs by unsigned code."""
    def f(values: np.ndarray) -> np.ndarray:
        codes = np.round(values * 2.0**t.fractional).astype(np.int64) % (1 << t.width)
        return outputs[codes]
    return f


@dataclass(frozen=True)
class _Compressed:
    """A ROM over ``floor((clamp(x, low, high) + offset) / step)``."""

    low: float
    high: float
    offset: float
    step: float


def _compress(domain: np.ndarray, y: np.ndarray, step: float) -> _Compressed | None:
    """Clamp and low-bit drop for ``y`` on ``domain`` (consecutive values, ``step`` apart);
    None when ``y`` is constant."""
    changes = np.nonzero(y[1:] != y[:-1])[0] + 1
    if len(changes) == 0:
        return None
    first, last = changes[0], changes[-1]
    low, high = domain[first - 1], domain[last]
    codes = np.round(domain[changes] / step).astype(np.int64)
    for d in range(int(math.log2(max(1, round((high - low) / step)))) + 1, -1, -1):
        residues = codes % (1 << d)
        if np.all(residues == residues[0]):
            offset = float(((1 << d) - residues[0]) % (1 << d)) * step
            return _Compressed(float(low), float(high), offset, step * 2**d)
    raise AssertionError("d = 0 always compresses")


def _entries(c: _Compressed) -> int:
    return math.floor((c.high + c.offset) / c.step) - math.floor((c.low + c.offset) / c.step) + 1


def _apply(v: FixedVariable, c: _Compressed, f) -> FixedVariable:
    v = arith.at_most(arith.at_least(v, c.low), c.high)
    if c.offset:
        v = v + c.offset
    k, i, _ = v.kif
    address = v.quantize(k, i, -int(math.log2(c.step)), "WRAP", "TRN")
    blocks = _values(address)
    # any input of a block gives its output; the first one inside the clamped range
    representatives = np.clip(blocks - c.offset, c.low, c.high)
    entries = f(representatives)
    if len(entries) == 1:
        return arith.constant(entries[0])
    return address.lookup(entries)


def _elementwise_variable(v: FixedVariable, f, where: str) -> FixedVariable:
    if v.low == v.high:
        return arith.constant(f(np.array([float(v.low)]))[0])
    step = float(v.step)
    domain = _values(v)
    y = f(domain)
    whole = _compress(domain, y, step)
    if whole is None:
        return arith.constant(y[0])
    if _entries(whole) <= MAX_TABLE_ENTRIES:
        return _apply(v, whole, f)
    negative, positive = domain < 0, domain >= 0
    if negative.any() and positive.any():
        parts = [_compress(domain[m], y[m], step) for m in (negative, positive)]
        if all(p is None or _entries(p) <= MAX_TABLE_ENTRIES for p in parts):
            below = arith.at_most(v, -step)
            above = arith.at_least(v, 0.0)
            results = [arith.constant(y[m][0]) if p is None else _apply(part, p, f)
                       for p, m, part in zip(parts, (negative, positive), (below, above))]
            return v.msb_mux(results[0], results[1])
    raise RTLUnsupportedError(f"{where}: its table needs more than {MAX_TABLE_ENTRIES} entries in RTL")


def apply_elementwise(x: FixedVariableArray, t: FixedType, outputs: np.ndarray, where: str) -> FixedVariableArray:
    """The function given by ``outputs`` (indexed by the unsigned code of input type
    ``t``) applied to every element of ``x``."""
    f = _function_of(t, np.asarray(outputs, dtype=np.float64))
    flat = x._vars.ravel()
    out = np.empty(flat.shape, dtype=object)
    for n, v in enumerate(flat):
        out[n] = _elementwise_variable(v, f, where)
    return arith.array(out.reshape(x.shape))
