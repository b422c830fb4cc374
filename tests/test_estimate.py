"""The calibrated estimate: the counting rules on hand-computed layers, the pair producer
on real pairs, the per-layer plans, and the benchmark's error arithmetic."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fpga_flow.errors import UserInputError
from fpga_flow.estimate import Design, LayerDesign, LayerPlan, NumberType, Product, price
from fpga_flow.estimate.calibrate import fit, load_pairs
from fpga_flow.estimate.cost import count_layer, count_top, fifo_registers
from fpga_flow.estimate.counts import REGISTER_TERMS, LayerCounts, ProductTiming, Rules, dsp_slices, port_bits
from fpga_flow.estimate.design import constant_digits, constant_profile, csd_digits, family_of_part, parse_type
from fpga_flow.estimate.from_pair import load_pair_design
from fpga_flow.estimate.products import multiplier_limit
from fpga_flow.estimate.timing import LayerTiming, design_timing, layer_timing, product_depth, stage_bits, timed_registers
from fpga_flow.estimate.truth import load_pair_truth
from fpga_flow.estimate.validation import error_report, medians, pair_row

PAIRS = Path(__file__).resolve().parent / "data" / "estimate_pairs"
RULES = Rules()
INT8 = NumberType(width=8, integer=8, signed=True)
FIXED16 = NumberType(width=16, integer=6, signed=True)


def dense(weights: np.ndarray, *, reuse: int = 1, strategy: str = "latency", weight_type: NumberType = INT8,
          input_type: NumberType = FIXED16, family: str = "virtexuplus", version: str = "1.3") -> tuple[LayerDesign, Design]:
    """A one-layer design: a dense layer with these weights (n_in x n_out)."""
    n_in, n_out = weights.shape
    digits = constant_digits(weights, weight_type)
    product = Product(name="kernel", n_in=n_in, n_out=n_out, n_weights=weights.size, n_nonzero=sum(digits),
                      constant=strategy == "latency", weight_type=weight_type, input_type=input_type,
                      accum_type=FIXED16, reuse_factor=reuse, weight_digits=digits if strategy == "latency" else None)
    layer = LayerDesign(name="fc", kind="dense", source_class="Dense", strategy=strategy, reuse_factor=reuse,
                        in_elements=n_in, out_elements=n_out, input_type=input_type, result_type=FIXED16,
                        products=[product])
    design = Design(name="t", source="test", backend="Vivado", family=family, clock_period_ns=5.0,
                    io_type="io_parallel", strategy=strategy, pipeline_style="pipeline", hls4ml_version=version,
                    layers=[layer])
    return layer, design


def counts(layer: LayerDesign, design: Design):
    return count_layer(layer, design, RULES, known_digits_ratio=1.0)


# --------------------------------------------------------------------------- number types and digits


@pytest.mark.parametrize("value, digits", [(0, 0), (1, 1), (3, 2), (7, 2), (11, 3), (21, 3), (-5, 2), (255, 2)])
def test_csd_digits(value, digits):
    # 3 = 4 - 1, 7 = 8 - 1, 11 = 16 - 4 - 1, 21 = 16 + 4 + 1, 255 = 256 - 1
    assert csd_digits(value) == digits


def test_weights_are_stored_in_their_type_before_counting_digits():
    # ap_fixed<8,4>: 4 fraction bits; 0.30 -> floor(4.8) = 4 (1 digit); 0.7 -> 11 (3 digits);
    # 0.01 -> 0 (dropped); -0.25 -> -4 (1 digit); 0.7 rounded -> 11, 0.72 rounded -> 12 (2 digits).
    number = NumberType(width=8, integer=4, signed=True)
    assert constant_digits(np.array([0.30, 0.7, 0.01, -0.25]), number) == [0, 2, 0, 1]
    assert constant_digits(np.array([0.72]), number, "rnd") == [0, 0, 1]
    assert constant_digits(np.array([0.72]), number, "trn") == [0, 0, 0, 1]  # floor(11.52) = 11


@pytest.mark.parametrize("text, expected", [
    ("ap_fixed<16,6>", (16, 6, True, False, False)),
    ("ap_ufixed<6,0,AP_RND_CONV,AP_SAT>", (6, 0, False, True, True)),
    ("nnet::array<ap_fixed<28,16,AP_RND_ZERO,AP_SAT>, 8*1>", (28, 16, True, True, True)),
    ("ufixed<8,3,RND_CONV,SAT,0>", (8, 3, False, True, True)),
    ("ap_int<16>", (16, 16, True, False, False)),
    ("ap_uint<1>", (1, 1, False, False, False)),
])
def test_types_as_the_cpp_declares_them(text, expected):
    number = parse_type(text)
    assert (number.width, number.integer, number.signed, number.rounds, number.saturates) == expected


def test_family_from_part():
    assert [family_of_part(p) for p in ("xc7z020clg400-1", "xcu250-figd2104-2L-e", "xcku035-fbva676-2-e",
                                        "xcku15p-ffve1517-1-i", "xczu9eg-ffvb1156-2-e", "xc7vx690tffg1761-2")] == \
        ["zynq", "virtexuplus", "kintexu", "kintexuplus", "zynquplus", "virtex7"]


# --------------------------------------------------------------------------- counting rules


# Weights 1, 3, 7, 11, 21 and two zeros: CSD digits 1, 2, 2, 3, 3.
WEIGHTS = np.array([[1, 3, 7, 11], [21, 0, 0, 0]], dtype=float)


def test_constant_multipliers_go_to_dsp_only_with_three_csd_digits():
    layer, design = dense(WEIGHTS)
    result = counts(layer, design)
    # Five non-zero weights, five multipliers; 11 and 21 need a DSP (16-bit x 8-bit, one slice each),
    # 1 is a wire and 3, 7 one adder each: in LUTs.
    assert result.multipliers == 5
    assert result.dsp == 2
    assert result.lut["lut_mult_bits"] == 2 * 1 * (16 + 8)


def test_a_constant_multiplies_at_the_bits_its_value_takes_not_its_declared_width():
    # 21 = 10101b: three CSD digits, 5 bits and a sign. Declared ap_fixed<16,6>, by a 12-bit
    # input: 12 x 16 would be a DSP; 12 x 6 = 72 bits is not (HLS sizes a constant by its
    # value, as the HGQ pairs' 10-bit-declared weights show: 110 -> 75 DSPs against 60).
    declared, narrow = NumberType(width=16, integer=6, signed=True), NumberType(width=12, integer=4, signed=True)
    values = np.full((4, 2), 21 / 2 ** 10)
    layer, design = dense(values, weight_type=declared, input_type=narrow)
    assert counts(layer, design).dsp == 8  # the declared width: one DSP each
    profile = constant_profile(values, declared)
    assert profile[3][6] == 8 and sum(map(sum, profile)) == 8
    product = layer.products[0].model_copy(update={"weight_profile": profile})
    result = counts(layer.model_copy(update={"products": [product]}), design)
    assert result.dsp == 0
    assert result.lut["lut_mult_bits"] == 8 * 2 * (12 + 6)  # two adders each, as wide as the value
    # By a 16-bit input, 16 x 6 = 96 bits: a DSP again.
    wide = product.model_copy(update={"input_type": FIXED16})
    assert counts(layer.model_copy(update={"products": [wide]}), design).dsp == 8


def test_shift_and_add_products_have_no_multiplier_delay():
    timing = {"t_mult_ns": 6.0, "t_add_ns": 0.5, "t_shift_add_ns": 1.0, "t_sat_add_ns": 1.0,
              "seven_series_slowdown": 1.0}
    # A DSP product: 6 + 0.5 * log2(64) = 9 ns, one register at 5 ns.
    assert product_depth(ProductTiming(64, 1, 1, False), 5.0, "virtexuplus", timing) == 1
    # Shifts and adds, 1.5 CSD terms a weight: 1.0 * log2(96) = 6.6 ns; 1 term: 6 ns, 16 inputs: 4 ns.
    assert product_depth(ProductTiming(64, 1, 1, False, 1.5), 5.0, "virtexuplus", timing) == 1
    assert product_depth(ProductTiming(16, 1, 1, False, 1.0), 5.0, "virtexuplus", timing) == 0
    # The layer: weights of one digit are wires into the sum, latency 0 and no FF at all.
    layer, design = dense(np.ones((16, 4)))
    result = counts(layer, design)
    assert result.products[0].shift_add == 1.0
    estimate = price(design)
    assert estimate.per_layer[0].latency_cycles == 0
    assert estimate.per_layer[0].FF == 0


def test_an_unshared_latency_layer_at_reuse_r_takes_the_r_1_cycles_in_io_parallel():
    # Weights of 3 and 7 (two digits): no DSP, so the multiplier limit binds nothing and the
    # layer is its R = 1 hardware: the same latency at R = 64 as at R = 1.
    weights = np.tile([3.0, 7.0], (16, 2))
    one, design_one = dense(weights)
    many, design_many = dense(weights, reuse=64)
    timing = {"t_mult_ns": 3.0, "t_add_ns": 0.5, "t_shift_add_ns": 1.0, "t_sat_add_ns": 1.0,
              "seven_series_slowdown": 1.0, "table_cycles": 0}
    cycles = [layer_timing(layer, counts(layer, d), d, timing).latency for layer, d in ((one, design_one),
                                                                                       (many, design_many))]
    assert cycles[0] == cycles[1] < 64


def test_zero_weights_cost_nothing_under_latency_but_everything_under_resource():
    layer, design = dense(WEIGHTS)
    assert counts(layer, design).multipliers == 5  # Latency drops the 3 zeros
    layer, design = dense(WEIGHTS, reuse=3, strategy="resource")
    assert counts(layer, design).multipliers == math.ceil(8 / 3)  # Resource keeps them


def test_latency_reuse_limits_only_the_dsp_multiplications():
    # hls4ml's limit on HLS's mul operations, ceil(8 / R) - floor(3 zeros / R), binds the two
    # DSP constants (11, 21) only: at R = 2 (limit 3) and R = 3 (limit 2) they fit under it,
    # so the layer keeps its R = 1 hardware: five multipliers, two DSPs.
    for reuse in (2, 3):
        layer, design = dense(WEIGHTS, reuse=reuse)
        result = counts(layer, design)
        assert (result.multipliers, result.dsp) == (5, 2), reuse
    # Eight 3-digit constants (11): over the limit, they share limit-many DSP multipliers.
    elevens = np.full((4, 2), 11.0)
    for reuse, limit in ((2, 4), (3, 3), (8, 1)):
        layer, design = dense(elevens, reuse=reuse)
        result = counts(layer, design)
        assert (result.multipliers, result.dsp) == (limit, limit), reuse


def test_multiplier_limit_subtracts_the_zeros_hls4ml_counted():
    layer, _ = dense(WEIGHTS, reuse=3)
    product = layer.products[0]
    assert multiplier_limit(product) == 3 - 1   # zeros unknown: the 3 stored zeros stand in
    # hls4ml counted no zero (its n_zeros is taken before the weights are stored in their type).
    assert multiplier_limit(product.model_copy(update={"zero_weights": 0})) == 3


def test_resource_reuse_factor_shares_general_multipliers():
    for reuse, expected in ((1, 8), (2, 4), (5, 2)):
        layer, design = dense(WEIGHTS, reuse=reuse, strategy="resource")
        # ceil(8 weights / R) general multipliers, 16 x 8 bits: a DSP each.
        assert counts(layer, design).dsp == expected


def test_a_shared_multiplier_registers_its_operands_its_product_is_a_stage_register():
    layer, design = dense(WEIGHTS, reuse=3, strategy="resource")
    result = counts(layer, design)
    # ceil(8 / 3) = 3 multipliers, each a 16-bit input and an 8-bit weight; no product bits.
    assert result.ff["shared_mult_bits"] == 3 * (16 + 8)


def test_a_chain_of_saturating_sums_carries_one_running_sum_and_the_next_products_per_cut():
    chained, tree = LayerCounts("c", "dense", True), LayerCounts("t", "dense", True)
    for c, is_chain in ((chained, True), (tree, False)):
        c.trees.append((64, 16, 28))
        c.products.append(ProductTiming(64, 1, 1, is_chain))
    timing = LayerTiming(latency=26, interval=1, fill=26, stages=27)
    # 26 cuts, each the running sum and 64 / 27 products, for 16 sums of 28 bits.
    assert stage_bits(chained, timing) == pytest.approx(16 * 28 * 26 * (1 + 64 / 27))
    # A tree cut 26 times carries far more: 64 ** (1 - k / 27) partial sums at cut k.
    assert stage_bits(tree, timing) == pytest.approx(16 * 28 * sum(64 ** (1 - k / 27) for k in range(1, 27)))
    assert stage_bits(tree, timing) > 3 * stage_bits(chained, timing)


def test_dsp_slices_by_operand_widths_and_family():
    assert dsp_slices(16, 16, "zynq") == 1
    assert dsp_slices(26, 18, "zynq") == 2          # 26 > 25-bit port of DSP48E1
    assert dsp_slices(26, 18, "virtexuplus") == 1   # fits 27x18 of DSP48E2
    assert dsp_slices(28, 12, "virtexuplus") == 2
    assert dsp_slices(20, 20, "virtex7") == 2       # 20 > 18 on the narrow port


def test_narrow_products_stay_in_luts():
    small = NumberType(width=8, integer=8, signed=True)
    layer, design = dense(WEIGHTS, reuse=2, strategy="resource", input_type=small)   # 8 x 8 = 64 bits of product
    result = counts(layer, design)
    assert result.dsp == 0 and result.lut["lut_mult_bits"] == 4 * 8 * 8
    layer, design = dense(WEIGHTS, reuse=2, strategy="resource", weight_type=NumberType(width=6, integer=6, signed=True))
    assert counts(layer, design).dsp == 4   # 6 x 16 = 96 bits: a DSP


def test_resource_weights_rom_in_bram():
    weights = np.ones((32, 10))
    layer, design = dense(weights, reuse=8, strategy="resource", weight_type=FIXED16)
    # ceil(320 / 8) = 40 weights of 16 bits side by side, 8 deep: 640 / 36 bits per block -> 18 blocks.
    assert counts(layer, design).bram == 18
    layer, design = dense(np.ones((3, 3)), reuse=3, strategy="resource", weight_type=FIXED16, version="0.7")
    # hls4ml 0.7 leaves a 3 x 16 x 3 = 144-bit ROM to LUTs.
    result = counts(layer, design)
    assert result.bram == 0 and result.lut["rom_lut_bits"] == 144
    assert port_bits(512) == 36 and port_bits(513) == 18 and port_bits(9000) == 1


# --------------------------------------------------------------------------- registers


def test_fifo_flip_flops_follow_the_reports_fifo_tables():
    # pominiq_cnn_stream_resource_rf8's FIFO table, 16-bit elements: depth 4: 5 FF, depth 16:
    # 7 FF (shift registers: 3-bit minimum address + 2 flags, 5-bit address at 16); depth 36:
    # 35 FF, depth 676: 48 FF (block RAM: the word, 16 + 3 * log2(depth) + 3 = 34.5 and 47.2).
    assert fifo_registers(4, 16, RULES) == 5
    assert fifo_registers(16, 16, RULES) == 7
    assert fifo_registers(36, 16, RULES) == 35
    assert fifo_registers(676, 16, RULES) == 47   # the table says 48


def _two_dense(io_type: str, pipeline_style: str, hls_tool: str = "vivado_hls") -> Design:
    first, _ = dense(np.ones((4, 8)))
    second, _ = dense(np.ones((8, 2)))
    stream = {"io_type": io_type, "fifo_depth": 16 if io_type == "io_stream" else None,
              "out_pack": 8 if io_type == "io_stream" else 1}
    layers = [first.model_copy(update={"name": "a", **stream}), second.model_copy(update={"name": "b", **stream})]
    return Design(name="t", source="test", backend="Vivado", family="virtexuplus", clock_period_ns=5.0, io_type=io_type,
                  strategy="latency", pipeline_style=pipeline_style, hls_tool=hls_tool, layers=layers)


def test_top_function_registers_by_io_type_and_pipeline_style():
    # One pipeline: the model's input (4 x 16 bits) and the array between the layers (8 x 16).
    assert count_top(_two_dense("io_parallel", "pipeline"), RULES) == {"fifo_registers": 0.0, "boundary_bits": 192.0}
    # DATAFLOW: the 8 elements between the layers are depth-2 channels of 5 FF each.
    assert count_top(_two_dense("io_parallel", "dataflow"), RULES)["fifo_registers"] == 8 * 5
    # io_stream, Vivado HLS: a depth-16 FIFO (7 FF) per element of the 8-element word; the
    # last layer writes the top's output port, no FIFO.
    assert count_top(_two_dense("io_stream", "dataflow"), RULES)["fifo_registers"] == 8 * 7
    # Vitis HLS: one FIFO of the 128-bit word, holding a second word.
    assert count_top(_two_dense("io_stream", "dataflow", "vitis_hls"), RULES)["fifo_registers"] == 128 + 7


def test_combinational_layers_chain_without_a_register_between_them():
    # Two io_parallel layers of latency 0 share one cycle of the top's pipeline: only the
    # model's input (4 x 16 bits) is registered, not the 8 x 16 array between them.
    design = _two_dense("io_parallel", "pipeline")
    # Weights of 1: shifts and adds, 2 and 3 levels of 3 ns: pipelined at 5 ns, not at 25.
    constants = {"t_mult_ns": 6.75, "t_add_ns": 0.4, "t_shift_add_ns": 3.0, "t_sat_add_ns": 0.4,
                 "seven_series_slowdown": 3.0}
    counts = [count_layer(layer, design, RULES, 0.5) for layer in design.layers]
    for clock, combinational, bits in ((25.0, True, 64.0), (5.0, False, 192.0)):
        timed = design.model_copy(update={"clock_period_ns": clock})
        for layer, c in zip(timed.layers, counts):
            timed_registers(c, layer_timing(layer, c, timed, {**constants, "table_cycles": 0}), timed, constants)
            assert c.combinational is combinational
        assert count_top(timed, RULES, counts)["boundary_bits"] == bits
        # A layer of latency 0 holds no register: every FF term of its module is 0.
        assert all(value == 0 for c in counts for value in c.ff.values()) is combinational
    # One combinational layer next to a pipelined one: the array between them is registered.
    counts[1].combinational = False
    counts[0].combinational = True
    assert count_top(design, RULES, counts)["boundary_bits"] == 192.0


def test_register_bits_cost_one_flip_flop_each_in_every_fit():
    pairs, failed = load_pairs(PAIRS)
    assert not failed
    calibration = fit(pairs)
    assert all(calibration.ff[term] == 1.0 for term in REGISTER_TERMS)
    assert 0 < calibration.ff["stage_bits"] != 1.0   # a fitted one


# --------------------------------------------------------------------------- pairs


def test_pair_description_matches_the_project_and_its_module_report():
    pair = PAIRS / "pominiq_dummy_mlp_rf1"
    design = load_pair_design(pair)
    assert [layer.kind for layer in design.layers] == ["dense", "activation", "dense", "softmax"]
    assert (design.family, design.io_type, design.clock_period_ns) == ("zynq", "io_parallel", 25.0)
    last = design.layers[2].products[0]
    assert (last.n_in, last.n_out, last.n_nonzero) == (128, 3, 384)   # project.json's counts
    assert last.weight_digits is not None and sum(last.weight_digits) == 384
    truth = load_pair_truth(pair, design)
    assert truth.csynth == {"LUT": 29277, "FF": 2767, "DSP": 664, "BRAM_18K": 3, "latency": 5, "interval": 1}
    module = truth.layers["dense_1"]
    # The digits rule on the model's real weights gives the DSPs of the layer's own report.
    layer_dsp = count_layer(design.layers[2], design, RULES, 1.0).dsp
    assert module["DSP"] == 307 and layer_dsp == 307


def test_pair_truth_per_layer_from_the_top_reports_instances():
    design = load_pair_design(PAIRS / "pominiq_dummy_mlp_rf1")
    truth = load_pair_truth(PAIRS / "pominiq_dummy_mlp_rf1", design)
    # Rows of myproject_csynth.rpt's instance table, by the config struct in the module name
    # (config4: dense_1, relu_config3: dense_relu, softmax_config5: dense_1_softmax).
    assert truth.layers["dense_1"]["FF"] == 545 and truth.layers["dense_1"]["latency"] == 1
    assert truth.layers["dense_relu"]["FF"] == 0 and truth.layers["dense_relu"]["LUT"] == 3584
    assert truth.layers["dense_1_softmax"]["FF"] == 54
    # The first dense layer's module name carries no config (hls4ml 0.8 io_parallel): no truth.
    assert "dense" not in truth.layers
    # Its summary: 2767 FF in all, 599 in instances; the top's own 2168 are its registers.
    assert truth.top_level["FF"] == 2767 - 599 == 2168


def test_unknown_layer_is_named_and_left_out():
    layer, design = dense(WEIGHTS)
    odd = LayerDesign(name="mystery", kind="unknown", source_class="Einsum", in_elements=4, out_elements=4)
    result = price(design.model_copy(update={"layers": [layer, odd]}))
    assert result.unpriced_layers == ["mystery"]
    assert [entry.priced for entry in result.per_layer] == [True, False]
    assert result.per_layer[1].LUT is None and not result.in_scope
    assert any("mystery" in note for note in result.scope_notes)


def test_a_plan_reprices_only_the_named_layers():
    design = load_pair_design(PAIRS / "pominiq_dummy_mlp_rf1")
    base = price(design)
    planned = price(design, plan={"dense": LayerPlan(reuse_factor=4)})
    before = {layer.layer: layer for layer in base.per_layer}
    after = {layer.layer: layer for layer in planned.per_layer}
    # 4 x 128 weights, none zero to hls4ml: its multiplier limit at R = 4 is 128, under the
    # layer's R = 1 DSP constants, so 128 shared DSP multipliers.
    assert after["dense"].reuse_factor == 4 and after["dense"].DSP == 128 < before["dense"].DSP
    assert after["dense_1"] == before["dense_1"]
    assert planned.csynth.DSP < base.csynth.DSP
    with pytest.raises(UserInputError, match="nope"):
        price(design, plan={"nope": LayerPlan(reuse_factor=2)})


def test_figures_say_which_report_they_predict():
    result = price(load_pair_design(PAIRS / "danielalencar_autoencoder_mlp_vitis"))
    assert (result.csynth.kind, result.vivado_synth.kind) == ("csynth", "vivado_synth")
    assert result.headline is result.csynth and result.resources["LUT"] == result.csynth.LUT
    assert set(result.error) == {"csynth", "vivado_synth"}
    assert result.error_of("LUT") == result.error["csynth"]["LUT"]


# --------------------------------------------------------------------------- the benchmark's arithmetic


def _row(name: str, pairs: dict[str, tuple[float | None, float | None]]) -> dict:
    figures = {figure: {"estimate": e, "report": r, "ape": None if not r or e is None else abs(e - r) / r}
               for figure, (e, r) in pairs.items()}
    return {"name": name, "estimated": True, "reason": None, "figures": figures}


def test_medians_of_hand_computed_errors():
    figures = ("LUT", "FF", "DSP", "BRAM_18K", "latency", "interval")
    rows = [
        _row("a", {f: (110, 100) for f in figures}),                                   # 10%
        _row("b", {**{f: (50, 100) for f in figures}, "BRAM_18K": (3, 0)}),             # 50%; BRAM report 0: no APE
        _row("c", {**{f: (120, 100) for f in figures}, "BRAM_18K": (3, None)}),         # 20%; BRAM missing
    ]
    found = medians(rows)
    assert found["LUT"] == pytest.approx(0.2)        # median of 0.1, 0.5, 0.2
    assert found["BRAM_18K"] == pytest.approx(0.1)   # only pair a has a BRAM APE


def test_pair_row_computes_ape_from_estimate_and_report():
    design = load_pair_design(PAIRS / "pominiq_dummy_mlp_rf1")
    truth = load_pair_truth(PAIRS / "pominiq_dummy_mlp_rf1", design)

    class Result:
        estimate = price(design)

    row = pair_row("p", Result, None, truth.csynth)
    lut = row["figures"]["LUT"]
    assert lut["report"] == 29277
    assert lut["ape"] == pytest.approx(abs(lut["estimate"] - 29277) / 29277)
    unread = pair_row("q", None, "cannot read the pair: broken", None)
    assert not unread["estimated"] and all(f["ape"] is None for f in unread["figures"].values())


def test_error_report_on_two_pairs_from_two_repositories(tmp_path):
    import shutil

    shutil.copytree(PAIRS, tmp_path / "pairs")
    (tmp_path / "pairs" / "broken").mkdir()
    (tmp_path / "pairs" / "broken" / "project.json").write_text("{not json")
    record = error_report(tmp_path / "pairs")
    assert {"pairs", "median_ape", "median_ape_in_sample", "coverage"} <= set(record)
    assert record["mode"] == "refit" and set(record["cross_validated"]["by_io_type"]) == {"io_parallel"}
    assert set(record["in_sample"]["by_repository"]) == {"pominiq/DNNonSilicon", "Daniel-Alencar/LHC-anomaly-detector"}
    assert record["shipped"]["by_layer_kind"]["dense"]["count"] >= 1 and record["shipped"]["layers"] >= 2
    assert record["coverage"] == {"estimated": 2, "total": 3}
    rows = {row["name"]: row for row in record["pairs"]}
    assert not rows["broken"]["estimated"] and "broken" in rows["broken"]["reason"]
    reported = {"pominiq_dummy_mlp_rf1": 29277, "danielalencar_autoencoder_mlp_vitis": 4893}  # the XMLs' <LUT>
    apes = []
    for name, report in reported.items():
        lut = rows[name]["figures"]["LUT"]
        assert lut["report"] == report
        apes.append(abs(lut["estimate"] - report) / report)
        assert lut["ape"] == pytest.approx(apes[-1])
    assert record["median_ape"]["LUT"] == pytest.approx(sum(apes) / 2)


def test_shipped_mode_prices_with_the_shipped_calibration_and_no_refit(tmp_path):
    record = error_report(PAIRS, shipped=True)
    assert record["mode"] == "shipped" and "cross_validated" not in record and "in_sample" not in record
    rows = {row["name"]: row for row in record["pairs"]}
    design = load_pair_design(PAIRS / "pominiq_dummy_mlp_rf1")
    assert rows["pominiq_dummy_mlp_rf1"]["figures"]["LUT"]["estimate"] == price(design).csynth.LUT
    assert record["median_ape"] == record["shipped"]["median_ape"]


def test_a_pair_with_hand_bound_multipliers_is_not_judged_on_what_the_binding_moves(tmp_path):
    import json
    import shutil

    shutil.copytree(PAIRS, tmp_path / "pairs")
    path = tmp_path / "pairs" / "pominiq_dummy_mlp_rf1" / "project.json"
    project = json.loads(path.read_text())
    project["pair"]["reliability_notes"] = "build_prj.tcl edited to 'config_op mul -impl dsp'"
    path.write_text(json.dumps(project))
    record = error_report(tmp_path / "pairs", shipped=True)
    rows = {row["name"]: row for row in record["pairs"]}
    figures = rows["pominiq_dummy_mlp_rf1"]["figures"]
    assert [figures[f]["ape"] for f in ("LUT", "FF", "DSP", "latency", "interval")] == [None] * 5
    assert figures["BRAM_18K"]["ape"] is not None and figures["LUT"]["report"] == 29277
    assert record["excluded"]["pominiq_dummy_mlp_rf1"]["figures"] == ["LUT", "FF", "DSP", "latency", "interval"]
    # The other pair alone decides the LUT median.
    assert record["median_ape"]["LUT"] == rows["danielalencar_autoencoder_mlp_vitis"]["figures"]["LUT"]["ape"]


@pytest.mark.parametrize("columns", [80, 200])
def test_the_estimate_tables_show_every_name_and_figure_whole_in_the_terminal_width(columns):
    """As ``fpga-flow boards``: at 80 columns the per-layer table is two whole tables, not
    one cut to ``q_co…`` / ``not pric…``; wide enough, one."""
    import io

    from rich.console import Console

    from fpga_flow.cli.estimate import render

    design = load_pair_design(PAIRS / "danielalencar_autoencoder_mlp_vitis")
    design = design.model_copy(update={"layers": [layer.model_copy(update={"name": f"q_conv2d_batchnorm_{i}"})
                                                  for i, layer in enumerate(design.layers)]})
    design.layers.append(design.layers[0].model_copy(update={"name": "odd_layer", "kind": "unknown", "products": []}))
    result = price(design)
    buffer = io.StringIO()
    render(result, "arty-a7-100t", Console(file=buffer, width=columns, color_system=None))
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= columns
    assert "…" not in text
    for layer in result.per_layer:
        assert layer.layer in text and layer.kind in text
        assert all(f"{value:,}" in text for value in (layer.LUT, layer.FF) if value is not None)
    assert "not priced" in text and f"{result.csynth.LUT:,}" in text
    assert ("per layer (csynth), continued" in text) == (columns == 80)


# --------------------------------------------------------------------------- structural timing


def _stream_conv(strategy: str, reuse: int, version: str = "1.3", clock: float = 5.0, kind: str = "conv2d"):
    """A 10x10x2 -> 8x8x4 stream convolution (3x3 kernel) of one design."""
    product = Product(name="kernel", n_in=18, n_out=4, positions=64, n_weights=72, n_nonzero=72,
                      constant=strategy == "latency", weight_type=INT8, input_type=FIXED16, accum_type=FIXED16,
                      reuse_factor=reuse)
    conv = LayerDesign(name="c", kind="conv2d", source_class="Conv2D", strategy=strategy, io_type="io_stream",
                       reuse_factor=reuse, in_elements=200, out_elements=256, in_positions=100, out_positions=64,
                       kernel=[3, 3], stride=[1, 1], channels=2, input_type=FIXED16, result_type=FIXED16,
                       products=[product], out_pack=4)
    pool = LayerDesign(name="p", kind="pooling2d", source_class="Pooling2D", function="max", io_type="io_stream",
                       in_elements=200, out_elements=50, in_positions=100, out_positions=25, kernel=[2, 2],
                       stride=[2, 2], channels=2, input_type=FIXED16, result_type=FIXED16, out_pack=2)
    design = Design(name="t", source="test", backend="Vivado", family="virtexuplus", clock_period_ns=clock,
                    io_type="io_stream", strategy=strategy, pipeline_style="dataflow", hls4ml_version=version,
                    layers=[conv, pool])
    return design


def _timing(design: Design, index: int, constants: dict):
    layer = design.layers[index]
    return layer_timing(layer, counts(layer, design), design, constants)


TIMING = {"t_mult_ns": 3.0, "t_add_ns": 0.5, "t_sat_add_ns": 1.0, "seven_series_slowdown": 1.0,
          "shared_word_cycles": 7.0, "step_cycles": 0.0, "table_cycles": 1.0, "top_cycles": 0.0, "layer_cycles": 1.0}


def test_a_latency_stream_layer_takes_r_cycles_a_word_a_resource_one_adds_its_setup():
    latency = _timing(_stream_conv("latency", 4), 0, TIMING)
    resource = _timing(_stream_conv("resource", 4), 0, TIMING)
    depth = latency.stages - 1
    assert latency.latency == 100 * 4 + depth            # PIPELINE II=R over the 100 input words
    assert resource.latency == 100 * (4 + 7) + (resource.stages - 1)  # dense_resource's R + setup cycles a word


def test_stream_pooling2d_before_hls4ml_1_0_takes_two_cycles_a_word_under_10_ns():
    assert _timing(_stream_conv("latency", 1, version="0.8"), 1, TIMING).latency == 200
    assert _timing(_stream_conv("latency", 1, version="0.8", clock=10.0), 1, TIMING).latency == 100
    assert _timing(_stream_conv("latency", 1, version="1.3"), 1, TIMING).latency == 100


def test_stream_pooling2d_since_hls4ml_0_8_registers_a_second_window():
    # 2x2 window x 2 channels x 16 bits = 128 bits; since 0.8 the pool_window copy doubles it.
    for version, bits in (("0.7", 128), ("0.8", 256), ("1.3", 256)):
        design = _stream_conv("latency", 1, version=version)
        assert counts(design.layers[1], design).ff["window_bits"] == bits, version


def test_vitis_hls_leaves_an_elementwise_stream_word_to_its_fifo():
    # A stream pooling layer at 5 ns registers its 2 x 16-bit output word under Vivado HLS;
    # under Vitis HLS the word's FIFO holds it (count_top), the layer adds none.
    constants = {**TIMING, "t_mult_ns": 6.0}
    for tool, bits in (("vivado_hls", 32), ("vitis_hls", 0)):
        design = _stream_conv("latency", 1).model_copy(update={"hls_tool": tool})
        pool = design.layers[1]
        c = counts(pool, design)
        timed_registers(c, layer_timing(pool, c, design, constants), design, constants)
        assert c.ff["word_bits"] == bits, tool


def test_io_parallel_latency_adds_the_layer_cycles_between_computing_layers():
    layer, design = dense(np.ones((4, 3)))
    second = layer.model_copy(update={"name": "fc2"})
    relu = LayerDesign(name="relu", kind="activation", source_class="Activation", function="relu", in_elements=3,
                       out_elements=3, input_type=FIXED16, result_type=FIXED16)
    design = design.model_copy(update={"layers": [layer, relu, second]})
    timings = [layer_timing(item, counts(item, design), design, TIMING) for item in design.layers]
    alone = sum(t.latency for t in timings)
    assert design_timing(design, timings, 0.0, 1.0)[0] == alone + 1   # two computing layers: one hand-over
    assert design_timing(design, timings, 0.0, 0.0)[0] == alone


def test_vitis_hls_registers_each_dsp_product_in_fabric_vivado_hls_does_not():
    weights = np.full((4, 3), 0.3)  # 0.3 in ap_fixed<16,6>: more than two CSD digits, a DSP each
    layer, design = dense(weights, weight_type=FIXED16)
    vivado = counts(layer, design)
    vitis = counts(layer, design.model_copy(update={"hls_tool": "vitis_hls"}))
    assert vivado.dsp == vitis.dsp == 12
    assert (vivado.ff["vitis_dsp"], vitis.ff["vitis_dsp"]) == (0.0, 12.0)


def test_scope_notes_quote_the_measured_per_layer_error_of_the_calibration():
    from fpga_flow.estimate.calibration import load_calibration

    layer, design = dense(np.full((4, 3), 0.3))
    shipped = load_calibration()
    measured = shipped.model_copy(update={"layer_error": {"dense (io_parallel)": {"LUT": 0.1, "FF": 0.9, "layers": 7}}})
    notes = price(design, calibration=measured).scope_notes
    assert "dense (io_parallel): measured per-layer error FF 90% (cross-validated median over 7 layers of the pairs)" \
        in notes
    accurate = shipped.model_copy(update={"layer_error": {"dense (io_parallel)": {"LUT": 0.1, "FF": 0.2, "layers": 7}}})
    assert not any("measured per-layer error" in note for note in price(design, calibration=accurate).scope_notes)


def test_vivado_synthesis_rebuilds_shallow_weight_roms_in_luts():
    """A Resource layer's weight ROM is R words deep: at R = 8 csynth counts its blocks but
    Vivado synthesis builds it from LUTs; at R = 32 it stays in block RAM."""
    from fpga_flow.estimate.calibration import load_calibration

    unit = load_calibration().model_copy(update={"synth_ratio": {key: 1.0 for key in ("LUT", "FF", "DSP", "BRAM_18K")}})
    for reuse, kept in ((8, False), (32, True)):
        layer, design = dense(np.full((64, 32), 0.3), reuse=reuse, strategy="resource")
        result = price(design, calibration=unit)
        rom = counts(layer, design).bram
        assert rom > 0 and result.csynth.BRAM_18K == rom
        assert result.vivado_synth.BRAM_18K == (rom if kept else 0)


def test_vivado_synthesis_rebuilds_fifos_of_64_words_or_fewer_in_luts():
    # The conv's output FIFO: 4 elements of 16 bits, one block each in csynth beyond 16 words.
    for depth, kept in ((36, False), (64, False), (66, True)):
        design = _stream_conv("latency", 1)
        conv = design.layers[0].model_copy(update={"fifo_depth": depth})
        design = design.model_copy(update={"layers": [conv, design.layers[1]]})
        c = counts(conv, design)
        assert c.bram == 4
        assert c.shallow_rom_bram == (0 if kept else 4), depth
        result = price(design)
        assert result.vivado_synth.BRAM_18K == result.csynth.BRAM_18K - (0 if kept else 4)


def test_post_synthesis_dsp_and_bram_are_counted_not_scaled_by_the_fit():
    pairs, failed = load_pairs(PAIRS)
    assert not failed
    ratios = fit(pairs).synth_ratio
    assert ratios["DSP"] == ratios["BRAM_18K"] == 1.0
