"""The emulator of one converted design: hls4ml's ModelGraph walked layer by layer, each
layer turned into a step over raw words (:mod:`.kernels`), with the types, weights,
tables and schedules the generated C++ uses read from the same graph hls4ml writes the
project from.

:class:`Emulator` answers like :class:`fpga_flow.csim.Bridge`: ``spec`` (the bridge
spec: inputs, outputs, traced layers and their shapes, every layer's types),
``predict(X)`` and ``trace(X)`` (outputs and every traced layer, same names and shapes,
float64). Building it raises :class:`NotEmulableError` naming the first layer it does
not reproduce, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection

import numpy as np

from fpga_flow.convert import bridge_spec
from fpga_flow.emulate import arith, spatial
from fpga_flow.emulate.attention import build_attention
from fpga_flow.emulate.builders import (
    Run,
    _result,
    build_activation,
    build_batchnorm,
    build_clone,
    build_conv,
    build_dense,
    build_global_pooling,
    build_merge,
    build_pooling,
    build_reshape,
    build_softmax,
    build_zero_padding,
    fixed_type,
)
from fpga_flow.emulate.kernels import Tensor
from fpga_flow.emulate.recurrent import build_recurrent_layer
from fpga_flow.errors import NotEmulableError, StageFailedError
from fpga_flow.fixed import FixedType

CHUNK = 128  # samples emulated at once
@dataclass(frozen=True)
class Step:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    run: Run
    traced: bool


class Emulator:
    """The converted design as integer numpy arithmetic."""

    def __init__(self, graph, exact_products: Collection[str] = ()):
        """``exact_products`` (diagnosis only): layers whose power-of-two products are
        computed exactly instead of in hls4ml's product type."""
        self.spec = bridge_spec(graph)
        if len(self.spec["inputs"]) != 1 or len(self.spec["outputs"]) != 1:
            raise NotEmulableError("emulation supports single-input, single-output models")
        self._output_name = graph.outputs[0]
        self._input_name = graph.inputs[0]
        self._axi_in, self._axi_out = axi_types(graph)
        self._steps = []
        for layer in graph.get_layers():
            if layer.class_name == "Input":
                # the bridge converts each double to input_t (nnet::convert_data)
                self._input_type = _result(layer)
                self._input_shape = tuple(int(d) for d in layer.get_output_variable().shape)
                continue
            run = build_step(layer, exact_product=layer.name in exact_products)
            self._steps.append(Step(layer.name, tuple(layer.inputs), tuple(layer.outputs), run,
                                    layer.name in self.spec["traced_layers"]))

    def trace(self, X: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Outputs and every traced layer's output, per sample, as float64 (what the
        compiled bridge returns). Computed CHUNK samples at a time: a 32x32 convolution's
        windows take over a megabyte of words per sample."""
        chunks = [self._trace(X[start:start + CHUNK]) for start in range(0, len(X), CHUNK)] or [self._trace(X)]
        traces = {name: np.concatenate([chunk[1][name] for chunk in chunks]) for name in chunks[0][1]}
        return np.concatenate([chunk[0] for chunk in chunks]), traces

    def _trace(self, X: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        X = _through(np.asarray(X, dtype=np.float64).reshape((len(X),) + self._input_shape), self._axi_in)
        values = {self._input_name: Tensor(arith.from_float(X, self._input_type), self._input_type)}
        traces: dict[str, np.ndarray] = {}
        for step in self._steps:
            try:
                produced = step.run([values[name] for name in step.inputs])
            except arith.CastAborts as exc:
                raise StageFailedError(f"layer {step.name}: {exc}, which ap_types asserts against: "
                                       "hls4ml's C simulation of this design aborts") from None
            produced = produced if isinstance(produced, list) else [produced]
            values.update(zip(step.outputs, produced))
            if step.traced:  # the trace saves a layer's first output
                traces[step.name] = produced[0].values().reshape((len(X),) + tuple(
                    self.spec["traced_layers"][step.name]))
        out = values[self._output_name]
        return _through(out.values().reshape(len(X), -1), self._axi_out), traces

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.trace(X)[0]


def axi_types(graph) -> tuple[FixedType | str, FixedType | str]:
    """The words the top function exchanges with the bridge: a VivadoAccelerator design's
    top is its AXI wrapper (``myproject_axi``), whose ``T_in``/``T_out`` are ``float`` by
    default (``AcceleratorConfig.Precision``), or a fixed type; other backends take and
    give ``double``."""
    if graph.config.backend.name != "VivadoAccelerator":
        return "double", "double"
    precision = graph.config.config.get("AcceleratorConfig", {}).get("Precision", {})
    words = []
    for key in ("Input", "Output"):
        text = str(precision.get(key, "float"))
        if text in ("float", "double"):
            words.append(text)
            continue
        t = fixed_type(graph.config.backend.convert_precision_string(text), f"AXI {key.lower()}")
        # VivadoAcceleratorConfig._next_factor8_type: the width rounded up to whole bytes
        words.append(FixedType(-(-t.width // 8) * 8, t.integer, t.signed, t.rounding, t.overflow))
    return words[0], words[1]


def _through(values: np.ndarray, word: FixedType | str) -> np.ndarray:
    """Values passed through one interface word (float: round to nearest single)."""
    if word == "double":
        return values
    if word == "float":
        return values.astype(np.float32).astype(np.float64)
    return arith.to_float(arith.from_float(values, word), word)


# --------------------------------------------------------------------------- steps


def build_step(layer, exact_product: bool = False) -> Run:
    builder = BUILDERS.get(layer.class_name)
    if builder is None:
        raise NotEmulableError(f"layer {layer.name} ({layer.class_name}) is not emulated")
    if exact_product:
        if builder not in (build_dense, build_conv):
            raise ValueError(f"layer {layer.name} has no products to make exact")
        return builder(layer, exact_product=True)
    return builder(layer)


BUILDERS: dict[str, Callable[[object], Run]] = {
    "Dense": build_dense,
    "Conv1D": build_conv,
    "Conv2D": build_conv,
    "Conv2DBatchnorm": build_conv,  # QConv2DBatchnorm: hls4ml folds the normalization into the kernel and bias
    "DepthwiseConv1D": spatial.build_depthwise,
    "DepthwiseConv2D": spatial.build_depthwise,  # also the depthwise half of a SeparableConv2D
    "Resize": spatial.build_resize,  # UpSampling1D/2D
    "Concatenate": spatial.build_concatenate,
    "PointwiseConv1D": build_conv,
    "PointwiseConv2D": build_conv,
    "Activation": build_activation,
    "Softmax": build_softmax,
    "Pooling1D": build_pooling,
    "Pooling2D": build_pooling,
    "GlobalPooling1D": build_global_pooling,
    "GlobalPooling2D": build_global_pooling,
    "Reshape": build_reshape,
    "Repack": build_reshape,  # io_stream's repack_stream: the same words in other stream packets
    "ZeroPadding1D": build_zero_padding,
    "ZeroPadding2D": build_zero_padding,
    "Clone": build_clone,
    "BatchNormalization": build_batchnorm,
    "Merge": build_merge,
    "QMHSA": build_attention,
    "LSTM": build_recurrent_layer,
    "GRU": build_recurrent_layer,
}
