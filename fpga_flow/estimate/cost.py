"""The cost model: what each layer of a :class:`Design` costs, from its arithmetic.

**Counted by rule** (read off the hls4ml HLS library and checked layer by layer on the
pairs' per-module reports):

* *Multipliers.* A Latency-strategy product at reuse factor 1 multiplies by constants:
  every non-zero weight is its own multiplier (zero weights are dropped). HLS builds a
  constant multiplication from shifted copies of the input when the constant has fewer
  than ``const_dsp_digits`` (3) non-zero digits in canonical signed-digit form, and
  uses a DSP slice otherwise. With a reuse factor R > 1, hls4ml limits HLS's ``mul``
  operations to ``ceil(N / R) - floor(n_zeros / R)`` (:func:`multiplier_limit`); the
  limit binds only the DSP multiplications, so a layer whose DSP constants fit under it
  keeps its R = 1 hardware, and one over it shares that many DSP multipliers. Under the
  Resource strategy, ``ceil(N / R)`` general multipliers are shared, N all the weights
  (Resource keeps zeros).
* *DSP or LUTs.* A multiplier of an a-bit by a b-bit operand goes to DSP slices when
  ``a * b >= dsp_min_product_bits`` (8x8 stays in LUTs, 6x16 does not), taking
  ``ceil(max(a, b) / port_a) * ceil(min(a, b) / port_b)`` slices (25x18 ports on
  7-series, 27x18 on UltraScale and later).
* *BRAM.* Resource-strategy weights are a ROM ``ceil(N / R)`` weights wide and R words
  deep: ``ceil(width / port_bits(R))`` blocks of 18 Kb, ``port_bits`` the widest port at
  that depth (512x36, 1Kx18, 2Kx9, ...). hls4ml >= 1.0 forces them into BRAM when R > 1;
  older versions leave ROMs under ``rom_lut_max_bits`` to LUTs. A lookup table takes
  ``ceil(size * width / 18432)`` blocks per copy, one copy per two lookups a cycle (two
  ports); tables under half a block are LUT ROMs. An io_stream FIFO deeper than
  ``fifo_srl_max_depth`` is one FIFO per element of the stream word, each
  ``ceil(width / 18) * ceil(depth / 1024)`` blocks; shallower ones are shift registers.

**Priced by fitted constants** (``calibration.json``): LUTs are a sum of counted
quantities, each times a fitted cost per unit (:data:`LUT_TERMS`). The cost of picking
one of c operands for a shared multiplier grows as sqrt(c) per bit on the pairs (c from
2 to 3200).

**Flip-flops** are registers, counted in bits. Those a layer stores bit for bit
(:data:`REGISTER_TERMS`) cost one flip-flop each and are not fitted: a shared
multiplier's operands and product, accumulators and partial sums held across R cycles,
inputs a DATAFLOW process keeps (a stream layer gathering its whole input; inputs held
across R cycles), sliding windows, line buffers before hls4ml 0.8, the words an
element-wise stream layer writes when its step does not fit in the clock, and
the top function's FIFOs (:func:`fifo_registers`, :func:`count_top`). Those HLS's
schedule places are fitted: the partial sums held where an unrolled sum's pipeline is
cut (:func:`stage_bits`; a cost for io_parallel, one for io_stream), the share of the
arrays between io_parallel layers the top registers, per DSP and per stream layer; Vitis HLS scales them all (:data:`FF_FACTORS`).
A layer's figures are its module's; the top function's registers are the design's.

**Latency.** A product's pipeline depth is ``ceil((t_mult + t_add * log2(n_in)) * s /
clock) - 1`` cycles (saturating sums: ``t_sat_add * n_in``, a chain; ``s`` the 7-series
slowdown, 1 elsewhere; all fitted, in ns). io_parallel: a layer takes
``steps * R - 1 + depth`` cycles (``steps`` = positions computed one after the other);
layers run in sequence, so the design's latency is their sum plus ``top_cycles``, and
its interval the largest R (one pipeline) or the slowest layer (DATAFLOW). io_stream:
a layer reads its stream words at an initiation interval of 1, or ``R +
shared_word_cycles`` when its multipliers are shared; layers overlap, so the interval is
the slowest layer's time and the latency that time plus each other layer's fill (one
word through it). A recurrent layer takes ``sequence * (R + depth + step_cycles)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from fpga_flow.estimate.design import (  # noqa: F401  (SEVEN_SERIES is also the fit's)
    RECURRENT_KINDS,
    SEVEN_SERIES,
    TABLE_FUNCTIONS,
    Design,
    LayerDesign,
    NumberType,
    Product,
    csd_digits,
    is_wiring,
)

BRAM_BITS = 18432
DEFAULT_WIDTH = 16
LUT_TERMS = ("adder_bits", "sat_adder_bits", "lut_mult_bits", "dsp", "mux_bits", "rom_lut_bits", "elementwise_bits",
             "cast_bits", "fifo_srl_bits", "buffer_bits", "table_lut_bits", "stream_layer", "design")
FF_TERMS = ("stage_bits", "parallel_stage_bits", "shared_mult_bits", "accumulator_bits", "input_bits", "window_bits", "line_buffer_bits",
            "word_bits", "dsp", "vitis_dsp", "stream_layer")
# Registers of the top function, outside every layer's module (count_top).
TOP_FF_TERMS = ("fifo_registers", "boundary_bits")
# FF terms that count register bits one for one (a FIFO's flip-flops, a stored array, an
# accumulator, a shared multiplier's operands and product): one flip-flop per bit, not
# fitted. The others count registers HLS's schedule places (where a pipeline is cut, which
# arrays between layers it registers, control per layer or DSP) and are fitted.
REGISTER_TERMS = ("fifo_registers", "line_buffer_bits", "window_bits", "input_bits", "accumulator_bits", "word_bits",
                  "shared_mult_bits")
# Design traits that scale every FF count: Vitis HLS registers more than Vivado HLS.
FF_FACTORS = ("vitis_hls",)
LATENCY_CONSTANTS = ("t_mult_ns", "t_add_ns", "t_sat_add_ns", "seven_series_slowdown", "shared_word_cycles",
                     "step_cycles", "table_cycles", "top_cycles", "layer_cycles")


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


@dataclass(frozen=True)
class ProductTiming:
    """What the pipeline of one product depends on."""

    inputs: int  # summed into one output in one cycle (all of them unrolled, n_in / R shared)
    reuse: int
    steps: int  # applications computed one after the other (io_parallel positions)
    chained: bool  # saturating or rounding sums: a chain of additions, not a tree


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
    shallow_rom_bram: int = 0  # of ``bram``: weight ROMs Vivado synthesis builds in LUTs (Rules.synth_rom_max_depth)
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


@lru_cache(maxsize=64)
def uniform_digits_share(bits: int, digits: int) -> float:
    """Share of the magnitudes 1 .. 2**(bits-1) - 1 with at least ``digits`` CSD digits."""
    bits = min(bits, 16)  # the share is within 1% of 1 beyond 16 bits
    top = 2 ** (bits - 1)
    return sum(1 for value in range(1, top) if csd_digits(value) >= digits) / max(1, top - 1)


def weight_bits(product: Product) -> int:
    """Bits a trained weight of the product's type uses: its fraction bits and a sign
    (weights are mostly smaller than 1), at most the type's width."""
    number = product.weight_type
    return DEFAULT_WIDTH if number is None else max(1, min(number.width, number.fraction + 1))


def weight_digits(product: Product, rules: Rules, known_digits_ratio: float) -> list[float]:
    """Non-zero weights by CSD digit count. Unknown weights: the share of magnitudes of
    their bits with ``const_dsp_digits`` or more digits, times ``known_digits_ratio``
    (what trained weights showed against that uniform share), at ``const_dsp_digits``;
    the rest at two."""
    if product.weight_digits is not None:
        return [float(count) for count in product.weight_digits]
    histogram = [0.0] * (rules.const_dsp_digits + 1)
    share = min(1.0, known_digits_ratio * uniform_digits_share(weight_bits(product), rules.const_dsp_digits))
    histogram[rules.const_dsp_digits] = product.n_nonzero * share
    histogram[2] += product.n_nonzero * (1 - share)
    return histogram


def multiplier_limit(product: Product) -> int:
    """hls4ml's ``multiplier_limit`` of a Latency-strategy product at reuse factor R,
    ``ceil(n_in * n_out / R) - floor(n_zeros / R)``: the limit of its ``ALLOCATION
    instances=mul ... operation`` pragma."""
    zeros = product.zero_weights if product.zero_weights is not None else product.n_weights - product.n_nonzero
    return max(1, math.ceil(product.n_weights / product.reuse_factor) - zeros // product.reuse_factor)


def _product(product: Product, layer: LayerDesign, design: Design, rules: Rules, known_digits_ratio: float,
             counts: LayerCounts) -> None:
    """Add one product's multipliers, DSPs, adders, muxes, weight storage and registers.

    A Latency-strategy product multiplies by constants. HLS's ``mul`` allocation limit
    (:func:`multiplier_limit`) binds only the multiplications left as multipliers (the
    DSP-worthy ones; the others are shifts and adds): when they fit under it, the product
    is unrolled as at R = 1 whatever R (hls4ml 0.7 MLPs at R = 2 keep their R = 1 DSPs);
    otherwise the limit's DSP multipliers are shared and the shift-and-add ones stay
    unrolled. A Resource-strategy (or computed-operand) product shares ``ceil(N / R)``
    general multipliers, N all its weights."""
    in_w, w_w = width(product.input_type), width(product.weight_type)
    accum = product.accum_type or layer.result_type
    acc_w = width(accum)
    adders = "sat_adder_bits" if accum is not None and (accum.saturates or accum.rounds) else "adder_bits"
    reuse, copies = product.reuse_factor, product.parallel
    lut = counts.lut
    dsp_capable = in_w * w_w >= rules.dsp_min_product_bits
    if product.constant:
        total = product.n_nonzero
        digits = weight_digits(product, rules, known_digits_ratio)
        dsp_mults = sum(digits[rules.const_dsp_digits:]) if dsp_capable else 0.0
        general = copies * multiplier_limit(product)
        shared = reuse > 1 and dsp_mults * copies > general
        for count_digits, count in enumerate(digits):
            if count_digits >= rules.const_dsp_digits and dsp_capable:
                if not shared:
                    counts.dsp += round(copies * count * dsp_slices(in_w, w_w, design.family))
            else:
                lut["lut_mult_bits"] += copies * count * max(0, count_digits - 1) * (in_w + w_w)
        # Unrolled multiplications: all of them, or the shifts and adds beside shared DSPs.
        unrolled = copies * (total - (dsp_mults if shared else 0.0))
        lut[adders] += max(0.0, unrolled - (0 if shared else copies * product.n_out)) * acc_w
        multipliers = general + unrolled if shared else unrolled
        if shared:
            counts.dsp += general * dsp_slices(in_w, w_w, design.family)
    else:
        total = product.n_weights
        shared = reuse > 1
        general = multipliers = copies * math.ceil(total / reuse)
        if dsp_capable:
            counts.dsp += multipliers * dsp_slices(in_w, w_w, design.family)
        else:
            lut["lut_mult_bits"] += multipliers * in_w * w_w
        if not shared:
            lut[adders] += copies * max(0, total - product.n_out) * acc_w
    # Inputs summed into one output in one cycle: all of them unrolled, n_in / R shared.
    per_cycle = max(1.0, total / product.n_out / (reuse if shared else 1))
    counts.trees.append((per_cycle, copies * product.n_out, acc_w))
    if shared:
        _shared(product, layer, design, rules, counts, general, total, (in_w, w_w, acc_w), adders)
    counts.multipliers += round(multipliers)
    steps = math.ceil(product.positions / copies) if layer.io_type == "io_parallel" else 1
    # Saturating or rounding sums chain their additions (module docstring).
    counts.products.append(ProductTiming(math.ceil(per_cycle), reuse, steps, adders == "sat_adder_bits" and per_cycle > 1))


def _shared(product: Product, layer: LayerDesign, design: Design, rules: Rules, counts: LayerCounts,
            multipliers: int, total: float, widths: tuple[int, int, int], adders: str) -> None:
    """The hardware of ``multipliers`` general multipliers shared by the reuse factor."""
    in_w, w_w, acc_w = widths
    reuse, copies = product.reuse_factor, product.parallel
    # Each multiplier picks its operands among the values it serves in turn and adds into
    # one of the sums it feeds; HLS's cost of picking one of c values grows as sqrt(c) per
    # bit on the pairs (c from 2 to 3200), not as a c-input LUT mux.
    counts.lut["mux_bits"] += multipliers * (in_w * math.sqrt(min(reuse, product.n_in))
                                             + acc_w * math.sqrt(min(reuse, product.n_out))
                                             + (w_w * math.sqrt(reuse) if product.constant else 0))
    counts.lut[adders] += multipliers * acc_w
    # The inputs are held in registers across the R cycles that use them (a DATAFLOW
    # process stores them; in one io_parallel pipeline the top's registers hold them),
    # the partial sums (or the Resource strategy's accumulators) too, and each shared
    # multiplier registers its operands and product.
    if design.pipeline_style == "dataflow":
        counts.ff["input_bits"] += copies * product.n_in * in_w
    counts.ff["accumulator_bits"] += copies * product.n_out * acc_w
    counts.ff["shared_mult_bits"] += multipliers * (in_w + w_w + acc_w)
    if product.n_weights > product.n_out:
        counts.shared_weights = True
        if not product.constant:
            _weight_rom(math.ceil(total / reuse), w_w, reuse, design, rules, counts)
    counts.word_reuse = max(counts.word_reuse, reuse)


def _weight_rom(words: int, w_w: int, depth: int, design: Design, rules: Rules, counts: LayerCounts) -> None:
    """Resource-strategy weights: a ROM ``words`` weights wide and ``depth`` deep."""
    bits = words * w_w
    if version_tuple(design.hls4ml_version) >= rules.forced_bram_from_version or bits * depth > rules.rom_lut_max_bits:
        blocks = math.ceil(bits / port_bits(depth))
        counts.bram += blocks
        if depth <= rules.synth_rom_max_depth:
            # Vivado synthesis rebuilds a ROM this shallow from LUTs (distributed ROM),
            # whatever HLS bound it to: the Resource pairs at R <= 9 keep their FIFOs and
            # tables after synthesis, not their weight ROMs (249 -> 33, 87 -> 13 blocks),
            # while the GRU's ROMs at R = 24..32 stay (1820 -> 1175): the threshold, 16,
            # was read off these pairs.
            counts.shallow_rom_bram += blocks
    else:
        counts.lut["rom_lut_bits"] += bits * depth


def _tables(layer: LayerDesign, counts: LayerCounts) -> None:
    """Lookup tables: a copy per two lookups a cycle; tables under half a block in LUTs."""
    if layer.kind not in ("softmax", *RECURRENT_KINDS) and (layer.function or "") not in TABLE_FUNCTIONS:
        return
    elements = layer.channels if layer.io_type == "io_stream" else layer.out_elements
    for table in layer.tables:
        if layer.kind in RECURRENT_KINDS:
            lookups = layer.state * (2 if "recr" in table.name else 1)  # sigmoid for two gates, tanh for one
        elif table.name == "inv_table":
            lookups = 1  # one reciprocal of the sum
        else:
            lookups = elements
        copies = math.ceil(math.ceil(lookups / layer.reuse_factor) / 2)
        bits = table.size * table.width
        if bits < BRAM_BITS // 2:
            counts.lut["table_lut_bits"] += copies * bits
        else:
            counts.bram += copies * math.ceil(bits / BRAM_BITS)


def _fifo(layer: LayerDesign, rules: Rules, counts: LayerCounts) -> None:
    """The layer's output FIFO (io_stream): BRAM when deep, shift registers otherwise."""
    if layer.fifo_depth is None or layer.result_type is None:
        return
    element = layer.result_type.width
    if layer.fifo_depth > rules.fifo_srl_max_depth:
        counts.bram += layer.out_pack * math.ceil(element / 18) * math.ceil(layer.fifo_depth / 1024)
    else:
        counts.lut["fifo_srl_bits"] += layer.out_pack * element


def fifo_registers(depth: int, bits: int, rules: Rules) -> int:
    """Flip-flops of one HLS FIFO ``bits`` wide and ``depth`` deep, as the FIFO tables of
    the pairs' csynth reports count them: a shift-register FIFO keeps its address and two
    flags, ``max(3, floor(log2 depth) + 1) + 2`` bits (5 up to depth 4, 7 at 16); a block
    RAM FIFO also registers its output word and counts its two pointers and fill level,
    about ``bits + 3 * log2(depth) + 3``."""
    address = max(3, int(math.log2(max(1, depth))) + 1) + 2
    if depth <= rules.fifo_srl_max_depth:
        return address
    return round(bits + 3 * math.log2(depth) + 3)


def count_top(design: Design, rules: Rules, counts: list[LayerCounts] | None = None) -> dict[str, float]:
    """Registers of the top function, outside the layers' modules (:data:`TOP_FF_TERMS`).

    io_stream: each layer's output stream is a FIFO per element of the word (Vivado HLS)
    or one FIFO of the whole word (Vitis HLS keeps the array a struct), priced by
    :func:`fifo_registers`, counted here as flip-flops. io_parallel under DATAFLOW: every
    element of the arrays passed between layers is a channel of depth 2. io_parallel as
    one pipeline: the top registers the arrays passed between layers where its schedule
    puts a clock edge (``boundary_bits`` counts them, and the model's input). hls4ml's
    io_parallel top (``#pragma HLS PIPELINE`` over the layer calls, myproject.cpp) inlines
    nothing but lets HLS chain calls of latency 0 (activations, nnet_activation.h loops
    fully unrolled; a dense layer whose sum fits in the clock) in one cycle: an array
    passed from one combinational layer (``counts[i].combinational``) to another crosses
    no clock edge and is not registered (the 25 ns pair: dense and relu at latency 0
    share one stage, its top registers the input, one 128-word array and the output
    layer's 3 words: 2,168 FFs for 2,160 bits)."""
    top = dict.fromkeys(TOP_FF_TERMS, 0.0)
    flags = {c.name: c.combinational for c in counts or []}
    layers = [layer for layer in design.layers if not is_wiring(layer) and layer.kind != "unknown"]
    for index, layer in enumerate(layers):
        last = index == len(layers) - 1
        element = width(layer.result_type)
        if layer.io_type == "io_stream":
            if layer.fifo_depth is None or last:
                continue
            if design.hls_tool == "vitis_hls":
                # Vitis HLS: the word's FIFO holds two words (output and next), plus its counts.
                top["fifo_registers"] += layer.out_pack * element + fifo_registers(layer.fifo_depth,
                                                                                   layer.out_pack * element, rules)
            else:
                top["fifo_registers"] += layer.out_pack * fifo_registers(layer.fifo_depth, element, rules)
        elif design.pipeline_style == "dataflow":
            if not last:
                top["fifo_registers"] += layer.out_elements * fifo_registers(2, element, rules)
        else:
            chained = not last and flags.get(layer.name, False) and flags.get(layers[index + 1].name, False)
            top["boundary_bits"] += (0 if last or chained else layer.out_elements * element) \
                + (layer.in_elements * width(layer.input_type) if index == 0 else 0)
    return top


def count_layer(layer: LayerDesign, design: Design, rules: Rules, known_digits_ratio: float) -> LayerCounts:
    """The counted quantities of one layer (nothing for a layer the model cannot price)."""
    counts = LayerCounts(layer.name, layer.kind, priced=layer.kind != "unknown", notes=list(layer.notes))
    if not counts.priced or is_wiring(layer):
        return counts
    for product in layer.products:
        _product(product, layer, design, rules, known_digits_ratio, counts)
    _tables(layer, counts)
    _fifo(layer, rules, counts)
    stream = layer.io_type == "io_stream"
    in_w, out_w = width(layer.input_type), width(layer.result_type)
    counts.out_bits = (layer.out_pack if stream else layer.out_elements) * out_w
    if layer.kind.startswith("global_pooling"):
        # The running maximum (or sum) of each channel.
        counts.ff["accumulator_bits"] += layer.channels * out_w
    if layer.kind.startswith("pooling"):
        # One comparison (or addition) per window element for each output computed at once.
        counts.lut["elementwise_bits"] += (layer.channels if stream else layer.out_elements) \
            * math.prod(layer.kernel or [1]) * in_w
    elif layer.kind == "quantizer":
        # A quantizer (HGQ's FixedPointQuantizer, hls4ml's generated h_* functions) is a
        # cast to its result type: wires when it truncates and wraps, an adder or a
        # comparison per number when it rounds or saturates (cast_bits, below).
        pass
    elif not layer.products or layer.kind in ("batchnorm", "softmax"):
        counts.lut["elementwise_bits"] += (layer.channels if stream else layer.in_elements) * in_w
    if layer.result_type is not None and (layer.result_type.saturates or layer.result_type.rounds):
        counts.lut["cast_bits"] += counts.out_bits
    if stream:
        counts.stream_words = max(layer.in_positions, layer.out_positions)
        counts.lut["stream_layer"] += 1
        counts.ff["stream_layer"] += 1
        if not layer.products and layer.function != "linear":
            # An element-wise layer (activation, pooling) is one step from FIFO to FIFO
            # (nnet_activation_stream.h ReLUActLoop: ``PIPELINE``, ``data.read()``, the
            # unrolled per-element compare, ``res.write(out_data)``): when the step does not
            # fit in the clock, the cut falls between the compare and the write, so one
            # word crosses it, the output word; the input word is consumed in the same
            # cycle it is read. The pairs' stream relu modules carry one output word plus
            # a few control bits (uplane 256-bit word: 289 FFs; rheed 64 bits: 70), where
            # counting both words put them 1.8x over (per-layer LORO FF of activations
            # 81% -> 10%). A linear activation is a wire.
            counts.word_bits = counts.out_bits
        if layer.products and layer.out_positions == 1 and layer.in_positions > 1:
            # A stream layer computing once per inference gathers its whole input first.
            counts.ff["input_bits"] += layer.in_elements * in_w
        if layer.kernel and (layer.kind.startswith("pool") or "conv" in layer.kind):
            # The sliding window: kernel positions x channels, in registers.
            counts.ff["window_bits"] += math.prod(layer.kernel) * layer.channels * in_w
        if len(layer.kernel) == 2 and layer.kernel[0] > 1:
            # Line buffer: kernel height - 1 rows of the input image.
            row = round(math.sqrt(layer.in_positions)) if layer.in_positions > 1 else 1
            buffer = (layer.kernel[0] - 1) * row * layer.channels * in_w
            counts.lut["buffer_bits"] += buffer
            if version_tuple(design.hls4ml_version) < rules.shift_register_buffers_from_version:
                # Before hls4ml 0.8 the line buffer was registers; since, shift registers (SRLs, in LUTs).
                counts.ff["line_buffer_bits"] += buffer
    counts.lut["dsp"] = counts.ff["dsp"] = float(counts.dsp)
    if design.hls_tool == "vitis_hls":
        # Vitis HLS registers a DSP's product in fabric flip-flops where Vivado HLS keeps it
        # in the slice's own output register (the Vitis pairs' dense modules: about twice
        # the FFs of the same layer through Vivado HLS).
        counts.ff["vitis_dsp"] = float(counts.dsp)
    return counts


# --------------------------------------------------------------------------- timing


def product_depth(product: ProductTiming, clock_ns: float, family: str, timing: dict[str, float]) -> int:
    """Pipeline stages of a product: a multiply then an adder tree of ``log2(inputs)``
    levels, or, when every partial sum saturates or rounds (not associative, so HLS
    cannot rebalance it), a chain of ``inputs`` additions; on a 7-series part all of it
    ``seven_series_slowdown`` times slower."""
    if product.chained:
        delay = timing["t_mult_ns"] + timing["t_sat_add_ns"] * product.inputs
    else:
        delay = timing["t_mult_ns"] + timing["t_add_ns"] * math.log2(max(1, product.inputs))
    if family.lower() in SEVEN_SERIES:
        delay *= timing["seven_series_slowdown"]
    return max(0, math.ceil(delay / clock_ns) - 1)


@dataclass
class LayerTiming:
    """Cycles of one layer: its latency, interval, fill (one stream word through it) and
    register stages (its pipeline depth)."""

    latency: int
    interval: int
    fill: int
    stages: int
    computes: bool = False  # the layer has multiply-accumulate products


# Cycles per stream word of an io_stream pooling layer, by the hls4ml version that wrote
# it and the clock: 1.3.0's nnet_pooling_stream.h pipelines its pixel loop (``#pragma HLS
# PIPELINE``, II = 1; the hls4ml 1.2 pair's pooling modules at 5 ns report in_positions
# + 2..5 cycles). The 0.7 and 0.8 pairs' pooling modules at 2.5 and 5 ns report twice
# their input words (1155 cycles for 576 words, 1804 for 900): their line buffer's
# read-modify-write does not fit one such cycle, so II = 2; at 10 and 25 ns, II = 1.
# 1D pooling has no line buffer: II = 1 (the 0.6 pair at 3.33 ns: 105 cycles, 99 words).
POOL_WORD_CYCLES_BEFORE_1_0 = 2
POOL_ONE_CYCLE_CLOCK_NS = 10.0


def layer_timing(layer: LayerDesign, counts: LayerCounts, design: Design, timing: dict[str, float]) -> LayerTiming:
    """Latency, interval and fill (one stream word through it) of one layer, in cycles."""
    clock = design.clock_period_ns
    depth = max((product_depth(product, clock, design.family, timing) for product in counts.products), default=0)
    reuse = max((p.reuse for p in counts.products), default=layer.reuse_factor if layer.kind == "softmax" else 1)
    uses_table = layer.kind == "softmax" or (layer.function or "") in TABLE_FUNCTIONS
    if uses_table:
        depth += math.ceil(timing["table_cycles"])
    if layer.kind in RECURRENT_KINDS:
        step = reuse + depth + timing["step_cycles"]
        total = math.ceil(layer.sequence * step)
        return LayerTiming(total, total, total, depth + 1)
    computes = bool(counts.products)
    if layer.io_type == "io_parallel":
        steps = max((p.steps for p in counts.products), default=1)
        latency = steps * reuse - 1 + depth if counts.products else depth
        return LayerTiming(max(0, latency), max(1, steps * reuse), max(0, latency), depth + 1, computes)
    # A stream word takes R cycles in a Latency-strategy layer: its pixel loop is pipelined
    # at II = R (nnet_conv1d_stream.h / nnet_conv2d_stream.h ReadInputWidth, ``PIPELINE
    # II=CONFIG_T::reuse_factor`` when strategy == latency; nnet_dense_stream.h the same).
    # A Resource-strategy layer's pixel loop is not pipelined: each output runs
    # dense_resource's R-iteration loop (nnet_dense_resource.h ``PIPELINE II=1 rewind``)
    # plus its setup and result loops, ``shared_word_cycles`` (fitted).
    word_ii = counts.word_reuse + (timing["shared_word_cycles"]
                                   if counts.shared_weights and layer.strategy == "resource" else 0)
    if layer.strategy == "latency" and counts.products:
        word_ii = max(word_ii, layer.reuse_factor)  # the pragma's II, shared multipliers or not
    if layer.kind == "pooling2d" and version_tuple(design.hls4ml_version) < (1, 0) \
            and design.clock_period_ns < POOL_ONE_CYCLE_CLOCK_NS:
        word_ii = max(word_ii, POOL_WORD_CYCLES_BEFORE_1_0)
    if layer.kind == "dense" or (layer.kind == "softmax" and layer.out_positions == 1):
        # Reads every word, then computes once.
        total = layer.in_positions + (reuse if counts.shared_weights else 0) + depth
        return LayerTiming(math.ceil(total), math.ceil(total), math.ceil(reuse + depth), depth + 1, computes)
    total = math.ceil(counts.stream_words * word_ii + depth)
    return LayerTiming(total, total, math.ceil(word_ii + depth), depth + 1, computes)


def design_timing(design: Design, timings: list[LayerTiming], top_cycles: float,
                  layer_cycles: float = 0.0) -> tuple[int, int]:
    """(latency, interval) of the whole design from its layers' timings.

    io_stream: the layers are DATAFLOW processes joined by FIFOs, so they overlap: the
    slowest layer's time plus one word through each other. io_parallel: the layers run
    one after the other, and the top function registers each computing layer's result
    where it hands it on (``layer_cycles`` per layer with products, fitted; the 36
    pairs' top reports exceed their layers' sum by 2 to 6 cycles, which the fit gives
    to ``top_cycles`` = 2 and ``layer_cycles`` = 0), plus ``top_cycles`` for the top's
    own input and output."""
    if not timings:
        return 0, 1
    if design.io_type == "io_stream":
        slowest = max(range(len(timings)), key=lambda i: timings[i].latency)
        latency = timings[slowest].latency + sum(t.fill for i, t in enumerate(timings) if i != slowest)
        return math.ceil(latency + top_cycles), max(t.interval for t in timings)
    handed_on = layer_cycles * max(0, sum(t.computes for t in timings) - 1)
    latency = math.ceil(sum(t.latency for t in timings) + handed_on + top_cycles)
    if design.pipeline_style == "pipeline":
        interval = max(t.interval for t in timings)
    else:
        interval = max(max(t.latency, t.interval) for t in timings)
    return latency, max(1, interval)


def timed_registers(counts: LayerCounts, timing: LayerTiming, design: Design, constants: dict[str, float]) -> None:
    """Set the register counts that depend on the layer's pipeline: its sums' stage
    registers (:func:`stage_bits`), and the stream words an element-wise layer reads and
    writes, registered when one step from FIFO to FIFO does not fit in the clock (a
    multiply's delay on the family is the yardstick; with the shipped constants 7-series
    parts register at 5 and 10 ns, UltraScale+ parts at 5 ns but not at 10)."""
    # The same count, priced apart by io type: an io_parallel layer's sums are scheduled
    # inside the top's one pipeline (myproject.cpp ``PIPELINE``; nnet_dense_latency.h
    # ``PIPELINE II=reuse_factor`` inlined into it), which places its cuts around the
    # other layers' logic; an io_stream layer's are scheduled alone in its DATAFLOW
    # process, per word (nnet_conv*_stream.h ``PIPELINE II=reuse_factor``). One cost for
    # both fitted the stream pairs' FFs 1.3x low and the parallel pairs' high (LORO FF
    # of the 33 pairs 31.1% -> 27.9% with two).
    key = "parallel_stage_bits" if design.io_type == "io_parallel" else "stage_bits"
    counts.ff[key] = stage_bits(counts, timing)
    counts.combinational = design.io_type == "io_parallel" and timing.latency == 0
    tight = product_depth(ProductTiming(1, 1, 1, False), design.clock_period_ns, design.family, constants) > 0
    counts.ff["word_bits"] = counts.word_bits if tight else 0.0


def stage_bits(counts: LayerCounts, timing: LayerTiming) -> float:
    """Bits the pipeline registers of the layer's unrolled sums hold. A sum of n products
    cut into D + 1 stages (D register levels) evenly along its log2(n) adder levels
    carries about ``n ** (1 - k / (D + 1))`` partial sums across level k, so a
    product registers ``sums * width * sum_k n ** (1 - k / (D + 1))`` bits; none when the
    sum fits in one cycle (D = 0)."""
    levels = timing.stages - 1
    return sum(sums * width * sum(n ** (1 - k / (levels + 1)) for k in range(1, levels + 1))
               for n, sums, width in counts.trees)
