"""The cost model: what each layer of a :class:`Design` costs, from its arithmetic.

The counted quantities are named in :mod:`.counts`; the multiply-accumulate blocks are
counted in :mod:`.products`, cycles and pipeline registers in :mod:`.timing`. Here:
lookup tables, FIFOs, windows and line buffers, element-wise logic, the top function's
registers, and :func:`count_layer`, which gathers one layer's counts.

**Counted by rule.** A lookup table takes ``ceil(size * width / 18432)`` blocks per copy,
one copy per two lookups a cycle (two ports); tables under half a block are LUT ROMs.
An io_stream FIFO deeper than ``fifo_srl_max_depth`` is one FIFO per element of the
stream word, each ``ceil(width / 18) * ceil(depth / 1024)`` blocks; shallower ones are
shift registers.

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
"""

from __future__ import annotations

import math

from fpga_flow.estimate.counts import BRAM_BITS, TOP_FF_TERMS, LayerCounts, Rules, version_tuple, width
from fpga_flow.estimate.design import RECURRENT_KINDS, TABLE_FUNCTIONS, Design, LayerDesign, is_wiring
from fpga_flow.estimate.products import count_product


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
        blocks = layer.out_pack * math.ceil(element / 18) * math.ceil(layer.fifo_depth / 1024)
        counts.bram += blocks
        if layer.fifo_depth <= rules.synth_fifo_max_depth:
            # csynth binds a FIFO deeper than 16 to block RAM; Vivado synthesis builds one of
            # 64 words or fewer from LUTs (the Berk-Bilgin stream pairs: their FIFOs of 32 to 64
            # words, 48 blocks in csynth, are gone after synthesis, those of 66 to 68 words,
            # 33 blocks, stay: 33 reported; the PYNQ CNNs' 36-word FIFOs go too).
            counts.shallow_rom_bram += blocks
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
        count_product(product, layer, design, rules, known_digits_ratio, counts)
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
            if layer.kind == "pooling2d" and version_tuple(design.hls4ml_version) >= rules.shift_register_buffers_from_version:
                # Since hls4ml 0.8 (nnet_pooling_stream.h compute_pool_buffer_2d) the unrolled
                # FiltLoop copies each channel's window out of the static kernel_data into its
                # own pool_window (ARRAY_PARTITION complete) inside the pixel's pipeline: a
                # second window of registers (the hls4ml 1.2 pair's 2x2 pools: 581 and 677
                # FFs for windows of 256 and 320 bits and words of 64 and 80).
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
