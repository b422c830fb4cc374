"""Fit on ECP5 (fpga_flow/rtl/fit_ecp5.py): the RTL's yosys counts against the device,
not the HLS estimate (calibrated on AMD/Xilinx reports only). The figures below are
cnn_digits' yosys synth_ecp5 counts measured in shared/probes/ecp5 (LUT4 33,323, CCU2C
25,439): 84,201 LUT4 with two per carry cell, over the 83,640 of an 85F."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import fpga_flow.rtl
from conftest import REPO, recipe_model, run_cli
from fpga_flow.boards import get_board
from fpga_flow.cache import BuildCache
from fpga_flow.config import build_config
from fpga_flow.pipeline import rtl_cache
from fpga_flow.pipeline.check_steps import step_gates, step_pnr, step_rtl_sim
from fpga_flow.pipeline.context import BuildContext
from fpga_flow.pipeline.driver import Step
from fpga_flow.pipeline.steps import hls_settings, step_fit
from fpga_flow.pipeline.summarize import fit_check
from fpga_flow.records.cache import CacheUse
from fpga_flow.records.fit import FitRequest
from fpga_flow.rtl import gates_stage, pnr_stage
from fpga_flow.rtl.fit_ecp5 import (
    ESTIMATE_SOURCE,
    SOURCE,
    YOSYS_OVER_ESTIMATE,
    device_use,
    estimate_refusal,
    packing_difference,
    pnr_refusal,
    rtl_budget,
    rtl_use,
    unchecked_note,
)
from fpga_flow.rtl.records import GateRecord, RTLRecord, RTLSimRecord, SkippedStage, Use
from fpga_flow.summary import BudgetCheck, budget_line
from test_open_fpga import small_mlp

ULX3S = get_board("ulx3s-85f")
ORANGECRAB = get_board("orangecrab-25f")
# da4ml's estimate and yosys' counts of the six ECP5 designs measured (copied from their summary.json).
MEASURED = json.loads((REPO / "tests" / "data" / "ecp5" / "estimate_vs_yosys.json").read_text())["runs"]


def gates(lut: int = 33_323, carry: int = 25_439, ff: int = 13_668, mult: int = 10, ebr: int = 11) -> GateRecord:
    record = GateRecord(tool="yosys 0.23: synth_ecp5", family="ecp5", top="fpga_flow_top", LUT=lut, FF=ff, CARRY=carry,
                        DSP=mult, BRAM_18K=ebr, cells={}, log="yosys.log", seconds=1.0)
    record.device_use = device_use(record, ULX3S)
    return record


def rtl_record(estimated_luts: float) -> RTLRecord:
    """An RTL record with da4ml's estimate ``estimated_luts`` (the rest as mlp_tiny's on the ULX3S)."""
    return RTLRecord(generator="da4ml 0.5.2", top="myproject", verilog_dir="rtl/verilog", n_inputs=64, n_outputs=10,
                     input_type="fixed<16,6,TRN,WRAP>", input_fractional_bits=10, output_kif=(1, 5, 7), fabric="ECP5",
                     clock_period_ns=20.0, adder_level_ns=3.8, latency_cutoff=4, adder_depth=15.0, pipeline_stages=4,
                     latency_cycles=4, estimated_luts=estimated_luts, register_bits=2_218, layers=[], seconds=3.2)


def test_the_fit_counts_two_lut4_per_carry_cell_against_the_device():
    use = gates().device_use
    assert use["LUT4"] == Use(used=33_323 + 2 * 25_439, available=83_640)
    assert (use["FF"].used, use["MULT18"].available, use["EBR"].available) == (13_668, 156, 208)
    fields = rtl_budget(None, gates(), ULX3S, 0.8)
    assert fields == {"value": 1.0067, "threshold": 0.8, "passed": False, "resource": "LUT4", "estimate_error": None,
                      "source": SOURCE}
    # Within the budget on every unit: passes; the binding unit is the largest share.
    small = rtl_budget(None, gates(lut=1_557, carry=2_821, ff=3_385, mult=0, ebr=0), ULX3S, 0.8)
    assert small["passed"] and small["resource"] == "LUT4" and small["value"] == round(7_199 / 83_640, 4)
    many_mults = rtl_budget(None, gates(lut=100, carry=0, ff=10, mult=150, ebr=0), ULX3S, 0.8)
    assert many_mults["resource"] == "MULT18" and not many_mults["passed"]


def test_the_verdict_names_the_unit_the_share_and_the_source():
    check = BudgetCheck(**rtl_budget(None, gates(), ULX3S, 0.8))
    assert budget_line(check, "ulx3s-85f") == \
        "DOES NOT FIT: LUT4 101% of ulx3s-85f (budget 80%), by yosys synth_ecp5 of the RTL"


def test_without_the_rtls_counts_the_fit_is_not_checked_and_the_verdict_says_why():
    no_yosys = SkippedStage(stage="gates", reason="yosys not found")
    assert rtl_budget(None, None, ULX3S, 0.8) is None
    # An RTL whose estimate is within the budget does not decide the fit without yosys' counts.
    assert rtl_budget(rtl_record(5_694.0), no_yosys, ULX3S, 0.8) is None
    note = unchecked_note(ULX3S, None, False)
    assert note.startswith("fit not checked on ulx3s-85f: the HLS estimate is calibrated on AMD/Xilinx reports only")
    assert "add --rtl" in note
    assert "not synthesized (yosys not found)" in unchecked_note(ULX3S, no_yosys, False)
    assert unchecked_note(ULX3S, gates(), True) == "" and unchecked_note(get_board("pynq-z2"), None, False) == ""
    assert unchecked_note(ULX3S, no_yosys, True) == ""  # checked by the estimate's lower bound


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

    model, data = recipe_model("cnn_digits")
    config = build_config(model="cnn_digits", board="ulx3s-85f", rtl=rtl, io_type="io_parallel", strategy="Latency")
    ctx = BuildContext(config, ULX3S, tmp_path)
    X = data.X_test[:32]
    ctx.loaded = LoadedModel(model, "cnn_digits", "cnn_digits", None, "test slice", X, None, X,
                             hls_settings(config, ULX3S))
    fit = step_fit(ctx)
    assert fit is not None and not fit.fits  # over by estimate, and not refused


# --------------------------------------------------------------------------- da4ml's estimate, a lower bound


@pytest.mark.parametrize("run", MEASURED, ids=lambda run: f"{run['model']}-{run['board']}")
def test_yosys_counted_at_least_da4mls_estimate_on_every_measured_design(run):
    """The rule the skipped yosys rests on: on every design measured, yosys' LUT4 (2 per
    CCU2C, as the fit counts them) is at least da4ml's estimate (1.22 to 2.2 times it)."""
    gates = GateRecord(family="ecp5", top="fpga_flow_top", cells={}, log="yosys.log", seconds=0.0,
                       **{k: v for k, v in run["gates"].items() if k != "device_use"})
    lut4 = rtl_use(gates)["LUT4"]
    assert lut4 == run["gates"]["device_use"]["LUT4"]["used"]
    estimate = run["rtl"]["estimated_luts"]
    assert lut4 >= YOSYS_OVER_ESTIMATE * estimate and 1.22 <= lut4 / estimate <= 2.21
    # So the estimate's verdict, where it gives one, is never kinder than yosys': a design it
    # refuses is one yosys' counts fail too.
    board = get_board(run["board"])
    for budget in (0.05, 0.2, 0.5, 0.8, 1.0):
        by_estimate = rtl_budget(rtl_record(estimate), None, board, budget)
        by_yosys = rtl_budget(None, gates, board, budget)
        assert by_yosys["source"] == SOURCE and by_yosys["value"] >= (by_estimate or by_yosys)["value"]
        if by_estimate is not None:
            assert not by_estimate["passed"] and not by_yosys["passed"] and by_estimate["source"] == ESTIMATE_SOURCE


def test_yosys_is_not_run_on_an_ecp5_rtl_whose_estimate_is_over_the_budget(tmp_path):
    cnn = next(run for run in MEASURED if run["model"] == "cnn_digits")["rtl"]["estimated_luts"]  # 63,604.5
    refusal = estimate_refusal(rtl_record(cnn), ORANGECRAB, 0.8)
    assert refusal == ("the RTL does not fit: da4ml's estimate is 63,605 LUT4, 262% of orangecrab-25f's 24,288 "
                       "(budget 80%), and yosys counts at least that, so yosys synth_ecp5 was not run; fix: a smaller "
                       "model, or a board with more LUT4 such as ecpix5-85f")
    skipped = gates_stage(rtl_record(cnn), ORANGECRAB, tmp_path, budget=0.8)
    assert skipped == SkippedStage(stage="gates", reason=refusal) and not any(tmp_path.iterdir())
    # Over every catalogue ECP5 device: the fix is a smaller model only.
    assert estimate_refusal(rtl_record(90_000), ULX3S, 0.8).endswith(
        "fix: a smaller model (no catalogue ECP5 board holds this one)")
    # Within the budget, or on a board with a vendor flow, the estimate refuses nothing: yosys decides.
    assert estimate_refusal(rtl_record(cnn), ULX3S, 0.8) is None  # 76% of the 85F: yosys counted 94%
    assert estimate_refusal(rtl_record(cnn), ORANGECRAB, 1.0) is not None
    assert estimate_refusal(rtl_record(cnn), get_board("pynq-z2"), 0.8) is None
    assert estimate_refusal(SkippedStage(stage="rtl", reason="no"), ORANGECRAB, 0.8) is None


def yosys_called(monkeypatch) -> list:
    """Stands in for yosys synth_ecp5 (fpga_flow.rtl.synthesize_ecp5) to see whether the gates
    step calls it: the records it is called with; the stage then says so."""
    calls = []

    def synthesize(rtl, board, out_dir):
        calls.append(rtl)
        return SkippedStage(stage="gates", reason="yosys synth_ecp5 called (test stand-in)")

    monkeypatch.setattr(fpga_flow.rtl, "synthesize_ecp5", synthesize)
    return calls


def test_under_the_budget_the_gates_step_goes_to_yosys(tmp_path, monkeypatch):
    """The failure path of the rule: an estimate within the budget goes to yosys."""
    calls = yosys_called(monkeypatch)
    ctx = BuildContext(build_config(model="mlp_tiny", board="orangecrab-25f", rtl=True, budget=0.5), ORANGECRAB,
                       tmp_path)
    ctx.rtl = rtl_record(5_694.0)  # mlp_tiny: 23% of the 25F
    ctx.gates = step_gates(ctx)
    assert calls == [ctx.rtl] and "called" in ctx.gates.reason
    assert fit_check(ctx) is None  # not checked: the estimate does not decide within the budget


@pytest.mark.parametrize("allow_over", [False, True])
def test_an_estimate_over_the_budget_fails_the_fit_and_skips_place_and_route(tmp_path, monkeypatch, allow_over):
    """The build's steps on an RTL record: mlp_tiny (da4ml: 5,694 LUT, 23% of the 25F) with
    --budget 0.2. yosys is not run, the fit check fails by the estimate's lower bound (so the
    build exits 1 with DOES NOT FIT), the fit counts as checked, and place and route is skipped
    with the reason. With --allow-over-budget the tools run up to the whole device: yosys
    runs, and without its counts the check still fails by the lower bound."""
    calls = yosys_called(monkeypatch)
    config = build_config(model="mlp_tiny", board="orangecrab-25f", rtl=True, pnr=True, budget=0.2,
                          allow_over_budget=allow_over)
    ctx = BuildContext(config, ORANGECRAB, tmp_path)
    ctx.rtl = rtl_record(5_694.0)
    ctx.gates = step_gates(ctx)
    check = fit_check(ctx)
    assert check == BudgetCheck(value=0.2344, threshold=0.2, passed=False, resource="LUT4", source=ESTIMATE_SOURCE)
    assert budget_line(check, "orangecrab-25f") == ("DOES NOT FIT: LUT4 23% of orangecrab-25f (budget 20%), by "
                                                     "da4ml's estimate of the RTL, a lower bound of yosys' count")
    assert unchecked_note(ORANGECRAB, ctx.gates, check is not None) == ""
    assert len(calls) == allow_over
    if allow_over:
        return
    assert ctx.gates.reason.startswith("the RTL does not fit: da4ml's estimate is 5,694 LUT4, 23% of orangecrab-25f's "
                                       "24,288 (budget 20%)")
    ctx.loaded, ctx.csim = SimpleNamespace(X_eval=None, keras_eval=None), SimpleNamespace(outputs=None)  # not reached
    assert step_pnr(ctx) == SkippedStage(stage="pnr", reason=f"no netlist: {ctx.gates.reason}")
    # Nor is the design simulated: the same reason, for Verilator.
    assert step_rtl_sim(ctx) == SkippedStage(stage="rtl_sim", reason=ctx.gates.reason.replace(
        "so yosys synth_ecp5 was not run", "so its Verilator simulation was not run"))


@pytest.mark.slow
def test_a_build_whose_estimate_is_over_the_budget_exits_1_without_running_yosys(tmp_path):
    """``fpga-flow build --rtl --pnr --budget 0.001`` of the suite's 4-3-2 MLP on the ULX3S:
    da4ml's estimate (353 LUT4, 0.4%) is over 0.1% of the 85F, so yosys and nextpnr are
    not run, nor is Verilator's simulation, and the build exits 1 with DOES NOT FIT and the
    reason."""
    out = tmp_path / "run"
    build = run_cli("build", str(small_mlp(tmp_path)), "--board", "ulx3s-85f", "--rtl", "--pnr", "--budget", "0.001",
                    "--max-samples", "12", "--out", str(out), "--reports-dir", str(tmp_path), "--cache-dir",
                    str(tmp_path / "cache"))
    assert build.returncode == 1, build.stdout[-2000:] + build.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    gates, fit = summary["gates"], summary["checks"]["fit_budget"]
    assert gates["status"] == "skipped" and gates["reason"].startswith(
        "the RTL does not fit: da4ml's estimate is 353 LUT4, 0% of ulx3s-85f's 83,640 (budget 0.1%), and yosys counts "
        "at least that, so yosys synth_ecp5 was not run")
    assert not (out / "rtl" / "ecp5").exists()  # nothing of yosys' or nextpnr's
    assert summary["rtl_sim"] == {"status": "skipped", "stage": "rtl_sim", "reason": gates["reason"].replace(
        "so yosys synth_ecp5 was not run", "so its Verilator simulation was not run")}
    assert summary["pnr"] == {"status": "skipped", "stage": "pnr", "reason": f"no netlist: {gates['reason']}"}
    assert fit == {"value": 0.0042, "threshold": 0.001, "passed": False, "resource": "LUT4", "estimate_error": None,
                   "source": ESTIMATE_SOURCE}
    assert summary["status"] == "does_not_fit" and summary["checks"]["fit_not_checked"] is None
    assert "DOES NOT FIT: LUT4 0% of ulx3s-85f (budget 0.1%), by da4ml's estimate of the RTL" in summary["verdict"]
    assert "not checked" not in summary["verdict"] and "Traceback" not in build.stderr


def test_the_benchmark_gives_the_estimates_verdict_of_a_run_yosys_was_not_run_on(tmp_path):
    """benchmarks/open_fpga.py: the da4ml_LUT column, and the fit column from the estimate's
    lower bound (``at least``), both for a finished run whose gates were skipped and for one
    stopped after the RTL was written (conv1d_pulses' estimate: 2,253,844 LUT, 26.9 x the 85F)."""
    spec = importlib.util.spec_from_file_location("open_fpga_benchmark", REPO / "benchmarks" / "open_fpga.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    stopped = tmp_path / "conv1d_pulses_ulx3s-85f"
    (stopped / "rtl").mkdir(parents=True)
    (stopped / "INCOMPLETE").write_text("stage: rtl_sim\n")
    (stopped / "rtl" / "rtl.json").write_text(rtl_record(2_253_844.0).model_dump_json())
    row = benchmark.tabulate(stopped)
    assert row == {"model": "conv1d_pulses", "board": "ulx3s-85f", "status": "unfinished (stage: rtl_sim)",
                   "da4ml_LUT": 2_253_844.0, "rtl_s": 3.2, "fit": "LUT4 at least 2695% DOES NOT FIT"}
    # Within the budget the estimate says nothing: no fit until yosys has counted.
    (stopped / "rtl" / "rtl.json").write_text(rtl_record(5_694.0).model_dump_json())
    assert "fit" not in benchmark.tabulate(stopped)
    finished = tmp_path / "run"
    finished.mkdir()
    reason = estimate_refusal(rtl_record(2_253_844.0), ULX3S, 0.8)
    fit = BudgetCheck(**rtl_budget(rtl_record(2_253_844.0), None, ULX3S, 0.8))
    (finished / "summary.json").write_text(json.dumps({
        "model": {"name": "conv1d_pulses"}, "board": {"name": "ulx3s-85f", "resources": {"LUT": 83_640}},
        "status": "does_not_fit", "timings_s": {"total": 500.0, "rtl": 420.0}, "rtl": {"estimated_luts": 2_253_844.0},
        "gates": {"status": "skipped", "stage": "gates", "reason": reason},
        "pnr": {"status": "skipped", "stage": "pnr", "reason": f"no netlist: {reason}"},
        "checks": {"fit_budget": fit.model_dump()}}))
    row = benchmark.tabulate(finished)
    assert (row["da4ml_LUT"], row["fit"], row["status"]) == (2_253_844.0, "LUT4 at least 2695% DOES NOT FIT",
                                                             "does_not_fit")
    assert row["note"] == f"no netlist: {reason}" and "yosys_LUT4" not in row
    assert "| conv1d_pulses | ulx3s-85f | does_not_fit | LUT4 at least 2695% DOES NOT FIT |" in \
        benchmark.markdown([row], "x")
    # No RTL (tiny_resnet: a layer the RTL does not mirror): the fit was not checked, and the row says so.
    summary = json.loads((finished / "summary.json").read_text())
    summary["checks"] = {"fit_budget": None, "fit_not_checked": "fit not checked on ulx3s-85f: ..."}
    (finished / "summary.json").write_text(json.dumps(summary))
    assert benchmark.tabulate(finished)["fit"] == "not checked"


@pytest.mark.parametrize("yosys_ran", [True, False])
def test_the_rtl_cache_stores_nothing_for_a_build_whose_yosys_was_skipped(tmp_path, monkeypatch, yosys_ran):
    """The build cache's RTL entry (fpga_flow.pipeline.rtl_cache) holds the three RTL steps'
    results only when all three ran: a gates stage skipped by the estimate's bound stores
    nothing (a later build with another --budget or --allow-over-budget runs yosys), one
    that ran is stored. The key is fixed here (the tools' versions are not what this tests);
    the steps are the build's own from gates on."""
    monkeypatch.setattr(rtl_cache, "rtl_key", lambda ctx: "k" * 64)
    if yosys_ran:
        monkeypatch.setattr(fpga_flow.rtl, "synthesize_ecp5", lambda rtl, board, out_dir: gates(lut=1_557, carry=2_821))
    config = build_config(model="mlp_tiny", board="ulx3s-85f", rtl=True, budget=0.05, allow_over_budget=yosys_ran,
                          cache_dir=tmp_path / "cache")
    ctx = BuildContext(config, ULX3S, tmp_path / "run")
    (tmp_path / "run" / "rtl").mkdir(parents=True)
    ctx.cache = CacheUse(dir=str(tmp_path / "cache"), key="d" * 64, hit=False, steps=[], model_digest="m",
                         source_digest="s")
    sim = RTLSimRecord(simulator="verilator", n_samples=1, word_agreement=1.0, sample_agreement=1.0, max_abs_diff=0.0,
                       argmax_agreement_keras=1.0, build_seconds=0.0, sim_seconds=0.0)
    records = {"rtl": rtl_record(5_694.0), "rtl_sim": sim}  # mlp_tiny's estimate: 6.8% of the 85F, over 5%
    steps = [Step(name, name, lambda c, name=name: records[name], writes=name) for name in records]
    rtl_cache.CachedRTLSteps(*steps, Step("gates", "gates", step_gates, writes="gates")).run_in(ctx)
    assert ctx.gates.status == ("done" if yosys_ran else "skipped") and ctx.cache.rtl_hit is False
    with BuildCache(tmp_path / "cache").read("k" * 64) as entry:
        assert (entry is not None) == yosys_ran


def test_an_open_tool_rtl_build_of_a_streaming_recipe_is_set_up_as_the_rtl_mirrors_it():
    """tiny_resnet's recipe is io_stream: with --rtl on an ECP5 board its HLS settings are
    io_parallel/Latency, as the fit's request is (the fit once searched io_stream only, and
    the RTL was then skipped); without --rtl, or with the io type given, the recipe's or
    the user's stays."""
    rtl = build_config(model="tiny_resnet", board="ulx3s-85f", rtl=True)
    settings = hls_settings(rtl, ULX3S)
    assert (settings.io_type, settings.strategy) == ("io_parallel", "Latency")
    request = FitRequest.of(rtl)
    assert (request.io_type, request.strategy) == (settings.io_type, settings.strategy)
    assert hls_settings(build_config(model="tiny_resnet", board="ulx3s-85f"), ULX3S).io_type == "io_stream"
    given = build_config(model="tiny_resnet", board="ulx3s-85f", rtl=True, io_type="io_stream")
    assert hls_settings(given, ULX3S).io_type == FitRequest.of(given).io_type == "io_stream"
    assert hls_settings(build_config(model="tiny_resnet", board="pynq-z2", rtl=True), get_board("pynq-z2")).io_type \
        == "io_stream"  # a vendor-flow board: the RTL does not decide its design
