"""Producer: a real hls4ml project as an estimate pair describes it (``project.json``).

A pair folder holds ``project.json`` (every layer's config-struct fields, resolved types,
weight counts and the top function's pragmas, read from the generated firmware),
optionally ``model/`` (the Keras model the project was converted from) and
``reports/`` (read by :mod:`fpga_flow.estimate.truth`, never here). ``project.json``
was written by a collector over projects of hls4ml 0.4 to 1.2, so fields are missing
or misplaced in some: every read here says what it falls back to.

The weights' CSD digits come from the Keras model when the pair has one and its
weights, stored in the declared type, give exactly the non-zero count ``project.json``
reports; otherwise they are unknown (None) and the cost model uses its fallback.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from fpga_flow.errors import UserInputError
from fpga_flow.estimate.design import (
    TABLE_FUNCTIONS,
    Design,
    LayerDesign,
    NumberType,
    Product,
    Table,
    constant_profile,
    digit_counts,
    family_of_part,
    parse_type,
)
from fpga_flow.layers import LATENCY, LATENCY_KEY, RESOURCE_KEY, STRATEGY_KEYS, strategy_key

PROJECT_FILE = "project.json"
_HGQ_QUANTIZER = re.compile(r"h_\w*quantiz")
_STREAM_PRAGMA = re.compile(r"STREAM\s+variable=(\w+)\s+depth=(\d+)")
_VERSION = re.compile(r"v(\d+)\.(\d+)")
_AVAILABLE = {"LUT": "LUT", "FF": "FF", "DSP48E": "DSP", "DSP": "DSP", "BRAM_18K": "BRAM_18K"}
_KINDS = {
    "dense": "dense", "conv1d": "conv1d", "conv2d": "conv2d", "separable_conv1d": "separable_conv1d",
    "separable_conv2d": "separable_conv2d", "depthwise_conv1d": "depthwise_conv1d",
    "depthwise_conv2d": "depthwise_conv2d", "pointwise_conv1d": "pointwise_conv1d",
    "pointwise_conv2d": "pointwise_conv2d", "pooling1d": "pooling1d", "pooling2d": "pooling2d",
    "batchnorm": "batchnorm", "activation": "activation", "softmax": "softmax", "gru": "gru", "lstm": "lstm",
    "simple_rnn": "simple_rnn", "merge": "merge",
}
# hls4ml 0.4's large-layer dense keeps its weights in arrays, as the Resource strategy does.
_RESOURCE_FUNCTIONS = ("dense_large",)
RECURRENT_GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
# Element-wise products of the gates per state element and time step: GRU r*(Uh), z*h,
# (1-z)*h~; LSTM f*c, i*g, o*tanh(c).
RECURRENT_ELEMENTWISE = {"lstm": 3, "gru": 3, "simple_rnn": 0}


def _int(value: Any, default: int | None = None) -> int | None:
    """An integer field; C++ products such as ``'4*1'`` are evaluated."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+(\s*\*\s*\d+)*", text):
        return math.prod(int(part) for part in text.split("*"))
    return default


def _pack(type_text: str | None) -> int:
    """Elements per io_stream word of an ``nnet::array<T, N>`` type (1 for a scalar)."""
    match = re.search(r",\s*([\d*\s]+)>\s*$", type_text or "") if type_text and "nnet::array" in type_text else None
    return _int(match.group(1), 1) if match else 1


def _model_weights(pair: Path) -> dict[str, np.ndarray]:
    """Every weight array of the pair's Keras model (HDF5, or the HDF5 inside a .keras
    zip), by its path in the file; optimizer state is left out. Empty when there is none."""
    import h5py

    folder = pair / "model"
    files = sorted(p for p in folder.glob("*") if p.suffix in (".h5", ".keras")) if folder.is_dir() else []
    found: dict[str, np.ndarray] = {}
    for path in files:
        try:
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    handle = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
            else:
                handle = h5py.File(path, "r")
        except (OSError, KeyError):
            continue
        with handle:
            def keep(name: str, obj) -> None:
                if isinstance(obj, h5py.Dataset) and "optimizer" not in name and obj.ndim >= 1:
                    found[name] = np.asarray(obj[()])
            handle.visititems(keep)
    return found


def _find_weights(arrays: dict[str, np.ndarray], layer_name: str | None, shape: list[int]) -> np.ndarray | None:
    """The model array of ``shape`` belonging to ``layer_name``: the only array of that
    shape, or the only one of that shape whose path names the layer."""
    candidates = [name for name, array in arrays.items() if list(array.shape) == list(shape)]
    if len(candidates) > 1 and layer_name:
        candidates = [name for name in candidates if f"/{layer_name}/" in f"/{name}"]
    return arrays[candidates[0]] if len(candidates) == 1 else None


def _digits(entry: dict[str, Any], arrays: dict[str, np.ndarray], layer_name: str | None,
            notes: list[str]) -> list[list[int]] | None:
    """CSD digits and bits of one weight array (:func:`constant_profile`), checked against
    the collector's count."""
    stored_type = parse_type(entry.get("declared_type_resolved"))
    expected = entry.get("n_nonzero_after_quantization")
    values = _find_weights(arrays, layer_name, entry.get("numpy_shape") or [])
    if stored_type is None or values is None or expected is None:
        if arrays:
            notes.append(f"weights {entry.get('array')}: not found in the model file")
        return None
    for rounding in ("trn", "rnd"):
        profile = constant_profile(values, stored_type, rounding)
        if sum(digit_counts(profile)) == expected:
            return profile
    notes.append(f"weights {entry.get('array')}: the model file's values do not give the project's "
                 f"{expected} non-zero weights (folded or retrained): digits unknown")
    return None


def _weight_entries(layer: dict[str, Any]) -> list[dict[str, Any]]:
    """The layer's weight arrays, biases and zero placeholders left out."""
    return [w for w in layer.get("weights") or [] if len(w.get("numpy_shape") or []) >= 2]


def _strategy(layer: dict[str, Any], default: str) -> str:
    if layer.get("function") in _RESOURCE_FUNCTIONS:
        return RESOURCE_KEY
    text = strategy_key(layer.get("strategy") or "")
    return text if text in STRATEGY_KEYS else default


def _product(name: str, config: dict[str, Any], layer: dict[str, Any], input_type: NumberType | None,
             positions: int, weight: dict[str, Any] | None, digits: list[list[int]] | None, strategy: str,
             constant: bool = True) -> Product:
    n_in, n_out = _int(config.get("n_in"), 1), _int(config.get("n_out"), 1)
    precision = config.get("precision") or layer.get("precision") or {}
    n_weights = n_in * n_out
    if weight is not None and weight.get("n_nonzero_after_quantization") is not None:
        nonzero = int(weight["n_nonzero_after_quantization"])
    elif config.get("n_nonzeros") is not None:
        nonzero = int(config["n_nonzeros"])
    else:
        nonzero = n_weights - (_int(config.get("n_zeros"), 0) or 0)
    weight_type = parse_type(weight.get("declared_type_resolved")) if weight else None
    return Product(
        name=name, n_in=n_in, n_out=n_out, positions=positions, n_weights=n_weights, n_nonzero=min(nonzero, n_weights),
        constant=constant and strategy == LATENCY_KEY, weight_type=weight_type or parse_type(precision.get("weight")),
        input_type=input_type, accum_type=parse_type(precision.get("accum")),
        reuse_factor=_int(config.get("reuse_factor"), 1) or 1,
        weight_digits=digit_counts(digits) if digits is not None else None, weight_profile=digits,
        zero_weights=_int(config.get("n_zeros"), None),
    )


def _tables(layer: dict[str, Any]) -> list[Table]:
    precision = layer.get("precision") or {}
    tables = []
    for name in ("table", "exp_table", "inv_table"):
        size = _int(layer.get(f"{name}_size"), None) or _int(layer.get("table_size"), None)
        number = parse_type(precision.get(name))
        if size and number is not None:
            tables.append(Table(name=name, size=size, width=number.width))
    return tables


def _conv_layer(layer: dict[str, Any], config: dict[str, Any], kind: str, io_type: str, strategy: str,
                input_type: NumberType | None, weight: dict[str, Any] | None, digits: list[list[int]] | None,
                name: str) -> tuple[Product, dict[str, Any]]:
    """A convolution's product and geometry from its conv config (and mult sub-config)."""
    mult = (layer.get("sub_configs") or {}).get("mult_config") or config.get("mult_config") or {}
    spatial = [_int(config.get(axis)) for axis in ("out_height", "out_width") if config.get(axis) is not None]
    positions = math.prod(spatial) if spatial else 1
    kernel = [_int(config.get(axis)) for axis in ("filt_height", "filt_width") if config.get(axis) is not None]
    stride = [_int(config.get(axis)) for axis in ("stride_height", "stride_width") if config.get(axis) is not None]
    n_chan, n_filt = _int(config.get("n_chan"), 1), _int(config.get("n_filt"), 1)
    mult_config = {"n_in": mult.get("n_in", math.prod(kernel) * n_chan), "n_out": mult.get("n_out", n_filt),
                   "n_zeros": mult.get("n_zeros", config.get("n_zeros")), "reuse_factor": config.get("reuse_factor"),
                   "precision": mult.get("precision") or config.get("precision")}
    if kind.startswith("depthwise"):
        # hls4ml's depthwise product is one kernel per channel: kernel x channels multiplications.
        mult_config["n_in"], mult_config["n_out"] = math.prod(kernel) * n_chan, n_chan
    product = _product(name, mult_config, layer, input_type, positions, weight, digits, strategy)
    partitions = _int(config.get("n_partitions"), None)
    if io_type == "io_parallel" and partitions:
        # io_parallel convolutions compute positions / n_partitions pixels side by side
        # (hls4ml's ParallelizationFactor, nnet_conv2d_latency.h's partition loop).
        product = product.model_copy(update={"parallel": max(1, positions // partitions)})
    if kind.startswith("depthwise"):
        product = product.model_copy(update={"n_weights": math.prod(kernel) * n_chan})
    in_spatial = [_int(config.get(axis)) for axis in ("in_height", "in_width") if config.get(axis) is not None]
    geometry = {"kernel": kernel, "stride": stride, "channels": n_chan,
                "in_positions": math.prod(in_spatial) if in_spatial and io_type == "io_stream" else 1,
                "out_positions": positions if io_type == "io_stream" else 1,
                "in_elements": math.prod(in_spatial or [1]) * n_chan, "out_elements": positions * n_filt}
    return product, geometry


def load_pair_design(pair: str | Path) -> Design:
    """The :class:`Design` of the pair folder ``pair`` (reads ``project.json`` and the model weights)."""
    pair = Path(pair)
    path = pair / PROJECT_FILE
    if not path.is_file():
        raise UserInputError(f"{pair}: no {PROJECT_FILE}: not an estimate pair folder")
    try:
        project = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{path}: not readable as JSON ({exc})") from None
    config = project.get("config") or {}
    backend = config.get("backend") or "Vivado"
    summary = project.get("report_summary") or {}
    top = project.get("top_function") or {}
    part = config.get("part") or summary.get("part")
    family = family_of_part(part) or summary.get("product_family") or "unknown"
    clock = float(config.get("clock_period_ns") or summary.get("target_clock_ns") or 5.0)
    io_type = config.get("io_type") or ("io_stream" if top.get("io_stream_ports") else "io_parallel")
    default = config.get("model_default") or {}
    model_strategy = strategy_key(default.get("Strategy") or LATENCY)
    depths = {match.group(1): int(match.group(2)) for pragma in top.get("pragmas") or []
              if (match := _STREAM_PRAGMA.search(pragma))}
    arrays = _model_weights(pair)
    layers = _sized([_layer(entry, io_type, model_strategy, arrays, depths) for entry in project.get("layers") or []])
    pragmas = " ".join(top.get("pragmas") or [])
    version = _VERSION.search(str((project.get("pair") or {}).get("hls4ml_version_inferred") or ""))
    available = {_AVAILABLE[key]: int(value) for key, value in (summary.get("available") or {}).items()
                 if key in _AVAILABLE and str(value).isdigit()}
    return Design(
        name=project.get("name") or pair.name, source=f"{PROJECT_FILE} of {pair.name}",
        backend=backend, part=part, family=family, clock_period_ns=clock,
        io_type=io_type, strategy=model_strategy if model_strategy in STRATEGY_KEYS else LATENCY_KEY,
        reuse_factor=_int(default.get("ReuseFactor"), 1) or 1, layers=layers,
        pipeline_style="pipeline" if "PIPELINE" in pragmas and "DATAFLOW" not in pragmas else "dataflow",
        hls4ml_version=f"{version.group(1)}.{version.group(2)}" if version else None, available=available or None,
        hls_tool="vitis_hls" if "vitis" in str((project.get("pair") or {}).get("report_tool") or backend).lower()
        else "vivado_hls",
    )


def _sized(layers: list[LayerDesign]) -> list[LayerDesign]:
    """Element-wise layers the collector wrote no size for (HGQ's h_* quantizers have no
    config struct) take the size of the layer they feed, else of the one feeding them."""
    sized = list(layers)
    for index, layer in enumerate(sized):
        if layer.in_elements or layer.out_elements:
            continue
        after = next((other.in_elements for other in sized[index + 1:] if other.in_elements), 0)
        before = next((other.out_elements for other in reversed(sized[:index]) if other.out_elements), 0)
        elements = after or before
        sized[index] = layer.model_copy(update={"in_elements": elements, "out_elements": elements})
    return sized


def _layer(entry: dict[str, Any], io_type: str, model_strategy: str, arrays: dict[str, np.ndarray],
           depths: dict[str, int]) -> LayerDesign:
    raw_type = str(entry.get("type") or "")
    function = str(entry.get("function") or "")
    name = entry.get("name") or entry.get("config_struct") or f"layer{entry.get('index')}"
    kind = _KINDS.get(raw_type, "unknown")
    if raw_type == "global_pooling":
        kind = "global_pooling2d" if "2d" in function else "global_pooling1d"
    elif raw_type == "zeropad":
        kind = "zeropad2d" if "2d" in function else "zeropad1d"
    elif raw_type == "other" and _HGQ_QUANTIZER.match(function):
        # HGQ's quantizer steps: generated nnet::h_* functions with no config struct.
        kind = "quantizer"
    notes: list[str] = []
    input_text = (entry.get("input_type") or [{}])[0].get("resolved")
    result = entry.get("result_type") or {}
    input_type, result_type = parse_type(input_text), parse_type(result.get("resolved"))
    strategy = _strategy(entry, model_strategy if model_strategy in STRATEGY_KEYS else LATENCY_KEY)
    reuse = _int(entry.get("reuse_factor"), 1) or 1
    in_pack, out_pack = _pack(input_text), _pack(result.get("resolved"))
    weights = _weight_entries(entry)
    digits = [_digits(w, arrays, entry.get("name"), notes) if strategy == LATENCY_KEY else None for w in weights]
    fields: dict[str, Any] = {}
    products: list[Product] = []
    n_in = _int(entry.get("n_in"), 0) or 0
    out_elements = _int(entry.get("n_out"), None)
    if kind == "dense":
        products.append(_product("kernel", entry, entry, input_type, 1, weights[0] if weights else None,
                                 digits[0] if digits else None, strategy))
        out_elements = _int(entry.get("n_out"), 0)
    elif kind in ("conv1d", "conv2d", "depthwise_conv1d", "depthwise_conv2d", "pointwise_conv1d", "pointwise_conv2d"):
        product, fields = _conv_layer(entry, entry, kind, io_type, strategy, input_type,
                                      weights[0] if weights else None, digits[0] if digits else None, "kernel")
        products.append(product)
    elif kind.startswith("separable"):
        subs = entry.get("sub_configs") or {}
        depthwise, pointwise = subs.get("depthwise_config") or {}, subs.get("pointwise_config") or {}
        inner = parse_type(((entry.get("intermediate_types") or [{}])[0]).get("resolved")) or input_type
        by_array = {w.get("array", "")[:1]: (w, d) for w, d in zip(weights, digits)}
        dw, dw_digits = by_array.get("d", (None, None))
        pw, pw_digits = by_array.get("p", (None, None))
        dw_layer = {**entry, "sub_configs": {"mult_config": subs.get("depthwise_config.mult_config") or {}}}
        pw_layer = {**entry, "sub_configs": {"mult_config": subs.get("pointwise_config.mult_config") or {}}}
        dw_product, fields = _conv_layer(dw_layer, depthwise, "depthwise_conv", io_type, strategy, input_type,
                                         dw, dw_digits, "depthwise")
        pw_product, pw_fields = _conv_layer(pw_layer, pointwise, "conv", io_type, strategy, inner, pw, pw_digits,
                                            "pointwise")
        products += [dw_product, pw_product]
        fields["out_elements"] = pw_fields["out_elements"]
        reuse = _int(depthwise.get("reuse_factor"), reuse) or reuse
        strategy = _strategy(depthwise, strategy)
    elif kind in RECURRENT_GATES:
        fields, products = _recurrent(entry, kind, input_type, weights, digits, strategy)
        subs = entry.get("sub_configs") or {}
        strategy = _strategy(subs.get("mult_config1") or {}, strategy)
    elif kind == "batchnorm":
        n_scale = _int(entry.get("n_filt"), None)
        n_scale = n_scale if n_scale and n_scale > 0 else n_in
        positions = max(1, n_in // n_scale) if io_type == "io_stream" else 1
        per_position = n_scale if io_type == "io_stream" else n_in
        products.append(Product(
            name="scale", n_in=1, n_out=per_position, positions=positions, n_weights=per_position,
            n_nonzero=per_position, constant=strategy == LATENCY_KEY, input_type=input_type,
            weight_type=parse_type((entry.get("precision") or {}).get("scale")), reuse_factor=reuse))
        out_elements = n_in
    if kind in ("pooling1d", "pooling2d"):
        fields = {
            "kernel": [_int(entry.get(a)) for a in ("pool_height", "pool_width") if entry.get(a) is not None],
            "stride": [_int(entry.get(a)) for a in ("stride_height", "stride_width") if entry.get(a) is not None],
            "channels": _int(entry.get("n_filt") or entry.get("n_chan"), 1),
        }
        in_spatial = math.prod(_int(entry.get(a)) for a in ("in_height", "in_width") if entry.get(a) is not None)
        out_spatial = math.prod(_int(entry.get(a)) for a in ("out_height", "out_width") if entry.get(a) is not None)
        if kind == "pooling1d" and entry.get("in_width") is None:
            # hls4ml's pooling1d_config counts its positions as n_in and n_out.
            in_spatial, out_spatial = _int(entry.get("n_in"), 1), _int(entry.get("n_out"), 1)
        fields.update(in_elements=in_spatial * fields["channels"], out_elements=out_spatial * fields["channels"],
                      in_positions=in_spatial if io_type == "io_stream" else 1,
                      out_positions=out_spatial if io_type == "io_stream" else 1)
        entry_function = str(entry.get("pool_op") or "").lower() or None
    elif kind.startswith("global_pooling"):
        channels = _int(entry.get("n_filt"), 1)
        fields = {"channels": channels, "in_elements": n_in * channels, "out_elements": channels,
                  "in_positions": n_in if io_type == "io_stream" else 1}
        entry_function = str(entry.get("pool_op") or "").lower() or None
    elif kind.startswith("zeropad"):
        channels = _int(entry.get("n_chan"), 1)
        in_spatial = math.prod(_int(entry.get(a)) for a in ("in_height", "in_width") if entry.get(a) is not None)
        out_spatial = math.prod(_int(entry.get(a)) for a in ("out_height", "out_width") if entry.get(a) is not None)
        fields = {"channels": channels, "in_elements": in_spatial * channels, "out_elements": out_spatial * channels,
                  "in_positions": in_spatial if io_type == "io_stream" else 1,
                  "out_positions": out_spatial if io_type == "io_stream" else 1}
        entry_function = None
    elif kind == "softmax":
        entry_function = str(entry.get("implementation") or "latency").lower()
        products.append(_softmax_product(entry, io_type, in_pack, n_in, reuse))
    elif kind == "activation":
        entry_function = function.lower() or None
    else:
        entry_function = None
    in_elements = fields.pop("in_elements", n_in)
    out_elements = fields.pop("out_elements", out_elements if out_elements is not None else in_elements)
    if io_type == "io_stream":
        fields.setdefault("in_positions", max(1, in_elements // max(1, in_pack)))
        fields.setdefault("out_positions", max(1, out_elements // max(1, out_pack)))
        fields.setdefault("channels", in_pack)
    out_var = (entry.get("call_args") or [None, None])[1] if len(entry.get("call_args") or []) > 1 else None
    depth = depths.get(out_var) if out_var else None
    uses_table = kind == "softmax" or (entry_function or "") in TABLE_FUNCTIONS
    if kind == "unknown":
        notes.append(f"project.json layer type '{raw_type}' ({function}) is not one the estimator prices")
    return LayerDesign(
        name=str(name), kind=kind, source_class=function or raw_type, function=entry_function, strategy=strategy,
        io_type=io_type, reuse_factor=reuse, implementation=(str(entry["implementation"]).lower()
                                                             if entry.get("implementation") else None),
        in_elements=in_elements, out_elements=out_elements, input_type=input_type, result_type=result_type,
        products=products, tables=(_tables(entry) if uses_table else []) + _recurrent_tables(entry),
        fifo_depth=depth, out_pack=out_pack if io_type == "io_stream" else 1, notes=notes, **fields,
    )


def _softmax_product(entry: dict[str, Any], io_type: str, pack: int, n_in: int, reuse: int) -> Product:
    """Softmax's normalisation: each exponential times the reciprocal of their sum."""
    precision = entry.get("precision") or {}
    elements = pack if io_type == "io_stream" else n_in
    return Product(name="normalize", n_in=1, n_out=max(1, elements), n_weights=max(1, elements),
                   n_nonzero=max(1, elements), constant=False, weight_type=parse_type(precision.get("inv_table")),
                   input_type=parse_type(precision.get("exp_table")), reuse_factor=reuse)


def _recurrent(entry: dict[str, Any], kind: str, input_type: NumberType | None, weights: list[dict[str, Any]],
               digits: list[list[list[int]] | None], strategy: str) -> tuple[dict[str, Any], list[Product]]:
    """Products of a recurrent layer per time step: input kernel, recurrent kernel, gates."""
    subs = entry.get("sub_configs") or {}
    state = _int(entry.get("n_state") or entry.get("n_out"), 1)
    sequence = _int(entry.get("n_sequence"), 1)
    precision = entry.get("precision") or {}
    weight_type = parse_type(precision.get("weight"))
    by_array = {w.get("array", ""): (w, d) for w, d in zip(weights, digits)}
    kernel = next(((w, d) for a, (w, d) in by_array.items() if a.startswith("w") and not a.startswith("wr")), (None, None))
    recurrent = next(((w, d) for a, (w, d) in by_array.items() if a.startswith("wr")), (None, None))
    gates = RECURRENT_GATES[kind]
    products = [
        _product("kernel", {**(subs.get("mult_config1") or {}), "n_in": _int(entry.get("n_in"), 1),
                            "n_out": gates * state}, entry, input_type, sequence, kernel[0], kernel[1],
                 _strategy(subs.get("mult_config1") or {}, strategy)),
        _product("recurrent", {**(subs.get("mult_config2") or {}), "n_in": state, "n_out": gates * state},
                 entry, input_type, sequence, recurrent[0], recurrent[1],
                 _strategy(subs.get("mult_config2") or {}, strategy)),
    ]
    if RECURRENT_ELEMENTWISE[kind]:
        elementwise = RECURRENT_ELEMENTWISE[kind] * state
        # hls4ml unrolls the gates' element-wise products whatever the reuse factor.
        products.append(Product(name="gates", n_in=1, n_out=elementwise, positions=sequence, n_weights=elementwise,
                                n_nonzero=elementwise, constant=False, weight_type=input_type or weight_type,
                                input_type=input_type or weight_type, accum_type=parse_type(precision.get("accum"))))
    n_in = _int(entry.get("n_in"), 1)
    sequence_out = _int(entry.get("n_sequence_out"), 1)
    fields = {"sequence": sequence, "state": state, "in_elements": n_in * sequence,
              "out_elements": state * sequence_out, "channels": n_in}
    return fields, products


def _recurrent_tables(entry: dict[str, Any]) -> list[Table]:
    """The activation tables of a recurrent layer's gate sub-configs."""
    tables = []
    for key, sub in (entry.get("sub_configs") or {}).items():
        if key.startswith("ACT_CONFIG"):
            tables += [t.model_copy(update={"name": f"{key.lower()}_{t.name}"}) for t in _tables(sub)]
    return tables
