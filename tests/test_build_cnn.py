"""End-to-end ``fpga-flow build`` of the CNN recipe, with real training, conversion,
g++ compiles of the bridge and the testbench, and the summary a user reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CNN_EPOCHS, run_cli
from fpga_flow.summary import read_summary

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cnn_build(cnn_pynq_z2_build):
    return cnn_pynq_z2_build


def test_build_exits_zero_and_prints_the_summary(cnn_build):
    out, result = cnn_build
    assert result.returncode == 0, result.stderr[-2000:]
    printed = json.loads(result.stdout)
    written = json.loads((out / "summary.json").read_text())
    assert printed == written
    assert not (out / "INCOMPLETE").exists()


def test_the_written_summary_is_a_valid_current_summary(cnn_build):
    out, _ = cnn_build
    summary = read_summary(out)  # validates every section against RunSummary
    assert summary.model_dump(mode="json") == json.loads((out / "summary.json").read_text())
    assert summary.board.part == "xc7z020clg400-1"
    assert summary.hls.clock_period_ns == 10.0
    assert summary.toolchain.hls4ml == "1.3.0" and summary.toolchain.gxx
    assert summary.synthesis.status == "skipped"
    for stage in ("load", "precision", "convert", "compile", "csim_bridge", "testbench"):
        assert summary.timings_s[stage] > 0
    # the chosen types are recorded once, as hls4ml wrote them into the project
    assert summary.precision.layer_precisions == json.loads((out / "hls_project" / "bridge.json").read_text())["layer_precisions"]


def test_both_csim_ways_agree_with_keras_after_closure(cnn_build):
    out, _ = cnn_build
    summary = read_summary(out)
    assert summary.fidelity.csim_agreement >= 0.99
    assert summary.fidelity.testbench_agreement >= 0.99
    closure = summary.precision.closure
    assert closure.iterations[0].change == "hls4ml default configuration"
    assert closure.calibration_size > 0 and summary.data.n_eval > 0
    assert summary.fidelity.keras_accuracy > 0.9
    # every candidate was emulated: the build's one g++ compile is the proof's
    assert closure.realization.model_dump() == {"emulated_iterations": len(closure.iterations),
                                                "compiled_iterations": 0, "fallback_reason": None}


def test_the_default_build_fits_the_pynq_z2_and_passes_honestly(cnn_build):
    """``make demo``'s build: fitted by default, every estimated resource within 80% of the
    PYNQ-Z2, agreement held: PASSED, and only then."""
    out, _ = cnn_build
    summary = read_summary(out)
    assert summary.config.fit and summary.fit is not None and summary.fit.fits
    board = summary.board.resources
    for key in ("LUT", "FF", "DSP", "BRAM_18K"):
        assert summary.estimate.resources[key] <= 0.8 * getattr(board, key), key
    budget = summary.checks.fit_budget
    assert budget.passed and budget.threshold == 0.8 and budget.value <= 0.8 and budget.resource in board.model_fields
    assert (summary.status, summary.verdict) == ("passed", "PASSED")
    # The closure measured the fitted design (its io type and plan), which the estimate says fits.
    assert summary.hls.io_type == summary.fit.io_type
    assert summary.fit.unfitted.peak_pct > 100  # hls4ml's defaults would not


def test_testbench_results_are_read_back_from_its_log(cnn_build):
    from fpga_flow.csim import read_results

    out, _ = cnn_build
    summary = read_summary(out)
    results = read_results(Path(summary.artifacts["testbench_results"]), 10)
    tb_inputs = out / "hls_project" / "tb_data" / "tb_input_features.dat"
    assert len(tb_inputs.read_text().splitlines()) == summary.data.n_eval == len(results)
    assert summary.fidelity.testbench_vs_bridge_max_abs < 1e-3


def test_default_policy_is_recorded_without_closure(reports_root, tmp_path):
    out = tmp_path / "default"
    result = run_cli("build", "cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS), "--reports-dir",
                     str(reports_root), "--out", str(out), "--precision-policy", "default", "--json",
                     "--min-agreement", "0.5")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["precision"]["policy"] == "default"
    assert summary["precision"]["closure"] is None


def test_agreement_below_minimum_exits_one_with_a_complete_summary(tmp_path):
    import numpy as np
    import tensorflow as tf

    # The second class wins every sample by a bias of 1e-4, below the resolution of
    # hls4ml's default type (ap_fixed<16,6>: 2^-10), which truncates it to 0: the
    # C-simulation ties and picks the first class for every sample. Agreement is 0.
    model = tf.keras.Sequential([tf.keras.layers.Input((4,), name="x"), tf.keras.layers.Dense(2, name="scores")])
    model.set_weights([np.zeros((4, 2), np.float32), np.array([0.0, 1e-4], np.float32)])
    model.save(tmp_path / "bias_below_lsb.h5")
    out = tmp_path / "strict"
    common = ("build", str(tmp_path / "bias_below_lsb.h5"), "--board", "pynq-z2", "--precision-policy", "default",
              "--max-samples", "40", "--reports-dir", str(tmp_path), "--out", str(out), "--no-cache")
    result = run_cli(*common, "--min-agreement", "1.01")
    assert result.returncode == 2 and "--min-agreement" in result.stderr  # out of range is a user error
    assert not out.exists()
    result = run_cli(*common, "--min-agreement", "0.99", "--io-type", "io_stream")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "CHECK FAILED: C-sim agreement 0.0000 below 0.99" in result.stdout and "Traceback" not in result.stderr
    summary = read_summary(out)
    assert not (out / "INCOMPLETE").exists()
    assert summary.status == "check_failed" and summary.checks.fit_budget.passed  # it fits: agreement failed
    assert summary.verdict.startswith("CHECK FAILED: C-sim agreement 0.0000 below 0.99")
    assert summary.fidelity.csim_agreement == summary.fidelity.testbench_agreement == 0.0
    assert not summary.checks.csim_agreement.passed and summary.checks.csim_agreement.threshold == 0.99
    assert summary.hls.io_type == "io_stream"


def test_a_relative_output_directory_works_from_any_folder(reports_root, tmp_path):
    result = run_cli("build", "cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS), "--reports-dir",
                     str(reports_root), "--out", "relative_run", "--precision-policy", "default",
                     "--max-samples", "40", "--min-agreement", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = read_summary(tmp_path / "relative_run")
    assert summary.data.n_eval == 40 and Path(summary.artifacts["testbench_results"]).is_file()
