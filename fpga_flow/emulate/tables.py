"""Lookup tables built exactly as hls4ml 1.3.0's C++ builds them on the first call
(``nnet_activation.h``: ``init_sigmoid_table``, ``init_tanh_table``, ``init_exp_table``,
``init_invert_table``, ...).

The C++ mixes float and double: ``float in_val = 2 * 8.0 * (ii - float(N) / 2.0) /
float(N)`` is computed in double and rounded to float; the function of ``in_val`` is
evaluated in float (``std::exp(float)`` is the C library's ``expf``, ``tanh`` of a float
resolves to ``tanhf`` through libstdc++'s ``<math.h>``), float + int stays float,
``1.0 / float`` is double, and the table entry is the ap_fixed conversion of the float
result. numpy's float32 ``exp`` is its own SIMD code, which may differ from glibc's
``expf`` in the last bit, so the transcendental functions are the C library's own,
called through ctypes, on the same float32 arguments the compiled code passes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

import numpy as np

from fpga_flow.emulate import arith
from fpga_flow.fixed import FixedType

F32 = np.float32


@lru_cache(maxsize=None)
def _libm() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    for name, kind in (("expf", ctypes.c_float), ("tanhf", ctypes.c_float), ("log", ctypes.c_double)):
        function = getattr(lib, name)
        function.restype = kind
        function.argtypes = [kind]
    return lib


def _libm_call(name: str, values: np.ndarray, dtype) -> np.ndarray:
    function = getattr(_libm(), name)
    flat = np.asarray(values, dtype=dtype).ravel()
    return np.array([function(float(v)) for v in flat], dtype=dtype).reshape(np.shape(values))


def _float_call(name: str, values: np.ndarray) -> np.ndarray:
    return _libm_call(name, values, F32)


def expf(values: np.ndarray) -> np.ndarray:
    return _float_call("expf", values)


def _centered_inputs(n: int, half_range: float) -> np.ndarray:
    """``float in_val = 2 * R * (ii - float(N) / 2.0) / float(N)``: double, then float."""
    ii = np.arange(n, dtype=np.float64)
    return (2 * half_range * (ii - float(n) / 2.0) / float(n)).astype(F32)


def sigmoid_table(n: int, table_t: FixedType) -> np.ndarray:
    """``init_sigmoid_table``: inputs over [-8, 8); ``1.0 / (1 + std::exp(-x))``."""
    x = _centered_inputs(n, 8.0)
    denominator = (F32(1) + expf(-x)).astype(F32)  # float + int -> float
    values = (1.0 / denominator.astype(np.float64)).astype(F32)  # double division, returned as float
    return arith.from_float(values.astype(np.float64), table_t)


def tanh_table(n: int, table_t: FixedType) -> np.ndarray:
    """``init_tanh_table``: inputs over [-4, 4); ``tanh(float)``."""
    x = _centered_inputs(n, 4.0)
    return arith.from_float(_float_call("tanhf", x).astype(np.float64), table_t)


def softplus_table(n: int, table_t: FixedType) -> np.ndarray:
    """``init_softplus_table``: ``std::log(std::exp(x) + 1.)`` -- float exp, double sum and log."""
    x = _centered_inputs(n, 8.0)
    values = _libm_call("log", expf(x).astype(np.float64) + 1.0, np.float64)
    return arith.from_float(values.astype(F32).astype(np.float64), table_t)


def softsign_table(n: int, table_t: FixedType) -> np.ndarray:
    """``init_softsign_table``: ``x / (std::abs(x) + 1.)`` in double, returned as float."""
    x = _centered_inputs(n, 8.0).astype(np.float64)
    return arith.from_float((x / (np.abs(x) + 1.0)).astype(F32).astype(np.float64), table_t)


def elu_table(n: int, table_t: FixedType) -> np.ndarray:
    """``init_elu_table``: inputs ``-8.0 * ii / float(N)`` over (-8, 0]; ``std::exp(x) - 1.``."""
    x = (-8.0 * np.arange(n, dtype=np.float64) / float(n)).astype(F32)
    values = expf(x).astype(np.float64) - 1.0
    return arith.from_float(values.astype(F32).astype(np.float64), table_t)


def softmax_index_value(index_t: FixedType, bits: int) -> np.ndarray:
    """``softmax_real_val_from_idx``: the value of ``index_t`` whose top ``bits`` bits are
    the index and the rest zero, as float (exact: at most ``bits`` significant bits)."""
    if bits > index_t.width:
        raise ValueError(f"a {1 << bits}-entry table cannot be addressed by the {index_t.width} bits of {index_t}")
    words = np.arange(1 << bits, dtype=np.int64) << (index_t.width - bits)
    if index_t.signed:
        words = np.where(words >= (1 << (index_t.width - 1)), words - (1 << index_t.width), words)
    return arith.to_float(words, index_t).astype(F32)


def exp_table(index_t: FixedType, bits: int, table_t: FixedType, scale: float = 1.0, negative: bool = False) -> np.ndarray:
    """``init_exp_table<index_t>``: ``exp(±x * exp_scale)`` in float at each index's value."""
    x = (softmax_index_value(index_t, bits) * F32(scale)).astype(F32)
    if negative:
        x = -x
    return arith.from_float(expf(x).astype(np.float64), table_t)


def invert_table(index_t: FixedType, bits: int, table_t: FixedType) -> np.ndarray:
    """``init_invert_table<index_t>``: ``1 / x`` in float (index 0 gives +inf)."""
    x = softmax_index_value(index_t, bits)
    with np.errstate(divide="ignore"):
        values = (F32(1) / x).astype(F32)
    return arith.from_float(values.astype(np.float64), table_t)
