"""``fpga-flow build --rtl`` end to end (a small MLP in hls4ml's distributed-arithmetic
strategy: the HLS project, its RTL, Verilator and yosys), and ``fpga-flow rtl`` on the
finished run. The stages' own tests are test_rtl.py's; this file is apart so that the
suite's two workers share the RTL work."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import run_cli
from fpga_flow.rtl.records import RTL_RECORD, RTLRecord, read_record
from test_rtl import hide_programs


@pytest.fixture(scope="module")
def rtl_build(tmp_path_factory):
    """``fpga-flow build --strategy distributed_arithmetic --rtl`` of a small Keras MLP:
    the HLS project made of hls4ml's da4ml kernels, and its RTL."""
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("rtl_build")
    tf.random.set_seed(5)
    model = tf.keras.Sequential([tf.keras.layers.Input((5,), name="x"), tf.keras.layers.Dense(4, name="dense"),
                                 tf.keras.layers.Activation("relu", name="relu"), tf.keras.layers.Dense(3, name="out")])
    model.save(folder / "mlp.h5")
    out = folder / "run"
    result = run_cli("build", str(folder / "mlp.h5"), "--board", "arty-a7-100t", "--strategy", "distributed_arithmetic",
                     "--rtl", "--precision-policy", "auto", "--max-samples", "200", "--out", str(out),
                     "--reports-dir", str(folder))
    return out, result


@pytest.mark.slow
def test_a_distributed_arithmetic_build_agrees_with_keras(rtl_build):
    out, result = rtl_build
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hls"]["strategy"] == "distributed_arithmetic" and summary["status"] == "passed"
    assert summary["fidelity"]["csim_agreement"] >= 0.99 and summary["fidelity"]["testbench_agreement"] >= 0.99
    # The firmware computes both Dense layers with da4ml's generated kernels, not nnet::dense ...
    firmware = (out / "hls_project" / "firmware" / "myproject.cpp").read_text()
    assert firmware.count("dense_da_") == 2 and "nnet::dense<" not in firmware
    # ... and the RTL with the same da4ml solutions.
    assert [layer.get("strategy") for layer in summary["rtl"]["layers"] if layer["class"] == "Dense"] == [
        "distributed_arithmetic"] * 2
    # The estimate cannot price da4ml's adder graphs: both layers are named, not counted as 0.
    unpriced = {layer["layer"]: layer for layer in summary["estimate"]["per_layer"] if not layer["priced"]}
    assert len(unpriced) == 2 and all(layer["LUT"] is None for layer in unpriced.values()), unpriced
    assert all("distributed_arithmetic is not priced" in " ".join(layer["notes"]) for layer in unpriced.values())
    assert sorted(summary["estimate"]["unpriced_layers"]) == sorted(unpriced)


@pytest.mark.slow
def test_build_with_rtl_records_the_three_stages(rtl_build):
    out, result = rtl_build
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    rtl, sim, gates = summary["rtl"], summary["rtl_sim"], summary["gates"]
    assert rtl["status"] == sim["status"] == gates["status"] == "done"
    assert sim["word_agreement"] == 1.0 and sim["n_samples"] == summary["data"]["n_eval"] == 200
    assert summary["checks"]["rtl_word_agreement"] == {"value": 1.0, "threshold": 1.0, "passed": True}
    assert gates["kind"] == "open synthesis of the RTL" and gates["family"] == "xc7" and gates["LUT"] > 0
    # Summed over the pipeline stages, each counted alone, in batches of yosys runs (test_gates.py).
    assert gates["per_module"] and re.search(rf"sum of {rtl['pipeline_stages'] + 1} modules \(0 cached, \d+ yosys runs\)$",
                                             gates["tool"]), gates["tool"]
    assert read_record(RTLRecord, out / "rtl" / RTL_RECORD).model_dump(mode="json") == rtl
    assert "RTL = C-sim, word for word" in result.stdout and f"{gates['LUT']:,} / {gates['FF']:,}" in result.stdout
    page = (out / "dashboard.html").read_text()
    assert 'data-metric="rtl_word_agreement" data-value="1.0"' in page
    assert f'data-metric="gates_LUT" data-value="{gates["LUT"]}"' in page and "OPEN SYNTHESIS" in page


@pytest.mark.slow
def test_the_rtl_command_rederives_the_figures_on_a_finished_run(rtl_build, tmp_path, monkeypatch):
    # On a copy: the command rewrites the run's summary, which this file's other tests read
    # as the build left it, in whatever order they run.
    out = tmp_path / "run"
    shutil.copytree(rtl_build[0], out)
    before = json.loads((out / "summary.json").read_text())
    hide_programs(monkeypatch, tmp_path / "bin", "yosys")  # the build's own test ran it
    result = run_cli("rtl", str(out), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    after = json.loads(result.stdout)
    assert after == json.loads((out / "summary.json").read_text())
    assert after["rtl_sim"]["word_agreement"] == 1.0 and after["status"] == "passed"
    # The same design from the same project, through a fresh C-simulation of it.
    same = ("pipeline_stages", "latency_cycles", "estimated_luts", "register_bits", "layers")
    assert {key: after["rtl"][key] for key in same} == {key: before["rtl"][key] for key in same}
    assert after["gates"] == {"status": "skipped", "stage": "gates", "reason": after["gates"]["reason"]}
    assert after["gates"]["reason"].startswith("yosys not found on PATH")
    assert {"rtl_command_load", "rtl_command_rtl", "rtl_command_rtl_sim", "rtl_command_gates"} <= set(after["timings_s"])
