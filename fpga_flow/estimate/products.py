"""The multiply-accumulate blocks of a layer (:class:`~.design.Product`): how HLS builds
hls4ml's products, counted by rule (read off the hls4ml HLS library and checked layer by
layer on the pairs' per-module reports):

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
* *Weights.* Resource-strategy weights are a ROM ``ceil(N / R)`` weights wide and R words
  deep: ``ceil(width / port_bits(R))`` blocks of 18 Kb, ``port_bits`` the widest port at
  that depth (512x36, 1Kx18, 2Kx9, ...). hls4ml >= 1.0 forces them into BRAM when R > 1;
  older versions leave ROMs under ``rom_lut_max_bits`` to LUTs.

The cost of picking one of c operands for a shared multiplier grows as sqrt(c) per bit
on the pairs (c from 2 to 3200).
"""

from __future__ import annotations

import math
from functools import lru_cache

from fpga_flow.estimate.counts import (
    DEFAULT_WIDTH,
    LayerCounts,
    ProductTiming,
    Rules,
    dsp_slices,
    port_bits,
    version_tuple,
    width,
)
from fpga_flow.estimate.design import Design, LayerDesign, Product, csd_digits


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


def weight_classes(product: Product, rules: Rules, known_digits_ratio: float) -> list[tuple[int, int, float]]:
    """The product's non-zero constant weights as (CSD digits, bits, count): from the
    weights' values when known (:func:`~.design.constant_profile`; HLS sizes a constant
    multiplication by the constant's value, so a 3-bit HGQ weight declared
    ``ap_fixed<10,3>`` multiplies as 3 bits), else :func:`weight_digits` at the declared
    width."""
    if product.weight_profile is not None:
        return [(d, b, float(n)) for d, row in enumerate(product.weight_profile) for b, n in enumerate(row) if n]
    declared = width(product.weight_type)
    return [(d, declared, n) for d, n in enumerate(weight_digits(product, rules, known_digits_ratio)) if n]


def multiplier_limit(product: Product) -> int:
    """hls4ml's ``multiplier_limit`` of a Latency-strategy product at reuse factor R,
    ``ceil(n_in * n_out / R) - floor(n_zeros / R)``: the limit of its ``ALLOCATION
    instances=mul ... operation`` pragma."""
    zeros = product.zero_weights if product.zero_weights is not None else product.n_weights - product.n_nonzero
    return max(1, math.ceil(product.n_weights / product.reuse_factor) - zeros // product.reuse_factor)


def count_product(product: Product, layer: LayerDesign, design: Design, rules: Rules, known_digits_ratio: float,
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
    shift_add = 0.0
    if product.constant:
        total = product.n_nonzero
        constants = weight_classes(product, rules, known_digits_ratio)
        on_dsp = [(d, b, n) for d, b, n in constants if d >= rules.const_dsp_digits
                  and in_w * b >= rules.dsp_min_product_bits]
        dsp_mults = sum(n for _, _, n in on_dsp)
        general = copies * multiplier_limit(product)
        shared = reuse > 1 and dsp_mults * copies > general
        for count_digits, bits, count in constants:
            if (count_digits, bits, count) in on_dsp:
                if not shared:
                    counts.dsp += round(copies * count * dsp_slices(in_w, bits, design.family))
            else:
                lut["lut_mult_bits"] += copies * count * max(0, count_digits - 1) * (in_w + bits)
        if not dsp_mults and total:
            # Every multiplication is shifts and adds: CSD terms per multiplication.
            shift_add = max(1.0, sum(d * n for d, _, n in constants) / sum(n for _, _, n in constants))
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
    # Saturating or rounding sums chain their additions (module docstring). A product
    # whose DSP multiplications fit under the limit is the R = 1 hardware and takes the
    # R = 1 cycles in io_parallel (the z7020 pair's QKeras layers at R = 64, all shifts
    # and adds: its output layer reports latency 2; the design 52 cycles, not 4 x 64).
    cycles = reuse if shared or layer.io_type == "io_stream" else 1
    counts.products.append(ProductTiming(math.ceil(per_cycle), cycles, steps,
                                         adders == "sat_adder_bits" and per_cycle > 1, shift_add))


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
    # multiplier registers its two operands.
    if design.pipeline_style == "dataflow":
        counts.ff["input_bits"] += copies * product.n_in * in_w
    counts.ff["accumulator_bits"] += copies * product.n_out * acc_w
    # Not its product: a product is the first thing the sum's pipeline registers, already
    # in the stage bits (counting it twice put the NeutDetector pairs'
    # shared conv1d 1.3x over; LORO FF of the 36 pairs 28.7% -> 20.4%).
    counts.ff["shared_mult_bits"] += multipliers * (in_w + w_w)
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

