"""hls4ml 1.3.0 support for ``QMultiHeadSelfAttention`` through its Extension API: a
Keras v2 parser, the IR layer ``QMHSA`` with its types, Vivado/Vitis templates and the
``nnet_qmhsa.h`` source. ``register()`` is idempotent and needs no TensorFlow.

Types are set per layer under ``LayerName.<name>.Precision`` with these keys (defaults
in parentheses, all truncating and saturating, as the kernel and its numpy model assume):
``accum`` (fixed<24,10>), ``proj`` Q/K/V/context (fixed<16,6>), ``score`` (fixed<16,6>),
``norm`` softmax spread (ufixed<16,4>), ``exp`` (ufixed<18,1>), ``inv_in`` (ufixed<16,6>),
``inv`` (ufixed<18,2>), ``prob`` (ufixed<16,1>), ``result`` (fixed<16,6>); ``TableSize``
sets the ROM tables' length. Weights and biases take their quantizers' exact types.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from fpga_flow.attention import reference as ref
from fpga_flow.fixed import FixedType

KERNEL_SOURCE = Path(__file__).with_name("nnet_qmhsa.h")
INTERNAL_TYPES = ("accum", "proj", "score", "norm", "exp", "inv_in", "inv", "prob", "result")
WEIGHTS = ("wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo")
DEFAULT_TABLE_SIZE = 1024
_registered = False


def _quantized(spec: str | None, values: np.ndarray) -> tuple[np.ndarray, FixedType]:
    """Values as the quantizer leaves them, and the exact fixed type that holds them."""
    from qkeras.quantizers import get_quantizer

    if spec is None:
        integer = max(1, math.floor(math.log2(max(float(np.abs(values).max()), 1e-9))) + 2)
        t = ref.fx(integer + 12, integer)
        return ref.quantize(values, t), t
    quantizer = get_quantizer(spec)
    config = quantizer.get_config()
    bits, integer = int(config["bits"]), int(config["integer"])
    return np.asarray(quantizer(values.astype(np.float32))), ref.fx(bits, integer + 1)


def parse_qmhsa_layer(keras_layer, input_names, input_shapes, data_reader):
    config = keras_layer["config"]
    _, seq_len, embed_dim = input_shapes[0]
    layer = {
        "class_name": "QMHSA",
        "name": config["name"],
        "seq_len": int(seq_len),
        "embed_dim": int(embed_dim),
        "num_heads": int(config["num_heads"]),
        "key_dim": int(config["key_dim"]),
        "causal": bool(config.get("causal", False)),
    }
    if input_names is not None:
        layer["inputs"] = input_names
    for name in WEIGHTS:
        raw = np.asarray(data_reader.get_weights_data(config["name"], name), dtype=np.float64)
        quantizer = config["kernel_quantizer"] if name.startswith("w") else config["bias_quantizer"]
        values, fixed = _quantized(quantizer, raw)
        layer[f"{name}_data"] = values
        layer[f"{'weight' if name.startswith('w') else 'bias'}_fixed"] = str(fixed)
    return layer, [input_shapes[0][0], int(seq_len), int(embed_dim)]


def _layer_class():
    import hls4ml
    from hls4ml.model.attributes import Attribute
    from hls4ml.model.types import NamedType

    class QMHSA(hls4ml.model.layers.Layer):
        """Quantized multi-head self-attention (see fpga_flow.attention.layer)."""

        _expected_attributes = [
            Attribute("seq_len"), Attribute("embed_dim"), Attribute("num_heads"), Attribute("key_dim"),
            Attribute("causal", value_type=bool, default=False),
        ]

        def initialize(self):
            backend = self.model.config.backend
            spec = self.spec()
            self.add_output_variable([spec.seq_len, spec.embed_dim],
                                     precision=backend.convert_precision_string(str(spec.result)))
            for name in INTERNAL_TYPES:
                if name != "result":
                    precision = backend.convert_precision_string(str(getattr(spec, name)))
                    self.set_attr(f"{name}_t", NamedType(f"{self.name}_{name}_t", precision))
            for name in WEIGHTS:
                kind = "weight" if name.startswith("w") else "bias"
                self.add_weights_variable(name=name, var_name=f"{name}{{index}}", data=name,
                                          precision=backend.convert_precision_string(self.get_attr(f"{kind}_fixed")))
            self.add_weights_variable(name="exp_rom", var_name="exp_rom{index}", data=ref.exp_table(spec),
                                      precision=backend.convert_precision_string(str(spec.exp)))
            self.add_weights_variable(name="inv_rom", var_name="inv_rom{index}", data=ref.inv_table(spec),
                                      precision=backend.convert_precision_string(str(spec.inv)))

        def spec(self) -> ref.QMHSASpec:
            """The kernel's shapes and types: defaults, overridden by the layer's config."""
            layer_config = self.model.config.get_layer_config(self)
            chosen = layer_config.get("Precision", {}) if isinstance(layer_config.get("Precision"), dict) else {}
            table_size = int(layer_config.get("TableSize", DEFAULT_TABLE_SIZE))
            spec = ref.QMHSASpec(
                seq_len=self.get_attr("seq_len"), embed_dim=self.get_attr("embed_dim"),
                num_heads=self.get_attr("num_heads"), key_dim=self.get_attr("key_dim"),
                causal=self.get_attr("causal"), table_bits=int(math.log2(table_size)),
            )
            overrides = {}
            for name in INTERNAL_TYPES:
                parsed = FixedType.parse(str(chosen.get(name, "")))
                if parsed is not None:
                    overrides[name] = _truncating(parsed)
            return replace(spec, **overrides)

    return QMHSA


def _truncating(t: FixedType | None) -> FixedType | None:
    return None if t is None else FixedType(t.width, t.integer, t.signed, "TRN", "SAT")


CONFIG_TEMPLATE = """struct config{index} : nnet::qmhsa_config {{
    static const unsigned seq_len = {seq_len};
    static const unsigned embed_dim = {embed_dim};
    static const unsigned num_heads = {num_heads};
    static const unsigned key_dim = {key_dim};
    static const bool causal = {causal};
    static const unsigned table_bits = {table_bits};
    static const unsigned table_size = {table_size};
    static const unsigned reuse_factor = {reuse};
    static constexpr double scale = {scale};
    typedef {weight_t} weight_t;
    typedef {bias_t} bias_t;
    typedef {accum_t} accum_t;
    typedef {proj_t} proj_t;
    typedef {score_t} score_t;
    typedef {scale_t} scale_t;
    typedef {norm_t} norm_t;
    typedef {exp_t} exp_t;
    typedef {inv_in_t} inv_in_t;
    typedef {inv_t} inv_t;
    typedef {prob_t} prob_t;
}};
"""

FUNCTION_TEMPLATE = (
    "nnet::qmhsa<{input_t}, {output_t}, {config}>({input}, {output}, {wq}, {bq}, {wk}, {bk}, {wv}, {bv}, "
    "{wo}, {bo}, {exp_rom}, {inv_rom});"
)


def _templates(layer_class):
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

    class QMHSAConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(layer_class)
            self.template = CONFIG_TEMPLATE

        def format(self, node):
            spec = node.spec()
            params = self._default_config_params(node)
            params.update(
                seq_len=spec.seq_len, embed_dim=spec.embed_dim, num_heads=spec.num_heads, key_dim=spec.key_dim,
                causal="true" if spec.causal else "false", table_bits=spec.table_bits, table_size=spec.table_size,
                scale=repr(ref.scale_value(spec)), weight_t=node.get_weights("wq").type.name,
                bias_t=node.get_weights("bq").type.name,
                scale_t=_cpp(spec.scale),
            )
            for name in INTERNAL_TYPES:
                if name != "result":
                    params[f"{name}_t"] = node.get_attr(f"{name}_t").name
            return self.template.format(**params)

    class QMHSAFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(layer_class, include_header=["nnet_utils/nnet_qmhsa.h"])
            self.template = FUNCTION_TEMPLATE

        def format(self, node):
            params = self._default_function_params(node)
            params.update({name: node.get_weights(name).name for name in (*WEIGHTS, "exp_rom", "inv_rom")})
            return self.template.format(**params)

    return QMHSAConfigTemplate, QMHSAFunctionTemplate


def _cpp(t: FixedType) -> str:
    return f"ap_{'' if t.signed else 'u'}fixed<{t.width},{t.integer},AP_TRN,AP_SAT>"


def register() -> None:
    """Teach hls4ml the layer: parser, IR class, templates and source, for Vivado and Vitis."""
    global _registered
    if _registered:
        return
    import hls4ml

    layer_class = _layer_class()
    hls4ml.converters.register_keras_v2_layer_handler("QMultiHeadSelfAttention", parse_qmhsa_layer)
    hls4ml.model.layers.register_layer("QMHSA", layer_class)
    config_template, function_template = _templates(layer_class)
    for backend_name in ("Vivado", "Vitis", "VivadoAccelerator"):
        backend = hls4ml.backends.get_backend(backend_name)
        backend.register_template(config_template)
        backend.register_template(function_template)
        backend.register_source(KERNEL_SOURCE)
    _registered = True
