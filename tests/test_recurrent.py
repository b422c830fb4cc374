"""Recurrent models: the hls4ml 1.3.0 faults we handle, and the QLSTM/QGRU recipes built
end to end (short training, real g++) for both io types."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import RNN_EPOCHS, reports_folder, run_cli, session_objects
from fpga_flow.errors import UnsupportedModelError
from fpga_flow.summary import read_summary


def qrnn(cell: str, **options):
    import tensorflow as tf
    from qkeras import QGRU, QLSTM, QDense, quantized_bits

    from fpga_flow.compat import patch_qkeras_for_tensorflow

    patch_qkeras_for_tensorflow()
    tf.keras.utils.set_random_seed(1)
    q = quantized_bits(8, 0, alpha=1)
    layer = {"lstm": QLSTM, "gru": QGRU}[cell]
    settings = dict(activation="tanh", recurrent_activation="sigmoid", kernel_quantizer=q, recurrent_quantizer=q,
                    bias_quantizer=q)
    settings.update(options)
    return tf.keras.Sequential([
        tf.keras.layers.Input((8, 8), name="sequence"),
        layer(12, name=cell, **settings),
        QDense(5, kernel_quantizer=q, bias_quantizer=q, name="logits"),
    ])


def test_hard_quantized_tanh_is_refused_naming_the_replacement():
    from qkeras import quantized_tanh

    from fpga_flow.compat import check_convertible

    with pytest.raises(UnsupportedModelError) as err:
        check_convertible(qrnn("lstm", activation=quantized_tanh(8)))
    assert "'lstm' (QLSTM)" in str(err.value) and "use_real_tanh=True" in str(err.value)


def test_a_bidirectional_layer_is_checked_through_the_layers_it_wraps():
    import tensorflow as tf
    from qkeras import QLSTM, quantized_tanh

    from fpga_flow.compat import check_convertible, check_saved_config

    model = tf.keras.Sequential([
        tf.keras.layers.Input((8, 8), name="sequence"),
        tf.keras.layers.Bidirectional(QLSTM(4, activation=quantized_tanh(8), recurrent_activation="sigmoid", name="inner"),
                                      name="both_ways"),
    ])
    for check in (lambda: check_convertible(model), lambda: check_saved_config(json.loads(model.to_json()))):
        with pytest.raises(UnsupportedModelError, match="use_real_tanh=True"):
            check()


def test_qgru_without_reset_after_is_refused():
    from fpga_flow.compat import check_convertible

    with pytest.raises(UnsupportedModelError) as err:
        check_convertible(qrnn("gru", reset_after=False))
    assert "reset_after=True" in str(err.value)
    check_convertible(qrnn("gru", reset_after=True))


def test_qgru_runs_in_keras_on_tensorflow_2_14():
    model = qrnn("gru", reset_after=True)
    out = model.predict(np.zeros((2, 8, 8), dtype=np.float32), verbose=0)
    assert out.shape == (2, 5)


@pytest.mark.slow
def test_state_quantizer_model_compiles_and_tracks_keras(tmp_path):
    from qkeras import quantized_bits

    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config, convert
    from fpga_flow.csim import Bridge, compile_project
    from fpga_flow.precision import infer_precisions

    model = qrnn("lstm", state_quantizer=quantized_bits(10, 2, alpha=1))
    X = np.random.default_rng(0).uniform(0, 1, (60, 8, 8)).astype(np.float32)
    board, settings = get_board("alveo-u250"), HLSSettings()
    config = base_hls_config(model, settings, board.backend)
    lstm = config["LayerName"]["lstm"]["Precision"]
    assert lstm["result"] == lstm["accum"] == config["LayerName"]["sequence"]["Precision"]["result"]
    shutil.rmtree(tmp_path / "prj", ignore_errors=True)
    bridge = Bridge.load(compile_project(convert(model, board, settings, tmp_path / "prj",
                                                 infer_precisions(model, config, X)).output_dir, objects=session_objects()))
    agreement = (bridge.predict(X).argmax(1) == model.predict(X, verbose=0).argmax(1)).mean()
    assert agreement >= 0.95


def test_synthetic_signals_are_deterministic_and_balanced():
    from model_zoo.datasets import SIGNAL_CLASSES, synthetic_signals

    a, b = synthetic_signals(3), synthetic_signals(3)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, synthetic_signals(4).X_train)
    counts = np.bincount(np.concatenate([a.y_train, a.y_test]))
    assert len(counts) == len(SIGNAL_CLASSES) and counts.min() == counts.max()
    assert a.X_train.shape[1:] == (24, 1)


@pytest.mark.slow
# One io type per recipe, the other for the other: each recurrent kernel's arithmetic in the
# io type left out is proven word for word against the compiled C++ by test_emulate
# (lstm_digits in io_stream, gru_digits in io_parallel), which the closure then uses.
@pytest.mark.parametrize("recipe, io_type", [("lstm_digits", "io_parallel"), ("gru_digits", "io_stream")])
def test_recipe_builds_and_closes_to_keras(recipe, io_type, session_store, tmp_path_factory):
    reports = reports_folder(session_store, tmp_path_factory.mktemp("reports"), (recipe, RNN_EPOCHS))
    out = tmp_path_factory.mktemp(f"{recipe}-{io_type}")
    result = run_cli("build", recipe, "--board", "alveo-u250", "--io-type", io_type, "--epochs", str(RNN_EPOCHS),
                     "--reports-dir", str(reports), "--out", str(out), "--force", "--json", "--max-samples", "200",
                     "--min-agreement", "0.97")
    # Exit 0 exactly: both C-simulations agree with Keras on >= 97% of the evaluation split.
    assert result.returncode == 0, result.stderr[-2000:]
    summary = read_summary(out)
    assert summary.status == "passed" and summary.hls.io_type == io_type
    assert summary.fidelity.csim_agreement >= 0.97 and summary.fidelity.testbench_agreement >= 0.97
    default = summary.precision.closure.iterations[0].agreement
    assert default < summary.fidelity.csim_agreement or default >= 0.99
