"""The arithmetic of hls4ml 1.3.0's Vivado/Vitis kernels (``nnet_utils``), vectorized
over samples. Each function takes raw words and types (see :mod:`.arith`) and returns
the raw words the C++ writes, in the C++ order of operations where order matters.

The matrix-vector product every dense, convolution and recurrent kernel shares
(``dense_latency``, ``dense_resource_*``, ``conv_*_latency_cl``, ``conv_*_resource_cl``,
``pointwise_conv_1d_latency_cl``) is, per output ``j``::

    acc[j] = (accum_t) bias[j]
    for each (i, w) in the kernel's schedule for j:     # i an input, w a weight index
        acc[j] += (accum_t) product(data[i], weights[w])  # product exact, cast, then a cast sum
    res[j] = (res_t) acc[j]

Only the schedule differs between kernels (Latency: inputs in order; Resource: the
reuse-factor interleaving its index arithmetic walks, over transposed weights), and it
matters only when a cast can lose something: when ``accum_t`` has fewer fractional bits
than a product (each product is rounded on its own) or a saturating ``accum_t`` can
overflow (a partial sum saturates, so the order counts). When neither can happen the
sum is exact and one integer (or, below 2**53, BLAS float64) matrix product gives it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpga_flow.emulate import arith
from fpga_flow.fixed import FixedType

EXACT_FLOAT_BITS = 52  # integers below 2**52 are exact in float64 sums and products


@dataclass(frozen=True)
class Tensor:
    """A batch of values of one type: ``raw`` is (samples, *shape) words of ``type``."""

    raw: np.ndarray
    type: FixedType

    def values(self) -> np.ndarray:
        return arith.to_float(self.raw, self.type)

    def cast(self, target: FixedType) -> "Tensor":
        return Tensor(arith.cast(self.raw, self.type, target), target)


@dataclass(frozen=True)
class Schedule:
    """For each output ``j``, the (input index, flat weight index) pairs in the order the
    kernel accumulates them: ``inputs`` and ``weights`` are (n_out, steps)."""

    inputs: np.ndarray
    weights: np.ndarray

    @classmethod
    def in_order(cls, n_in: int, n_out: int) -> "Schedule":
        """``weights[i * n_out + j]`` for i ascending (dense_latency, conv latency, pointwise)."""
        i = np.broadcast_to(np.arange(n_in), (n_out, n_in))
        return cls(i, i * n_out + np.arange(n_out)[:, None])

    @classmethod
    def resource(cls, n_in: int, n_out: int, reuse: int) -> "Schedule":
        """The walk of ``dense_resource_rf_leq_nin`` / ``conv_*_resource_cl`` (reuse <= n_in)
        or ``dense_resource_rf_gt_nin_rem0`` (reuse > n_in, a multiple of it) over weights
        stored transposed, ``weights[j * n_in + i]``, followed step by step."""
        steps: list[list[tuple[int, int]]] = [[] for _ in range(n_out)]
        block = -(-n_in * n_out // reuse)
        if reuse <= n_in:
            multscale = block // n_out
            for ir in range(reuse):
                w, i, out, acc_step = ir, ir, 0, 0
                for _ in range(block):
                    steps[out].append((i, w))
                    w += reuse
                    i += reuse
                    if i >= n_in:
                        i = ir
                    if acc_step + 1 >= multscale:
                        acc_step, out = 0, out + 1
                    else:
                        acc_step += 1
        else:
            rufactor = min(reuse, n_in * n_out)
            outscale = rufactor // n_in
            outidx, outstep = [], 0
            for ir in range(rufactor):
                outidx.append(outstep)
                if (ir + 1) % n_in == 0:
                    outstep += 1
            i = 0
            for ir in range(rufactor):
                w, out = ir, outidx[ir]
                for _ in range(block):
                    steps[out].append((i, w))
                    w += rufactor
                    if w >= n_in * n_out:
                        break
                    out += outscale
                i = i + 1 if i + 1 < n_in else 0
        lengths = {len(s) for s in steps}
        if len(lengths) != 1:
            raise ValueError(f"reuse factor {reuse} gives outputs unequal numbers of products")
        pairs = np.asarray(steps, dtype=np.int64)  # (n_out, steps, 2)
        return cls(pairs[..., 0], pairs[..., 1])

    def matrix(self, flat_weights: np.ndarray, n_in: int) -> np.ndarray:
        """The (n_in, n_out) matrix this schedule multiplies by (each product once)."""
        n_out = self.inputs.shape[0]
        m = np.zeros((n_in, n_out), dtype=flat_weights.dtype)
        np.add.at(m, (self.inputs, np.broadcast_to(np.arange(n_out)[:, None], self.inputs.shape)),
                  flat_weights[self.weights])
        return m


@dataclass(frozen=True)
class DenseSpec:
    """One matrix-vector product: flat weights and biases as raw words, their types, the
    accumulator, the product kind and the schedule."""

    weights: np.ndarray
    weight_type: FixedType
    biases: np.ndarray
    bias_type: FixedType
    accum: FixedType
    schedule: Schedule
    n_in: int
    product: str = "mult"  # nnet::product::mult, weight_ternary or weight_exponential
    signs: np.ndarray | None = None  # weight_exponential: the sign bits; weights are then exponents
    exact_product: bool = False  # diagnosis only: a power-of-two product as wide as it needs, not r_T

    @property
    def n_out(self) -> int:
        return int(self.schedule.inputs.shape[0])


def product_type(data: FixedType, weight: FixedType, kind: str, exact: bool = False) -> FixedType:
    """The type ``product(a, w)`` returns (nnet_mult.h); ``exact``: for a power-of-two
    product, one that holds ``a * 2**e`` for every exponent ``e`` of ``W_w`` bits."""
    if kind == "weight_ternary":
        # decltype(-a): one more integer bit than the data
        return FixedType(data.width + 1, data.integer + 1, True)
    if kind == "weight_exponential" and exact:
        reach = 1 << (weight.width - 1)
        return FixedType(data.width + 2 * reach + 1, data.integer + reach + 1, True)
    if kind == "weight_exponential":
        # r_T = ap_fixed<2 * (W_w + W_x), W_w + W_x>, with W_w the exponent's width
        return FixedType(2 * (weight.width + data.width), weight.width + data.width, True)
    return FixedType(data.width + weight.width, data.integer + weight.integer, data.signed or weight.signed)


def dense(x: Tensor, spec: DenseSpec) -> np.ndarray:
    """The accumulator words (samples..., n_out) of ``spec`` applied to ``x`` (samples..., n_in)."""
    data = x.type
    prod = product_type(data, spec.weight_type, spec.product, spec.exact_product)
    acc0 = arith.cast(spec.biases, spec.bias_type, spec.accum)
    if _exact_sum_fits(x.raw, spec, prod, acc0):
        return _matrix_sum(x.raw, spec, prod, acc0)
    if spec.product == "weight_exponential":
        # the product shifts static_cast<r_T>(a): convert the data once
        return _scheduled_sum(arith.cast(x.raw, data, prod), spec, prod, acc0)
    return _scheduled_sum(x.raw, spec, prod, acc0)


def _product_words(x: np.ndarray, w: np.ndarray, spec: DenseSpec, signs: np.ndarray | None,
                   prod: FixedType) -> np.ndarray:
    if spec.product == "weight_ternary":  # w == 0 -> 0, w == -1 -> -a, otherwise a
        return np.where(w == 0, 0, np.where(w == -1, -x, x))
    if spec.product == "weight_exponential":
        # y = static_cast<r_T>(a) << w.weight (a negative shift goes right, flooring; bits
        # shifted past the top wrap); w.sign == 1 ? y : static_cast<r_T>(-y)
        wrap = FixedType(prod.width, prod.width, True)
        left = arith.quantize_raw(x << np.maximum(w, 0), 0, wrap)
        shifted = np.where(w >= 0, left, x >> np.maximum(-w, 0))
        return np.where(signs == 1, shifted, arith.quantize_raw(-shifted, 0, wrap))
    return x * w


def _exact_sum_fits(x: np.ndarray, spec: DenseSpec, prod: FixedType, acc0: np.ndarray) -> bool:
    """No product loses bits in its cast to accum_t, and no partial sum leaves accum_t's
    range when the accumulator saturates (a wrapping one wraps the same in any order)."""
    if spec.accum.fractional < prod.fractional or spec.product != "mult":
        return False
    if not arith.fits_int64(prod.width + (spec.accum.fractional - prod.fractional) + 1):
        return False
    if spec.accum.overflow == "WRAP" and arith.fits_int64(spec.accum.width + 1):
        return True
    lo, hi = arith.raw_bounds(spec.accum)
    limit = min(-lo, hi) * (1 - 2.0**-40)
    return bool(_loose_bound(x, spec, prod) < limit or _abs_bound(x, spec, prod) < limit)


def _abs_bound(x: np.ndarray, spec: DenseSpec, prod: FixedType) -> float:
    """An upper bound of every partial sum's magnitude, in accum_t words."""
    scale = 2.0 ** (spec.accum.fractional - prod.fractional)
    weights = np.abs(spec.schedule.matrix(np.abs(spec.weights.astype(np.float64)), spec.n_in))
    bias = np.abs(arith.cast(spec.biases, spec.bias_type, spec.accum).astype(np.float64))
    data = np.abs(x.astype(np.float64)).reshape(-1, spec.n_in)
    return float((data @ weights * scale + bias).max(initial=0.0))


def _loose_bound(x: np.ndarray, spec: DenseSpec, prod: FixedType) -> float:
    """A cheaper upper bound than :func:`_abs_bound`: the largest input word times the
    largest column sum of |weights| (a bound of every partial sum, looser, but enough to
    show a sum is exact in float64 without a second matrix product)."""
    scale = 2.0 ** (spec.accum.fractional - prod.fractional)
    column = spec.schedule.matrix(np.abs(spec.weights.astype(np.float64)), spec.n_in).sum(axis=0).max(initial=0.0)
    bias = np.abs(arith.cast(spec.biases, spec.bias_type, spec.accum).astype(np.float64)).max(initial=0.0)
    return float(np.abs(x).max(initial=0) * column * scale + bias)


def _matrix_sum(x: np.ndarray, spec: DenseSpec, prod: FixedType, acc0: np.ndarray) -> np.ndarray:
    shift = spec.accum.fractional - prod.fractional
    m = spec.schedule.matrix(spec.weights.astype(np.int64), spec.n_in)
    if _loose_bound(x, spec, prod) < 2.0**EXACT_FLOAT_BITS or _abs_bound(x, spec, prod) < 2.0**EXACT_FLOAT_BITS:
        # every partial sum is an integer below 2**52: float64 (BLAS) sums it exactly in any order
        total = np.rint(x.astype(np.float64) @ m.astype(np.float64)).astype(np.int64)
    else:
        total = np.matmul(x.astype(np.int64), m)  # modular int64: exact below 2**63, and WRAP only needs mod 2**W
    total = (total << shift) + acc0
    return arith.quantize_raw(total, spec.accum.fractional, spec.accum)


def _scheduled_sum(x: np.ndarray, spec: DenseSpec, prod: FixedType, acc0: np.ndarray) -> np.ndarray:
    """Product by product in the kernel's order, each cast to accum_t, each sum cast."""
    acc_type = spec.accum
    bits = max(prod.width, acc_type.width) + 2
    x = arith.as_dtype(np.asarray(x), bits)
    w = arith.as_dtype(np.asarray(spec.weights), bits)
    acc = np.broadcast_to(arith.as_dtype(acc0, bits), x.shape[:-1] + (spec.n_out,)).copy()
    # a wrapping accumulator wraps once at the end the same (sums are exact mod 2**W) if
    # int64 holds the running sum; otherwise every step is cast as the C++ casts it
    wrap_at_end = acc_type.overflow == "WRAP" and acc.dtype == np.int64
    inputs = spec.schedule.inputs
    same_input = bool(np.all(inputs == inputs[:1]))  # every output takes input i at step i (Latency)
    for step in range(inputs.shape[1]):
        chosen = spec.schedule.weights[:, step]
        data = x[..., inputs[0, step], None] if same_input else x[..., inputs[:, step]]
        terms = _product_words(data, w[chosen], spec, None if spec.signs is None else spec.signs[chosen], prod)
        if wrap_at_end:  # the cast's wrap is one the final cast repeats: only its rounding counts
            terms = arith.round_raw(terms, prod.fractional, acc_type, prod)
        else:
            terms = arith.quantize_raw(terms, prod.fractional, acc_type, prod)
        acc = acc + terms
        if not wrap_at_end:
            acc = arith.quantize_raw(acc, acc_type.fractional, acc_type)
    return arith.quantize_raw(acc, acc_type.fractional, acc_type) if wrap_at_end else acc


def im2col(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...], pads: tuple[tuple[int, int], ...],
           pad_word: int = 0) -> np.ndarray:
    """(samples, *spatial, C) -> (samples, *out_spatial, prod(kernel) * C), window order
    (kernel positions row-major, then channel), as the generated ``fill_buffer`` orders it."""
    pad_width = [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)]
    padded = np.pad(x, pad_width, constant_values=pad_word)
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel, axis=tuple(range(1, 1 + len(kernel))))
    # windows: (samples, *positions, C, *kernel); take every stride-th position
    index = (slice(None),) + tuple(slice(None, None, s) for s in stride)
    windows = windows[index]
    n_dims = len(kernel)
    order = (0,) + tuple(range(1, 1 + n_dims)) + tuple(range(2 + n_dims, 2 + 2 * n_dims)) + (1 + n_dims,)
    windows = windows.transpose(order)
    return windows.reshape(windows.shape[: 1 + n_dims] + (-1,))


def relu(x: Tensor, result: FixedType) -> np.ndarray:
    """``nnet::relu``: ``data > 0 ? data : 0``, cast to res_T."""
    return arith.cast(np.where(x.raw > 0, x.raw, 0), x.type, result)


def table_index(x: Tensor, table_size: int, input_range: int) -> np.ndarray:
    """``data_round = data[ii] * table_size / input_range; index = data_round + half``.

    ``data * table_size`` is exact; ``/ input_range`` is ap_fixed division by an int,
    which keeps the dividend's ``F`` fractional bits and truncates toward zero; the
    assignment to ``int`` truncates toward zero again (and keeps 32 bits). For ``F >= 0``
    the two truncations compose into ``trunc(raw * table_size / (input_range * 2**F))``;
    for ``F < 0`` the quotient is already whole. The index is clamped to the table."""
    raw = arith.as_dtype(x.raw, x.type.width + table_size.bit_length() + 2) * table_size
    fractional = x.type.fractional
    if fractional >= 0:
        rounded = truncating_divide(raw, input_range << fractional)
    else:
        rounded = truncating_divide(raw, input_range) << (-fractional)
    rounded = (rounded + (1 << 31)) % (1 << 32) - (1 << 31)  # ap_fixed -> int keeps 32 bits
    index = rounded + (input_range // 2) * table_size // input_range
    return np.clip(index, 0, table_size - 1).astype(np.int64)


def lookup(x: Tensor, table: np.ndarray, table_type: FixedType, input_range: int, result: FixedType) -> np.ndarray:
    """sigmoid/tanh/softplus/softsign: ``res = (res_T) table[index]``."""
    index = table_index(x, len(table), input_range)
    return arith.cast(table[index], table_type, result)


def top_bits(raw: np.ndarray, t: FixedType, bits: int) -> np.ndarray:
    """``softmax_idx_from_real_val``: bits W-1..W-bits of the word, as an unsigned index."""
    unsigned = np.where(raw < 0, raw + (1 << t.width), raw) if t.signed else raw
    return (np.asarray(unsigned, dtype=object if not arith.fits_int64(t.width + 1) else np.int64)
            >> (t.width - bits)).astype(np.int64)


def tree_sum(words: np.ndarray, t: FixedType) -> np.ndarray:
    """``nnet::reduce<T, N, Op_add<T>>`` over the last axis: a balanced tree whose left
    half holds ``2**floor(log2(N - 1))`` elements, every sum cast to ``T``."""
    n = words.shape[-1]
    if n == 1:
        return words[..., 0]
    if n == 2:
        return arith.quantize_raw(words[..., 0] + words[..., 1], t.fractional, t)
    left = 1 << ((n - 1).bit_length() - 1)
    return arith.quantize_raw(tree_sum(words[..., :left], t) + tree_sum(words[..., left:], t), t.fractional, t)


@dataclass(frozen=True)
class SoftmaxSpec:
    """``softmax_latency`` / ``softmax_stable`` with their tables and types."""

    implementation: str  # "stable" or "latency"
    exp_table: np.ndarray
    exp_table_type: FixedType
    exp_bits: int
    inv_table: np.ndarray
    inv_table_type: FixedType
    inv_bits: int
    accum: FixedType
    inv_inp: FixedType
    inp_norm: FixedType | None  # stable only


def softmax(x: Tensor, spec: SoftmaxSpec, result: FixedType) -> np.ndarray:
    """Over the last axis (one slice of ``n_slice`` values)."""
    if spec.implementation == "stable":
        peak = x.raw.max(axis=-1, keepdims=True)  # Op_max tree: the maximum, whatever the order
        spread, spread_type = arith.subtract(peak, x.type, x.raw, x.type)
        spread = arith.cast(spread, spread_type, spec.inp_norm)
        index = top_bits(spread, spec.inp_norm, spec.exp_bits)
    else:
        index = top_bits(x.raw, x.type, spec.exp_bits)
    exps = arith.cast(spec.exp_table[index], spec.exp_table_type, spec.accum)
    total = arith.cast(tree_sum(exps, spec.accum), spec.accum, spec.inv_inp)
    inverse = spec.inv_table[top_bits(total, spec.inv_inp, spec.inv_bits)]
    words, t = arith.product(exps, spec.accum, inverse[..., None], spec.inv_table_type)
    return arith.cast(words, t, result)


def max_pool(windows: np.ndarray, data: FixedType, accum: FixedType, result: FixedType) -> np.ndarray:
    """``nnet::max``: the largest of the window (last axis), cast to accum_t, then res_T."""
    return arith.cast(arith.cast(windows.max(axis=-1), data, accum), accum, result)


def average_pool(windows: np.ndarray, counts: np.ndarray, data: FixedType, accum: FixedType,
                 result: FixedType) -> np.ndarray:
    """``nnet::avg``: ``accum_t y = 0; y += x[i]`` (each sum cast); ``y /= length``
    (ap_fixed division by an integer keeps the dividend's fractional bits and truncates
    toward zero), then res_T."""
    terms = arith.cast(windows, data, accum)
    y = np.zeros(terms.shape[:-1], dtype=terms.dtype)
    for k in range(terms.shape[-1]):
        y = arith.quantize_raw(y + terms[..., k], accum.fractional, accum)
    return arith.cast(truncating_divide(y, counts), accum, result)


def reduce_pool(windows: np.ndarray, op: str, accum: FixedType, result: FixedType) -> np.ndarray:
    """io_stream's ``reduce_pool`` over windows already cast to accum_t: the Op_max tree
    (the maximum) or the Op_add tree divided by the window size, then res_T."""
    if op == "Max":
        return arith.cast(windows.max(axis=-1), accum, result)
    total = tree_sum(windows, accum)
    return arith.cast(truncating_divide(total, windows.shape[-1]), accum, result)


def truncating_divide(a: np.ndarray, b) -> np.ndarray:
    """Integer division truncating toward zero (C's ``/``, ap_fixed's ``sdiv``)."""
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


def pad_word_for_max(t: FixedType) -> int:
    """``pad_val<T, Max>``: a word with only the top bit set -- the minimum of a signed
    type, but half the range of an unsigned one (as the C++ writes it)."""
    word = 1 << (t.width - 1)
    return word - (1 << t.width) if t.signed else word
