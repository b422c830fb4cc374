"""The neutral description of an hls4ml design: what decides its cost, nothing else.

A :class:`Design` is a list of :class:`LayerDesign`, each holding the multiply-accumulate
blocks it computes (:class:`Product`), its lookup tables, its output FIFO (io_stream) and
the widths of its numbers, plus the device family and the clock. Two producers fill it:
:mod:`fpga_flow.estimate.from_graph` (an hls4ml 1.3.0 ModelGraph) and
:mod:`fpga_flow.estimate.from_pair` (a real project's ``project.json``). The cost model
(:mod:`fpga_flow.estimate.cost`) reads only this description, so a description written
to disk (``design.json``) prices a cached project without the hls4ml graph.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fpga_flow.fixed import FixedType
from fpga_flow.layers import IO_TYPES, LATENCY_KEY, RESOURCE_KEY

DESIGN_FILE = "design.json"
DESIGN_SCHEMA = "fpga-flow design v1"

LayerKind = Literal[
    "dense", "conv1d", "conv2d", "depthwise_conv1d", "depthwise_conv2d", "pointwise_conv1d", "pointwise_conv2d",
    "separable_conv1d", "separable_conv2d", "pooling1d", "pooling2d", "global_pooling1d", "global_pooling2d",
    "batchnorm", "activation", "softmax", "zeropad1d", "zeropad2d", "lstm", "gru", "simple_rnn", "attention",
    "merge", "concatenate", "upsampling1d", "upsampling2d", "cropping1d", "cropping2d", "clone", "quantizer",
    "reshape", "unknown",
]
# Layers that move or relabel data without computing: io_parallel wires them away.
FREE_KINDS = frozenset({"reshape"})
# Layers that only copy numbers from one place to another (padding with zeros, repeating,
# cutting, joining, duplicating a stream): in io_parallel hls4ml's loops over them unroll
# to wires (nnet_padding.h, nnet_image.h, nnet_cropping.h, nnet_merge.h's concatenate),
# so they are priced at zero there; in io_stream each is a process reading and writing
# its streams, priced as one.
COPY_KINDS = frozenset({"reshape", "zeropad1d", "zeropad2d", "upsampling1d", "upsampling2d", "cropping1d",
                        "cropping2d", "concatenate", "clone"})


def is_wiring(layer: "LayerDesign") -> bool:
    """The layer is wires in its design: a relabelling, or a copy in io_parallel (:data:`COPY_KINDS`)."""
    return layer.kind in FREE_KINDS or (layer.kind in COPY_KINDS and layer.io_type == "io_parallel")
RECURRENT_KINDS = frozenset({"lstm", "gru", "simple_rnn"})
# Products hls4ml unrolls whatever the layer's reuse factor (the recurrent gates'
# element-wise products): a plan's reuse factor leaves them as described.
UNROLLED_PRODUCTS = frozenset({"gates"})
# Products of two computed operands (softmax's normalization; our attention's scores, their
# scaling, its softmax and context; a Multiply or Dot merge): no weight to hold as a
# constant, so a plan's strategy leaves them computed.
COMPUTED_PRODUCTS = frozenset({"normalize", "scores", "scaling", "softmax", "context", "multiply", "dot"})
# Activation functions hls4ml computes from a lookup table (relu, linear and their
# leaky or clipped forms are comparisons and wires).
TABLE_FUNCTIONS = frozenset({"sigmoid", "tanh", "softmax", "softplus", "softsign", "elu", "selu"})
Strategy = Literal[LATENCY_KEY, RESOURCE_KEY]
IOType = Literal[IO_TYPES]


class NumberType(BaseModel):
    """A fixed-point or integer number as the generated C++ declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(ge=1, description="Total bits, sign included.")
    integer: int = Field(description="Bits left of the binary point, sign included (ap_fixed's I).")
    signed: bool = Field(description="Two's complement (ap_fixed, ap_int) or unsigned (ap_ufixed, ap_uint).")
    rounds: bool = Field(default=False, description="Rounds on assignment (AP_RND*), costing an adder; default truncation is free.")
    saturates: bool = Field(default=False, description="Saturates on overflow (AP_SAT*), costing a comparison; default wrap is free.")

    @property
    def fraction(self) -> int:
        """Bits right of the binary point: a value is an integer count of 2**-fraction."""
        return self.width - self.integer


_ARRAY = re.compile(r"nnet::array<\s*(.*)\s*,\s*[\d*\s]+>\s*$")


def parse_type(text: str | None) -> NumberType | None:
    """``ap_fixed<16,6,AP_RND,AP_SAT>``, ``ap_ufixed<6,0>``, ``ap_int<16>``, ``ap_uint<1>``,
    ``ac_fixed<16,6,true>``, hls4ml's ``fixed<6,1,TRN,WRAP,0>``, or an ``nnet::array`` of
    one of those (a packed io_stream word: its element type) -> the type; else None."""
    array = _ARRAY.match(text.strip()) if text else None
    fixed = FixedType.parse(array.group(1) if array else text) if text else None
    if fixed is None:
        return None
    return NumberType(width=fixed.width, integer=fixed.integer, signed=fixed.signed,
                      rounds="RND" in fixed.rounding, saturates="SAT" in fixed.overflow)


def csd_digits(value: int) -> int:
    """Non-zero digits of ``value`` in canonical signed-digit form (digits -1, 0, 1, no two
    adjacent non-zero): the fewest shifted copies of x that add up to ``value * x``."""
    value = abs(int(value))
    digits = 0
    while value:
        if value & 1:
            digits += 1
            value -= 2 - (value & 3)  # a run of ones ends in -1 and carries into the run's top
        value >>= 1
    return digits


def constant_profile(values: np.ndarray, number_type: NumberType, rounding: str = "trn") -> list[list[int]]:
    """The non-zero weights once stored in ``number_type``, counted by their CSD digits
    (row) and by the bits their value takes, sign included (column): ``profile[d][b]``
    weights have d digits and b bits. HLS sizes a constant multiplication by the
    constant's value, not its declared type (HGQ writes one type for weights of 1 to 10
    bits), so both decide what a multiplication by it costs.

    The stored integer is ``values * 2**fraction`` truncated toward minus infinity
    (ap_fixed's default AP_TRN) or rounded to nearest (``rounding="rnd"``, what a
    QKeras quantizer did before hls4ml stored the already-representable value), then
    wrapped into ``width`` bits."""
    scaled = np.asarray(values, dtype=np.float64).ravel() * 2.0 ** number_type.fraction
    stored = np.floor(scaled + (0.5 if rounding == "rnd" else 0.0)).astype(np.int64)
    span = 1 << number_type.width
    stored = np.mod(stored, span)
    if number_type.signed:
        stored = np.where(stored >= span // 2, stored - span, stored)
    uniques, occurrences = np.unique(stored[stored != 0], return_counts=True)
    profile: list[list[int]] = [[], []]
    for value, count in zip(uniques, occurrences):
        digits, bits = csd_digits(value), abs(int(value)).bit_length() + 1
        profile.extend([] for _ in range(digits + 1 - len(profile)))
        row = profile[digits]
        row.extend([0] * (bits + 1 - len(row)))
        row[bits] += int(count)
    return profile


def digit_counts(profile: list[list[int]]) -> list[int]:
    """Non-zero weights by CSD digit count (index = digits) of a :func:`constant_profile`."""
    return [sum(row) for row in profile]


def constant_digits(values: np.ndarray, number_type: NumberType, rounding: str = "trn") -> list[int]:
    """Histogram of the CSD digit counts of the non-zero weights once stored in
    ``number_type`` (index = digits; index 0 stays 0); see :func:`constant_profile`."""
    return digit_counts(constant_profile(values, number_type, rounding))


class Product(BaseModel):
    """One multiply-accumulate block: ``n_out`` sums of ``n_in`` products, computed at
    ``positions`` places (output pixels, time steps, heads) by the same hardware.

    A dense layer is one product; a convolution one product applied at each output
    position; a GRU three (input, recurrent, element-wise gates) per time step."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="What the block computes, e.g. 'kernel', 'recurrent', 'gates'.")
    n_in: int = Field(ge=1, description="Inputs summed into one output (1 for element-wise products).")
    n_out: int = Field(ge=1, description="Outputs of one application.")
    positions: int = Field(default=1, ge=1, description="Applications per inference (pixels, time steps).")
    n_weights: int = Field(ge=0, description="Multiplications of one application with every weight present (n_in * n_out for a matrix).")
    n_nonzero: int = Field(ge=0, description="Multiplications left once zero weights are dropped (hls4ml's Latency strategy drops them).")
    zero_weights: int | None = Field(
        default=None, ge=0, description="Weights hls4ml counted as zero when it wrote the project (its n_zeros: exact zeros "
                                        "before the weights are stored in their type), which its multiplier limit subtracts; "
                                        "None when unknown (the stored zeros stand in).")
    constant: bool = Field(description="The second operand is a weight fixed at synthesis (True) or a computed value (False).")
    weight_type: NumberType | None = Field(default=None, description="Type of the weights (or second operand).")
    input_type: NumberType | None = Field(default=None, description="Type of the data operand.")
    accum_type: NumberType | None = Field(default=None, description="Type the sums are accumulated in.")
    reuse_factor: int = Field(default=1, ge=1, description="Multiplications each multiplier performs per application.")
    parallel: int = Field(default=1, ge=1, description="Copies of the block working side by side (io_parallel conv: pixels per step).")
    weight_digits: list[int] | None = Field(
        default=None, description="Non-zero weights by CSD digit count (index = digits), or None when the weights are unknown.")
    weight_profile: list[list[int]] | None = Field(
        default=None, description="Non-zero weights by CSD digits (row) and by the bits their value takes, sign included "
                                  "(column), or None when unknown (the declared width stands in).")


class Table(BaseModel):
    """A lookup table (activation, softmax exp/inverse) in ROM."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Which table, e.g. 'table', 'exp_table', 'inv_table'.")
    size: int = Field(ge=1, description="Entries.")
    width: int = Field(ge=1, description="Bits per entry.")


class LayerDesign(BaseModel):
    """One hls4ml layer as the cost model sees it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Layer name in the hls4ml model (the Keras name).")
    kind: LayerKind = Field(description="What the layer computes; 'unknown' is a layer the estimator cannot price.")
    source_class: str = Field(description="hls4ml class or project.json function the kind was read from.")
    function: str | None = Field(default=None, description="Activation function, pooling operation or softmax implementation.")
    strategy: Strategy = Field(default=LATENCY_KEY, description="hls4ml strategy: constant unrolled weights (latency) or weights in arrays (resource).")
    io_type: IOType = Field(default="io_parallel", description="Whole arrays passed between layers, or streams.")
    reuse_factor: int = Field(default=1, ge=1, description="The layer's reuse factor.")
    implementation: str | None = Field(default=None, description="hls4ml implementation of the layer (conv 'linebuffer'/'encoded', softmax 'stable'/'latency'/...).")
    in_elements: int = Field(ge=0, description="Numbers the layer reads per inference.")
    out_elements: int = Field(ge=0, description="Numbers the layer writes per inference.")
    in_positions: int = Field(default=1, ge=1, description="Stream words read per inference (pixels or time steps; 1 in io_parallel).")
    out_positions: int = Field(default=1, ge=1, description="Stream words written per inference.")
    kernel: list[int] = Field(default_factory=list, description="Filter or pool window size per spatial axis.")
    stride: list[int] = Field(default_factory=list, description="Stride per spatial axis.")
    channels: int = Field(default=1, ge=1, description="Channels of the input (the element-wise width of a stream word).")
    input_type: NumberType | None = Field(default=None, description="Type of the layer's input numbers.")
    result_type: NumberType | None = Field(default=None, description="Type of the layer's output numbers.")
    products: list[Product] = Field(default_factory=list, description="The multiply-accumulate blocks of the layer.")
    tables: list[Table] = Field(default_factory=list, description="Lookup tables of the layer.")
    sequence: int = Field(default=1, ge=1, description="Time steps (recurrent layers; 1 otherwise).")
    state: int = Field(default=0, ge=0, description="State size of a recurrent layer.")
    fifo_depth: int | None = Field(default=None, description="Depth of the layer's output stream FIFO (io_stream), None in io_parallel.")
    out_pack: int = Field(default=1, ge=1, description="Elements per output stream word (io_stream; 1 in io_parallel).")
    notes: list[str] = Field(default_factory=list, description="What the producer could not read exactly, in words.")


class Design(BaseModel):
    """A whole hls4ml design: layers in call order, the device and the clock."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str = Field(default=DESIGN_SCHEMA, alias="schema", description="Format of this record.")
    name: str = Field(description="Model or project name.")
    source: str = Field(description="What the description was read from (hls4ml ModelGraph, a project.json).")
    backend: str = Field(description="hls4ml backend (Vivado, Vitis, VivadoAccelerator, ...).")
    part: str | None = Field(default=None, description="FPGA part.")
    family: str = Field(description="Device family (zynq, artix7, virtex7, kintexu, virtexuplus, zynquplus, ...).")
    clock_period_ns: float = Field(gt=0, description="Target clock period.")
    io_type: IOType = Field(description="hls4ml io type of the design.")
    strategy: Strategy = Field(description="The model-level hls4ml strategy.")
    reuse_factor: int = Field(default=1, ge=1, description="The model-level reuse factor.")
    pipeline_style: Literal["pipeline", "dataflow"] = Field(
        description="Top function: one pipeline (layers in sequence, II = largest reuse factor) or DATAFLOW processes.")
    hls4ml_version: str | None = Field(default=None, description="hls4ml version the project was written by (major.minor).")
    hls_tool: Literal["vivado_hls", "vitis_hls"] = Field(
        default="vivado_hls", description="The HLS compiler that synthesizes it (Vitis HLS registers more than Vivado HLS).")
    available: dict[str, int] | None = Field(
        default=None, description="The part's LUT, FF, DSP and BRAM_18K, when known (post-synthesis DSP use cannot exceed them).")
    layers: list[LayerDesign] = Field(description="Layers in call order.")

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=1)


# --------------------------------------------------------------------------- families

# DSP slice multiplier ports per family (DSP48E1: 25x18, DSP48E2 and DSP58: 27x18).
SEVEN_SERIES = ("zynq", "artix7", "kintex7", "virtex7", "spartan7")
_PART_FAMILIES = (
    (r"xc7z", "zynq"), (r"xc7a", "artix7"), (r"xc7k", "kintex7"), (r"xc7v", "virtex7"), (r"xc7s", "spartan7"),
    (r"xczu|xck2", "zynquplus"), (r"xcku\d+p", "kintexuplus"), (r"xcku", "kintexu"),
    (r"xcvu\d+p|xcu\d", "virtexuplus"), (r"xcvu", "virtexu"), (r"xcv[cmhpe]\d", "versal"),
)


def family_of_part(part: str | None) -> str | None:
    """The device family of an AMD part, from its name, or None."""
    if not part:
        return None
    lowered = part.strip().lower()
    for pattern, family in _PART_FAMILIES:
        if re.match(pattern, lowered):
            return family
    return None
