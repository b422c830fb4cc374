"""What hls4ml 1.3.0 gets wrong, in one place: stage ``check`` refuses, before conversion
starts, what it cannot convert, naming the layer, its class and the fix (hls4ml itself
fails deep inside conversion with an AssertionError or a KeyError that names neither);
the workarounds patch or retype what it converts but would write wrong (each names its
root cause)."""

from __future__ import annotations

from typing import Any

from fpga_flow.errors import UnsupportedModelError
from fpga_flow.fixed import FixedType, is_fixed_spelling
from fpga_flow.layers import RECURRENT_KERAS_CLASSES as RECURRENT_CLASSES

RESERVED_LAYER_NAMES = ("input",)
HARD_ACTIVATIONS = ("hard_sigmoid", "hard_tanh", "hard_swish")
# Layers hls4ml 1.3.0 converts but every backend a board uses (Vivado, Vitis,
# VivadoAccelerator) writes wrong: class -> why and the fix.
REFUSED_LAYERS = {
    # hls4ml's Vivado backend registers no SimpleRNN template (backends/vivado/passes/
    # recurrent_templates.py covers LSTM and GRU): the project is written without the
    # layer's function call and its output is never computed
    cls: "hls4ml 1.3.0's Vivado and Vitis backends have no SimpleRNN implementation (the layer is written "
         "without a function call and the design outputs nothing); use an LSTM or GRU (QLSTM/QGRU) instead"
    for cls in ("SimpleRNN", "QSimpleRNN")
}


def supported_layer_classes() -> set[str]:
    import hls4ml.converters

    # hls4ml's Keras v2 reader drops these before conversion (keras_v2_to_hls.skip_layers).
    return set(hls4ml.converters.get_supported_keras_layers()) | {"Dropout"}


def _activation_config(layer, attribute: str):
    value = getattr(layer, attribute, None)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    get_config = getattr(value, "get_config", None)
    name = getattr(value, "__name__", None) or type(value).__name__
    return {"name": name, "config": get_config() if get_config else {}}


def _is_hard(activation) -> bool:
    if activation is None:
        return False
    if isinstance(activation, str):
        return any(activation.startswith(hard) for hard in HARD_ACTIVATIONS)
    name, config = activation["name"], activation["config"]
    if name in HARD_ACTIVATIONS:
        return True
    # QKeras quantized_tanh/quantized_sigmoid are "hard" unless use_real_tanh/use_real_sigmoid.
    if name == "quantized_tanh":
        return not config.get("use_real_tanh", False)
    if name == "quantized_sigmoid":
        return not config.get("use_real_sigmoid", False)
    return False


def check_convertible(model) -> None:
    """Raise UnsupportedModelError for the first layer hls4ml 1.3.0 cannot take."""
    supported = supported_layer_classes()
    for layer in _walk(model):
        cls = type(layer).__name__
        if layer.name in RESERVED_LAYER_NAMES:
            raise UnsupportedModelError(
                f"layer '{layer.name}' ({cls}): 'input' is a reserved name in hls4ml; rename the layer (e.g. name='input_1')"
            )
        if cls not in supported:
            raise UnsupportedModelError(
                f"layer '{layer.name}' ({cls}) has no hls4ml 1.3.0 converter; replace it with a supported layer "
                "(see hls4ml.converters.get_supported_keras_layers()) or register one through hls4ml's Extension API"
            )
        if cls in REFUSED_LAYERS:
            raise UnsupportedModelError(f"layer '{layer.name}' ({cls}): {REFUSED_LAYERS[cls]}")
        if cls in RECURRENT_CLASSES:
            _check_recurrent(layer, cls)


def check_saved_config(model_config: dict) -> None:
    """The same recurrent checks on a saved architecture, before Keras loads it: models
    saved with hard activations may not even load in QKeras 0.9.0, and the user should
    hear why rather than a deserialization error."""
    config = model_config.get("config", {})
    layers = config.get("layers", []) if isinstance(config, dict) else []
    for entry in layers:
        cls, layer_config = entry.get("class_name", ""), entry.get("config", {})
        if cls == "Bidirectional":
            wrapped = [layer_config.get(key) for key in ("layer", "backward_layer")]
            check_saved_config({"config": {"layers": [entry for entry in wrapped if isinstance(entry, dict)]}})
        elif cls in RECURRENT_CLASSES:
            _check_recurrent_activations(
                layer_config.get("name", "?"), cls,
                _serialized_activation(layer_config.get("activation")),
                _serialized_activation(layer_config.get("recurrent_activation")),
            )
        elif cls in ("Sequential", "Functional", "Model"):
            check_saved_config(entry)


def _serialized_activation(value):
    if isinstance(value, dict):
        return {"name": value.get("class_name", ""), "config": value.get("config", {})}
    return value


def _check_recurrent(layer, cls: str) -> None:
    if cls == "Bidirectional":
        for wrapped in (layer.forward_layer, layer.backward_layer):
            wrapped_cls = type(wrapped).__name__
            if wrapped_cls in REFUSED_LAYERS:
                raise UnsupportedModelError(f"layer '{layer.name}' (Bidirectional {wrapped_cls}): "
                                            f"{REFUSED_LAYERS[wrapped_cls]}")
            _check_recurrent(wrapped, wrapped_cls)
        return
    if cls == "QGRU" and not getattr(layer.cell, "reset_after", True):
        raise UnsupportedModelError(
            f"layer '{layer.name}' (QGRU) has reset_after=False (QKeras's default), which hls4ml 1.3.0 converts "
            "into a different function (about 10% argmax agreement); train it with QGRU(..., reset_after=True)"
        )
    _check_recurrent_activations(
        layer.name, cls,
        _activation_config(layer, "activation"),
        _activation_config(getattr(layer, "cell", layer), "recurrent_activation"),
    )


def _check_recurrent_activations(name: str, cls: str, activation, recurrent) -> None:
    if _is_hard(recurrent):
        raise UnsupportedModelError(
            f"layer '{name}' ({cls}): recurrent_activation {_describe(recurrent)} is a hard activation, which hls4ml "
            "1.3.0 refuses; use recurrent_activation='sigmoid' (float, table-based in HLS) or quantized_sigmoid(bits, use_real_sigmoid=True)"
        )
    if _is_hard(activation):
        raise UnsupportedModelError(
            f"layer '{name}' ({cls}): activation {_describe(activation)} is a hard activation, which hls4ml 1.3.0 "
            "refuses; use activation='tanh' or quantized_tanh(bits, use_real_tanh=True)"
        )


def _describe(activation) -> str:
    return activation if isinstance(activation, str) else activation["name"]


def _walk(model):
    for layer in model.layers:
        inner = getattr(layer, "layers", None)
        if inner is not None and type(layer).__name__ in ("Sequential", "Functional"):
            yield from _walk(layer)
        else:
            yield layer



def patch_qkeras_for_tensorflow() -> None:
    """QKeras 0.9.0's QGRU cell calls two TensorFlow internals that TensorFlow 2.14 (the
    version hls4ml 1.3.0 pins) moved: ``nest.is_sequence`` (now ``is_nested``) and, with
    ``reset_after=True``, ``array_ops.unstack``. Every QGRU fails on its first call
    without them. Provide the old names; installed files are not touched."""
    import tensorflow as tf  # deferred: TensorFlow, heavy; patched only when QKeras is loaded
    from tensorflow.python.ops import array_ops
    from tensorflow.python.util import nest

    if not hasattr(nest, "is_sequence"):
        nest.is_sequence = nest.is_nested
    if not hasattr(array_ops, "unstack"):
        array_ops.unstack = tf.unstack


def patch_hls4ml_conv2d_batchnorm() -> None:
    """hls4ml 1.3.0 transposes a QConv2DBatchnorm's folded kernel twice under the Resource
    strategy: ``Conv2DBatchnorm.initialize`` stores it transposed (axes 3, 0, 1, 2) for
    Resource, and the Vivado backend's ``ApplyResourceStrategy`` pass transposes every
    Resource convolution's kernel again, so the C++ multiplies by scrambled weights
    (measured: ResNet-8 stem outputs off by 7.0 where Keras's largest is 3.8). Store the
    folded kernel as a Conv2D stores its kernel and leave the one transposition to the
    pass. Installed files are not touched; applying it twice is harmless."""
    from hls4ml.model import layers

    cls = layers.Conv2DBatchnorm
    if getattr(cls, "_fpga_flow_single_transpose", False):
        return

    def initialize(self):
        layers.Conv2D.initialize(self)
        folded_weights, folded_bias = self._get_folded_weights()
        self.weights["weight"].data_unquantized = folded_weights
        self.weights["weight"].data = self.get_attr("weight_quantizer")(folded_weights)
        self.weights["bias"].data_unquantized = folded_bias
        bias_quantizer = self.get_attr("bias_quantizer")
        if bias_quantizer is not None:
            self.weights["bias"].data = bias_quantizer(folded_bias)

    cls.initialize = initialize
    cls._fpga_flow_single_transpose = True


def tie_recurrent_types(model, name: str, layer_configs: dict[str, Any]) -> str:
    """hls4ml's recurrent kernels run one dense template over the input and the state,
    and write gate sums into result-typed arrays: input, result and accumulator types
    must be one type. Widen them together."""
    precision = layer_configs[name]["Precision"]
    state_type = precision.get("result")
    if not is_fixed_spelling(state_type):
        return ""
    precision["accum"] = state_type
    source = _inbound_name(model, name)
    if source in layer_configs:
        layer_configs[source].setdefault("Precision", {})["result"] = state_type
        return f"; {source} result -> {state_type} (tied to the state type)"
    return ""


def tie_state_quantizer_types(model, hls_config: dict[str, Any]) -> list[str]:
    """Make QKeras recurrent layers with a ``state_quantizer`` compile.

    Root cause of the failure: hls4ml 1.3.0 maps the state quantizer to the layer's
    ``accum`` type, but its LSTM/GRU kernels call ``dense<data_T, res_T>`` on the input
    and on the state and write the result into ``accum_t`` arrays, so the C++ only
    compiles when input, result and accumulator types are one type. The state type is
    what QKeras computes the state in, so all three become it (rounding and saturating,
    as the quantizer does). Returns the layers changed."""
    changed = []
    for layer in model.layers:
        if type(layer).__name__ not in RECURRENT_CLASSES or layer.name not in hls_config["LayerName"]:
            continue
        precision = hls_config["LayerName"][layer.name].get("Precision", {})
        state = FixedType.parse(precision.get("accum", ""))
        if state is None or precision.get("result") == str(state):
            continue
        precision["result"] = str(FixedType(state.width, state.integer, state.signed, "RND", "SAT"))
        tie_recurrent_types(model, layer.name, hls_config["LayerName"])
        changed.append(layer.name)
    return changed


def _inbound_name(model, name: str) -> str | None:
    """The single Keras layer (or model input) feeding layer ``name``."""
    layer = model.get_layer(name)
    inbound = layer.inbound_nodes[0].inbound_layers if layer.inbound_nodes else []
    inbound = inbound if isinstance(inbound, list) else [inbound]
    return inbound[0].name if len(inbound) == 1 else None
