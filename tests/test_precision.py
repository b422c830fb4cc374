"""Precision inference, the closure loop and the overflow report, on real conversions
and real g++ compiles."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import SHARED, session_objects
from fpga_flow.boards import get_board
from fpga_flow.convert import HLSSettings, base_hls_config, convert
from fpga_flow.csim import Bridge, compile_project
from fpga_flow.fidelity import compare
from fpga_flow.fixed import FixedType, fractional_bits_for, integer_bits_for
from fpga_flow.model_io import load_keras_model
from fpga_flow.precision import close_precisions, infer_precisions, keras_layer_outputs, overflow_report


def test_fixed_type_round_trip_and_range():
    t = FixedType.parse("ap_fixed<18,5,AP_RND,AP_SAT>")
    assert (t.width, t.integer, t.signed, t.rounding, t.overflow) == (18, 5, True, "RND", "SAT")
    assert FixedType.parse(str(t)) == t
    assert t.bounds == (-16.0, 16.0 - 2.0**-13)
    u = FixedType.parse("ufixed<8,3>")
    assert u.bounds == (0.0, 8.0 - 2.0**-5)
    assert FixedType.parse("auto") is None and FixedType.parse("float") is None
    assert integer_bits_for(15.9, True) == 5 and integer_bits_for(16.0, True) == 6
    assert fractional_bits_for(np.array([0.5, 0.25, 0.0625])) == 4


def test_overflow_report_counts_values_outside_the_type():
    values = {"dense": np.array([-40.0, -32.0, 0.0, 31.9, 32.0, 100.0])}
    report = overflow_report(values, {"dense": {"result": "ap_fixed<16,6>"}})
    assert report["dense"].overflowed == 3  # -40, 32.0 and 100 fall outside [-32, 32)
    assert report["dense"].values == 6


@pytest.fixture(scope="module")
def three_layer():
    folder = SHARED / "peer_models" / "KERAS_3layer"
    model = load_keras_model(folder / "KERAS_3layer.json", folder / "KERAS_3layer_weights.h5")
    rng = np.random.default_rng(0)
    return model, rng.standard_normal((300, 16)).astype(np.float32), rng.standard_normal((300, 16)).astype(np.float32)


def realizer(model, tmp_path):
    board, settings = get_board("alveo-u250"), HLSSettings(clock_period_ns=5.0)

    def realize(config):
        shutil.rmtree(tmp_path / "prj", ignore_errors=True)
        project = convert(model, board, settings, tmp_path / "prj", config)
        return Bridge.load(compile_project(project.output_dir, objects=session_objects()))

    return realize, base_hls_config(model, settings, board.backend)


@pytest.mark.slow
def test_closure_lifts_a_model_the_default_config_breaks(three_layer, tmp_path):
    model, X_calib, X_eval = three_layer
    realize, default_config = realizer(model, tmp_path)
    result = close_precisions(model, default_config, X_calib, realize, target_agreement=0.999)
    assert result.steps[0].change == "hls4ml default configuration"
    assert result.default_agreement < 0.5  # hls4ml's default types saturate this model's softmax
    assert result.steps[-1].agreement >= 0.999
    # The figure that counts is on data the loop never saw.
    evaluation = compare(model.predict(X_eval, verbose=0), realize(result.hls_config).predict(X_eval))
    assert evaluation.agreement >= 0.99
    record = result.to_record()
    assert record.layer_error_before and record.layer_error_after
    assert record.iterations[-1].agreement == result.steps[-1].agreement


def test_reference_outputs_split_fused_activations_like_hls4ml(three_layer):
    model, X_calib, _ = three_layer
    outputs = keras_layer_outputs(model, X_calib[:20])
    assert {"fc1_relu", "fc1_relu_relu", "output_softmax", "output_softmax_softmax"} <= set(outputs)
    assert (outputs["fc1_relu_relu"] >= 0).all()
    assert (outputs["fc1_relu"] < 0).any()  # before the activation
    np.testing.assert_allclose(outputs["output_softmax_softmax"].sum(axis=1), 1.0, rtol=1e-5)


def test_layer_outputs_are_predicts_and_need_no_autograph(tmp_path):
    """Every layer's Keras outputs, read eagerly in predict's batches, equal predict's; the
    same QKeras model loaded without autograph (as 'fpga-flow estimate' loads it) gives
    the same values bit for bit."""
    import tensorflow as tf

    from fpga_flow.model_io import without_autograph
    from model_zoo import get_recipe

    tf.keras.utils.set_random_seed(3)
    get_recipe("cnn_digits").builder((8, 8, 1), 10).save(tmp_path / "cnn.h5")
    X = np.random.default_rng(1).uniform(0, 1, (600, 8, 8, 1)).astype(np.float32)  # three batches of 256
    model = load_keras_model(tmp_path / "cnn.h5")
    outputs = keras_layer_outputs(model, X)
    probe = tf.keras.Model(model.inputs, [layer.output for layer in model.layers])
    for layer, predicted in zip(model.layers, probe.predict(X, verbose=0, batch_size=256)):
        np.testing.assert_array_equal(outputs[layer.name], predicted)
    with without_autograph():
        plain = keras_layer_outputs(load_keras_model(tmp_path / "cnn.h5"), X)
    assert set(plain) == set(outputs)
    for name, values in outputs.items():
        np.testing.assert_array_equal(plain[name], values)


def test_inference_keeps_quantizer_weights_exact_and_sizes_the_input(tmp_path):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    tf.keras.utils.set_random_seed(3)
    q = quantized_bits(6, 0, alpha=1)
    model = tf.keras.Sequential([
        tf.keras.layers.Input((8,), name="features"),
        QDense(6, kernel_quantizer=q, bias_quantizer=q, name="dense"),
        QActivation(quantized_relu(6, 2), name="relu"),
        QDense(3, kernel_quantizer=q, bias_quantizer=q, name="out"),
        tf.keras.layers.Activation("softmax", name="softmax"),
    ])
    X = (np.random.default_rng(1).integers(0, 9, size=(64, 8)) / 8.0).astype(np.float32)
    settings, board = HLSSettings(), get_board("pynq-z2")
    config = infer_precisions(model, base_hls_config(model, settings, board.backend), X)
    assert config["LayerName"]["features"]["Precision"]["result"] == "ufixed<4,1,RND,SAT>"  # values k/8 in [0, 1]
    graph = convert(model, board, settings, tmp_path / "prj", config).graph
    for name in ("dense", "out"):
        layer = next(node for node in graph.get_layers() if node.name == name)
        weight_type = FixedType.parse(layer.get_weights("weight").type.precision.definition_cpp())
        quantized = q(model.get_layer(name).kernel).numpy()
        scaled = quantized * 2.0**weight_type.fractional
        np.testing.assert_array_equal(scaled, np.round(scaled))  # every weight on the type's grid
        assert weight_type.out_of_range(quantized) == 0
        np.testing.assert_array_equal(layer.get_weights("weight").data, quantized)


@pytest.mark.slow
def test_overflow_is_reported_for_inputs_outside_the_default_type(tmp_path):
    from fpga_flow.config import BuildConfig
    from fpga_flow.pipeline import run_build
    from fpga_flow.summary import read_summary

    folder = SHARED / "peer_models" / "KERAS_3layer"
    X = (np.random.default_rng(2).standard_normal((40, 16)) * 40).astype(np.float32)
    np.savez(tmp_path / "big.npz", X=X)
    summary = run_build(BuildConfig(
        model=str(folder / "KERAS_3layer.json"), weights=folder / "KERAS_3layer_weights.h5", board="alveo-u250",
        test_data=tmp_path / "big.npz", precision_policy="default", reports_dir=tmp_path, out=tmp_path / "run",
        min_agreement=0.0))
    expected = int(np.count_nonzero(np.abs(X[20:]) >= 32))  # the evaluation half, against ap_fixed<16,6>
    assert expected > 0
    assert summary.precision.overflow["input_1"].overflowed == expected
    assert read_summary(tmp_path / "run").precision.overflow["input_1"].overflowed == expected
