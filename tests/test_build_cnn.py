"""End-to-end ``fpga-flow build`` of the CNN recipe, with real training, conversion,
g++ compiles of the bridge and the testbench, and the summary a user reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CNN_EPOCHS, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cnn_build(reports_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("builds") / "cnn"
    result = run_cli("build", "cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS),
                     "--reports-dir", str(reports_root), "--out", str(out), "--json")
    return out, result


def test_build_exits_zero_and_prints_the_summary(cnn_build):
    out, result = cnn_build
    assert result.returncode == 0, result.stderr[-2000:]
    printed = json.loads(result.stdout)
    written = json.loads((out / "summary.json").read_text())
    assert printed == written
    assert not (out / "INCOMPLETE").exists()


def test_summary_holds_the_required_fields(cnn_build):
    out, _ = cnn_build
    summary = json.loads((out / "summary.json").read_text())
    for key in ("model", "board", "part", "backend", "io_type", "strategy", "reuse_factor", "clock_period_ns",
                "keras_accuracy", "csim_accuracy", "csim_agreement", "testbench_agreement", "max_abs_error",
                "synthesis", "artifacts", "timings_s", "versions"):
        assert key in summary, key
    assert summary["part"] == "xc7z020clg400-1"
    assert summary["clock_period_ns"] == 10.0
    assert summary["versions"]["hls4ml"] == "1.3.0"
    assert summary["versions"]["gxx"]
    assert summary["synthesis"]["status"] == "skipped"
    for stage in ("load", "precision", "convert", "compile", "csim_bridge", "testbench"):
        assert summary["timings_s"][stage] > 0


def test_both_csim_ways_agree_with_keras_after_closure(cnn_build):
    out, _ = cnn_build
    summary = json.loads((out / "summary.json").read_text())
    assert summary["csim_agreement"] >= 0.99
    assert summary["testbench_agreement"] >= 0.99
    closure = summary["precision_closure"]
    assert closure["iterations"][0]["change"] == "hls4ml default configuration"
    assert closure["calibration_size"] > 0 and summary["n_test"] > 0
    assert summary["keras_accuracy"] > 0.9


def test_testbench_results_are_read_back_from_its_log(cnn_build):
    from fpga_flow.csim import read_results

    out, _ = cnn_build
    summary = json.loads((out / "summary.json").read_text())
    results = read_results(Path(summary["artifacts"]["testbench_results"]), 10)
    tb_inputs = out / "hls_project" / "tb_data" / "tb_input_features.dat"
    assert len(tb_inputs.read_text().splitlines()) == summary["n_test"] == len(results)
    assert summary["testbench_vs_bridge_max_abs"] < 1e-3


def test_default_policy_is_recorded_without_closure(reports_root, tmp_path):
    out = tmp_path / "default"
    result = run_cli("build", "cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS), "--reports-dir",
                     str(reports_root), "--out", str(out), "--precision-policy", "default", "--json",
                     "--min-agreement", "0.5")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["precision_policy"] == "default"
    assert summary["precision_closure"] is None


def test_agreement_below_minimum_exits_one_with_a_complete_summary(reports_root, tmp_path):
    out = tmp_path / "strict"
    result = run_cli("build", "cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS), "--reports-dir",
                     str(reports_root), "--out", str(out), "--precision-policy", "default", "--min-agreement", "1.01")
    assert result.returncode == 2  # out of range is a user error
    result = run_cli("build", "cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS), "--reports-dir",
                     str(reports_root), "--out", str(out), "--precision-policy", "default", "--min-agreement", "1.0",
                     "--max-samples", "60", "--io-type", "io_stream")
    summary = json.loads((out / "summary.json").read_text())
    expected = 0 if summary["csim_agreement"] >= 1.0 and summary["testbench_agreement"] >= 1.0 else 1
    assert result.returncode == expected
    assert summary["status"] == ("passed" if expected == 0 else "check_failed")
    assert summary["io_type"] == "io_stream"


def test_a_relative_output_directory_works_from_any_folder(reports_root, tmp_path):
    result = run_cli("build", "cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS), "--reports-dir",
                     str(reports_root), "--out", "relative_run", "--precision-policy", "default",
                     "--max-samples", "40", "--min-agreement", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "relative_run" / "summary.json").read_text())
    assert summary["testbench_agreement"] is not None
