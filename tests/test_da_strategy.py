"""``--strategy distributed_arithmetic``: hls4ml 1.3.0's da4ml adder graphs in the HLS
project, C-simulated and compared with Keras like any other build."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow


def test_a_distributed_arithmetic_build_agrees_with_keras(tmp_path):
    import tensorflow as tf

    tf.random.set_seed(3)
    model = tf.keras.Sequential([tf.keras.layers.Input((6,), name="x"), tf.keras.layers.Dense(4, name="dense"),
                                 tf.keras.layers.Activation("relu", name="relu"), tf.keras.layers.Dense(3, name="out"),
                                 tf.keras.layers.Activation("softmax", name="softmax")])
    model.save(tmp_path / "mlp.h5")
    out = tmp_path / "run"
    result = run_cli("build", str(tmp_path / "mlp.h5"), "--board", "zcu104", "--strategy", "distributed_arithmetic",
                     "--precision-policy", "auto", "--out", str(out), "--reports-dir", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategy"] == "distributed_arithmetic" and summary["status"] == "passed"
    assert summary["csim_agreement"] >= 0.99 and summary["testbench_agreement"] >= 0.99
    # The firmware computes both Dense layers with da4ml's generated kernels, not nnet::dense.
    firmware = (out / "hls_project" / "firmware" / "myproject.cpp").read_text()
    assert firmware.count("dense_da_") == 2 and "nnet::dense<" not in firmware
