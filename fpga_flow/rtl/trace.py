"""The hls4ml graph traced, layer by layer, into one da4ml adder graph that computes what
the project's C++ computes, word for word.

Two passes over the graph: the first collects what each layer needs from the C++ (types,
weights as loaded, tables) into a :class:`~fpga_flow.rtl.probe.ProbeRequest`; the second
traces every layer on da4ml's symbolic variables, casting after each to the C++ type it
assigns to. A layer no mirror knows is refused by name.

What each mirror reproduces, from hls4ml 1.3.0's ``nnet_utils``:

* Dense/Conv (Latency, ``dense_latency``/``conv_*_latency_cl``): each product is assigned to
  ``accum_t``, the accumulator starts at ``(accum_t) bias`` and adds products in input
  order, ``res_T`` takes the sum. When every product and the bias are exact in
  ``accum_t`` and it wraps, that sum is the exact sum wrapped once (two's complement
  addition is modular), which is a constant matrix-vector product da4ml optimizes; with
  a saturating accumulator that might overflow, the input-order chain is kept.
* Dense/Conv (``distributed_arithmetic``): hls4ml's DA pass solves each kernel with da4ml
  from the input type and the layer's unquantized weights; the same call here gives the
  same adder graph, replayed per output pixel, then ``res_T``.
* Activation relu/linear; other element-wise activations as tables of the C++ function's
  output on every input word (:mod:`fpga_flow.rtl.tables`); Softmax (stable and latency
  implementations) with its own tables; max and average pooling; BatchNormalization
  (``x * scale + bias``); Reshape/Flatten (free).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from da4ml.trace import FixedVariableArray, comb_trace

from fpga_flow.errors import RTLUnsupportedError
from fpga_flow.fixed import FixedType
from fpga_flow.layers import DISTRIBUTED_ARITHMETIC as DA_STRATEGY
from fpga_flow.layers import LATENCY_KEY, layer_strategy_key
from fpga_flow.rtl import arith, tables
from fpga_flow.rtl.probe import ElementwiseMap, ProbeRequest, ProbeResult, SoftmaxTables, WeightArray


@dataclass
class TracedModel:
    """The traced network: free input variables, output variables, and per-layer notes."""

    inputs: FixedVariableArray
    outputs: FixedVariableArray
    input_type: FixedType
    layers: list[dict[str, Any]] = field(default_factory=list)


class Env:
    """What mirrors read while tracing: C++ types and arrays from the probe."""

    def __init__(self, probe: ProbeResult | None, da_layers: set[str]):
        self.probe = probe
        self.da_layers = da_layers
        self.request = ProbeRequest()

    def type(self, cpp_name: str, where: str) -> FixedType:
        if self.probe is None:
            self.request.types.add(cpp_name)
            return FixedType(1, 1)  # placeholder during the request pass
        return self.probe.types[cpp_name].fixed_type(f"{where} ({cpp_name})")

    def array(self, key: str, shape) -> np.ndarray:
        if self.probe is None:
            return np.zeros(shape)
        return np.asarray(self.probe.arrays[key], dtype=np.float64).reshape(shape)


def input_type_name(layer) -> str:
    return layer.get_input_variable().type.name


def output_type_name(layer) -> str:
    return layer.get_output_variable().type.name


def _weights(env: Env, layer, name: str) -> np.ndarray:
    """A weight array as the C-simulation holds it (loaded by the probe)."""
    weight = layer.weights[name]
    shape = weight.data.shape
    if env.probe is None:
        env.request.weights.append(WeightArray(weight.name, weight.type.name, int(weight.data_length)))
    return env.array(weight.name, shape)


def _effective_weights(layer, W: np.ndarray) -> np.ndarray:
    """What ``product(x, w)`` multiplies by: hls4ml picks the product by the types
    (``FPGABackend.product_type``); the binary and ternary ones are not ``x * w``."""
    backend = layer.model.config.backend
    product = backend.product_type(layer.get_input_variable().type.precision, layer.get_attr("weight_t").precision)
    if product == "mult":
        return W
    if product == "weight_ternary":  # w == 0 -> 0, w == -1 -> -x, anything else -> x
        return np.where(W == 0, 0.0, np.where(W == -1, -1.0, 1.0))
    if product == "weight_binary":  # w == 0 -> -x, anything else -> x
        return np.where(W == 0, -1.0, 1.0)
    raise RTLUnsupportedError(f"layer {layer.name}: hls4ml's '{product}' product is not mirrored in RTL")


def _latency_matmul(x: FixedVariableArray, W: np.ndarray, b: np.ndarray, acc: FixedType) -> FixedVariableArray:
    """Rows of ``x`` (…, n_in) through ``dense_latency``'s accumulation, ending in ``accum_t``."""
    n_in = W.shape[0]
    rows = x.reshape(-1, n_in)
    b_acc = acc.quantize(b)  # acc[i] = (accum_t) biases[i]
    f_x = np.array([v.kif[2] for v in rows._vars.ravel()]).reshape(rows.shape)
    f_w = arith.constant_fraction_bits(W)
    exact = bool(np.all(np.where(W[None] != 0, f_x[:, :, None] + f_w[None] <= acc.fractional, True)))
    if exact and acc.overflow != "WRAP":
        # A saturating accumulator adds exactly too if no partial sum can leave its range;
        # an unsigned one clips every negative partial sum, so it keeps the chain.
        reach = np.array([[max(abs(float(v.low)), abs(float(v.high))) for v in row] for row in rows._vars])
        limit = min(-acc.bounds[0], acc.bounds[1]) if acc.signed else -1.0
        exact = bool(np.all(np.abs(b_acc) + reach @ np.abs(W) <= limit))
    if exact:
        return arith.cast(rows @ W + b_acc, acc).reshape(*x.shape[:-1], W.shape[1])
    out = np.empty((rows.shape[0], W.shape[1]), dtype=object)
    for r, row in enumerate(rows._vars):
        for k in range(W.shape[1]):
            total = arith.constant(b_acc[k])
            terms = [arith.cast_variable(row[j] * float(W[j, k]), acc) for j in range(n_in) if W[j, k] != 0]
            if acc.overflow == "WRAP":  # modular: any order, as a tree
                total = arith.cast_variable(sum(terms, total), acc)
            else:
                for term in terms:  # saturating: the C++ order, one assignment per step
                    total = arith.cast_variable(total + term, acc)
            out[r, k] = total
    return arith.array(out.reshape(*x.shape[:-1], W.shape[1]))


def _da_matmul(layer, x: FixedVariableArray, W: np.ndarray, b: np.ndarray | None, in_type: FixedType) -> FixedVariableArray:
    """hls4ml's DA kernel for this layer (same da4ml call as ``DistributedArithmeticCodegen``),
    replayed on every row of ``x``."""
    n_in, n_out = W.shape
    k, i, f = arith.kif(in_type)
    kernel_in = FixedVariableArray.from_kif(np.full(n_in, k), np.full(n_in, i), np.full(n_in, f), arith.HW,
                                            solver_options=arith.SOLVER_OPTIONS)
    kernel_out = kernel_in @ W
    if b is not None:
        kernel_out = kernel_out + b
    solution = comb_trace(kernel_in, kernel_out)
    rows = x.reshape(-1, n_in)._vars
    out = np.array([solution(row) for row in rows], dtype=object)
    layer.set_attr("rtl_da_kernel_cost", float(solution.cost))
    return arith.array(out.reshape(*x.shape[:-1], n_out))


def _patches(x: FixedVariableArray, kh: int, kw: int, sh: int, sw: int, pads: tuple[int, int, int, int],
             pad_value: float) -> np.ndarray:
    """im2col of (H, W, C) into (OH, OW, kh*kw*C) in hls4ml's (row, column, channel) order;
    padding cells hold ``pad_value``."""
    top, bottom, left, right = pads
    H, W, C = x.shape
    padded = np.empty((H + top + bottom, W + left + right, C), dtype=object)
    padded[...] = arith.constant(pad_value)
    padded[top:top + H, left:left + W] = x._vars
    OH, OW = (padded.shape[0] - kh) // sh + 1, (padded.shape[1] - kw) // sw + 1
    out = np.empty((OH, OW, kh * kw * C), dtype=object)
    for oy in range(OH):
        for ox in range(OW):
            out[oy, ox] = padded[oy * sh:oy * sh + kh, ox * sw:ox * sw + kw, :].ravel()
    return out


def _window(layer, conv: bool) -> tuple[int, int, int, int, tuple[int, int, int, int]]:
    """Kernel (or pool) height/width, strides and pads; 1-D layers have height 1."""
    size = "filt" if conv else "pool"
    if layer.get_attr(f"{size}_height") is None:  # 1-D
        return (1, layer.get_attr(f"{size}_width"), 1, layer.get_attr("stride_width"),
                (0, 0, layer.get_attr("pad_left"), layer.get_attr("pad_right")))
    return (layer.get_attr(f"{size}_height"), layer.get_attr(f"{size}_width"), layer.get_attr("stride_height"),
            layer.get_attr("stride_width"),
            tuple(layer.get_attr(p) for p in ("pad_top", "pad_bottom", "pad_left", "pad_right")))


def _as_2d(x: FixedVariableArray) -> FixedVariableArray:
    return x.reshape(1, *x.shape) if len(x.shape) == 2 else x


# --------------------------------------------------------------------------- mirrors


def mirror_dense_or_conv(env: Env, layer, x: FixedVariableArray) -> FixedVariableArray:
    where = f"layer {layer.name}"
    res = env.type(output_type_name(layer), where)
    in_type = env.type(input_type_name(layer), where)
    if layer.get_attr("data_format", "channels_last") != "channels_last":
        raise RTLUnsupportedError(f"{where}: only channels_last data is mirrored in RTL")
    da = layer.name in env.da_layers
    if not da and layer_strategy_key(layer) != LATENCY_KEY:
        # Resource accumulates in another order over reuse_factor cycles: not mirrored (yet).
        raise RTLUnsupportedError(f"{where}: strategy {layer.get_attr('strategy')}; RTL mirrors Latency and "
                                  f"{DA_STRATEGY} layers: build with --strategy Latency for RTL")
    if da:  # DA layers compute with the unquantized weights; hls4ml writes no weight file for them
        W = np.asarray(layer.weights["weight"].data, dtype=np.float64)
        b = np.asarray(layer.weights["bias"].data, dtype=np.float64) if "bias" in layer.weights else None
    else:
        W = _weights(env, layer, "weight")
        b = _weights(env, layer, "bias") if "bias" in layer.weights else np.zeros(W.shape[-1])
        acc = env.type(layer.get_attr("accum_t").name, where)
    if env.probe is None:
        return x
    W = W.reshape(-1, W.shape[-1])
    if layer.class_name == "Dense":
        rows = x.reshape(1, -1)
    else:
        kh, kw, sh, sw, pads = _window(layer, conv=True)
        rows = arith.array(_patches(_as_2d(x), kh, kw, sh, sw, pads, 0.0))
    if da:
        y = _da_matmul(layer, rows, W, b, in_type)
    else:
        y = _latency_matmul(rows, _effective_weights(layer, W), b, acc)
    return arith.cast(y, res).reshape(*layer.get_output_variable().shape)


def mirror_activation(env: Env, layer, x: FixedVariableArray) -> FixedVariableArray:
    where = f"layer {layer.name}"
    res = env.type(output_type_name(layer), where)
    activation = layer.get_attr("activation", "").lower()
    if activation == "relu":  # if (x > 0) res = x; else res = 0;
        return x if env.probe is None else arith.cast(x.relu(), res)
    if activation == "linear":
        return x if env.probe is None else arith.cast(x, res)
    return mirror_elementwise(env, layer, x)


def mirror_elementwise(env: Env, layer, x: FixedVariableArray) -> FixedVariableArray:
    """Any element-wise activation: a table of the C++ function's output for every word."""
    where = f"layer {layer.name}"
    precision = layer.get_input_variable().type.precision
    bits = int(getattr(precision, "width", 0))
    if not 0 < bits <= tables.MAX_INPUT_BITS:
        raise RTLUnsupportedError(
            f"{where}: {layer.get_attr('activation')} on {bits}-bit inputs; RTL tables take at most "
            f"{tables.MAX_INPUT_BITS}-bit inputs (narrow the layer's input precision)")
    key = f"{layer.name}.map"
    in_type = env.type(input_type_name(layer), where)
    env.type(output_type_name(layer), where)
    if env.probe is None:
        env.request.elementwise.append(ElementwiseMap(
            key, layer.get_attr("function_cpp"), layer.get_input_variable().name, input_type_name(layer),
            layer.get_output_variable().name, output_type_name(layer), int(layer.get_input_variable().size()), bits))
        return x
    outputs = env.array(key, (1 << bits,))
    return tables.apply_elementwise(x, in_type, outputs, where)


def mirror_softmax(env: Env, layer, x: FixedVariableArray) -> FixedVariableArray:
    """``softmax_stable``/``softmax_latency`` of nnet_activation.h on one slice."""
    where = f"layer {layer.name}"
    implementation = layer.get_attr("implementation", "stable")
    if implementation not in ("stable", "latency"):
        raise RTLUnsupportedError(f"{where}: softmax implementation '{implementation}' is not mirrored in RTL")
    if layer.get_attr("n_inner", 1) != 1 or layer.get_attr("n_outer", 1) != 1:
        raise RTLUnsupportedError(f"{where}: softmax over an inner axis is not mirrored in RTL")
    # hls4ml names the config struct {activation}_config{index} (SoftmaxConfigTemplate).
    config = f"{layer.get_attr('activation')}_config{layer.index}"
    data_t = input_type_name(layer)
    address = f"{config}::inp_norm_t" if implementation == "stable" else data_t
    acc = env.type(f"{config}::accum_t", where)
    inv_inp = env.type(f"{config}::inv_inp_t", where)
    address_t = env.type(address, where)
    res = env.type(output_type_name(layer), where)
    key = layer.name
    if env.probe is None:
        env.request.softmax.append(SoftmaxTables(key, config, address, implementation == "stable"))
        return x
    exp_table = env.array(f"{key}.exp_table", (-1,))
    inv_table = env.array(f"{key}.inv_table", (-1,))
    values = x.ravel()
    if implementation == "stable":
        top = np.amax(values)  # Op_max reduce: the largest value
        address_values = arith.cast(arith.array(np.array([top - v for v in values._vars], dtype=object)), address_t)
    else:
        address_values = values
    # exp_res[i] = exp_table[top bits of the address] (an exp_table_t assigned to accum_t)
    exp_res = [tables.lookup_top_bits(v, address_t, acc.quantize(exp_table), where) for v in address_values._vars]
    exp_sum = arith.cast_variable(_hls_reduce_add(exp_res, acc), inv_inp)
    inv = tables.lookup_top_bits(exp_sum, inv_inp, inv_table, where)
    return arith.cast(arith.array(np.array([e * inv for e in exp_res], dtype=object)), res).reshape(*x.shape)


def _hls_reduce_add(terms: list, t: FixedType):
    """nnet::reduce with Op_add<T>: a balanced tree split at the largest power of two
    below ``N``, each sum assigned to ``T`` (which matters when T saturates)."""
    n = len(terms)
    if n == 1:
        return terms[0]
    if n == 2:
        return arith.cast_variable(terms[0] + terms[1], t)
    left = 2 ** math.floor(math.log2(n - 1))
    return arith.cast_variable(_hls_reduce_add(terms[:left], t) + _hls_reduce_add(terms[left:], t), t)


def mirror_pooling(env: Env, layer, x: FixedVariableArray) -> FixedVariableArray:
    """``pooling{1,2}d_cl``/``global_pooling*_cl``: max or mean over each window, assigned
    to ``accum_t``, then ``res_T``."""
    where = f"layer {layer.name}"
    in_type = env.type(input_type_name(layer), where)
    acc = env.type(layer.get_attr("accum_t").name, where)
    res = env.type(output_type_name(layer), where)
    if env.probe is None:
        return x
    op = layer.get_attr("pool_op")
    x2 = _as_2d(x)
    if layer.class_name.startswith("Global"):
        kh, kw, sh, sw, pads = x2.shape[0], x2.shape[1], 1, 1, (0, 0, 0, 0)
    else:
        kh, kw, sh, sw, pads = _window(layer, conv=False)
    C = x2.shape[-1]
    if op == "Max":
        # pad_val<T, Max>: the type's most significant bit set.
        pad = -(2.0 ** (in_type.integer - 1)) if in_type.signed else 2.0 ** (in_type.integer - 1)
        windows = _patches(x2, kh, kw, sh, sw, pads, pad).reshape(-1, kh * kw, C)
        pooled = np.array([[_max(w[:, c]) for c in range(C)] for w in windows], dtype=object)
        y = arith.cast(arith.array(pooled), acc)
    elif op == "Average":
        y = _average(layer, x2, kh, kw, sh, sw, pads, acc)
    else:
        raise RTLUnsupportedError(f"{where}: pooling '{op}' is not mirrored in RTL")
    return arith.cast(y, res).reshape(*layer.get_output_variable().shape)


def _max(values):
    best = values[0]
    for v in values[1:]:
        best = v.max_of(best)
    return best


def _average(layer, x2: FixedVariableArray, kh, kw, sh, sw, pads, acc: FixedType) -> FixedVariableArray:
    """``accum_t y = 0; y += x[i] ...; y /= length``: ap_fixed division by an unsigned
    count keeps ``accum_t``'s step and truncates toward zero. Only power-of-two counts
    are mirrored (a shift); ``count_pad`` decides whether padding cells count."""
    where = f"layer {layer.name}"
    marker = np.zeros(x2.shape[:2] + (1,), dtype=object)
    marker[...] = arith.constant(1.0)
    counts = _patches(arith.array(marker), kh, kw, sh, sw, pads, 0.0).reshape(-1, kh * kw)
    windows = _patches(x2, kh, kw, sh, sw, pads, 0.0).reshape(-1, kh * kw, x2.shape[-1])
    out = np.empty((windows.shape[0], windows.shape[2]), dtype=object)
    for n, window in enumerate(windows):
        length = kh * kw if layer.get_attr("count_pad", False) else int(sum(float(v.low) for v in counts[n]))
        if length & (length - 1):
            raise RTLUnsupportedError(f"{where}: average pooling over {length} values; RTL mirrors power-of-two windows only")
        for c in range(window.shape[1]):
            total = arith.constant(0.0)
            for v in window[:, c]:
                total = arith.cast_variable(total + v, acc)
            out[n, c] = arith.cast_variable(_divide_toward_zero(total, length, acc.fractional), acc)
    return arith.array(out)


def _divide_toward_zero(v, length: int, f: int):
    """``v / length`` at step ``2**-f``, rounded toward zero, for a power-of-two length."""
    q = v * (1.0 / length)
    k, i, _ = q.kif
    down = q.quantize(k, i, f, "WRAP", "TRN")
    if q.low >= 0:
        return down
    up = -((-q).quantize(*(-q).kif[:2], f, "WRAP", "TRN"))
    return q.msb_mux(up, down)


def mirror_batchnorm(env: Env, layer, x: FixedVariableArray) -> FixedVariableArray:
    """``normalize``: res = x * scale + bias, exact, assigned to ``res_T``."""
    where = f"layer {layer.name}"
    res = env.type(output_type_name(layer), where)
    scale = _weights(env, layer, "scale")
    bias = _weights(env, layer, "bias")
    if env.probe is None:
        return x
    return arith.cast(x * scale.reshape(-1) + bias.reshape(-1), res)


def mirror_reshape(env: Env, layer, x: FixedVariableArray) -> FixedVariableArray:
    # io_parallel reshapes are aliases of the same array (auto& layerN_out = layerM_out).
    return x.reshape(*layer.get_output_variable().shape)


MIRRORS: dict[str, Callable[[Env, Any, FixedVariableArray], FixedVariableArray]] = {
    "Dense": mirror_dense_or_conv,
    "Conv1D": mirror_dense_or_conv,
    "Conv2D": mirror_dense_or_conv,
    "Activation": mirror_activation,
    "ParametrizedActivation": mirror_elementwise,
    "HardActivation": mirror_elementwise,
    "Softmax": mirror_softmax,
    "Pooling1D": mirror_pooling,
    "Pooling2D": mirror_pooling,
    "GlobalPooling1D": mirror_pooling,
    "GlobalPooling2D": mirror_pooling,
    "BatchNormalization": mirror_batchnorm,
    "Reshape": mirror_reshape,
}


def check_graph(graph) -> None:
    """Refuse, in one line naming the layer, what no mirror handles."""
    if graph.config.get_config_value("IOType") != "io_parallel":
        raise RTLUnsupportedError("RTL mirrors io_parallel projects only (this one is io_stream): build with "
                                  "--io-type io_parallel --strategy Latency for RTL (the fit keeps both then)")
    for layer in graph.get_layers():
        if layer.class_name == "Input":
            continue
        if layer.class_name not in MIRRORS:
            raise RTLUnsupportedError(f"layer {layer.name} ({layer.class_name}) has no RTL mirror "
                                      f"(mirrored: {', '.join(sorted(MIRRORS))})")
        if len(layer.inputs) != 1:
            raise RTLUnsupportedError(f"layer {layer.name} has {len(layer.inputs)} inputs; RTL mirrors single-input layers")
    if len(graph.get_input_variables()) != 1 or len(graph.get_output_variables()) != 1:
        raise RTLUnsupportedError("RTL mirrors single-input, single-output models")


def _walk(graph, env: Env) -> TracedModel:
    tensors: dict[str, FixedVariableArray] = {}
    inputs = None
    in_type = None
    notes = []
    for layer in graph.get_layers():
        if layer.class_name == "Input":
            in_type = env.type(output_type_name(layer), f"input {layer.name}")
            shape = tuple(int(d) for d in layer.get_output_variable().shape)
            inputs = arith.variables_of(in_type, shape) if env.probe is not None else arith.variables_of(FixedType(1, 1), shape)
            tensors[layer.outputs[0]] = inputs
            continue
        x = tensors[layer.inputs[0]]
        y = MIRRORS[layer.class_name](env, layer, x)
        if env.probe is None:  # request pass: mirrors only note what they need
            y = arith.variables_of(FixedType(1, 1), tuple(int(d) for d in layer.get_output_variable().shape))
        tensors[layer.outputs[0]] = y
        note = {"name": layer.name, "class": layer.class_name}
        if layer.name in env.da_layers:
            note["strategy"] = DA_STRATEGY
            note["da_kernel_cost"] = layer.get_attr("rtl_da_kernel_cost")
        notes.append(note)
    output = tensors[list(graph.get_layers())[-1].outputs[0]]
    return TracedModel(inputs, output, in_type, notes)


def probe_request(graph, da_layers: set[str]) -> ProbeRequest:
    """Pass 1: what the mirrors need from the project's C++."""
    check_graph(graph)
    env = Env(None, da_layers)
    _walk(graph, env)
    return env.request


def trace_graph(graph, probe: ProbeResult, da_layers: set[str]) -> TracedModel:
    """Pass 2: the whole network on da4ml variables."""
    check_graph(graph)
    return _walk(graph, Env(probe, da_layers))
