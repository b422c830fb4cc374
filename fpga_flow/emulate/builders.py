"""The emulator's steps for hls4ml's plain layers: each ``build_*`` turns one layer of the
ModelGraph into a :data:`Run` over raw words (:mod:`.kernels`), with the types, weights,
tables and schedules read from the graph as the generated C++ uses them. The layer kinds
with modules of their own (:mod:`.spatial`, :mod:`.attention`, :mod:`.recurrent`) build
on the helpers here; :mod:`.graph` maps every hls4ml class to its builder and runs them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from fpga_flow.emulate import arith, kernels, tables
from fpga_flow.emulate.kernels import DenseSpec, Schedule, SoftmaxSpec, Tensor
from fpga_flow.errors import NotEmulableError, StageFailedError
from fpga_flow.fixed import FixedType
from fpga_flow.layers import LATENCY_KEY, RESOURCE_KEY, layer_strategy_key

Run = Callable[[list[Tensor]], "Tensor | list[Tensor]"]  # one Tensor per output (a list for several)

# Activation tables: (builder, input range) as nnet_activation.h indexes them
LOOKUP_ACTIVATIONS = {
    "sigmoid": (tables.sigmoid_table, 16),
    "tanh": (tables.tanh_table, 8),
    "softplus": (tables.softplus_table, 16),
    "softsign": (tables.softsign_table, 16),
}


def fixed_type(precision, what: str) -> FixedType:
    """A hls4ml precision as a FixedType; anything else (float, exponent, binary) or a
    wrap with saturation bits is refused."""
    # deferred: hls4ml (seconds to import; the CLI's start and a run-cache hit never load it)
    from hls4ml.model.types import ExponentPrecisionType, FixedPrecisionType, IntegerPrecisionType, XnorPrecisionType

    if isinstance(precision, (XnorPrecisionType, ExponentPrecisionType)):
        raise NotEmulableError(f"{what}: {type(precision).__name__} (binary or power-of-two arithmetic) is not emulated")
    if isinstance(precision, FixedPrecisionType):
        if precision.saturation_bits:
            raise NotEmulableError(f"{what}: saturation bits ({precision.saturation_bits}) are not emulated")
        rounding, overflow = precision.rounding_mode.name, precision.saturation_mode.name
        if rounding not in arith.ROUNDING_MODES or overflow not in arith.OVERFLOW_MODES:
            raise NotEmulableError(f"{what}: mode {rounding}/{overflow} is not emulated")
        return FixedType(precision.width, precision.integer, precision.signed, rounding, overflow)
    if isinstance(precision, IntegerPrecisionType):
        return FixedType(precision.width, precision.width, precision.signed)
    raise NotEmulableError(f"{what}: type {precision} is not fixed point")


def _result(layer) -> FixedType:
    return fixed_type(layer.get_output_variable().type.precision, f"layer {layer.name} result")


def _input(layer, index: int = 0) -> FixedType:
    variable = layer.get_input_variable(layer.inputs[index])
    return fixed_type(variable.type.precision, f"layer {layer.name} input")


def _attr_type(layer, name: str) -> FixedType:
    return fixed_type(layer.get_attr(name).precision, f"layer {layer.name} {name}")


def weight_words(layer, name: str) -> tuple[np.ndarray, FixedType]:
    """A weight array as the C-simulation loads it: hls4ml writes each value as decimal
    text with as many digits as the type has fractional bits (``WeightVariable``'s
    format), ``load_weights_from_txt`` reads it as a double and converts it to the
    type. Flat, in the order written."""
    variable = layer.weights[name]
    t = fixed_type(variable.type.precision, f"layer {layer.name} {name}")
    values = np.array([float(text) for text in variable], dtype=np.float64)
    return arith.from_float(values, t), t


def exponent_words(layer, name: str) -> tuple[np.ndarray, np.ndarray, FixedType]:
    """Power-of-two weights (``ExponentWeightVariable``): written as ``{sign, exponent}``
    pairs, read into ``ap_uint<1> sign`` and ``ap_int<W> weight``. Returns the sign bits,
    the exponents and the exponent's type."""
    # deferred: hls4ml (seconds to import; the CLI's start and a run-cache hit never load it)
    from hls4ml.model.types import ExponentPrecisionType

    variable = layer.weights[name]
    precision = variable.type.precision
    if not isinstance(precision, ExponentPrecisionType):
        raise NotEmulableError(f"layer {layer.name} {name}: expected power-of-two weights")
    pairs = np.array([[float(v) for v in text.strip("{}").split(",")] for text in variable]).reshape(-1, 2)
    exponent_type = FixedType(precision.width, precision.width, precision.signed)
    signs = arith.from_float(pairs[:, 0], FixedType(1, 1, False))
    return signs, arith.from_float(pairs[:, 1], exponent_type), exponent_type


def _product_kind(layer, weight_name: str) -> str:
    """The ``nnet::product`` class hls4ml's templates pick for this layer's weights."""
    # deferred: hls4ml (seconds to import; the CLI's start and a run-cache hit never load it)
    from hls4ml.backends import get_backend

    kind = get_backend("vivado").product_type(layer.get_input_variable().type.precision,
                                              layer.weights[weight_name].type.precision)
    if kind not in ("mult", "weight_ternary", "weight_exponential"):
        raise NotEmulableError(f"layer {layer.name}: product {kind} is not emulated")
    return kind


def _schedule(layer, n_in: int, n_out: int) -> Schedule:
    strategy = layer_strategy_key(layer)
    transposed = bool(layer.get_attr("_weights_transposed", False))
    if strategy == LATENCY_KEY and not transposed:
        return Schedule.in_order(n_in, n_out)
    if strategy == RESOURCE_KEY and transposed:
        reuse = int(layer.get_attr("reuse_factor"))
        if reuse < n_in and -(-n_in * n_out // reuse) % n_out:
            # dense_resource_rf_leq_nin / conv_*_resource_cl: assert((block_factor % n_out == 0
            # || reuse_factor >= n_in) && "The current Reuse Factor is not allowed")
            raise StageFailedError(f"layer {layer.name}: reuse factor {reuse} is not allowed for {n_in} inputs and "
                                   f"{n_out} outputs (hls4ml's Resource kernel asserts: its C simulation aborts)")
        if reuse > n_in and reuse % n_in and "Conv" in layer.class_name:
            # convolution_templates.py names nnet::DenseResource_rf_gt_nin, which nnet_dense.h
            # does not define (dense layers take the _rem0 kernel for any reuse above n_in)
            raise StageFailedError(f"layer {layer.name}: reuse factor {reuse} (above {n_in} inputs, not a multiple) "
                                   "makes hls4ml name a kernel it does not define: g++ cannot compile the design")
        return Schedule.resource(n_in, n_out, reuse)
    raise NotEmulableError(f"layer {layer.name}: strategy {strategy} is not emulated")


def dense_spec(layer, n_in: int, n_out: int, weight: str = "weight", bias: str = "bias",
               schedule: Schedule | None = None, exact_product: bool = False) -> DenseSpec:
    kind = _product_kind(layer, weight)
    signs = None
    if kind == "weight_exponential":
        signs, weights, weight_type = exponent_words(layer, weight)
    else:
        weights, weight_type = weight_words(layer, weight)
    biases, bias_type = weight_words(layer, bias)
    return DenseSpec(weights, weight_type, biases, bias_type, _attr_type(layer, "accum_t"),
                     schedule or _schedule(layer, n_in, n_out), n_in, kind, signs, exact_product)


def build_dense(layer, exact_product: bool = False) -> Run:
    n_in, n_out = int(layer.get_attr("n_in")), int(layer.get_attr("n_out"))
    spec = dense_spec(layer, n_in, n_out, exact_product=exact_product)
    result = _result(layer)

    def run(inputs: list[Tensor]) -> Tensor:
        x = inputs[0]
        acc = kernels.dense(Tensor(x.raw.reshape(len(x.raw), n_in), x.type), spec)
        return Tensor(arith.cast(acc, spec.accum, result), result)

    return run


def _window(layer, size: str, two_d: bool) -> tuple[tuple[int, ...], tuple[int, ...], tuple[tuple[int, int], ...]]:
    """Window size (``filt_*`` or ``pool_*``), stride and padding of a channels-last layer."""
    if layer.get_attr("data_format", "channels_last") != "channels_last":
        raise NotEmulableError(f"layer {layer.name}: channels_first data is not emulated")
    attr = lambda name: int(layer.get_attr(name))  # noqa: E731
    if two_d:
        return ((attr(f"{size}_height"), attr(f"{size}_width")), (attr("stride_height"), attr("stride_width")),
                ((attr("pad_top"), attr("pad_bottom")), (attr("pad_left"), attr("pad_right"))))
    return (attr(f"{size}_width"),), (attr("stride_width"),), ((attr("pad_left"), attr("pad_right")),)


def build_conv(layer, exact_product: bool = False) -> Run:
    if int(layer.get_attr("dilation", 1)) != 1:
        raise NotEmulableError(f"layer {layer.name}: dilated convolution is not emulated")
    kernel, stride, pads = _window(layer, "filt", layer.class_name.endswith(("2D", "2DBatchnorm")))
    if (layer.class_name in ("Conv2D", "Conv2DBatchnorm") and kernel == (1, 1) and max(stride) > 1
            and _io_type(layer) == "io_stream"):
        # measured on tiny_resnet's folded 1x1 stride-2 shortcuts: conv_2d_buffer_cl sends a
        # one-row kernel through compute_output_buffer_1d, and the stream holds extra pixels
        # ("contains leftover data"); the design does not compute the strided convolution
        raise NotEmulableError(f"layer {layer.name}: hls4ml 1.3.0's io_stream 1x1 convolution with stride {stride} "
                               "writes extra pixels (use a QConv2D, which hls4ml makes a pointwise convolution)")
    n_chan, n_filt = int(layer.get_attr("n_chan")), int(layer.get_attr("n_filt"))
    n_in = int(np.prod(kernel)) * n_chan
    spec = dense_spec(layer, n_in, n_filt, exact_product=exact_product)
    result = _result(layer)
    out_shape = tuple(int(d) for d in layer.get_output_variable().shape)

    def run(inputs: list[Tensor]) -> Tensor:
        x = inputs[0]
        columns = kernels.im2col(x.raw, kernel, stride, pads)  # padding is the data type's zero
        acc = kernels.dense(Tensor(columns, x.type), spec)
        return Tensor(arith.cast(acc, spec.accum, result).reshape((len(x.raw),) + out_shape), result)

    return run


def build_activation(layer) -> Run:
    activation = str(layer.get_attr("activation")).lower()
    result = _result(layer)
    if activation == "linear":
        return lambda inputs: inputs[0].cast(result)
    if activation == "relu":
        return lambda inputs: Tensor(kernels.relu(inputs[0], result), result)
    if activation in LOOKUP_ACTIVATIONS:
        build_table, input_range = LOOKUP_ACTIVATIONS[activation]
        table_type = _attr_type(layer, "table_t")
        table = build_table(int(layer.get_attr("table_size")), table_type)
        return lambda inputs: Tensor(kernels.lookup(inputs[0], table, table_type, input_range, result), result)
    raise NotEmulableError(f"layer {layer.name}: activation {activation} is not emulated")


def softmax_spec(layer) -> SoftmaxSpec:
    """The softmax tables and types as ``SoftmaxConfigTemplate.format`` (hls4ml 1.3.0
    ``backends/vivado/passes/core_templates.py``) sets them: ``inv_inp_t`` falls back to
    ``exp_table_t`` when left at the model default; the stable implementation's
    ``inp_norm_t`` is ``ap_ufixed<W - s, I - s>`` of the input type unless configured,
    and then, for a signed input, the exp table is cut to ``2**(W - 1)`` entries."""
    implementation = str(layer.get_attr("implementation", "stable")).lower()
    if implementation not in ("stable", "latency"):
        raise NotEmulableError(f"layer {layer.name}: softmax implementation {implementation} is not emulated")
    data = _input(layer)
    table_size = int(layer.get_attr("table_size"))
    exp_size = int(layer.get_attr("exp_table_size", table_size))
    inv_size = int(layer.get_attr("inv_table_size", table_size))
    exp_table_t, inv_table_t = _attr_type(layer, "exp_table_t"), _attr_type(layer, "inv_table_t")
    inv_inp_attr = layer.get_attr("inv_inp_t")
    inv_inp = exp_table_t if inv_inp_attr.name == "model_default_t" else _attr_type(layer, "inv_inp_t")
    inp_norm = None
    if implementation == "stable":
        if layer.get_attr("inp_norm_t") is not None:
            inp_norm = _attr_type(layer, "inp_norm_t")
        else:
            width, integer = data.width - data.signed, data.integer - data.signed
            inp_norm = FixedType(width, integer, False)
            if data.signed:
                exp_size = min(inv_size, 2**width)
    for size in (exp_size, inv_size):
        if size & (size - 1):
            raise NotEmulableError(f"layer {layer.name}: a softmax table of {size} entries (not a power of 2) "
                                   "is addressed past its end by hls4ml's index")
    exp_bits, inv_bits = exp_size.bit_length() - 1, inv_size.bit_length() - 1
    index_type = inp_norm if implementation == "stable" else data
    try:
        exp_words = tables.exp_table(index_type, exp_bits, exp_table_t, float(layer.get_attr("exp_scale", 1.0)),
                                     negative=implementation == "stable")
        inv_words = tables.invert_table(inv_inp, inv_bits, inv_table_t)
    except ValueError as exc:
        raise NotEmulableError(f"layer {layer.name}: {exc}") from None
    return SoftmaxSpec(implementation, exp_words, exp_table_t, exp_bits, inv_words, inv_table_t, inv_bits,
                       _attr_type(layer, "accum_t"), inv_inp, inp_norm)


def build_softmax(layer) -> Run:
    spec = softmax_spec(layer)
    result = _result(layer)
    n_outer, n_inner = int(layer.get_attr("n_outer", 1)), int(layer.get_attr("n_inner", 1))

    def run(inputs: list[Tensor]) -> Tensor:
        x = inputs[0]
        n = len(x.raw)
        # softmax_multidim: slices of n_slice values, strided by n_inner
        raw = x.raw.reshape(n, n_outer, -1, n_inner).swapaxes(-1, -2)
        words = kernels.softmax(Tensor(raw, x.type), spec, result)
        return Tensor(words.swapaxes(-1, -2).reshape(x.raw.shape), result)

    return run


def build_pooling(layer) -> Run:
    window, stride, pads = _window(layer, "pool", layer.class_name == "Pooling2D")
    op = str(layer.get_attr("pool_op"))
    data, accum, result = _input(layer), _attr_type(layer, "accum_t"), _result(layer)
    count_pad = bool(layer.get_attr("count_pad", False))
    out_shape = tuple(int(d) for d in layer.get_output_variable().shape)

    stream = _io_type(layer) == "io_stream"
    if stream and any(p for pair in pads for p in pair):
        raise NotEmulableError(f"layer {layer.name}: padded pooling in io_stream is not emulated")

    def run(inputs: list[Tensor]) -> Tensor:
        x = inputs[0]
        n, channels = len(x.raw), x.raw.shape[-1]
        if stream:  # reduce_pool: the window cast to accum_t, then a tree (and / N)
            windows = _pool_windows(x.raw, window, stride, pads, 0)
            words = kernels.reduce_pool(arith.cast(windows, data, accum), op, accum, result)
        elif op == "Max":
            windows = _pool_windows(x.raw, window, stride, pads, kernels.pad_word_for_max(data))
            words = kernels.max_pool(windows, data, accum, result)
        else:
            windows = _pool_windows(x.raw, window, stride, pads, 0)
            inside = _pool_windows(np.ones((1,) + x.raw.shape[1:], dtype=np.int64), window, stride, pads, 0)
            counts = np.full(inside.shape[:-1], int(np.prod(window))) if count_pad else inside.sum(axis=-1)
            words = kernels.average_pool(windows, counts, data, accum, result)
        return Tensor(words.reshape((n,) + out_shape[:-1] + (channels,)), result)

    return run


def _io_type(layer) -> str:
    return str(layer.model.config.get_config_value("IOType"))


def _pool_windows(raw: np.ndarray, window, stride, pads, pad_word: int) -> np.ndarray:
    """(samples, *out, C, window elements): each channel's pooling window."""
    channels = raw.shape[-1]
    columns = kernels.im2col(raw, window, stride, pads, pad_word)  # (samples, *out, window * C)
    return columns.reshape(columns.shape[:-1] + (-1, channels)).swapaxes(-1, -2)


def build_global_pooling(layer) -> Run:
    op = str(layer.get_attr("pool_op"))
    data, accum, result = _input(layer), _attr_type(layer, "accum_t"), _result(layer)
    stream = _io_type(layer) == "io_stream"
    if stream and op == "Max":
        raise NotEmulableError(f"layer {layer.name}: global max pooling in io_stream is not emulated")

    def run(inputs: list[Tensor]) -> Tensor:
        x = inputs[0]
        n, channels = len(x.raw), x.raw.shape[-1]
        windows = x.raw.reshape(n, -1, channels).swapaxes(-1, -2)  # (samples, C, positions)
        if op == "Max":
            return Tensor(kernels.max_pool(windows, data, accum, result), result)
        counts = np.full(windows.shape[:-1], windows.shape[-1])
        if stream:  # one pixel at a time into an accum_t sum (reduce_global_pool), then / (H * W)
            terms = arith.cast(windows, data, accum)
            total = np.zeros(terms.shape[:-1], dtype=terms.dtype)
            for k in range(terms.shape[-1]):
                total = arith.quantize_raw(total + terms[..., k], accum.fractional, accum)
            return Tensor(arith.cast(kernels.truncating_divide(total, counts), accum, result), result)
        return Tensor(kernels.average_pool(windows, counts, data, accum, result), result)

    return run


def build_zero_padding(layer) -> Run:
    """io_stream's explicit padding (zeropad1d_cl / zeropad2d_cl): zeros around the data,
    the data cast to the result type."""
    if layer.class_name == "ZeroPadding2D":
        pads = ((int(layer.get_attr("pad_top")), int(layer.get_attr("pad_bottom"))),
                (int(layer.get_attr("pad_left")), int(layer.get_attr("pad_right"))))
    else:
        pads = ((int(layer.get_attr("pad_left")), int(layer.get_attr("pad_right"))),)
    result = _result(layer)

    def run(inputs: list[Tensor]) -> Tensor:
        x = inputs[0].cast(result)
        return Tensor(np.pad(x.raw, ((0, 0),) + pads + ((0, 0),)), result)

    return run


def build_clone(layer) -> Run:
    """``clone_stream``: the input copied (cast) to each output."""
    results = [fixed_type(layer.get_output_variable(name).type.precision, f"layer {layer.name} result")
               for name in layer.outputs]
    return lambda inputs: [inputs[0].cast(t) for t in results]


def build_reshape(layer) -> Run:
    shape = tuple(int(d) for d in layer.get_output_variable().shape)
    # io_parallel: the output is a reference to the input array (same words, same type)
    return lambda inputs: Tensor(inputs[0].raw.reshape((len(inputs[0].raw),) + shape), inputs[0].type)


def build_batchnorm(layer) -> Run:
    scale, scale_type = weight_words(layer, "scale")
    bias, bias_type = weight_words(layer, "bias")
    if _product_kind(layer, "scale") != "mult":
        raise NotEmulableError(f"layer {layer.name}: non-multiplying batch normalization is not emulated")
    result = _result(layer)

    def run(inputs: list[Tensor]) -> Tensor:
        x = inputs[0]
        flat = x.raw.reshape(len(x.raw), -1)
        index = np.arange(flat.shape[1]) % len(scale)  # n_filt: per channel, channels last
        words, t = arith.product(flat, x.type, scale[index], scale_type)
        words, t = arith.add(words, t, bias[index], bias_type)
        return Tensor(arith.cast(words, t, result).reshape(x.raw.shape), result)

    return run


def build_merge(layer) -> Run:
    op = str(layer.get_attr("op")).lower()
    result = _result(layer)
    if op not in ("add", "subtract", "multiply", "average", "maximum", "minimum"):
        raise NotEmulableError(f"layer {layer.name}: merge {op} is not emulated")

    def run(inputs: list[Tensor]) -> Tensor:
        a, b = inputs
        if a.raw.shape != b.raw.shape:
            raise NotEmulableError(f"layer {layer.name}: merging different shapes is not emulated")
        if op in ("maximum", "minimum"):
            difference, _ = arith.subtract(a.raw, a.type, b.raw, b.type)
            pick_a = difference > 0 if op == "maximum" else difference < 0
            return Tensor(np.where(pick_a, a.cast(result).raw, b.cast(result).raw), result)
        combine = {"add": arith.add, "average": arith.add, "subtract": arith.subtract, "multiply": arith.product}[op]
        words, t = combine(a.raw, a.type, b.raw, b.type)
        if op == "average":  # (a + b) * ap_ufixed<1, 0>(0.5)
            words, t = arith.product(words, t, np.array(1), FixedType(1, 0, False))
        return Tensor(arith.cast(words, t, result), result)

    return run
