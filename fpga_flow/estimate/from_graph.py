"""Producer: the :class:`Design` of an hls4ml 1.3.0 ModelGraph (after conversion, before
or without writing the project), for a board and the build's HLS settings.

Types are read after hls4ml's passes (the ones the C++ declares); weights are stored in
their declared type to count non-zero weights and their CSD digits. A layer class this
module does not know becomes kind ``unknown``: it is named in the estimate, never
counted as free.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fpga_flow.boards import Board
from fpga_flow.estimate.design import (
    RECURRENT_KINDS,
    TABLE_FUNCTIONS,
    Design,
    LayerDesign,
    NumberType,
    Product,
    Table,
    constant_profile,
    digit_counts,
    parse_type,
)
from fpga_flow.layers import LATENCY, LATENCY_KEY, RESOURCE_KEY, is_distributed_arithmetic, strategy_key

# hls4ml IR class -> kind.
_KINDS = {
    "Dense": "dense", "Conv1D": "conv1d", "Conv2D": "conv2d", "PointwiseConv1D": "pointwise_conv1d",
    "PointwiseConv2D": "pointwise_conv2d", "DepthwiseConv1D": "depthwise_conv1d", "DepthwiseConv2D": "depthwise_conv2d",
    "SeparableConv1D": "separable_conv1d", "SeparableConv2D": "separable_conv2d", "Pooling1D": "pooling1d",
    "Pooling2D": "pooling2d", "GlobalPooling1D": "global_pooling1d", "GlobalPooling2D": "global_pooling2d",
    "BatchNormalization": "batchnorm", "Activation": "activation", "ParametrizedActivation": "activation",
    "HardActivation": "activation", "PReLU": "activation", "Softmax": "softmax", "ZeroPadding1D": "zeropad1d",
    "ZeroPadding2D": "zeropad2d", "LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn", "QMHSA": "attention",
    "Merge": "merge", "Concatenate": "concatenate", "Reshape": "reshape", "Transpose": "reshape", "Repack": "reshape",
    # QKeras QConv2DBatchnorm: a Conv2D whose weights hls4ml folded with the batchnorm's.
    "Conv2DBatchnorm": "conv2d",
    # ApplyAlpha: a QKeras quantizer's scale and bias, a batchnorm in hls4ml's C++.
    "ApplyAlpha": "batchnorm",
    "Resize": "upsampling", "Cropping1D": "cropping1d", "Cropping2D": "cropping2d", "Clone": "clone",
    # HGQ's quantizer steps and its lookup-table activation.
    "FixedPointQuantizer": "quantizer", "UnaryLUT": "activation",
}
_GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
_ELEMENTWISE = {"lstm": 3, "gru": 3, "simple_rnn": 0}


def _type(value: Any) -> NumberType | None:
    """A NamedType, a precision object, or a variable's type, as a NumberType."""
    precision = getattr(value, "precision", value)
    definition = getattr(precision, "definition_cpp", None)
    return parse_type(definition()) if callable(definition) else None


def _weight_type(layer, name: str) -> NumberType | None:
    weight = layer.weights.get(name)
    return _type(weight.type) if weight is not None else None


def _stored(layer, name: str) -> tuple[int, int, list[list[int]] | None]:
    """(weights, non-zero weights once stored, their CSD digits and bits) of one weight array."""
    weight = layer.weights.get(name)
    if weight is None:
        return 0, 0, None
    number = _type(weight.type)
    data = np.asarray(weight.data)
    if number is None:
        return int(data.size), int(np.count_nonzero(data)), None
    rounding = str(getattr(getattr(weight.type, "precision", None), "rounding_mode", "") or "").upper()
    profile = constant_profile(data, number, "rnd" if "RND" in rounding else "trn")
    return int(data.size), sum(digit_counts(profile)), profile


def _strategy(layer, default: str) -> str:
    text = strategy_key(layer.get_attr("strategy", default) or default)
    return RESOURCE_KEY if text.startswith(RESOURCE_KEY) else LATENCY_KEY


def _product(layer, name: str, weight: str, n_in: int, n_out: int, positions: int, parallel: int, strategy: str,
             reuse: int, input_type: NumberType | None, n_weights: int | None = None) -> Product:
    size, nonzero, profile = _stored(layer, weight)
    latency = strategy == LATENCY_KEY and profile is not None
    return Product(
        name=name, n_in=max(1, n_in), n_out=max(1, n_out), positions=max(1, positions), parallel=max(1, parallel),
        n_weights=n_weights or size or n_in * n_out, n_nonzero=nonzero, constant=strategy == LATENCY_KEY,
        weight_type=_weight_type(layer, weight), input_type=input_type, accum_type=_type(layer.get_attr("accum_t")),
        reuse_factor=max(1, reuse), weight_digits=digit_counts(profile) if latency else None,
        weight_profile=profile if latency else None,
        zero_weights=_zeros(layer, weight),
    )


def _zeros(layer, name: str) -> int | None:
    """The zeros hls4ml counted in a weight array (``nzeros``, written as the config's ``n_zeros``)."""
    weight = layer.weights.get(name)
    zeros = getattr(weight, "nzeros", None) if weight is not None else None
    return int(zeros) if zeros is not None and zeros >= 0 else None


def _conv(layer, kind: str, io_type: str, strategy: str, reuse: int, input_type) -> tuple[list[Product], dict]:
    get = layer.get_attr
    spatial_out = [get(a) for a in ("out_height", "out_width") if get(a) is not None]
    spatial_in = [get(a) for a in ("in_height", "in_width") if get(a) is not None]
    kernel = [get(a) for a in ("filt_height", "filt_width") if get(a) is not None]
    stride = [get(a) for a in ("stride_height", "stride_width") if get(a) is not None]
    channels, filters = int(get("n_chan", 1)), int(get("n_filt", 1) or get("n_chan", 1))
    positions = math.prod(spatial_out) if spatial_out else 1
    partitions = int(get("n_partitions", positions) or positions)
    parallel = max(1, positions // partitions) if io_type == "io_parallel" else 1
    window = math.prod(kernel) if kernel else 1
    products = []
    if kind.startswith("separable"):
        products.append(_product(layer, "depthwise", "depthwise", window * channels, channels, positions, parallel,
                                 strategy, reuse, input_type, n_weights=window * channels))
        products.append(_product(layer, "pointwise", "pointwise", channels, filters, positions, parallel, strategy,
                                 reuse, _type(get("dw_output_t")) or input_type))
    elif kind.startswith("depthwise"):
        products.append(_product(layer, "kernel", "weight", window * channels, channels, positions, parallel,
                                 strategy, reuse, input_type, n_weights=window * channels))
        filters = channels
    else:
        products.append(_product(layer, "kernel", "weight", window * channels, filters, positions, parallel, strategy,
                                 reuse, input_type))
    geometry = {"kernel": [int(k) for k in kernel], "stride": [int(s) for s in stride], "channels": channels,
                "in_elements": math.prod(spatial_in or [1]) * channels, "out_elements": positions * filters}
    return products, geometry


def _recurrent(layer, kind: str, strategy: str, reuse: int, input_type) -> tuple[list[Product], dict]:
    get = layer.get_attr
    state, n_in, sequence = int(get("n_out")), int(get("n_in")), int(get("n_timesteps", 1) or 1)
    gates = _GATES[kind]
    products = [
        _product(layer, "kernel", "weight", n_in, gates * state, sequence, 1, strategy, reuse, input_type),
        _product(layer, "recurrent", "recurrent_weight", state, gates * state, sequence, 1, strategy,
                 int(get("recurrent_reuse_factor", reuse) or reuse), input_type),
    ]
    if _ELEMENTWISE[kind]:
        elementwise = _ELEMENTWISE[kind] * state
        # hls4ml unrolls the gates' element-wise products whatever the reuse factor.
        products.append(Product(name="gates", n_in=1, n_out=elementwise, positions=sequence, n_weights=elementwise,
                                n_nonzero=elementwise, constant=False, weight_type=input_type, input_type=input_type,
                                accum_type=_type(get("accum_t"))))
    out_sequence = sequence if get("return_sequences", False) else 1
    fields = {"sequence": sequence, "state": state, "channels": n_in, "in_elements": n_in * sequence,
              "out_elements": state * out_sequence}
    return products, fields


def _attention(layer, reuse: int, input_type, io_type: str) -> tuple[list[Product], dict]:
    """Our QMHSA kernel (fpga_flow.attention): every multiplication unrolled, shared by
    II = R. In io_parallel the projections are unrolled for every token; in io_stream
    they are computed one token per iteration of a loop pipelined at II = R, so one
    token's projection hardware serves them all (as a pointwise convolution's kernel in
    io_stream serves every pixel)."""
    from fpga_flow.attention import multiplications  # deferred: TensorFlow (fpga_flow.attention.layer)

    get = layer.get_attr
    heads, length, width, key = (int(get(a)) for a in ("num_heads", "seq_len", "embed_dim", "key_dim"))
    parts = multiplications(heads, length, width, key)
    accum = _type(get("accum_t"))
    copies = length if io_type == "io_parallel" else 1
    products = []
    for name in ("wq", "wk", "wv"):
        product = _product(layer, f"projection_{name}", name, width, heads * key, length, copies, LATENCY_KEY, reuse,
                           input_type)
        products.append(product)
    products.append(_product(layer, "output", "wo", heads * key, width, length, copies, LATENCY_KEY, reuse,
                             _type(get("proj_t"))))
    # (inputs per sum, first operand, second operand) of the computed products; softmax is
    # each exponential times the inverse of their sum.
    computed = {"scores": (key, _type(get("proj_t")), _type(get("proj_t"))),
                "scaling": (1, _type(get("score_t")), _type(get("score_t"))),
                "softmax": (1, _weight_type(layer, "exp_rom"), _weight_type(layer, "inv_rom")),
                "context": (length, _type(get("prob_t")), _type(get("prob_t")))}
    for name, (n_in, operand, second) in computed.items():
        count = parts[name]
        products.append(Product(name=name, n_in=n_in, n_out=max(1, count // n_in), n_weights=count, n_nonzero=count,
                                constant=False, weight_type=second, input_type=operand, accum_type=accum,
                                reuse_factor=max(1, reuse)))
    assert sum(p.n_weights * (p.positions if p.constant else 1) for p in products) == sum(parts.values()), \
        "attention products disagree with fpga_flow.attention.multiplications"
    tables = [Table(name=name, size=int(np.asarray(layer.weights[name].data).size),
                    width=_weight_type(layer, name).width) for name in ("exp_rom", "inv_rom") if name in layer.weights]
    return products, {"tables": tables, "in_elements": length * width, "out_elements": length * width,
                      "channels": width, "sequence": length}


def _tables(layer, kind: str) -> list[Table]:
    get = layer.get_attr
    function = str(get("activation", "") or "").lower()
    if kind != "softmax" and function not in TABLE_FUNCTIONS and kind not in RECURRENT_KINDS:
        return []
    tables = []
    for name in (("exp_table", "inv_table") if kind == "softmax" else ("table",)):
        number = _type(get(f"{name}_t"))
        size = int(get(f"{name}_size", 0) or get("table_size", 0) or 0)
        if number is not None and size:
            tables.append(Table(name=name, size=size, width=number.width))
    if kind in RECURRENT_KINDS:
        # Recurrent layers look up the recurrent activation (sigmoid) and the activation (tanh).
        tables = [Table(name=f"{role}_{t.name}", size=t.size, width=t.width) for t in tables for role in ("recr", "act")]
    return tables


def _layer(layer, model_strategy: str, io_type: str) -> LayerDesign:
    cls = layer.class_name
    kind = _KINDS.get(cls, "unknown")
    get = layer.get_attr
    if kind == "upsampling":
        kind = "upsampling2d" if get("in_height") is not None else "upsampling1d"
    input_var = layer.get_input_variable() if layer.inputs else None
    output_var = layer.get_output_variable()
    input_type, result_type = (_type(input_var.type) if input_var is not None else None), _type(output_var.type)
    in_shape = [int(d) for d in input_var.shape] if input_var is not None else []
    out_shape = [int(d) for d in output_var.shape]
    strategy = _strategy(layer, model_strategy)
    reuse = int(get("reuse_factor", 1) or 1)
    fields: dict[str, Any] = {"in_elements": math.prod(in_shape) if in_shape else 0,
                              "out_elements": math.prod(out_shape) if out_shape else 0}
    products: list[Product] = []
    notes: list[str] = []
    function = None
    if kind == "dense":
        products.append(_product(layer, "kernel", "weight", int(get("n_in")), int(get("n_out")), 1, 1, strategy,
                                 reuse, input_type))
    elif kind.split("_")[-1] in ("conv1d", "conv2d") or kind.startswith(("pointwise", "depthwise", "separable")):
        products, geometry = _conv(layer, kind, io_type, strategy, reuse, input_type)
        fields.update(geometry)
    elif kind in RECURRENT_KINDS:
        products, recurrent_fields = _recurrent(layer, kind, strategy, reuse, input_type)
        fields.update(recurrent_fields)
    elif kind == "attention":
        products, attention_fields = _attention(layer, reuse, input_type, io_type)
        fields.update(attention_fields)
    elif kind == "batchnorm":
        scale = layer.weights.get("scale")
        count = int(np.asarray(scale.data).size) if scale is not None else fields["in_elements"]
        positions = max(1, fields["in_elements"] // max(1, count)) if io_type == "io_stream" else 1
        per_position = count if io_type == "io_stream" else fields["in_elements"]
        products.append(Product(name="scale", n_in=1, n_out=max(1, per_position), positions=positions,
                                n_weights=max(1, per_position), n_nonzero=max(1, per_position),
                                constant=strategy == LATENCY_KEY, weight_type=_weight_type(layer, "scale"),
                                input_type=input_type, reuse_factor=reuse))
    elif kind.startswith("pooling"):
        fields["kernel"] = [int(get(a)) for a in ("pool_height", "pool_width") if get(a) is not None]
        fields["stride"] = [int(get(a)) for a in ("stride_height", "stride_width") if get(a) is not None]
        function = str(get("pool_op", "max")).lower()
    elif kind.startswith("global_pooling"):
        function = str(get("pool_op", "max")).lower()
    elif kind == "activation":
        function = str(get("activation", "") or "").lower() or ("unary_lut" if cls == "UnaryLUT" else None)
    elif kind == "merge":
        function = str(get("op", "add") or "add").lower()
        if function in ("multiply", "dot"):
            # Element-wise (or dot) products of two computed operands (nnet_merge.h).
            operand = input_type
            n_in = fields["in_elements"] if function == "dot" else 1
            n_out = max(1, fields["in_elements"] // n_in)
            products.append(Product(name=function, n_in=n_in, n_out=n_out, n_weights=n_in * n_out,
                                    n_nonzero=n_in * n_out, constant=False, weight_type=operand, input_type=operand,
                                    accum_type=result_type, reuse_factor=reuse))
    elif kind == "softmax":
        function = str(get("implementation", "stable")).lower()
        elements = (out_shape[-1] if io_type == "io_stream" and out_shape else fields["out_elements"]) or 1
        exp_type, inv_type = _type(get("exp_table_t")), _type(get("inv_table_t"))
        products.append(Product(name="normalize", n_in=1, n_out=elements, n_weights=elements, n_nonzero=elements,
                                constant=False, weight_type=inv_type, input_type=exp_type, reuse_factor=reuse))
    elif kind == "unknown":
        notes.append(f"hls4ml layer class {cls} is not one the estimator prices")
    if products and is_distributed_arithmetic(get("strategy", model_strategy)):
        # hls4ml's DA pass replaces the layer's weights by da4ml's adder graph (the graph
        # keeps no weights to count) and no calibration pair uses it: named, not priced.
        kind, products = "unknown", []
        notes.append(f"{cls} with distributed_arithmetic is not priced (da4ml's adder graph; "
                     "build --rtl gives its open-synthesis figures)")
    channels = in_shape[-1] if in_shape else 1
    fields.setdefault("channels", channels)
    out_pack = out_shape[-1] if io_type == "io_stream" and out_shape else 1
    if io_type == "io_stream":
        fields.setdefault("in_positions", max(1, fields["in_elements"] // max(1, channels)))
        fields.setdefault("out_positions", max(1, fields["out_elements"] // max(1, out_pack)))
    # A layer of several outputs (io_stream's Clone) is priced at its deepest output FIFO:
    # fpga_flow.stream_depths makes the one into a ResNet skip deeper than the others.
    pragmas = [getattr(layer.model.output_vars.get(name), "pragma", None) for name in layer.outputs]
    depths = [int(pragma[1]) for pragma in pragmas if isinstance(pragma, tuple) and pragma and pragma[0] == "stream"]
    depth = max(depths) if depths else None
    tables = fields.pop("tables", None) or _tables(layer, kind)
    implementation = get("implementation", None)
    return LayerDesign(
        name=layer.name, kind=kind, source_class=cls, function=function, strategy=strategy, io_type=io_type,
        reuse_factor=reuse, implementation=str(implementation).lower() if implementation else None,
        input_type=input_type, result_type=result_type, products=products, tables=tables, fifo_depth=depth,
        out_pack=out_pack, notes=notes, **fields,
    )


def describe_graph(graph, board: Board, clock_period_ns: float) -> Design:
    """The :class:`Design` of an hls4ml ModelGraph converted for ``board``."""
    import hls4ml

    config = graph.config
    io_type = str(config.get_config_value("IOType") or "io_parallel")
    model_strategy = strategy_key(config.model_strategy or LATENCY)
    layers = [_layer(layer, model_strategy, io_type) for layer in graph.get_layers() if layer.class_name != "Input"]
    major, minor = hls4ml.__version__.split(".")[:2]
    return Design(
        name=str(config.get_project_name()), source="hls4ml ModelGraph", backend=board.backend, part=board.part, family=board.family,
        clock_period_ns=clock_period_ns, io_type=io_type,
        strategy=RESOURCE_KEY if model_strategy.startswith(RESOURCE_KEY) else LATENCY_KEY,
        reuse_factor=int(config.model_rf or 1), pipeline_style=str(config.pipeline_style or "pipeline"),
        hls4ml_version=f"{major}.{minor}", hls_tool="vitis_hls" if board.backend == "Vitis" else "vivado_hls",
        available={key: value for key, value in board.resources.model_dump().items() if key != "URAM"},
        layers=layers,
    )
