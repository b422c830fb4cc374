"""Where hls4ml cannot represent the trained function.

When the closure stops short of its target, the remaining error may sit in arithmetic no
configuration reaches. The one found in the shared peer models: hls4ml's power-of-two
product (``nnet::product::weight_exponential``, QKeras ``quantized_po2`` weights) computes
``a * 2**e`` in ``r_T = ap_fixed<2 * (W_w + W_x), W_w + W_x>``, whose ``W_w + W_x``
fractional bits depend only on the widths of the exponent and of the layer's input; the
input's type is its quantizer's (a QActivation), so for small exponents every product is
truncated whatever the precision configuration says.

For each such layer the chosen design is emulated a second time with that layer's
products exact; a layer whose exact products close the gap is named, with the agreement
and its own relative error both ways: the per-layer evidence.
"""

from __future__ import annotations

import numpy as np

from fpga_flow.emulate.builders import _product_kind
from fpga_flow.emulate.graph import Emulator
from fpga_flow.errors import NotEmulableError
from fpga_flow.fidelity import compare, layer_errors
from fpga_flow.records.precision import LimitRecord

PO2_REASON = ("hls4ml computes its power-of-two products a * 2**e in ap_fixed<2(W_w+W_x), W_w+W_x> "
              "(nnet_mult.h weight_exponential): {fractional} fractional bits for this layer's {data} input "
              "and {exponent}-bit exponents, whatever the configuration; products below 2**-{fractional} are cut")


def hls4ml_limits(graph, X: np.ndarray, keras_final: np.ndarray, keras_layers: dict[str, np.ndarray]
                  ) -> list[LimitRecord]:
    """The layers of ``graph`` (the chosen design) whose arithmetic hls4ml fixes and which,
    made exact, would raise the agreement with Keras on ``X``. Empty when the design is
    not emulated or no such layer exists."""
    try:
        built = Emulator(graph)
    except NotEmulableError:
        return []
    out, traces = built.trace(X)
    agreement, errors = compare(keras_final, out).agreement, layer_errors(keras_layers, traces)
    limits = []
    for layer in graph.get_layers():
        if "weight" not in getattr(layer, "weights", {}) or _product_kind(layer, "weight") != "weight_exponential":
            continue
        exact_out, exact_traces = Emulator(graph, exact_products={layer.name}).trace(X)
        exact_agreement = compare(keras_final, exact_out).agreement
        if exact_agreement <= agreement:
            continue
        data = layer.get_input_variable().type.precision
        exponent = layer.weights["weight"].type.precision.width
        reason = PO2_REASON.format(fractional=exponent + data.width, data=data.definition_cpp(), exponent=exponent)
        limits.append(LimitRecord(layer=layer.name, reason=reason, agreement=agreement,
                                  agreement_if_exact=exact_agreement, layer_error=errors.get(layer.name, 0.0),
                                  layer_error_if_exact=layer_errors(keras_layers, exact_traces).get(layer.name, 0.0)))
    return limits
