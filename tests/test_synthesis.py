"""How the build drives a vendor tool that cannot run here: a FAKE ``vitis-run`` on PATH
replays real report files and logs from ../shared, so the driving, the report parsing
into summary.json and the failure path are exercised for real."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED, run_cli

NAUTILUS = SHARED / "vendor_reports" / "vitis_hls" / "nrp_nautilus_hls4ml"
FAILED_LOG = SHARED / "vendor_reports" / "vitis_hls" / "asandeep1_ece8893_2022" / "flat_failed" / "vitis_hls.log"

FAKE_SUCCESS = f"""#!/bin/sh
# FAKE vitis-run for tests: replays a real hls4ml Vitis HLS 2022.2 run's reports.
mkdir -p myproject_prj/solution1/syn/report
cp "{NAUTILUS / 'myproject_csynth.xml'}" myproject_prj/solution1/syn/report/myproject_csynth.xml
cp "{NAUTILUS / 'myproject_csynth.rpt'}" myproject_prj/solution1/syn/report/myproject_csynth.rpt
cp "{NAUTILUS / 'vitis_hls.log'}" vitis_hls.log
cat vitis_hls.log
echo "$@" > fake_vitis_run_arguments.txt
exit 0
"""

FAKE_FAILURE = f"""#!/bin/sh
# FAKE vitis-run for tests: replays a real failed Vitis HLS 2021.1 run.
cat "{FAILED_LOG}"
exit 1
"""


def fake_tool(folder: Path, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / "vitis-run"
    tool.write_text(script)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return folder


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("synth_model")
    model = tf.keras.Sequential([tf.keras.layers.Input((6,), name="x"), tf.keras.layers.Dense(4, name="dense"),
                                 tf.keras.layers.Activation("softmax", name="softmax")])
    model.save(folder / "tiny.h5")
    np.savez(folder / "data.npz", X=np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32))
    return folder


def build(tiny_model, tmp_path, path_dir, *extra):
    import os

    return run_cli("build", str(tiny_model / "tiny.h5"), "--board", "alveo-u250", "--test-data",
                   str(tiny_model / "data.npz"), "--precision-policy", "default", "--min-agreement", "0",
                   "--reports-dir", str(tmp_path), "--out", str(tmp_path / "run"), "--json", *extra,
                   env={"PATH": f"{path_dir}:{os.environ['PATH']}"})


@pytest.mark.slow  # a whole build: g++ compiles the bridge and the testbench
def test_missing_tool_is_skipped_with_its_name(tiny_model, tmp_path):
    result = build(tiny_model, tmp_path, tmp_path / "empty-bin", "--synth")
    assert result.returncode == 0, result.stderr[-1500:]
    synthesis = json.loads(result.stdout)["synthesis"]
    assert synthesis["status"] == "skipped" and synthesis["reason"] == "vitis-run not found on PATH"


@pytest.mark.slow  # a whole build: g++ compiles the bridge and the testbench
def test_fake_tool_reports_are_parsed_into_the_summary(tiny_model, tmp_path):
    result = build(tiny_model, tmp_path, fake_tool(tmp_path / "bin", FAKE_SUCCESS), "--synth")
    assert result.returncode == 0, result.stderr[-1500:]
    summary = json.loads(result.stdout)
    synthesis = summary["synthesis"]
    assert synthesis["status"] == "ok" and synthesis["tool"] == "vitis-run"
    report = synthesis["report"]
    assert report["tool"] and report["tool_version"].startswith("2022.2")
    assert report["resources"]["LUT"] > 0 and report["available"]["LUT"] > 0
    assert report["latency_cycles"]["worst"] is not None
    project = Path(summary["artifacts"]["hls_project"])
    assert (project / "fake_vitis_run_arguments.txt").read_text().split() == ["--tcl", "build_prj.tcl", "--mode", "hls"]
    assert "synth 1" in (project / "build_opt.tcl").read_text()


@pytest.mark.slow  # a whole build: g++ compiles the bridge and the testbench
def test_fake_tool_failure_names_the_failed_stage_and_exits_one(tiny_model, tmp_path):
    result = build(tiny_model, tmp_path, fake_tool(tmp_path / "bin", FAKE_FAILURE), "--synth")
    assert result.returncode == 1, result.stderr[-1500:]
    summary = json.loads(result.stdout)
    assert summary["status"] == "synthesis_failed"
    assert summary["synthesis"]["status"] == "failed"
    assert "report not found" not in summary["synthesis"]["reason"]
    assert summary["synthesis"]["failed_stage"].startswith("csynth")
    assert summary["synthesis"]["failed_stage"] in summary["synthesis"]["reason"]
