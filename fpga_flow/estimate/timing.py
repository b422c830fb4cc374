"""Cycles: each layer's latency, interval and stream fill, the design's, and the
pipeline registers that follow from them, each rule beside the hls4ml template it
comes from.


**Latency.** A product's pipeline depth is ``ceil((t_mult + t_add * log2(n_in)) * s /
clock) - 1`` cycles (saturating sums: ``t_sat_add * n_in``, a chain; ``s`` the 7-series
slowdown, 1 elsewhere; all fitted, in ns). io_parallel: a layer takes
``steps * R - 1 + depth`` cycles (``steps`` = positions computed one after the other);
layers run in sequence, so the design's latency is their sum plus ``top_cycles``, and
its interval the largest R (one pipeline) or the slowest layer (DATAFLOW). io_stream:
a layer reads its stream words at an initiation interval of 1, or ``R +
shared_word_cycles`` when its multipliers are shared; layers overlap, so the interval is
the slowest layer's time and the latency that time plus each other layer's fill (one
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fpga_flow.estimate.counts import LayerCounts, ProductTiming, version_tuple
from fpga_flow.estimate.design import RECURRENT_KINDS, SEVEN_SERIES, TABLE_FUNCTIONS, Design, LayerDesign
from fpga_flow.layers import LATENCY_KEY, RESOURCE_KEY

LATENCY_CONSTANTS = ("t_mult_ns", "t_add_ns", "t_shift_add_ns", "t_sat_add_ns", "seven_series_slowdown",
                     "shared_word_cycles",
                     "step_cycles", "table_cycles", "top_cycles", "layer_cycles")


def product_depth(product: ProductTiming, clock_ns: float, family: str, timing: dict[str, float]) -> int:
    """Pipeline stages of a product: a multiply then an adder tree of ``log2(inputs)``
    levels, or, when every partial sum saturates or rounds (not associative, so HLS
    cannot rebalance it), a chain of ``inputs`` additions; on a 7-series part all of it
    ``seven_series_slowdown`` times slower.

    A product whose constant multiplications are all shifts and adds (no DSP: few CSD
    digits, or few bits, as HGQ's weights) has no multiplier delay: HLS adds the shifted
    copies of the inputs in the same tree as the sum, ``log2(inputs * terms)`` levels of
    ``t_shift_add`` each (LUT adders, fitted apart from ``t_add``: after a DSP the sum
    partly runs in the slices' cascaded post-adders), ``terms`` the CSD digits per weight (the HGQ pairs' dense layers of 1-bit to 3-bit
    weights at 5 ns report latency 0, and 0 FFs)."""
    if product.chained:
        delay = timing["t_mult_ns"] + timing["t_sat_add_ns"] * product.inputs
    elif product.shift_add:
        delay = timing.get("t_shift_add_ns", timing["t_add_ns"]) * math.log2(max(1.0, product.inputs * product.shift_add))
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
                                   if counts.shared_weights and layer.strategy == RESOURCE_KEY else 0)
    if layer.strategy == LATENCY_KEY and counts.products:
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
    # Vitis HLS keeps a stream word in one FIFO of the whole word, which holds the word
    # written (count_top counts it there): the layer adds no register of its own (the
    # Vitis Conv1D pair's stream relu and zero-padding modules: 10 and 16 FFs for words of
    # 256 and 144 bits, where Vivado HLS's per-element FIFOs leave it to the layer).
    counts.ff["word_bits"] = counts.word_bits if tight and design.hls_tool != "vitis_hls" else 0.0
    if counts.combinational:
        # A module of latency 0 has no clock edge inside it, so HLS places no register in
        # it: whatever its arithmetic, its flip-flops are 0 (the 25 ns pair's dense layer
        # and the HGQ pairs' dense layers at latency 0 report 0 FFs, as every io_parallel
        # activation does). Its result is registered, if at all, by the top (count_top).
        counts.ff = dict.fromkeys(counts.ff, 0.0)


def stage_bits(counts: LayerCounts, timing: LayerTiming) -> float:
    """Bits the pipeline registers of the layer's unrolled sums hold. A sum of n products
    cut into D + 1 stages (D register levels) evenly along its log2(n) adder levels
    carries about ``n ** (1 - k / (D + 1))`` partial sums across level k, so a
    product registers ``sums * width * sum_k n ** (1 - k / (D + 1))`` bits; none when the
    sum fits in one cycle (D = 0).

    A chain of saturating or rounding additions (:func:`product_depth`) is not a tree: each
    of its D cuts carries the running sum and the products the next stage adds, ``n / (D
    + 1)`` of them (HLS schedules each multiplication just before the addition taking it),
    so ``sums * width * D * (1 + n / (D + 1))`` bits. (The Berk-Bilgin QKeras Conv1D
    pairs: saturating 28-bit sums of 64 products cut 26 times; the tree's count gave
    their dense layer 163,308 bits against 37,457 FFs reported for the whole module.)"""
    levels = timing.stages - 1
    return sum(sums * width * (levels * (1 + n / (levels + 1)) if product.chained else
                               sum(n ** (1 - k / (levels + 1)) for k in range(1, levels + 1)))
               for (n, sums, width), product in zip(counts.trees, counts.products))
