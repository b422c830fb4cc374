"""Stage ``estimate``: resources and latency of an hls4ml project without vendor tools.

A first-order model, stated so it can be checked against vendor reports:

* multiplications per layer: Dense ``n_in * n_out`` (non-zero weights only: hls4ml's
  Latency strategy drops multiplications by zero); Conv1D/Conv2D ``kernel_size * n_chan *
  n_filt``, shared by the output positions, which a pipelined loop visits one per cycle; recurrent layers ``gates * (n_in + n_state) * n_state``
  per time step; quantized attention as its kernel documents
  (fpga_flow.attention.layer);
* multipliers instantiated: ``ceil(multiplications / reuse_factor)``;
* a multiplier maps to LUTs when either operand is at most 4 bits or both are at most
  10 bits (Vivado's threshold for small products), costing ``w_a * w_b / 2`` LUTs;
  otherwise to one DSP slice (two when the product exceeds the family's DSP port widths,
  25x18 on 7-series, 27x18 on UltraScale and newer);
* adders: one per multiplication, ``accum_width / 2`` LUTs each; registers: one output
  word per layer output element, plus the multiplier outputs when pipelined;
* weights go to BRAM_18K only under the Resource strategy (``ceil(bits / 18432)`` blocks);
* latency of a layer: ``reuse_factor * positions + ceil(log2(n_in)) + 2`` cycles (multiply, adder tree,
  register), summed over layers for io_parallel; the interval is the largest reuse factor.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fpga_flow.boards import RESOURCE_KEYS, Board

MODEL_NAME = "fpga-flow first-order estimate v1"
BRAM_BITS = 18432
RECURRENT_GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}


class LayerEstimate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    layer: str
    layer_class: str
    multipliers: int
    DSP: int
    LUT: int
    FF: int
    BRAM_18K: int
    latency_cycles: int
    reuse_factor: int


class Estimate(BaseModel):
    """The estimate of a design: totals, their share of the board, latency, per layer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(default=MODEL_NAME, description="which estimator (and version) produced the figures")
    resources: dict[str, int]
    utilization_pct: dict[str, float | None] = Field(description="None where the board has none of the resource")
    latency_cycles: int
    interval_cycles: int
    latency_ns: float
    per_layer: list[LayerEstimate]


def _dsp_ports(family: str) -> tuple[int, int]:
    return (25, 18) if family.lower() in ("zynq", "artix7", "kintex7", "virtex7", "spartan7") else (27, 18)


def _width(precision) -> int:
    return int(getattr(precision, "width", 16) or 16)


def _multiplications(layer) -> int:
    cls = layer.class_name
    weight = layer.weights.get("weight")
    if cls in ("Dense", "BinaryDense", "TernaryDense"):
        return int(np.count_nonzero(weight.data)) if weight is not None else 0
    if cls in ("Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D"):
        # One kernel application per cycle: hls4ml walks the output positions in a
        # pipelined loop (ParallelizationFactor 1), sharing the multipliers.
        return int(np.count_nonzero(weight.data)) if weight is not None else 0
    if cls == "QMHSA":
        from fpga_flow.attention import estimate_multipliers

        # estimate_multipliers divides by the reuse factor; the caller does that here.
        return estimate_multipliers(layer.get_attr("num_heads"), layer.get_attr("seq_len"),
                                    layer.get_attr("embed_dim"), layer.get_attr("key_dim"), 1)
    for kind, gates in RECURRENT_GATES.items():
        if cls == kind:
            n_state = int(layer.get_attr("n_out"))
            n_in = int(layer.get_attr("n_in"))
            return gates * (n_in + n_state) * n_state
    return 0


def cls_is_conv(layer) -> bool:
    return layer.class_name in ("Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D")


def _layer_estimate(layer, settings, board: Board) -> LayerEstimate:
    mults = _multiplications(layer)
    reuse = int(layer.get_attr("reuse_factor", settings.reuse_factor) or 1)
    multipliers = math.ceil(mults / reuse) if mults else 0
    weight = layer.weights.get("weight")
    w_weight = _width(weight.type.precision) if weight is not None else 0
    w_input = _width(layer.get_input_variable().type.precision) if layer.inputs else 16
    port_a, port_b = _dsp_ports(board.family)
    small = min(w_weight, w_input) <= 4 or max(w_weight, w_input) <= 10
    dsp_each = 0 if small else (1 if max(w_weight, w_input) <= port_a and min(w_weight, w_input) <= port_b else 2)
    out_var = layer.get_output_variable()
    out_width = _width(out_var.type.precision)
    accum = layer.get_attr("accum_t")
    accum_width = _width(accum.precision) if accum is not None else out_width
    lut = (multipliers * (w_weight * w_input // 2) if small else 0) + multipliers * (accum_width // 2)
    ff = int(np.prod(out_var.shape)) * out_width + multipliers * accum_width
    bram = 0
    if weight is not None and settings.strategy == "Resource":
        bram = math.ceil(weight.data.size * w_weight / BRAM_BITS)
    n_in = int(layer.get_attr("n_in") or np.prod(layer.get_input_variable().shape) if layer.inputs else 1)
    positions = 1
    if cls_is_conv(layer):
        positions = int(np.prod(out_var.shape[:-1])) // int(layer.get_attr("parallelization_factor", 1) or 1)
    latency = reuse * positions + math.ceil(math.log2(max(2, n_in))) + 2 if mults else 1
    return LayerEstimate(layer=layer.name, layer_class=layer.class_name, multipliers=multipliers,
                         DSP=multipliers * dsp_each, LUT=int(lut), FF=int(ff), BRAM_18K=bram, latency_cycles=latency,
                         reuse_factor=reuse)


def estimate(graph, settings, board: Board) -> Estimate:
    """Resources and latency of ``graph`` built with ``settings`` for ``board``."""
    layers = [_layer_estimate(layer, settings, board) for layer in graph.get_layers() if layer.class_name != "Input"]
    totals = {key: int(sum(getattr(layer, key) for layer in layers)) for key in ("LUT", "FF", "DSP", "BRAM_18K")}
    totals["URAM"] = 0
    available = board.resources.model_dump()
    latency = int(sum(layer.latency_cycles for layer in layers))
    return Estimate(
        resources=totals,
        utilization_pct={key: round(100.0 * totals[key] / available[key], 2) if available[key] else None
                         for key in RESOURCE_KEYS},
        latency_cycles=latency,
        interval_cycles=int(max((layer.reuse_factor for layer in layers), default=1)),
        latency_ns=round(latency * settings.clock_period_ns, 3),
        per_layer=layers,
    )
