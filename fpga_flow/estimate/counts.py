"""What the cost model counts: the named quantities (terms) a layer's hardware is
tallied in, the thresholds of the counting rules, and the small arithmetic of DSP
slices and block RAM ports every rule shares. The rules themselves are in
:mod:`.products` (multiply-accumulate blocks), :mod:`.cost` (tables, FIFOs, buffers,
registers, the top function) and :mod:`.timing` (cycles and pipeline registers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fpga_flow.estimate.design import SEVEN_SERIES, Design, NumberType

BRAM_BITS = 18432
DEFAULT_WIDTH = 16
LUT_TERMS = ("adder_bits", "sat_adder_bits", "lut_mult_bits", "dsp", "mux_bits", "rom_lut_bits", "elementwise_bits",
             "cast_bits", "fifo_srl_bits", "buffer_bits", "table_lut_bits", "stream_layer", "design")
FF_TERMS = ("stage_bits", "parallel_stage_bits", "shared_mult_bits", "accumulator_bits", "input_bits", "window_bits", "line_buffer_bits",
            "word_bits", "dsp", "vitis_dsp", "stream_layer")
# Registers of the top function, outside every layer's module (count_top).
TOP_FF_TERMS = ("fifo_registers", "boundary_bits")
# FF terms that count register bits one for one (a FIFO's flip-flops, a stored array, an
# accumulator, a shared multiplier's operands): one flip-flop per bit, not
# fitted. The others count registers HLS's schedule places (where a pipeline is cut, which
# arrays between layers it registers, control per layer or DSP) and are fitted.
REGISTER_TERMS = ("fifo_registers", "line_buffer_bits", "window_bits", "input_bits", "accumulator_bits", "word_bits",
                  "shared_mult_bits")
# Design traits that scale every FF count: Vitis HLS registers more than Vivado HLS.
FF_FACTORS = ("vitis_hls",)


@dataclass(frozen=True)
class Rules:
    """Thresholds of the counting rules (module docstring); not fitted."""

    const_dsp_digits: int = 3
    dsp_min_product_bits: int = 80
    rom_lut_max_bits: int = 1024
    fifo_srl_max_depth: int = 16
    forced_bram_from_version: tuple[int, int] = (1, 0)
    shift_register_buffers_from_version: tuple[int, int] = (0, 8)
    synth_rom_max_depth: int = 16
    synth_fifo_max_depth: int = 64


@dataclass(frozen=True)
class ProductTiming:
    """What the pipeline of one product depends on."""

    inputs: int  # summed into one output in one cycle (all of them unrolled, n_in / R shared)
    reuse: int
    steps: int  # applications computed one after the other (io_parallel positions)
    chained: bool  # saturating or rounding sums: a chain of additions, not a tree
    shift_add: float = 0.0  # CSD terms per multiplication when all are shifts and adds (0: multipliers)


@dataclass
class LayerCounts:
    """The quantities the rules count in one layer, before any fitted constant."""

    name: str
    kind: str
    priced: bool
    dsp: int = 0
    bram: int = 0
    multipliers: int = 0  # multiplications with hardware of their own (in DSPs or LUTs)
    lut: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LUT_TERMS, 0.0))
    ff: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FF_TERMS, 0.0))
    products: list[ProductTiming] = field(default_factory=list)
    shared_weights: bool = False  # some weight product is shared (reuse factor > 1)
    # Of ``bram``: shallow weight ROMs and FIFOs Vivado synthesis builds in LUTs
    # (Rules.synth_rom_max_depth, Rules.synth_fifo_max_depth).
    shallow_rom_bram: int = 0
    word_reuse: int = 1  # cycles a stream word occupies the layer's shared operators
    stream_words: int = 1
    out_bits: int = 0  # the layer's output: its stream word, or its whole io_parallel array
    word_bits: int = 0  # the stream word an element-wise stream layer registers (its output word)
    combinational: bool = False  # an io_parallel layer of latency 0 (set by timed_registers)
    trees: list[tuple[float, int, int]] = field(default_factory=list)  # (inputs per sum, sums, sum width) of each product
    notes: list[str] = field(default_factory=list)


def design_traits(design: Design) -> dict[str, bool]:
    """Which of :data:`FF_FACTORS` apply to ``design``."""
    return {"vitis_hls": design.hls_tool == "vitis_hls", "seven_series": design.family.lower() in SEVEN_SERIES}


def width(number: NumberType | None) -> int:
    return number.width if number is not None else DEFAULT_WIDTH


def dsp_ports(family: str) -> tuple[int, int]:
    """Multiplier port widths of the family's DSP slice."""
    return (25, 18) if family.lower() in SEVEN_SERIES else (27, 18)


def dsp_slices(a: int, b: int, family: str) -> int:
    """DSP slices of an a x b multiplier (the wider operand on the wider port)."""
    port_a, port_b = dsp_ports(family)
    return math.ceil(max(a, b) / port_a) * math.ceil(min(a, b) / port_b)


def port_bits(depth: int) -> int:
    """Widest port of an 18 Kb block RAM holding ``depth`` words."""
    for limit, bits in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2)):
        if depth <= limit:
            return bits
    return 1


def version_tuple(text: str | None) -> tuple[int, int]:
    """``'1.3'`` -> (1, 3); unknown -> the hls4ml this project converts with (1, 3)."""
    try:
        major, minor = (text or "").lstrip("v").split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (1, 3)

