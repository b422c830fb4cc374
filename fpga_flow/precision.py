"""Stage ``precision``: choose per-layer HLS precisions so that C-simulation computes
what was trained.

Three policies:

* ``default``: hls4ml's ``config_from_keras_model`` as it comes.
* ``auto``: precision inference. Weights, biases and quantized activations keep the
  types their QKeras quantizers fix (hls4ml reads those); float weights get integer bits
  from their largest magnitude; the input and every explicit (non-``auto``) result type
  not fixed by a quantizer get integer bits from the range observed on the calibration
  set (no overflow there) and fractional bits from the data's own resolution or the
  error budget.
* ``closure``: inference, then a loop: compile, trace every layer on the calibration
  set, compare with the Keras layer outputs, widen the layer that adds the most error,
  until argmax agreement reaches the target or the bit budget or iteration limit is hit.

Agreement during the loop is measured on the calibration split only; the build reports
agreement on a separate evaluation split that the loop never sees.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from fpga_flow.fidelity import compare
from fpga_flow.fixed import FixedType, fractional_bits_for, integer_bits_for

POLICIES = ("default", "auto", "closure")
FRACTION_STEP = 2
MAX_TABLE_SIZE = 8192
FLOAT_WEIGHT_FRACTION = 12
DATA_FRACTION_LIMIT = 12


@dataclass
class ClosureStep:
    iteration: int
    layer: str | None
    change: str
    agreement: float
    max_abs_error: float
    layer_errors: dict[str, float] = field(default_factory=dict)


@dataclass
class ClosureResult:
    policy: str
    target_agreement: float
    calibration_size: int
    hls_config: dict[str, Any]
    default_agreement: float | None = None
    steps: list[ClosureStep] = field(default_factory=list)
    stopped_because: str = ""

    def to_dict(self, precisions: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
        first = self.steps[0].layer_errors if self.steps else {}
        last = self.steps[-1].layer_errors if self.steps else {}
        return {
            "policy": self.policy,
            "target_agreement": self.target_agreement,
            "calibration_size": self.calibration_size,
            "default_agreement_calibration": self.default_agreement,
            "stopped_because": self.stopped_because,
            "iterations": [
                {k: v for k, v in asdict(step).items() if k != "layer_errors"} for step in self.steps
            ],
            "layer_error_before": first,
            "layer_error_after": last,
            "precisions": precisions or {},
        }


def keras_layer_outputs(model, X: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output on ``X``, by layer name."""
    import tensorflow as tf

    layers = [layer for layer in model.layers if not isinstance(layer, tf.keras.layers.InputLayer)]
    probe = tf.keras.Model(model.inputs, [layer.output for layer in layers])
    outputs = probe.predict(X, verbose=0, batch_size=256)
    if len(layers) == 1:
        outputs = [outputs]
    values = {layer.name: np.asarray(out) for layer, out in zip(layers, outputs)}
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.InputLayer):
            values[layer.name] = np.asarray(X)
    return values


def _is_fixed_explicit(spec: Any) -> bool:
    return isinstance(spec, str) and FixedType.parse(spec) is not None


def infer_precisions(model, hls_config: dict[str, Any], X_calib: np.ndarray) -> dict[str, Any]:
    """The ``auto`` policy: a new hls4ml config with inferred precisions."""
    config = copy.deepcopy(hls_config)
    layer_configs = config["LayerName"]
    outputs = keras_layer_outputs(model, X_calib)
    quantized_results = _quantizer_fixed_results(model)
    for input_name in model.input_names:
        input_config = layer_configs.get(input_name)
        if input_config is not None:
            input_config.setdefault("Precision", {})["result"] = str(_type_for_data(X_calib, limit=DATA_FRACTION_LIMIT))
    for layer in model.layers:
        layer_config = layer_configs.get(layer.name)
        if layer_config is None:
            continue
        precision = layer_config.setdefault("Precision", {})
        if not isinstance(precision, dict):
            continue
        if layer.name not in quantized_results and _is_fixed_explicit(precision.get("result")):
            observed = outputs.get(layer.name)
            if observed is not None:
                current = FixedType.parse(precision["result"])
                integer = integer_bits_for(float(np.abs(observed).max()), current.signed)
                precision["result"] = str(FixedType(current.fractional + integer, integer, current.signed, "RND", "SAT"))
        _infer_float_weights(layer, precision)
    for name, layer_config in layer_configs.items():
        precision = layer_config.get("Precision")
        if isinstance(precision, dict) and "exp_table" in precision:
            _infer_softmax(name, layer_config, model, layer_configs, outputs)
    return config


def _infer_softmax(name: str, layer_config: dict, model, layer_configs: dict, outputs: dict) -> None:
    """hls4ml's stable softmax addresses its exp table with the top bits of (x_max - x),
    typed from its input, and its inverse table with the top bits of the exp sum: both
    need integer bits that fit the observed range, not a wide default, or the table
    steps become coarse (a 0.25 step in 1/sum on the default types)."""
    n_slice = int(np.prod(model.output_shape[1:])) if name == model.layers[-1].name else 16
    sum_integer = integer_bits_for(float(n_slice), True)
    # hls4ml 1.3.0 reads softmax table types from top-level "<name>_t" layer keys; the
    # same names under "Precision" are silently ignored.
    layer_config["exp_table_t"] = str(FixedType(18, 2, True, "RND", "SAT"))
    layer_config["inv_table_t"] = str(FixedType(18, 2, True, "RND", "SAT"))
    layer_config["inv_inp_t"] = str(FixedType(18, sum_integer, True, "RND", "SAT"))
    layer_config["accum_t"] = str(FixedType(18, sum_integer, True, "RND", "SAT"))
    source = _input_layer_name(model, name)
    observed = outputs.get(source) if source else None
    source_config = layer_configs.get(source) if source else None
    if observed is None or source_config is None or source_config.get("Precision", {}).get("result") is None:
        return
    if type(model.get_layer(source)).__name__ == "QActivation":
        return
    # x_max - x spans twice the input's range, but the normalized type hls4ml derives
    # from the input covers half of it (and wraps beyond): leave a factor 4 of headroom.
    integer = integer_bits_for(4.0 * float(np.abs(observed).max()), True)
    logits_type = str(FixedType(integer + 12, integer, True, "RND", "SAT"))
    # An explicit result type keeps hls4ml's linear-activation node after the layer,
    # whose own result type then feeds the softmax.
    for owner in (source, f"{source}_linear"):
        if owner in layer_configs:
            layer_configs[owner].setdefault("Precision", {})["result"] = logits_type


def _input_layer_name(model, name: str) -> str | None:
    try:
        layer = model.get_layer(name)
    except ValueError:
        return None
    inbound = layer.inbound_nodes[0].inbound_layers if layer.inbound_nodes else []
    inbound = inbound if isinstance(inbound, list) else [inbound]
    return inbound[0].name if len(inbound) == 1 else None


def _quantizer_fixed_results(model) -> set[str]:
    return {layer.name for layer in model.layers if type(layer).__name__ == "QActivation"}


def _type_for_data(values: np.ndarray, limit: int) -> FixedType:
    values = np.asarray(values)
    signed = bool((values < 0).any())
    integer = integer_bits_for(float(np.abs(values).max()), signed)
    fraction = fractional_bits_for(values, limit)
    return FixedType(integer + fraction, integer, signed, "RND", "SAT")


def _infer_float_weights(layer, precision: dict[str, Any]) -> None:
    """Float (non-quantized) kernels: enough integer bits for the largest weight."""
    if getattr(layer, "kernel_quantizer", None) is not None or not hasattr(layer, "get_weights"):
        return
    named = {"weight": getattr(layer, "kernel", None), "bias": getattr(layer, "bias", None)}
    for name, variable in named.items():
        if variable is None or name in precision and not _is_fixed_explicit(precision[name]):
            continue
        values = np.asarray(variable.numpy())
        if values.size == 0:
            continue
        integer = integer_bits_for(float(np.abs(values).max()), True)
        precision[name] = str(FixedType(integer + FLOAT_WEIGHT_FRACTION, integer, True, "RND", "SAT"))


def layer_errors(keras_outputs: dict[str, np.ndarray], traces: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean absolute error of each traced layer relative to the layer's mean magnitude."""
    errors = {}
    for name, traced in traces.items():
        reference = keras_outputs.get(name)
        if reference is None or reference.size != traced.size:
            continue
        reference = reference.reshape(traced.shape)
        scale = float(np.abs(reference).mean()) + 1e-6
        errors[name] = float(np.abs(traced - reference).mean() / scale)
    return errors


def widen_layer(layer_config: dict[str, Any], max_width: int) -> str | None:
    """Widen one layer's types one step; the change made, or None if nothing can grow."""
    precision = layer_config.get("Precision")
    if not isinstance(precision, dict):
        return None
    changes = []

    def widen(owner: dict, key: str, current_text: str) -> None:
        current = FixedType.parse(current_text)
        if current is None or current.width + FRACTION_STEP > max_width:
            return
        new = FixedType(current.width + FRACTION_STEP, current.integer, current.signed, "RND", "SAT")
        owner[key] = str(new)
        changes.append(f"{key} {current} -> {new}")

    # Widening adds fractional bits only: a table addressed by the top bits of its
    # input type gets finer through TableSize, not through more integer range.
    for table in ("exp_table", "inv_table", "table"):
        key = f"{table}_t"
        widen(layer_config, key, layer_config.get(key) or precision.get(table, ""))
    for key in ("result", "accum"):
        widen(precision, key, precision.get(key, ""))
    if "TableSize" in layer_config and layer_config["TableSize"] < MAX_TABLE_SIZE:
        layer_config["TableSize"] *= 2
        changes.append(f"table size -> {layer_config['TableSize']}")
    return "; ".join(changes) or None


Realize = Callable[[dict[str, Any]], Any]  # hls config -> Bridge (with .trace)


def close_precisions(
    model,
    hls_config: dict[str, Any],
    X_calib: np.ndarray,
    realize: Realize,
    target_agreement: float = 0.999,
    max_iterations: int = 8,
    max_width: int = 32,
    on_step: Callable[[ClosureStep], None] | None = None,
) -> ClosureResult:
    """The ``closure`` policy. ``hls_config`` is hls4ml's default; the loop starts from
    it (recorded as iteration 0), applies inference, then widens layer by layer."""
    keras_outputs = keras_layer_outputs(model, X_calib)
    keras_final = np.asarray(model.predict(X_calib, verbose=0, batch_size=256))
    result = ClosureResult("closure", target_agreement, int(len(X_calib)), hls_config)

    def measure(config, iteration, layer, change) -> ClosureStep:
        bridge = realize(config)
        out, traces = bridge.trace(X_calib)
        fid = compare(keras_final, out)
        step = ClosureStep(iteration, layer, change, fid.agreement, fid.max_abs_error, layer_errors(keras_outputs, traces))
        result.steps.append(step)
        if on_step is not None:
            on_step(step)
        return step

    default_step = measure(hls_config, 0, None, "hls4ml default configuration")
    result.default_agreement = default_step.agreement
    config = infer_precisions(model, hls_config, X_calib)
    step = measure(config, 1, None, "inferred precisions")
    exhausted: set[str] = set()
    while step.agreement < target_agreement:
        if len(result.steps) > max_iterations:
            result.stopped_because = f"iteration limit ({max_iterations}) reached"
            break
        layer = _worst_contributor(step.layer_errors, config["LayerName"], exhausted)
        if layer is None:
            result.stopped_because = (
                f"no layer left to widen: every traced layer that matches a Keras layer reached {max_width} bits"
                if step.layer_errors else "no traced layer matches a Keras layer output to compare with"
            )
            break
        change = widen_layer(config["LayerName"][layer], max_width)
        if change is None:
            exhausted.add(layer)
            continue
        step = measure(config, len(result.steps), layer, change)
    else:
        result.stopped_because = f"agreement {step.agreement:.4f} >= target {target_agreement}"
    result.hls_config = config
    return result


def _worst_contributor(errors: dict[str, float], layer_configs: dict[str, Any], exhausted: set[str]) -> str | None:
    """The layer whose relative error grows most over the error of the layers before it."""
    best, best_gain, seen = None, -np.inf, 0.0
    for name, err in errors.items():
        gain = err - seen
        seen = max(seen, err)
        if name in exhausted or name not in layer_configs:
            continue
        if gain > best_gain:
            best, best_gain = name, gain
    return best


def overflow_report(keras_outputs: dict[str, np.ndarray], precisions: dict[str, dict[str, str]]) -> dict[str, dict]:
    """Per layer: how many Keras values fall outside the layer's C++ result type."""
    report = {}
    for name, types in precisions.items():
        fixed = FixedType.parse(types.get("result", ""))
        values = keras_outputs.get(name)
        if fixed is None or values is None:
            continue
        count = fixed.out_of_range(values)
        report[name] = {
            "type": str(fixed),
            "values": int(np.asarray(values).size),
            "overflowed": count,
            "fraction": count / max(1, int(np.asarray(values).size)),
        }
    return report
