"""Fit on ECP5 (fpga_flow/rtl/fit_ecp5.py): the RTL's yosys counts against the device,
not the HLS estimate (calibrated on AMD/Xilinx reports only). The figures below are
cnn_digits' yosys synth_ecp5 counts measured in shared/probes/ecp5 (LUT4 33,323, CCU2C
25,439): 84,201 LUT4 with two per carry cell, over the 83,640 of an 85F."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import recipe_model
from fpga_flow.boards import get_board
from fpga_flow.config import build_config
from fpga_flow.pipeline.context import BuildContext
from fpga_flow.pipeline.steps import step_fit
from fpga_flow.pipeline.summarize import fit_check
from fpga_flow.rtl import pnr_stage
from fpga_flow.rtl.fit_ecp5 import SOURCE, device_use, packing_difference, pnr_refusal, rtl_budget, unchecked_note
from fpga_flow.rtl.records import GateRecord, SkippedStage, Use
from fpga_flow.summary import BudgetCheck, budget_line

ULX3S = get_board("ulx3s-85f")


def gates(lut: int = 33_323, carry: int = 25_439, ff: int = 13_668, mult: int = 10, ebr: int = 11) -> GateRecord:
    record = GateRecord(tool="yosys 0.23: synth_ecp5", family="ecp5", top="fpga_flow_top", LUT=lut, FF=ff, CARRY=carry,
                        DSP=mult, BRAM_18K=ebr, cells={}, log="yosys.log", seconds=1.0)
    record.device_use = device_use(record, ULX3S)
    return record


def test_the_fit_counts_two_lut4_per_carry_cell_against_the_device():
    use = gates().device_use
    assert use["LUT4"] == Use(used=33_323 + 2 * 25_439, available=83_640)
    assert (use["FF"].used, use["MULT18"].available, use["EBR"].available) == (13_668, 156, 208)
    fields = rtl_budget(gates(), ULX3S, 0.8)
    assert fields == {"value": 1.0067, "threshold": 0.8, "passed": False, "resource": "LUT4", "estimate_error": None,
                      "source": SOURCE}
    # Within the budget on every unit: passes; the binding unit is the largest share.
    small = rtl_budget(gates(lut=1_557, carry=2_821, ff=3_385, mult=0, ebr=0), ULX3S, 0.8)
    assert small["passed"] and small["resource"] == "LUT4" and small["value"] == round(7_199 / 83_640, 4)
    many_mults = rtl_budget(gates(lut=100, carry=0, ff=10, mult=150, ebr=0), ULX3S, 0.8)
    assert many_mults["resource"] == "MULT18" and not many_mults["passed"]


def test_the_verdict_names_the_unit_the_share_and_the_source():
    check = BudgetCheck(**rtl_budget(gates(), ULX3S, 0.8))
    assert budget_line(check, "ulx3s-85f") == \
        "DOES NOT FIT: LUT4 101% of ulx3s-85f (budget 80%), by yosys synth_ecp5 of the RTL"


def test_without_the_rtls_counts_the_fit_is_not_checked_and_the_verdict_says_why():
    assert rtl_budget(None, ULX3S, 0.8) is None
    assert rtl_budget(SkippedStage(stage="gates", reason="yosys not found"), ULX3S, 0.8) is None
    note = unchecked_note(ULX3S, None)
    assert note.startswith("fit not checked on ulx3s-85f: the HLS estimate is calibrated on AMD/Xilinx reports only")
    assert "add --rtl" in note
    assert "not synthesized (yosys not found)" in unchecked_note(ULX3S, SkippedStage(stage="gates", reason="yosys not found"))
    assert unchecked_note(ULX3S, gates()) == "" and unchecked_note(get_board("pynq-z2"), None) == ""


def test_the_builds_fit_check_takes_the_rtls_counts_on_ecp5(tmp_path):
    ctx = BuildContext(build_config(model="mlp_tiny", board="ulx3s-85f", rtl=True), ULX3S, tmp_path)
    assert fit_check(ctx) is None  # no gates yet: not checked (the estimate is never used on ECP5)
    ctx.gates = gates()
    check = fit_check(ctx)
    assert check.source == SOURCE and check.resource == "LUT4" and not check.passed and check.threshold == 0.8


def test_place_and_route_is_not_run_on_an_rtl_over_the_budget():
    refusal = pnr_refusal(gates(), ULX3S, 0.8)
    assert refusal == ("the RTL does not fit: LUT4 101% of ulx3s-85f (budget 80%) by yosys synth_ecp5 of the RTL; "
                       "place and route not run")
    # --allow-over-budget places up to the device (budget 1.0): still over it here.
    assert pnr_refusal(gates(), ULX3S, 1.0) is not None and pnr_refusal(gates(lut=30_000), ULX3S, 1.0) is None
    skipped = pnr_stage(object(), gates(), ULX3S, None, None, Path(), budget=0.8)
    assert skipped.status == "skipped" and skipped.reason == refusal


def test_post_route_counts_are_compared_with_yosys():
    # mlp_tiny on the ULX3S (docs/measured/open_fpga.md): 7,199 LUT4 by yosys, 8,481 after routing.
    assert packing_difference({"LUT4": 7_199, "FF": 3_385}, {"LUT4": Use(used=8_481, available=83_640),
                                                             "FF": Use(used=3_385, available=83_640)}) == \
        {"LUT4": 1_282, "FF": 0}


@pytest.mark.parametrize("rtl", [True, False])
def test_the_estimate_does_not_refuse_a_design_on_ecp5(rtl, tmp_path):
    """cnn_digits in io_parallel/Latency is over an 85F by the (Xilinx) estimate: on ECP5
    the fit keeps its plan for the C-simulation and the RTL's counts decide, so the build
    goes on; on a board with a vendor flow the same shortfall stops it (test_fit.py)."""
    from fpga_flow.pipeline.context import LoadedModel
    from fpga_flow.pipeline.steps import hls_settings
    model, data = recipe_model("cnn_digits")
    config = build_config(model="cnn_digits", board="ulx3s-85f", rtl=rtl, io_type="io_parallel", strategy="Latency")
    ctx = BuildContext(config, ULX3S, tmp_path)
    X = data.X_test[:32]
    ctx.loaded = LoadedModel(model, "cnn_digits", "cnn_digits", None, "test slice", X, None, X,
                             hls_settings(config, ULX3S))
    fit = step_fit(ctx)
    assert fit is not None and not fit.fits  # over by estimate, and not refused
