"""A numpy model of ``nnet_qmhsa.h``'s arithmetic, bit for bit.

Every typed assignment in the kernel is ``quantize(value, type)`` here: truncation toward
minus infinity and saturation (all kernel types are ``AP_TRN, AP_SAT``); products are exact
(float64 holds them for the widths used); sums accumulate in loop order. The softmax
tables are computed here and handed to the kernel as ROM contents, so both sides use the
same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fpga_flow.fixed import FixedType


def fx(width: int, integer: int, signed: bool = True) -> FixedType:
    return FixedType(width, integer, signed, "TRN", "SAT")


@dataclass(frozen=True)
class QMHSASpec:
    """Shapes and every type the kernel uses; the defaults suit 8-bit weights."""

    seq_len: int
    embed_dim: int
    num_heads: int
    key_dim: int
    causal: bool = False
    table_bits: int = 10
    data: FixedType = field(default_factory=lambda: fx(16, 6))
    weight: FixedType = field(default_factory=lambda: fx(8, 1))
    bias: FixedType = field(default_factory=lambda: fx(8, 1))
    accum: FixedType = field(default_factory=lambda: fx(24, 10))
    proj: FixedType = field(default_factory=lambda: fx(16, 6))
    score: FixedType = field(default_factory=lambda: fx(16, 6))
    scale: FixedType = field(default_factory=lambda: fx(16, 0, False))
    norm: FixedType = field(default_factory=lambda: fx(16, 4, False))
    exp: FixedType = field(default_factory=lambda: fx(18, 1, False))
    inv_in: FixedType = field(default_factory=lambda: fx(16, 6, False))
    inv: FixedType = field(default_factory=lambda: fx(18, 2, False))
    prob: FixedType = field(default_factory=lambda: fx(16, 1, False))
    result: FixedType = field(default_factory=lambda: fx(16, 6))

    @property
    def table_size(self) -> int:
        return 1 << self.table_bits

    @property
    def inner(self) -> int:
        return self.num_heads * self.key_dim


def quantize(values, t: FixedType) -> np.ndarray:
    scaled = np.floor(np.asarray(values, dtype=np.float64) * 2.0**t.fractional)
    lo, hi = t.bounds
    return np.clip(scaled / 2.0**t.fractional, lo, hi)


def scale_value(spec: QMHSASpec) -> float:
    return float(quantize(1.0 / math.sqrt(spec.key_dim), spec.scale))


def exp_table(spec: QMHSASpec) -> np.ndarray:
    """exp(-d) at the centre of each of the table's bins over norm's range [0, 2^I)."""
    step = 2.0**spec.norm.integer / spec.table_size
    return quantize(np.exp(-(np.arange(spec.table_size) + 0.5) * step), spec.exp)


def inv_table(spec: QMHSASpec) -> np.ndarray:
    """1/s at the centre of each bin over inv_in's range [0, 2^I)."""
    step = 2.0**spec.inv_in.integer / spec.table_size
    return quantize(1.0 / ((np.arange(spec.table_size) + 0.5) * step), spec.inv)


def table_index(values: np.ndarray, t: FixedType, bits: int) -> np.ndarray:
    """The top ``bits`` bits of an unsigned fixed value: what ``x(W-1, W-bits)`` reads."""
    raw = np.round(np.asarray(values) * 2.0**t.fractional).astype(np.int64)
    return raw >> (t.width - bits)


def _dense(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, accum: FixedType, out: FixedType) -> np.ndarray:
    """x (..., rows, n_in) @ w (n_in, n_out) + b, accumulated in loop order, then cast."""
    shape = x.shape[:-1] + (w.shape[1],)
    acc = np.zeros(shape) if b is None else np.broadcast_to(b, shape).copy()
    acc = quantize(acc, accum)
    for i in range(w.shape[0]):
        acc = quantize(acc + x[..., i, None] * w[None, i, :], accum)
    return quantize(acc, out)


def qmhsa(x: np.ndarray, weights: dict[str, np.ndarray], spec: QMHSASpec) -> np.ndarray:
    """x (..., seq_len, embed_dim), already of the data type: one sample, or a batch
    along leading axes (each sample computed independently, the same way)."""
    T, H, K = spec.seq_len, spec.num_heads, spec.key_dim
    batch = x.shape[:-2]
    q = _dense(x, weights["wq"], weights["bq"], spec.accum, spec.proj)
    k = _dense(x, weights["wk"], weights["bk"], spec.accum, spec.proj)
    v = _dense(x, weights["wv"], weights["bv"], spec.accum, spec.proj)
    exp_rom, inv_rom, scale = exp_table(spec), inv_table(spec), scale_value(spec)
    context = np.zeros(batch + (T, H * K))
    for h in range(H):
        cols = slice(h * K, (h + 1) * K)
        qh, kh, vh = q[..., cols], k[..., cols], v[..., cols]
        scores = quantize(np.zeros(batch + (T, T)), spec.accum)
        for j in range(K):
            scores = quantize(scores + qh[..., :, j, None] * kh[..., None, :, j], spec.accum)
        scores = quantize(scores * scale, spec.score)
        valid = np.tril(np.ones((T, T), dtype=bool)) if spec.causal else np.ones((T, T), dtype=bool)
        peak = np.where(valid, scores, -np.inf).max(axis=-1, keepdims=True)
        spread = quantize(peak - scores, spec.norm)
        e = np.where(valid, exp_rom[table_index(spread, spec.norm, spec.table_bits)], 0.0)
        total = quantize(np.zeros(batch + (T, 1)), spec.accum)
        for s in range(T):
            total = quantize(total + e[..., :, s, None], spec.accum)
        inverse = inv_rom[table_index(quantize(total, spec.inv_in), spec.inv_in, spec.table_bits)]
        p = quantize(e * inverse, spec.prob)
        ctx = quantize(np.zeros(batch + (T, K)), spec.accum)
        for s in range(T):
            ctx = quantize(ctx + p[..., :, s, None] * vh[..., s, None, :], spec.accum)
        context[..., cols] = quantize(ctx, spec.proj)
    return _dense(context, weights["wo"], weights["bo"], spec.accum, spec.result)
