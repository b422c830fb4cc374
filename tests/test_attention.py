"""The quantized attention layer: save/load, hls4ml conversion through the Extension
API, and the attention_digits recipe built for a board with the precision closure."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_cli, session_objects
from fpga_flow.summary import read_summary


def small_model():
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    from fpga_flow.attention import QMultiHeadSelfAttention

    tf.keras.utils.set_random_seed(4)
    q = quantized_bits(8, 0, alpha=1)
    return tf.keras.Sequential([
        tf.keras.layers.Input((6, 5), name="tokens"),
        QDense(8, kernel_quantizer=q, bias_quantizer=q, name="embed"),
        QMultiHeadSelfAttention(2, 4, causal=True, name="mhsa"),
    ])


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_save_load_round_trip_gives_identical_outputs(tmp_path, suffix):
    from fpga_flow.model_io import load_keras_model

    model = small_model()
    x = np.random.default_rng(0).uniform(-1, 1, (4, 6, 5)).astype(np.float32)
    model.save(tmp_path / f"m{suffix}")
    loaded = load_keras_model(tmp_path / f"m{suffix}")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    config = loaded.get_layer("mhsa").get_config()
    assert config["causal"] is True and config["kernel_quantizer"] == "quantized_bits(8,0,alpha=1)"


def test_quantizers_apply_to_the_weights():
    layer = small_model().get_layer("mhsa")
    weights = layer.quantized_weights()
    assert np.all(weights["wq"] * 128 == np.round(weights["wq"] * 128))  # 8-bit grid
    assert np.abs(weights["wq"]).max() < 1.0


# Counted by hand in nnet_qmhsa.h: qmhsa_dense's x * w (Q, K, V and output), the Dot
# loop's q * k, the score's acc * scale, the Probabilities loop's e * inverse and the
# Weighted loop's p * v.
@pytest.mark.parametrize("heads, seq_len, embed, key_dim, reuse, expected", [
    # Q, K, V one each; q * k; its scaling; e * inverse; p * v; output: 8.
    (1, 1, 1, 1, 1, 8),
    # Q/K/V: 3 x (2 tokens x 2 head outputs x 3 inputs) = 36; q * k: 2 heads x 4 token
    # pairs x 1 = 8; scalings 8; e * inverse 8; p * v: 2 heads x 2 queries x 1 x 2 keys
    # = 8; output: 2 tokens x 3 outputs x 2 inputs = 12. Total 80.
    (2, 2, 3, 1, 1, 80),
    (2, 2, 3, 1, 4, 20),   # 80 shared by 4
    (2, 2, 3, 1, 6, 14),   # 80 / 6 = 13.3: a 14th multiplier for the remainder
    (2, 2, 3, 1, 100, 1),
    # Q/K/V: 3 x (3 x 2 x 2) = 36; q * k: 9 pairs x 2 = 18; scalings 9; e * inverse 9;
    # p * v: 3 queries x 2 x 3 keys = 18; output: 3 tokens x 2 outputs x 2 inputs = 12.
    (1, 3, 2, 2, 1, 102),
])
def test_multiplier_estimate_counts_the_kernels_multiplies(heads, seq_len, embed, key_dim, reuse, expected):
    from fpga_flow.attention import estimate_multipliers

    assert estimate_multipliers(heads, seq_len, embed, key_dim, reuse) == expected


@pytest.mark.slow
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_conversion_compiles_and_follows_keras(io_type, tmp_path):
    """Both io types; io_stream buffers the sequence and runs the same kernel, so the
    emulator (the kernel's numpy model) gives its words too."""
    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config, convert, model_graph
    from fpga_flow.csim import Bridge, compile_project
    from fpga_flow.emulate.graph import Emulator
    from fpga_flow.precision import infer_precisions

    model = small_model()
    X = np.random.default_rng(1).uniform(-1, 1, (64, 6, 5)).astype(np.float32)
    board, settings = get_board("alveo-u250"), HLSSettings(io_type=io_type)
    config = infer_precisions(model, base_hls_config(model, settings, board.backend), X)
    project = convert(model, board, settings, tmp_path / "prj", config)
    assert "nnet::qmhsa<" in (tmp_path / "prj" / "firmware" / "myproject.cpp").read_text()
    assert "nnet_qmhsa.h" in (tmp_path / "prj" / "firmware" / "parameters.h").read_text()
    assert (tmp_path / "prj" / "firmware" / "nnet_utils" / "nnet_qmhsa.h").is_file()
    bridge = Bridge.load(compile_project(project.output_dir, objects=session_objects()))
    hardware, keras = bridge.predict(X), model.predict(X, verbose=0).reshape(len(X), -1)
    assert np.abs(hardware - keras).max() < 0.1 * np.abs(keras).max()
    emulated = Emulator(model_graph(model, board, settings, tmp_path / "graph", config)).predict(X)
    np.testing.assert_array_equal(emulated, hardware)


@pytest.mark.slow
def test_attention_recipe_builds_for_a_board_with_closure(tmp_path_factory):
    out = tmp_path_factory.mktemp("attention")
    result = run_cli("build", "attention_digits", "--board", "alveo-u250", "--epochs", "15", "--out", str(out),
                     "--force", "--reports-dir", str(tmp_path_factory.getbasetemp() / "attention-reports"), "--json",
                     "--min-agreement", "0.98")
    # Exit 0 exactly: both C-simulations agree with Keras on >= 98% of the evaluation split, and the default
    # fit's design is within 80% of the U250 by estimate: io_stream, where nnet_qmhsa.h projects one token at
    # a time (in io_parallel the attention layer alone is over the U250's LUTs at every reuse factor).
    assert result.returncode == 0, result.stderr[-2000:]
    summary = read_summary(out)
    assert summary.status == "passed" and summary.checks.fit_budget.passed
    assert summary.fit.io_type == "io_stream" and summary.fit.chosen.plan["mhsa"].strategy == "Latency"
    assert "QMultiHeadSelfAttention" in summary.model.layer_families
    assert summary.fidelity.csim_agreement >= 0.98 and summary.fidelity.testbench_agreement >= 0.98
    assert summary.estimate.resources["DSP"] + summary.estimate.resources["LUT"] > 0
