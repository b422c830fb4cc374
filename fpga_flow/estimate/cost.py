"""The cost model: what each layer of a :class:`Design` costs, from its arithmetic.

**Counted by rule** (read off the hls4ml HLS library and checked layer by layer on the
pairs' per-module reports):

* *Multipliers.* A Latency-strategy product at reuse factor 1 multiplies by constants:
  every non-zero weight is its own multiplier (zero weights are dropped). HLS builds a
  constant multiplication from shifted copies of the input when the constant has fewer
  than ``const_dsp_digits`` (3) non-zero digits in canonical signed-digit form, and
  uses a DSP slice otherwise. With a reuse factor R > 1, or under the Resource strategy,
  multipliers are shared: ``ceil(N / R)`` general multipliers, N the non-zero weights
  (Latency) or all the weights (Resource keeps zeros).
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

**Priced by fitted constants** (``calibration.json``): LUTs and FFs are a sum of counted
quantities, each times a fitted cost per unit (:data:`LUT_TERMS`, :data:`FF_TERMS`), FFs
scaled for Vitis HLS (:data:`FF_FACTORS`). Register counts: the partial sums an unrolled
product's pipeline holds (:func:`stage_bits`), the operands and product of each shared
multiplier, the accumulators of the Resource strategy, inputs held across R cycles,
gathered stream inputs, sliding windows and (before hls4ml 0.8) line buffers, and the
arrays between io_parallel layers. The cost of picking one of c operands for a shared
multiplier grows as sqrt(c) per bit on the pairs (c from 2 to 3200).

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
    FREE_KINDS, RECURRENT_KINDS, SEVEN_SERIES, TABLE_FUNCTIONS, Design, LayerDesign, NumberType, Product, csd_digits,
)

BRAM_BITS = 18432
DEFAULT_WIDTH = 16
LUT_TERMS = ("adder_bits", "sat_adder_bits", "lut_mult_bits", "dsp", "mux_bits", "rom_lut_bits", "elementwise_bits",
             "cast_bits", "fifo_srl_bits", "buffer_bits", "table_lut_bits", "stream_layer", "design")
FF_TERMS = ("stage_bits", "shared_mult_bits", "accumulator_bits", "hold_bits", "stored_bits", "boundary_bits", "dsp",
            "stream_layer")
# Design traits that scale every FF count: Vitis HLS registers more than Vivado HLS, and a
# slower 7-series fabric needs more pipeline registers for the same clock.
FF_FACTORS = ("vitis_hls",)
LATENCY_CONSTANTS = ("t_mult_ns", "t_add_ns", "t_sat_add_ns", "seven_series_slowdown", "shared_word_cycles",
                     "step_cycles", "table_cycles", "top_cycles")


@dataclass(frozen=True)
class Rules:
    """Thresholds of the counting rules (module docstring); not fitted."""

    const_dsp_digits: int = 3
    dsp_min_product_bits: int = 80
    rom_lut_max_bits: int = 1024
    fifo_srl_max_depth: int = 16
    forced_bram_from_version: tuple[int, int] = (1, 0)
    shift_register_buffers_from_version: tuple[int, int] = (0, 8)


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
    # Per product: (n_in, reuse factor, sequential steps, saturating sums chained).
    products: list[tuple[int, int, int, bool]] = field(default_factory=list)
    shared_weights: bool = False  # some weight product is shared (reuse factor > 1)
    word_reuse: int = 1  # cycles a stream word occupies the layer's shared operators
    stream_words: int = 1
    out_bits: int = 0
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


def _product(product: Product, layer: LayerDesign, design: Design, rules: Rules, known_digits_ratio: float,
             counts: LayerCounts) -> None:
    """Add one product's multipliers, DSPs, adders, muxes and weight storage."""
    in_w, w_w = width(product.input_type), width(product.weight_type)
    accum = product.accum_type or layer.result_type
    acc_w = width(accum)
    adders = "sat_adder_bits" if accum is not None and (accum.saturates or accum.rounds) else "adder_bits"
    reuse, copies = product.reuse_factor, product.parallel
    lut = counts.lut
    if product.constant and reuse == 1:
        multipliers = float(copies * product.n_nonzero)
        for digits, count in enumerate(weight_digits(product, rules, known_digits_ratio)):
            if digits >= rules.const_dsp_digits and in_w * w_w >= rules.dsp_min_product_bits:
                counts.dsp += round(copies * count * dsp_slices(in_w, w_w, design.family))
            else:
                lut["lut_mult_bits"] += copies * count * max(0, digits - 1) * (in_w + w_w)
        lut[adders] += copies * max(0, product.n_nonzero - product.n_out) * acc_w
        counts.trees.append((product.n_nonzero / product.n_out, copies * product.n_out, acc_w))
    else:
        total = product.n_nonzero if product.constant else product.n_weights
        multipliers = copies * math.ceil(total / reuse)
        if in_w * w_w >= rules.dsp_min_product_bits:
            counts.dsp += multipliers * dsp_slices(in_w, w_w, design.family)
        else:
            lut["lut_mult_bits"] += multipliers * in_w * w_w
        if reuse > 1:
            # Each multiplier picks its operands among the values it serves in turn and adds
            # into one of the sums it feeds; HLS's cost of picking one of c values grows as
            # sqrt(c) per bit on the pairs (c from 2 to 3200), not as a c-input LUT mux.
            lut["mux_bits"] += multipliers * (in_w * math.sqrt(min(reuse, product.n_in))
                                              + acc_w * math.sqrt(min(reuse, product.n_out))
                                              + (w_w * math.sqrt(reuse) if product.constant else 0))
            lut[adders] += multipliers * acc_w
            if layer.io_type == "io_parallel":
                # The inputs are held in registers across the R cycles that use them (in
                # io_stream the layer's gathered input array does, in stored_bits).
                counts.ff["hold_bits"] += copies * product.n_in * in_w
            # Registered operands and product of each shared multiplier.
            counts.ff["shared_mult_bits"] += multipliers * (in_w + w_w + acc_w)
            if product.constant:
                # Latency strategy: HLS schedules the unrolled sums onto fewer multipliers,
                # holding the partial sums across the R cycles.
                counts.trees.append((total / product.n_out / reuse, copies * product.n_out, acc_w))
                counts.ff["hold_bits"] += copies * product.n_out * acc_w
            else:
                # Resource strategy: an accumulator per output.
                counts.ff["accumulator_bits"] += copies * product.n_out * acc_w
            if product.n_weights > product.n_out:
                counts.shared_weights = True
                if not product.constant:
                    _weight_rom(math.ceil(total / reuse), w_w, reuse, design, rules, counts)
            counts.word_reuse = max(counts.word_reuse, reuse)
        else:
            lut[adders] += copies * max(0, total - product.n_out) * acc_w
            counts.trees.append((total / product.n_out, copies * product.n_out, acc_w))
    counts.multipliers += round(multipliers)
    steps = math.ceil(product.positions / copies) if layer.io_type == "io_parallel" else 1
    # Shared multipliers accumulate one product a cycle: only unrolled sums chain their additions.
    chained = adders == "sat_adder_bits" and reuse == 1
    counts.products.append((product.n_in if reuse == 1 else 1, reuse, steps, chained))


def _weight_rom(words: int, w_w: int, depth: int, design: Design, rules: Rules, counts: LayerCounts) -> None:
    """Resource-strategy weights: a ROM ``words`` weights wide and ``depth`` deep."""
    bits = words * w_w
    if version_tuple(design.hls4ml_version) >= rules.forced_bram_from_version or bits * depth > rules.rom_lut_max_bits:
        counts.bram += math.ceil(bits / port_bits(depth))
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


def count_layer(layer: LayerDesign, design: Design, rules: Rules, known_digits_ratio: float) -> LayerCounts:
    """The counted quantities of one layer (nothing for a layer the model cannot price)."""
    counts = LayerCounts(layer.name, layer.kind, priced=layer.kind != "unknown", notes=list(layer.notes))
    if not counts.priced or layer.kind in FREE_KINDS:
        return counts
    for product in layer.products:
        _product(product, layer, design, rules, known_digits_ratio, counts)
    _tables(layer, counts)
    _fifo(layer, rules, counts)
    stream = layer.io_type == "io_stream"
    in_w, out_w = width(layer.input_type), width(layer.result_type)
    counts.out_bits = (layer.out_pack if stream else layer.out_elements) * out_w
    if layer.kind.startswith("pooling"):
        # One comparison (or addition) per window element for each output computed at once.
        counts.lut["elementwise_bits"] += (layer.channels if stream else layer.out_elements) \
            * math.prod(layer.kernel or [1]) * in_w
    elif not layer.products or layer.kind in ("batchnorm", "softmax"):
        counts.lut["elementwise_bits"] += (layer.channels if stream else layer.in_elements) * in_w
    if layer.result_type is not None and (layer.result_type.saturates or layer.result_type.rounds):
        counts.lut["cast_bits"] += counts.out_bits
    if not stream:
        # io_parallel: the top function registers the arrays passed between layers.
        counts.ff["boundary_bits"] += counts.out_bits
    else:
        counts.stream_words = max(layer.in_positions, layer.out_positions)
        counts.lut["stream_layer"] += 1
        counts.ff["stream_layer"] += 1
        if layer.products and layer.out_positions == 1 and layer.in_positions > 1:
            # A stream layer computing once per inference gathers its whole input first.
            counts.ff["stored_bits"] += layer.in_elements * in_w
        if layer.kernel and (layer.kind.startswith("pool") or "conv" in layer.kind):
            # The sliding window: kernel positions x channels, in registers.
            counts.ff["stored_bits"] += math.prod(layer.kernel) * layer.channels * in_w
        if len(layer.kernel) == 2 and layer.kernel[0] > 1:
            # Line buffer: kernel height - 1 rows of the input image.
            row = round(math.sqrt(layer.in_positions)) if layer.in_positions > 1 else 1
            buffer = (layer.kernel[0] - 1) * row * layer.channels * in_w
            counts.lut["buffer_bits"] += buffer
            if version_tuple(design.hls4ml_version) < rules.shift_register_buffers_from_version:
                # Before hls4ml 0.8 the line buffer was registers; since, shift registers (SRLs, in LUTs).
                counts.ff["stored_bits"] += buffer
    counts.lut["dsp"] = counts.ff["dsp"] = float(counts.dsp)
    return counts


# --------------------------------------------------------------------------- timing


def product_depth(n_in: int, saturating: bool, clock_ns: float, family: str, timing: dict[str, float]) -> int:
    """Pipeline stages of a product: a multiply then an adder tree of ``log2(n_in)``
    levels, or, when every partial sum saturates or rounds (not associative, so HLS
    cannot rebalance it), a chain of ``n_in`` additions; on a 7-series part all of it
    ``seven_series_slowdown`` times slower."""
    if saturating:
        delay = timing["t_mult_ns"] + timing["t_sat_add_ns"] * n_in
    else:
        delay = timing["t_mult_ns"] + timing["t_add_ns"] * math.log2(max(1, n_in))
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


def layer_timing(layer: LayerDesign, counts: LayerCounts, design: Design, timing: dict[str, float]) -> LayerTiming:
    """Latency, interval and fill (one stream word through it) of one layer, in cycles."""
    clock = design.clock_period_ns
    depth = max((product_depth(n_in, sat, clock, design.family, timing) for n_in, _, _, sat in counts.products), default=0)
    reuse = max((r for _, r, *_ in counts.products), default=layer.reuse_factor if layer.kind == "softmax" else 1)
    uses_table = layer.kind == "softmax" or (layer.function or "") in TABLE_FUNCTIONS
    if uses_table:
        depth += math.ceil(timing["table_cycles"])
    if layer.kind in RECURRENT_KINDS:
        step = reuse + depth + timing["step_cycles"]
        total = math.ceil(layer.sequence * step)
        return LayerTiming(total, total, total, depth + 1)
    if layer.io_type == "io_parallel":
        steps = max((s for _, _, s, *_ in counts.products), default=1)
        latency = steps * reuse - 1 + depth if counts.products else depth
        return LayerTiming(max(0, latency), max(1, steps * reuse), max(0, latency), depth + 1)
    word_ii = counts.word_reuse + (timing["shared_word_cycles"] if counts.shared_weights else 0)
    if layer.kind == "dense" or (layer.kind == "softmax" and layer.out_positions == 1):
        # Reads every word, then computes once.
        total = layer.in_positions + (reuse if counts.shared_weights else 0) + depth
        return LayerTiming(math.ceil(total), math.ceil(total), math.ceil(reuse + depth), depth + 1)
    total = math.ceil(counts.stream_words * word_ii + depth)
    return LayerTiming(total, total, math.ceil(word_ii + depth), depth + 1)


def design_timing(design: Design, timings: list[LayerTiming], top_cycles: float) -> tuple[int, int]:
    """(latency, interval) of the whole design from its layers' timings."""
    if not timings:
        return 0, 1
    if design.io_type == "io_stream":
        slowest = max(range(len(timings)), key=lambda i: timings[i].latency)
        latency = timings[slowest].latency + sum(t.fill for i, t in enumerate(timings) if i != slowest)
        return math.ceil(latency + top_cycles), max(t.interval for t in timings)
    latency = math.ceil(sum(t.latency for t in timings) + top_cycles)
    if design.pipeline_style == "pipeline":
        interval = max(t.interval for t in timings)
    else:
        interval = max(max(t.latency, t.interval) for t in timings)
    return latency, max(1, interval)


def stage_bits(counts: LayerCounts, timing: LayerTiming) -> float:
    """Bits the pipeline registers of the layer's unrolled sums hold. A sum of n products
    cut into D + 1 stages (D register levels) evenly along its log2(n) adder levels
    carries about ``n ** (1 - k / (D + 1))`` partial sums across level k, so a
    product registers ``sums * width * sum_k n ** (1 - k / (D + 1))`` bits; none when the
    sum fits in one cycle (D = 0)."""
    levels = timing.stages - 1
    return sum(sums * width * sum(n ** (1 - k / (levels + 1)) for k in range(1, levels + 1))
               for n, sums, width in counts.trees)
