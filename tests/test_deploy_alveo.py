"""A recurrent model on an Alveo card: ``fpga-flow build gru_digits --board alveo-u250``
(hls4ml's Vitis backend), ``fpga-flow deploy`` (the VivadoAccelerator RTL-kernel design,
converted again and proved equal to the run's C-simulation), and
``check_on_board.py --simulate`` through the driver's AlveoKernel transport.

The deploy asks for the bitstream with FAKE Vivado tools on PATH whose vivado_hls fails,
which is the "tool ran and failed" path: exit 1 naming the stage, and the bundle itself
complete and usable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import RNN_EPOCHS, reports_folder, run_cli
from fpga_flow.deploy import standin
from fpga_flow.deploy.board import driver
from fpga_flow.summary import read_summary

FAKE_TOOL = """#!/bin/sh
echo "FAKE {name}: stands in for AMD's tool in fpga-flow's tests and always fails"
echo "ERROR: [HLS 200-70] FAKE {name} failed"
exit 1
"""


# --------------------------------------------------------------------------- one spelling per type


@pytest.mark.parametrize("spelling", ["ap_fixed<16,6>", "ap_ufixed<9,1>", "ap_fixed<18,6,AP_RND,AP_SAT>",
                                      "ap_fixed<13,4,AP_RND_CONV,AP_SAT_SYM>", "ap_ufixed<8,0,AP_TRN,AP_SAT>",
                                      "ap_fixed<12,3,AP_RND,AP_WRAP>"])
def test_the_bundle_spells_a_type_as_the_run_records_it(spelling):
    """summary.json records each type as hls4ml spells it (the default modes left out:
    ``ap_fixed<16,6>``); the manifest's type is the same type and must read the same, or a
    run whose input keeps hls4ml's default type shows two spellings of it (and the test
    below, comparing them, failed for such a run)."""
    from hls4ml.backends.fpga.fpga_backend import FPGABackend
    from hls4ml.backends.fpga.fpga_types import APTypeConverter

    from fpga_flow.deploy.project import fixed_point

    precision = APTypeConverter().convert(FPGABackend.convert_precision_string(spelling))
    assert fixed_point(precision, "input").cpp() == precision.definition_cpp()


# --------------------------------------------------------------------------- gru_digits on the Alveo U250


@pytest.fixture(scope="module")
def fake_tools(tmp_path_factory) -> str:
    """A PATH whose vivado_hls, vivado and v++ are FAKE programs that fail."""
    folder = tmp_path_factory.mktemp("FAKE_vivado_bin")
    for name in ("vivado_hls", "vivado", "v++"):
        path = folder / name
        path.write_text(FAKE_TOOL.format(name=name))
        path.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


@pytest.fixture(scope="module")
def gru_run(session_store, tmp_path_factory) -> Path:
    # The session's gru_digits export, trained once whichever file asks first (test_recurrent builds it too).
    reports = reports_folder(session_store, tmp_path_factory.mktemp("reports"), ("gru_digits", RNN_EPOCHS))
    out = tmp_path_factory.mktemp("deploy") / "gru_run"
    result = run_cli("build", "gru_digits", "--board", "alveo-u250", "--epochs", str(RNN_EPOCHS), "--reports-dir",
                     str(reports), "--out", str(out), "--max-samples", "200", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def deployed(gru_run, fake_tools):
    result = run_cli("deploy", str(gru_run), "--bitstream", "--platform", "FAKE_PLATFORM", "--json", env={"PATH": fake_tools})
    return gru_run / "bundle", result


@pytest.mark.slow
def test_a_failed_vivado_run_exits_1_naming_its_stage(deployed):
    bundle, result = deployed
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "HLS synthesis and IP export" in lines[0] and "(vivado_hls)" in lines[0], lines
    assert "logs/hls_export.log" in lines[0]
    assert "FAKE vivado_hls" in (bundle / "logs" / "hls_export.log").read_text()
    assert not (bundle / "overlay" / "myproject_kernel.xclbin").exists()
    # The bitstream step runs on a complete bundle: its failure leaves the bundle usable.
    assert (bundle / driver.MANIFEST_FILE).is_file() and not (bundle / driver.INCOMPLETE_FILE).exists()


@pytest.mark.slow
def test_the_bundle_targets_the_alveo_kernel_with_the_runs_arithmetic(gru_run, deployed):
    bundle, _ = deployed
    summary = read_summary(gru_run)
    manifest = driver.read_manifest(bundle)
    assert (manifest.kind, manifest.accelerator_board, manifest.overlay) == \
        ("alveo", "alveo-u250", "overlay/myproject_kernel.xclbin")
    assert manifest.input.model_type.cpp() == summary.precision.layer_precisions["sequence"]["result"]
    assert manifest.input.model_type.signed and manifest.input.model_type.width not in (8, 16, 32)
    assert manifest.input.word_type.width == manifest.output.word_type.width == 32
    assert manifest.provenance.run_backend == "Vitis"
    assert manifest.provenance.csim_values_matched == summary.data.n_eval * 10
    # hls4ml's Vitis and Vivado templates differ (nnet_utils): the run's project was compiled again.
    assert not manifest.provenance.firmware_identical_to_run and manifest.provenance.run_csim == "recompiled"
    # The run noted the bundle before the bitstream step failed.
    assert summary.deploy.bundle_id == manifest.bundle_id and summary.deploy.kind == "alveo"
    assert (bundle / "hls_project" / "src" / "krnl_rtl_int.sv").is_file()


@pytest.mark.slow
def test_check_on_board_simulate_agrees_word_for_word(gru_run, deployed):
    bundle, _ = deployed
    n_test = read_summary(gru_run).data.n_eval
    result = subprocess.run([sys.executable, "check_on_board.py", "--simulate", "--batch-size", "64"], cwd=bundle,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads((bundle / driver.RESULTS_FILE).read_text())
    assert found["output_words_equal"] == found["output_words"] == n_test * 10
    assert found["input_words_equal"] == found["input_words"] == n_test * 64
    assert found["batch_size"] == 64 and "100.000%" in result.stdout


@pytest.mark.slow
def test_the_stand_in_kernel_reads_only_what_was_synced_to_the_device(deployed):
    bundle, _ = deployed
    pynq = standin.simulated_pynq(bundle)
    kernel = pynq.Overlay("overlay/myproject_kernel.xclbin").krnl_rtl_1
    words, expected = np.load(bundle / driver.INPUT_WORDS_FILE), np.load(bundle / driver.EXPECTED_WORDS_FILE)
    inbuf, outbuf = pynq.allocate(shape=(64,), dtype=np.uint32), pynq.allocate(shape=(10,), dtype=np.uint32)
    inbuf[:] = words[:64]
    kernel.call(inbuf, outbuf, 64, 10)  # no sync_to_device: the kernel computes on zeros
    outbuf.sync_from_device()
    unsynced = np.array(outbuf)
    inbuf.sync_to_device()
    kernel.call(inbuf, outbuf, 64, 10)
    outbuf.sync_from_device()
    assert np.array_equal(outbuf, expected[:10]) and not np.array_equal(unsynced, expected[:10])
    with pytest.raises(RuntimeError, match="never finish"):
        kernel.call(inbuf, outbuf, 64, 11)


@pytest.mark.slow
def test_alveo_bitstream_needs_a_platform(gru_run, fake_tools, tmp_path):
    result = run_cli("deploy", str(gru_run), "--out", str(tmp_path / "b"), "--bitstream", env={"PATH": fake_tools})
    assert result.returncode == 2 and "--platform" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()
