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

from fpga_flow.compat import RECURRENT_CLASSES, tie_recurrent_types
from fpga_flow.errors import StageFailedError
from fpga_flow.fidelity import compare, layer_errors
from fpga_flow.fixed import FixedType, fixed_for, fractional_bits_for, integer_bits_for, is_fixed_spelling
from fpga_flow.layers import KERNEL_CLASSES, POLICIES  # noqa: F401 (POLICIES re-exported)
from fpga_flow.records.precision import (  # noqa: F401 (the records are re-exported for their readers)
    ClosureIteration,
    ClosureRecord,
    LimitRecord,
    OverflowRecord,
    PrecisionChoice,
    RealizationRecord,
    RejectedChange,
)

FRACTION_STEP = 2
MAX_TABLE_SIZE = 8192
FLOAT_WEIGHT_FRACTION = 12
DATA_FRACTION_LIMIT = 12
RESULT_FRACTION = 10
IMPROVEMENT_NEEDED = 0.9
SOFTMAX_SPREAD_BITS = 4
LAYER_OUTPUT_BATCH = 256  # samples per call when reading every layer's Keras outputs (predict's default)


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
    """The closure loop's working state; :meth:`to_record` is what a run keeps of it."""

    target_agreement: float
    calibration_size: int
    hls_config: dict[str, Any]
    default_agreement: float | None = None
    steps: list[ClosureStep] = field(default_factory=list)
    stopped_because: str = ""
    chosen_iteration: int | None = None
    rejected: list[RejectedChange] = field(default_factory=list)

    def to_record(self, realization: RealizationRecord | None = None,
                  limits: list[LimitRecord] | None = None) -> ClosureRecord:
        first = self.steps[0].layer_errors if self.steps else {}
        chosen = next((s for s in self.steps if s.iteration == self.chosen_iteration), None)
        return ClosureRecord(
            target_agreement=self.target_agreement,
            calibration_size=self.calibration_size,
            default_agreement_calibration=self.default_agreement,
            stopped_because=self.stopped_because,
            chosen_iteration=self.chosen_iteration,
            rejected_changes=list(self.rejected),
            iterations=[ClosureIteration(**{k: v for k, v in asdict(step).items() if k != "layer_errors"})
                        for step in self.steps],
            layer_error_before=first,
            layer_error_after=chosen.layer_errors if chosen else {},
            realization=realization,
            hls4ml_limits=limits or [],
        )


def _activation_name(layer) -> str | None:
    """The name hls4ml gives a layer's fused activation, or None when it has none."""
    if type(layer).__name__ in RECURRENT_CLASSES + ("Activation", "QActivation"):
        return None  # a recurrent layer's activation is inside its cell, not after it
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return None if name is None or name == "linear" else name


def keras_layer_outputs(model, X: np.ndarray) -> dict[str, np.ndarray]:
    """Keras's value of every layer on ``X``, named as hls4ml names its layers: a layer
    with a fused activation (``Dense(..., activation='relu')``) is split by hls4ml into
    ``name`` (before the activation) and ``name_relu`` (after it)."""
    import tensorflow as tf  # deferred: TensorFlow, heavy; only a build with a model loads it

    layers = [layer for layer in model.layers if not isinstance(layer, tf.keras.layers.InputLayer)]
    tensors, names = [], []
    for layer in layers:
        tensors.append(layer.output)
        activation = _activation_name(layer)
        if activation is None:
            names.append(layer.name)
            continue
        names.append(f"{layer.name}_{activation}")
        linear = type(layer).from_config({**layer.get_config(), "activation": "linear", "name": f"{layer.name}__pre"})
        tensors.append(linear(layer.input))
        linear.set_weights(layer.get_weights())
        names.append(layer.name)
    probe = tf.keras.Model(model.inputs, tensors)
    # Called eagerly in predict's batches of 256: the same values as probe.predict (the
    # same kernels on the same batches), without tracing a tf.function, whose autograph
    # conversion of QKeras layers costs seconds (model_io.without_autograph).
    batches = [probe(X[start:start + LAYER_OUTPUT_BATCH], training=False)
               for start in range(0, len(X), LAYER_OUTPUT_BATCH)]
    batches = [batch if isinstance(batch, (list, tuple)) else [batch] for batch in batches]
    values = {name: np.concatenate([np.asarray(batch[index]) for batch in batches])
              for index, name in enumerate(names)}
    for name in model.input_names:
        values[name] = np.asarray(X)
    # hls4ml folds a BatchNormalization into the linear layer before it; that layer's
    # output in hardware is the normalized one.
    for layer in layers:
        norm = _following_batchnorm(layer)
        if norm is not None and _activation_name(layer) is None and norm.name in values:
            values[layer.name] = values[norm.name]
    return values


def infer_precisions(model, hls_config: dict[str, Any], X_calib: np.ndarray) -> dict[str, Any]:
    """The ``auto`` policy: a new hls4ml config with inferred precisions."""
    config = copy.deepcopy(hls_config)
    layer_configs = config["LayerName"]
    outputs = keras_layer_outputs(model, X_calib)
    recurrent = {layer.name for layer in model.layers if type(layer).__name__ in RECURRENT_CLASSES}
    # hls4ml's recurrent kernels instantiate one dense template for the input and the
    # state, so the input type must stay the state's type; the same holds for results
    # (the gate accumulators take the result type): recurrent models keep both.
    for input_name in (model.input_names if not recurrent else []):
        if input_name in layer_configs:
            layer_configs[input_name].setdefault("Precision", {})["result"] = str(
                _type_for_data(X_calib, limit=DATA_FRACTION_LIMIT))
    fixed_by_quantizer = _quantizer_fixed_results(model)
    for name, layer_config in layer_configs.items():
        precision = layer_config.get("Precision")
        skip = name in model.input_names or name in fixed_by_quantizer or name in recurrent
        if not isinstance(precision, dict) or skip:
            continue
        observed = outputs.get(name)
        result = precision.get("result")
        # Table-based activations left 'auto' get the model default type, whatever their range.
        sized_by_default = result == "auto" and "table" in precision
        if observed is not None and (is_fixed_spelling(result) or sized_by_default):
            current = FixedType.parse(result) if is_fixed_spelling(result) else None
            fraction = max(current.fractional if current else 0, RESULT_FRACTION)
            signed = bool((observed < 0).any())
            integer = integer_bits_for(2.0 * float(np.abs(observed).max()), signed)
            precision["result"] = str(fixed_for(integer, fraction, signed))
    for layer in model.layers:
        if layer.name in layer_configs:
            precision = layer_configs[layer.name].setdefault("Precision", {})
            _saturate_quantized_weights(precision)
            _infer_float_weights(layer, precision)
    for name, layer_config in layer_configs.items():
        precision = layer_config.get("Precision")
        if isinstance(precision, dict) and "exp_table" in precision:
            _infer_softmax(name, layer_config, outputs)
    for layer in model.layers:
        if type(layer).__name__ in AVERAGE_POOLING_CLASSES and layer.name in layer_configs:
            _infer_average_accumulator(layer, layer_configs[layer.name].get("Precision"), outputs.get(layer.name))
    return config


AVERAGE_POOLING_CLASSES = ("AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D")


def _infer_average_accumulator(layer, precision: Any, observed: np.ndarray | None) -> None:
    """An average pooling sums its window in ``accum_t`` before dividing: the sum of n
    values needs log2(n) integer bits more than the mean. hls4ml 1.3.0 leaves an 'auto'
    accumulator at the model default (fixed<16,6> wraps: tiny_resnet's global average of
    8x8 ReLU outputs up to 8 reached 0.49 agreement, and widening its fraction did not help)."""
    if not isinstance(precision, dict) or observed is None:
        return
    window = int(np.prod(layer.input_shape[1:-1] if type(layer).__name__.startswith("Global") else layer.pool_size))
    signed = bool((observed < 0).any())
    integer = integer_bits_for(2.0 * float(np.abs(observed).max()) * window, signed)
    precision["accum"] = str(fixed_for(integer, RESULT_FRACTION, signed))


def _infer_softmax(name: str, layer_config: dict, outputs: dict) -> None:
    """hls4ml's stable softmax addresses its exp table with the top bits of x_max - x in
    ``inp_norm_t``, derived by default from the input type (a wide ``ap_fixed<20,10>``
    gives a step of 0.25 or more, and its unsigned half-range wraps for large spreads),
    and its inverse table with the top bits of the exp sum in ``inv_inp_t`` (8 integer
    bits by default: a 0.25 step in 1/sum). exp(-16) is below every table's resolution,
    so a saturating 4-integer-bit ``inp_norm_t`` loses nothing and is 16x finer; the exp
    sum never exceeds the number of classes."""
    observed_out = outputs.get(name)
    n_slice = int(observed_out.shape[-1]) if observed_out is not None else 16
    sum_integer = integer_bits_for(float(n_slice), True)
    # hls4ml 1.3.0 reads these from top-level "<name>_t" layer keys; the same names
    # under "Precision" are silently ignored.
    layer_config["inp_norm_t"] = str(FixedType(18, SOFTMAX_SPREAD_BITS, False, "RND", "SAT"))
    layer_config["exp_table_t"] = str(FixedType(18, 2, True, "RND", "SAT"))
    layer_config["inv_table_t"] = str(FixedType(18, 2, True, "RND", "SAT"))
    layer_config["inv_inp_t"] = str(FixedType(18, sum_integer, True, "RND", "SAT"))
    layer_config["accum_t"] = str(FixedType(18, sum_integer, True, "RND", "SAT"))


def _quantizer_fixed_results(model) -> set[str]:
    return {layer.name for layer in model.layers if type(layer).__name__ == "QActivation"}


def _type_for_data(values: np.ndarray, limit: int) -> FixedType:
    values = np.asarray(values)
    signed = bool((values < 0).any())
    integer = integer_bits_for(float(np.abs(values).max()), signed)
    return fixed_for(integer, fractional_bits_for(values, limit), signed)


WEIGHT_KEYS = ("weight", "bias", "recurrent_weight", "recurrent_bias")


def _saturate_quantized_weights(precision: dict[str, Any]) -> None:
    """QKeras quantizers clip; hls4ml types them from the quantizer but with WRAP, and
    writes some raw float values (a QLSTM's unit forget bias of 1.0 into ap_fixed<8,1>
    wraps to -1.0 and closes the forget gate). Saturating and rounding is what the
    quantizer computes."""
    for key in WEIGHT_KEYS:
        current = FixedType.parse(precision.get(key, ""))
        if current is not None and (current.overflow != "SAT" or current.rounding != "RND"):
            precision[key] = str(FixedType(current.width, current.integer, current.signed, "RND", "SAT"))


def _has_float_kernel(layer) -> bool:
    """A plain Dense/Conv kernel; recurrent and separable kernels have other hls4ml names."""
    return type(layer).__name__ in KERNEL_CLASSES and getattr(layer, "kernel", None) is not None


def _infer_float_weights(layer, precision: dict[str, Any]) -> None:
    """Float (non-quantized) kernels: enough integer bits for the largest weight, as
    hls4ml will store it (with a following BatchNormalization folded in)."""
    if not _has_float_kernel(layer):
        return
    kernel = np.asarray(layer.kernel.numpy())
    bias = np.asarray(layer.bias.numpy()) if getattr(layer, "bias", None) is not None else np.zeros(kernel.shape[-1])
    norm = _following_batchnorm(layer)
    if norm is not None:
        gamma = norm.gamma.numpy() if norm.scale else 1.0
        beta = norm.beta.numpy() if norm.center else 0.0
        scale = gamma / np.sqrt(norm.moving_variance.numpy() + norm.epsilon)
        kernel, bias = kernel * scale, (bias - norm.moving_mean.numpy()) * scale + beta
    for name, values in (("weight", kernel), ("bias", bias)):
        integer = integer_bits_for(float(np.abs(values).max()), True) if values.size else 1
        precision[name] = str(fixed_for(integer, FLOAT_WEIGHT_FRACTION))


def _following_batchnorm(layer):
    nodes = getattr(layer, "outbound_nodes", [])
    if len(nodes) != 1:
        return None
    successor = nodes[0].outbound_layer
    return successor if type(successor).__name__ == "BatchNormalization" else None


WIDENED_TABLES = ("exp_table", "inv_table", "table")
# The last five are fpga_flow.attention's intermediate types.
WIDENED_TYPES = ("result", "accum", "weight", "bias", "recurrent_weight", "recurrent_bias",
                 "proj", "score", "prob", "exp", "inv")


def widen_layer(layer_config: dict[str, Any], max_width: int, actual: dict[str, str] | None = None,
                quantized_weights: bool = False) -> str | None:
    """Widen one layer's types by FRACTION_STEP fractional bits (and double its table);
    the change made, or None if nothing can grow. ``actual`` holds the C++ types hls4ml
    chose, the starting point for types the config leaves 'auto'."""
    precision = layer_config.get("Precision")
    if not isinstance(precision, dict):
        return None
    actual = actual or {}
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
    for table in WIDENED_TABLES:
        key = f"{table}_t"
        widen(layer_config, key, layer_config.get(key) or precision.get(table, ""))
    for key in WIDENED_TYPES:
        # Quantizer-fixed weights are exact already; only float weights grow.
        if key in WEIGHT_KEYS and quantized_weights:
            continue
        current = precision.get(key)
        current = current if is_fixed_spelling(current) else actual.get(key)
        if current is not None:
            widen(precision, key, current)
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
    result = ClosureResult(target_agreement, int(len(X_calib)), hls_config)

    actual_types: dict[str, dict[str, str]] = {}

    def measure(config, iteration, layer, change) -> ClosureStep:
        bridge = realize(config)
        actual_types.update(bridge.spec["layer_precisions"])
        out, traces = bridge.trace(X_calib)
        fid = compare(keras_final, out)
        step = ClosureStep(iteration, layer, change, fid.agreement, fid.max_abs_error, layer_errors(keras_outputs, traces))
        result.steps.append(step)
        if on_step is not None:
            on_step(step)
        return step

    failures: list[StageFailedError] = []

    def attempt(config, iteration, layer, change) -> ClosureStep | None:
        """``measure``, or None when the configuration does not compile or run; the
        reason goes into the record and the loop goes on with what does."""
        try:
            return measure(config, iteration, layer, change)
        except StageFailedError as exc:
            result.rejected.append(RejectedChange(layer=layer, change=change, reason=str(exc)[:300]))
            failures.append(exc)
            return None

    default_step = attempt(hls_config, 0, None, "hls4ml default configuration")
    inferred = infer_precisions(model, hls_config, X_calib)
    inferred_step = attempt(inferred, 1, None, "inferred precisions")
    measured = [(c, s) for c, s in ((hls_config, default_step), (inferred, inferred_step)) if s is not None]
    if not measured:
        raise failures[0]  # hls4ml's own configuration fails: nothing here can do better
    result.default_agreement = default_step.agreement if default_step else None
    # Widening starts from the inferred types when they compile; the best configuration
    # measured so far (hls4ml's default on a tie) is what the closure returns.
    config, step = measured[-1]
    best_config, best_step = max(measured, key=lambda pair: _rank(pair[1]))
    # A QActivation's type is its quantizer: widening it changes the function, not the error.
    exhausted: set[str] = _quantizer_fixed_results(model)
    recurrent = {layer.name for layer in model.layers if type(layer).__name__ in RECURRENT_CLASSES}
    quantized_kernels = {layer.name for layer in model.layers if getattr(layer, "kernel_quantizer", None) is not None}
    while best_step.agreement < target_agreement:
        if len(result.steps) > max_iterations:
            result.stopped_because = f"iteration limit ({max_iterations}) reached"
            break
        layer = _worst_contributor(step.layer_errors, config["LayerName"], exhausted)
        if layer is None:
            result.stopped_because = (
                f"no layer left to widen: every traced layer that matches a Keras layer reached {max_width} bits "
                "or stopped improving"
                if step.layer_errors else "no traced layer matches a Keras layer output to compare with"
            )
            break
        candidate = copy.deepcopy(config)
        change = widen_layer(candidate["LayerName"][layer], max_width, actual_types.get(layer),
                             quantized_weights=layer in quantized_kernels)
        if change is None:
            exhausted.add(layer)
            continue
        if layer in recurrent:
            change += tie_recurrent_types(model, layer, candidate["LayerName"])
        # Some hls4ml kernels tie types together (a recurrent layer's state and input):
        # a widening the C++ cannot compile is dropped, not fatal.
        trial = attempt(candidate, len(result.steps), layer, change)
        if trial is None:
            exhausted.add(layer)
            continue
        # A widening that does not cut the layer's own error by a tenth is not kept,
        # and the loop moves on to the next layer.
        if trial.layer_errors.get(layer, 0.0) > IMPROVEMENT_NEEDED * step.layer_errors.get(layer, 0.0):
            exhausted.add(layer)
        else:
            config, step = candidate, trial
        if _better(trial, best_step):
            best_config, best_step = candidate, trial
    else:
        result.stopped_because = f"agreement {best_step.agreement:.4f} >= target {target_agreement}"
    result.hls_config = best_config
    result.chosen_iteration = best_step.iteration
    return result


def _rank(step: ClosureStep) -> tuple[float, float]:
    """Higher is better: agreement first, then the smaller largest error."""
    return step.agreement, -step.max_abs_error


def _better(a: ClosureStep, b: ClosureStep) -> bool:
    return _rank(a) > _rank(b)


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


def overflow_report(keras_outputs: dict[str, np.ndarray], precisions: dict[str, dict[str, str]]) -> dict[str, OverflowRecord]:
    """Per layer: how many Keras values fall outside the layer's C++ result type."""
    report = {}
    for name, types in precisions.items():
        fixed = FixedType.parse(types.get("result", ""))
        values = keras_outputs.get(name)
        if fixed is None or values is None:
            continue
        count = fixed.out_of_range(values)
        size = int(np.asarray(values).size)
        report[name] = OverflowRecord(type=str(fixed), values=size, overflowed=count, fraction=count / max(1, size))
    return report


def plot_closure(record: ClosureRecord, path) -> None:
    """Per-layer relative error before and after the closure, and agreement per iteration, as SVG."""
    # A bare Figure draws without pyplot, so the caller's backend (a notebook's) is untouched.
    # deferred: matplotlib, heavy, only for a closure's figure
    import matplotlib.ticker
    from matplotlib.figure import Figure

    before, after = record.layer_error_before, record.layer_error_after
    layers = list(before)
    fig = Figure(figsize=(11, 4))
    ax_layers, ax_iter = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    x = np.arange(len(layers))
    floor = 1e-7  # zero error has no place on a log axis
    ax_layers.bar(x - 0.2, [max(before[n], floor) for n in layers], 0.4, label="before (hls4ml default)")
    ax_layers.bar(x + 0.2, [max(after.get(n, 0.0), floor) for n in layers], 0.4, label="after closure")
    ax_layers.set_yscale("log")
    ax_layers.set_xticks(x, layers, rotation=45, ha="right", fontsize=8)
    ax_layers.set_ylabel("mean |C-sim - Keras| / mean |Keras|")
    ax_layers.set_title("Per-layer error (calibration set)")
    ax_layers.legend(fontsize=8)
    iterations = record.iterations
    ax_iter.plot([it.iteration for it in iterations], [it.agreement for it in iterations], "o-")
    ax_iter.axhline(record.target_agreement, color="grey", linestyle="--", label="target")
    ax_iter.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax_iter.set_xlabel("iteration")
    ax_iter.set_ylabel("argmax agreement")
    ax_iter.set_title("Closure")
    ax_iter.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="svg")
