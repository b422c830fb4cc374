"""summary.json has one schema (fpga_flow.summary.RunSummary): the test runs validate
against it, real version 1 summaries (fpga-flow 0.1.0) are upgraded on read, and a
summary this fpga-flow cannot read is one clear line naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fpga_flow.errors import FlowError
from fpga_flow.summary import SCHEMA_VERSION, RunSummary, SummaryError, parse_summary, read_summary

DATA = Path(__file__).resolve().parent / "data"
RUN_FIXTURES = [*sorted((DATA / "runs").glob("*/summary.json")), *sorted((DATA / "fit_runs").glob("*/summary.json"))]
# Written by real `fpga-flow build` runs of fpga-flow 0.1.0 (main before summary.py):
# a closure build without the cache, and a default-policy build through the cache
# whose agreement fell below --min-agreement 1.0.
V1_CLOSURE = DATA / "summary_v1" / "tiny_mlp_closure" / "summary.json"
V1_DEFAULT_CACHED = DATA / "summary_v1" / "tiny_mlp_default_cached" / "summary.json"


@pytest.mark.parametrize("path", RUN_FIXTURES, ids=lambda p: p.parent.name)
def test_every_test_run_is_a_current_summary(path):
    document = json.loads(path.read_text())
    assert document["schema_version"] == SCHEMA_VERSION
    summary = read_summary(path.parent)
    assert summary.model_dump(mode="json") == document  # nothing dropped or defaulted on the way in


def test_a_version_1_closure_build_is_upgraded_field_by_field():
    old = json.loads(V1_CLOSURE.read_text())
    new = read_summary(V1_CLOSURE)
    assert isinstance(new, RunSummary) and new.schema_version == SCHEMA_VERSION
    assert (new.run_id, new.status, new.created_utc) == (old["run_id"], old["status"], old["created_utc"])
    assert (new.model.name, new.model.source, new.model.layer_families) == (
        old["model"], old["model_source"], old["layer_families"])
    assert (new.data.origin, new.data.n_eval, new.data.n_calibration) == (old["data"], old["n_test"], old["n_calibration"])
    assert (new.board.name, new.board.part, new.board.backend) == (old["board"], old["part"], old["backend"])
    assert new.board.resources.model_dump() == old["board_resources"]
    assert (new.hls.io_type, new.hls.reuse_factor, new.hls.clock_period_ns) == (
        old["io_type"], old["reuse_factor"], old["clock_period_ns"])
    assert new.hls.default_precision == "ap_fixed<16,6>"
    for key in ("keras_accuracy", "csim_accuracy", "csim_agreement", "testbench_agreement", "max_abs_error",
                "mean_abs_error", "testbench_vs_bridge_max_abs"):
        assert getattr(new.fidelity, key) == old[key], key
    assert new.fidelity.confusion_matrix.counts == old["confusion_matrix"]["counts"]
    assert new.checks.model_dump(exclude={"fit_budget", "target_latency", "rtl_word_agreement", "pnr_fmax",
                                          "top_word_agreement", "fit_not_checked"}) == old["checks"]
    assert new.fit is None and new.checks.fit_budget is None  # fpga-flow 0.1.0 had no --fit
    assert new.checks.rtl_word_agreement is None and new.rtl is None  # nor RTL stages
    closure, old_closure = new.precision.closure, old["precision_closure"]
    assert new.precision.policy == old["precision_policy"] == "closure"
    assert closure.default_agreement_calibration == old_closure["default_agreement_calibration"]
    assert [it.model_dump() for it in closure.iterations] == old_closure["iterations"]
    assert closure.layer_error_after == old_closure["layer_error_after"]
    assert new.precision.layer_precisions == old["layer_precisions"]
    assert {name: record.model_dump() for name, record in new.precision.overflow.items()} == old["overflow"]
    # fpga-flow 0.1's estimate keeps its figures, as what they were: first-order, measured against no report.
    assert new.estimate.resources == old["estimate"]["resources"] and new.estimate.first_order.kind == "first_order"
    assert new.estimate.csynth is None and new.estimate.error == {} and not new.estimate.in_scope
    assert [layer.kind for layer in new.estimate.per_layer] == [layer["class"] for layer in old["estimate"]["per_layer"]]
    assert new.synthesis.model_dump() == old["synthesis"]
    assert new.cache is None and old["cache"] is None
    assert new.toolchain.gxx == old["versions"]["gxx"]
    assert " ".join(new.toolchain.compile_flags) == old["compile_flags"]
    assert new.config.model_dump(mode="json", exclude={"fit", "budget", "allow_over_budget", "target_latency_ns", "rtl",
                                                       "pnr", "pnr_timeout", "stage_levels"}) == old["config"]
    assert not new.config.fit and new.config.rtl is False
    assert (new.artifacts, new.timings_s) == (old["artifacts"], old["timings_s"])


def test_a_version_1_cached_build_keeps_its_cache_record_and_failed_check():
    old = json.loads(V1_DEFAULT_CACHED.read_text())
    new = read_summary(V1_DEFAULT_CACHED)
    assert new.status == old["status"] == "check_failed"
    assert not new.checks.csim_agreement.passed and new.checks.csim_agreement.threshold == 1.0
    assert new.precision.closure is None and new.precision.policy == "default"
    assert (new.cache.key, new.cache.hit, new.cache.dir) == (old["cache"]["key"], False, old["cache"]["dir"])
    assert new.cache.steps == ["precision", "convert", "compile"]
    assert new.cache.model_digest == old["cache"]["inputs"]["model"]


def _one_line(error: pytest.ExceptionInfo, *needles: str) -> None:
    message = str(error.value)
    assert isinstance(error.value, FlowError) and error.value.exit_code == 2
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_unknown_versions_and_invalid_files_are_one_line_errors_naming_the_file(tmp_path):
    current = json.loads(RUN_FIXTURES[0].read_text())
    cases = {
        "future": ({**current, "schema_version": SCHEMA_VERSION + 1}, (f"version {SCHEMA_VERSION + 1}", "rebuild")),
        "text_version": ({**current, "schema_version": "two"}, ("version 'two'",)),
        "no_version": ({key: value for key, value in current.items() if key != "schema_version"}, ("no schema_version",)),
        "extra_field": ({**current, "surprise": 1}, ("'surprise'", "rebuild")),
        "missing_section": ({key: value for key, value in current.items() if key != "fidelity"}, ("'fidelity'",)),
        "bad_value": ({**current, "status": "fine"}, ("'status'",)),
        "broken_v1": ({"schema_version": 1, "run_id": "x"}, ("not a valid version 1 summary",)),
    }
    for name, (document, needles) in cases.items():
        run_dir = tmp_path / name
        run_dir.mkdir()
        (run_dir / "summary.json").write_text(json.dumps(document))
        with pytest.raises(SummaryError) as error:
            read_summary(run_dir)
        _one_line(error, str(run_dir / "summary.json"), *needles)
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "summary.json").write_text('{"schema_version": 2, ')
    with pytest.raises(SummaryError) as error:
        read_summary(tmp_path / "garbled")
    _one_line(error, "unreadable")
    with pytest.raises(SummaryError) as error:
        read_summary(tmp_path / "nowhere")
    _one_line(error, "not found", "finished build")


def test_a_summary_from_a_newer_fpga_flow_is_refused_on_the_command_line(tmp_path):
    from conftest import run_cli

    run_dir = tmp_path / "runs" / "future"
    shutil.copytree(RUN_FIXTURES[0].parent, run_dir)
    document = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").write_text(json.dumps({**document, "schema_version": 7}))
    result = run_cli("dashboard", str(run_dir), "--out", str(tmp_path / "page"))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any("schema version 7" in line and "skipped" in line for line in warnings), result.stderr


def test_parse_summary_names_the_record_it_was_given():
    with pytest.raises(SummaryError) as error:
        parse_summary([], "run history x.db, run 'r1'")
    _one_line(error, "run history x.db, run 'r1'")


def test_a_sweep_row_takes_its_figures_from_the_point_summary():
    from fpga_flow.config import BuildConfig
    from fpga_flow.sweep import CSV_COLUMNS, PointOutcome, SweepPoint, SweepRow, point_row

    summary = read_summary(RUN_FIXTURES[0].parent)
    config = BuildConfig(model="cnn_digits", board="pynq-z2", out=Path("/sweeps/s/runs/p"))
    point = SweepPoint(0, "pynq-z2", None, None, None, "closure")  # axes left to the recipe
    row = point_row(point, config, PointOutcome(summary, seconds=12.5))
    document = json.loads(RUN_FIXTURES[0].read_text())
    assert (row.reuse_factor, row.strategy, row.io_type) == (
        document["hls"]["reuse_factor"], document["hls"]["strategy"], document["hls"]["io_type"])
    assert (row.status, row.csim_agreement, row.est_LUT, row.est_latency_ns, row.cache_hit) == (
        document["status"], document["fidelity"]["csim_agreement"], document["estimate"]["csynth"]["LUT"],
        document["estimate"]["latency_ns"], document["cache"]["hit"])
    failed = point_row(point, config, PointOutcome(None, "hls4ml cannot convert", "convert", 3.0))
    assert (failed.status, failed.failed_stage, failed.csim_agreement, failed.run_dir) == (
        "error", "convert", None, "/sweeps/s/runs/p")
    assert CSV_COLUMNS == tuple(SweepRow.model_fields) and "csim_agreement" in CSV_COLUMNS


# --------------------------------------------------------------------------- status that tells the truth


def _checks(agreement: float = 1.0, share: float = 0.5, error: float | None = 0.18, target: float | None = None):
    from fpga_flow.summary import BudgetCheck, Check, Checks

    ok = Check(value=agreement, threshold=0.99, passed=agreement >= 0.99)
    return Checks(csim_agreement=ok, testbench_agreement=ok,
                  fit_budget=BudgetCheck(value=share, threshold=0.8, passed=share <= 0.8, resource="LUT",
                                         estimate_error=error),
                  target_latency=None if target is None else Check(value=target, threshold=100, passed=target <= 100))


def test_passed_only_when_agreement_holds_and_the_estimate_fits_the_board():
    from fpga_flow.summary import run_status, verdict
    from fpga_flow.synth import SynthesisResult

    skipped = SynthesisResult(status="skipped", reason="not requested (--no-synth)")
    cases = [
        (_checks(), "passed", "PASSED"),
        (_checks(share=1.5591), "does_not_fit", "DOES NOT FIT: LUT 156% of pynq-z2 (budget 80%), estimate +/-18%"),
        (_checks(share=0.9, error=None), "does_not_fit", "DOES NOT FIT: LUT 90% of pynq-z2 (budget 80%)"),
        (_checks(agreement=0.95), "check_failed", "CHECK FAILED: C-sim agreement 0.9500 below 0.99, testbench "
                                                  "agreement 0.9500 below 0.99"),
        (_checks(agreement=0.95, share=1.2), "check_failed",
         "CHECK FAILED: C-sim agreement 0.9500 below 0.99, testbench agreement 0.9500 below 0.99; DOES NOT FIT: LUT "
         "120% of pynq-z2 (budget 80%), estimate +/-18%"),
        (_checks(target=250), "check_failed", "CHECK FAILED: latency 250 ns over the target 100 ns"),
    ]
    for checks, status, line in cases:
        assert (run_status(checks, skipped), verdict(checks, "pynq-z2", skipped)) == (status, line)
    failed = SynthesisResult(status="failed", reason="vivado_hls exited 1")
    assert run_status(_checks(), failed) == "synthesis_failed"
    assert verdict(_checks(), "pynq-z2", failed) == "SYNTHESIS FAILED: vivado_hls exited 1"


def test_an_older_summary_without_a_verdict_gets_one_from_its_checks():
    summary = read_summary(DATA / "runs" / "cnn_digits_pynq-z2_rf4_default")
    assert summary.verdict is None and summary.status == "check_failed"
    assert summary.headline().startswith("CHECK FAILED: C-sim agreement ")
    assert read_summary(DATA / "runs" / "cnn_digits_pynq-z2_rf1").headline() == "PASSED"  # no budget check then


def test_a_step_that_did_not_run_is_marked_skipped_with_its_reason(tmp_path):
    from fpga_flow.boards import get_board
    from fpga_flow.config import build_config
    from fpga_flow.pipeline import BUILD_STEPS, BuildContext, step_titles

    steps = {step.name: step for item in BUILD_STEPS for step in item.steps}
    seen: list[tuple[str, str]] = []
    ctx = BuildContext(build_config(model="cnn_digits", board="pynq-z2", fit=False), get_board("pynq-z2"), tmp_path,
                       progress=lambda step, state: seen.append((step, state)))
    for name in ("rtl", "rtl_sim", "gates", "fit", "synthesis"):  # not asked: --rtl, --no-fit, --no-synth
        steps[name].run_in(ctx)
    assert seen == [("rtl", "start"), ("rtl", "skipped"), ("rtl_sim", "start"), ("rtl_sim", "skipped"),
                    ("gates", "start"), ("gates", "skipped"), ("fit", "start"), ("fit", "skipped"),
                    ("synthesis", "start"), ("synthesis", "skipped: not requested (--no-synth)")]
    assert "Writing the RTL (da4ml)" == step_titles()["rtl"]


def test_the_progress_list_shows_skipped_stages_without_a_tick():
    import importlib
    import io
    import re

    from rich.console import Console

    cli_app = importlib.import_module("fpga_flow.cli.app")

    captured = io.StringIO()
    console, cli_app.console = cli_app.console, Console(file=captured, force_terminal=True, width=120)
    try:
        def runner(cfg, progress):
            for step, state in (("compile", "start"), ("compile", "done"), ("rtl", "start"), ("rtl", "skipped")):
                progress(step, state)

        cli_app.run_with_progress(None, {"compile": "Compiling", "rtl": "Writing the RTL (da4ml)"}, runner, quiet=False)
    finally:
        cli_app.console = console
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", captured.getvalue())  # the terminal's colours
    assert "✓ Compiling" in text and "Writing the RTL (da4ml) (skipped)" in text
    assert "✓ Writing the RTL" not in text
