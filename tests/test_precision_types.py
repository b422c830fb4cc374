"""Every type the precision stage writes compiles, whatever the weights: the sizing
rule for values below a type's step, a property test over weight and input scales that
compiles what inference writes, the tiny-kernel MLP that once ended the build with a
g++ error, and the closure's fallback when a configuration does not compile."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import run_cli, session_objects
from fpga_flow.boards import get_board
from fpga_flow.convert import HLSSettings, base_hls_config, convert
from fpga_flow.csim import Bridge, compile_project
from fpga_flow.errors import StageFailedError
from fpga_flow.fixed import FixedType, fixed_for
from fpga_flow.precision import close_precisions, infer_precisions
from fpga_flow.summary import read_summary


def test_a_type_below_its_own_step_keeps_the_step_and_grows_to_a_valid_width():
    # integer_bits_for(1.9e-6) = -18: with 12 fractional bits the old rule wrote fixed<-6,-18>.
    assert fixed_for(-18, 12) == FixedType(2, -10, True, "RND", "SAT")
    assert fixed_for(-18, 12).bounds == (-(2.0**-11), 2.0**-12)  # -2 and +1 steps of 2**-12
    assert fixed_for(3, 12) == FixedType(15, 3, True, "RND", "SAT")  # room enough: unchanged
    assert fixed_for(0, 0, signed=False) == FixedType(1, 1, False, "RND", "SAT")  # all-zero data: {0, 1}
    assert fixed_for(-3, 2, signed=False) == FixedType(1, -1, False, "RND", "SAT")
    assert not FixedType(-6, -18).is_valid and not FixedType(1, 0, True).is_valid
    assert FixedType(1, 0, False).is_valid and FixedType(2, -10).is_valid
    assert not FixedType(8, 20).is_valid  # a negative count of fractional bits
    with pytest.raises(ValueError):
        fixed_for(4, -1)
    with pytest.raises(ValueError, match="wider than the 1024 bits"):
        fixed_for(1020, 12)


def tiny_model(kernel_scale: float, pattern: str, seed: int):
    """Input(4) -> Dense(3, relu) -> Dense(2): kernels of largest magnitude
    ``kernel_scale`` (all of them, or a single non-zero value), or all zero."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([
        tf.keras.layers.Input((4,), name="x"),
        tf.keras.layers.Dense(3, activation="relu", name="hidden"),
        tf.keras.layers.Dense(2, name="out"),
    ])
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kernel = rng.uniform(-1.0, 1.0, layer.kernel.shape)
        kernel /= np.abs(kernel).max()
        if pattern == "single":
            only = np.zeros_like(kernel)
            only.flat[rng.integers(kernel.size)] = 1.0
            kernel = only
        factor = 0.0 if pattern == "zero" else kernel_scale
        layer.set_weights([(kernel * factor).astype(np.float32), rng.uniform(-0.5, 0.5, layer.bias.shape).astype(np.float32)])
    return model


def written_types(config: dict) -> dict[str, str]:
    """Every fixed-point or integer type spelled out in an hls4ml configuration, by where it is."""
    found = {}
    for name, layer in config["LayerName"].items():
        entries = {**{k: v for k, v in layer.items() if k.endswith("_t")},
                   **{f"Precision.{k}": v for k, v in layer.get("Precision", {}).items()}}
        found.update({f"{name}.{key}": text for key, text in entries.items() if re.search(r"fixed<|int<", str(text))})
    return found


def valid_spelling(text: str) -> bool:
    parsed = FixedType.parse(text)  # None for a negative width, which no C++ compiler accepts
    return parsed is not None and parsed.is_valid


SCALES = dict(kernel_exponent=st.integers(-9, 6), input_exponent=st.integers(-9, 6),
              pattern=st.sampled_from(["dense", "single", "zero"]), seed=st.integers(0, 2**16))


def inferred(kernel_exponent: int, input_exponent: int, pattern: str, seed: int):
    """The tiny model at these scales, its calibration inputs, and the inferred configuration."""
    model = tiny_model(10.0**kernel_exponent, pattern, seed)
    X = (np.random.default_rng(seed).standard_normal((32, 4)) * 10.0**input_exponent).astype(np.float32)
    board, hls_settings = get_board("pynq-z2"), HLSSettings()
    return model, X, infer_precisions(model, base_hls_config(model, hls_settings, board.backend), X)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(**SCALES)
def test_inferred_types_are_valid_and_hold_the_weights_whatever_the_scale(kernel_exponent, input_exponent, pattern,
                                                                          seed):
    model, _, config = inferred(kernel_exponent, input_exponent, pattern, seed)
    types = written_types(config)
    assert {"x.Precision.result", "hidden.Precision.weight", "out.Precision.bias"} <= set(types)
    invalid = {where: text for where, text in types.items() if not valid_spelling(text)}
    assert not invalid, f"invalid types written: {invalid}"
    for layer in ("hidden", "out"):
        weight = FixedType.parse(types[f"{layer}.Precision.weight"])
        assert weight.out_of_range(model.get_layer(layer).kernel.numpy()) == 0, (layer, weight)


@pytest.mark.slow
@settings(max_examples=1, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(**SCALES)
@example(kernel_exponent=-9, input_exponent=-9, pattern="dense", seed=0)  # every value below every step
@example(kernel_exponent=6, input_exponent=6, pattern="dense", seed=1)
@example(kernel_exponent=0, input_exponent=0, pattern="zero", seed=2)
@example(kernel_exponent=-9, input_exponent=3, pattern="single", seed=3)
def test_inferred_types_compile_whatever_the_scale(tmp_path_factory, kernel_exponent, input_exponent, pattern, seed):
    """g++ is the judge of validity (a compile is ~20 s, hence few examples)."""
    model, X, config = inferred(kernel_exponent, input_exponent, pattern, seed)
    folder = tmp_path_factory.mktemp("prj")
    project = convert(model, get_board("pynq-z2"), HLSSettings(), folder / "prj", config)
    outputs = Bridge.load(compile_project(project.output_dir, objects=session_objects())).predict(X[:4])
    assert outputs.shape == (4, 2) and np.isfinite(outputs).all()
    shutil.rmtree(folder, ignore_errors=True)


def tiny_kernel_mlp(path):
    """hls4ml's example MLP in small (Dense + ReLU, 5 outputs) with every kernel weight
    below 2e-6 in magnitude: the outputs are the biases' doing, and class 2 wins by far
    (hls4ml's default agrees 100%). Float-weight sizing once wrote ``ap_fixed<-6,-18>``
    for these kernels and the build ended in a g++ error."""
    import tensorflow as tf

    model = tf.keras.Sequential([
        tf.keras.layers.Input((16,), name="input_1"),
        tf.keras.layers.Dense(8, activation="relu", name="fc1_relu"),
        tf.keras.layers.Dense(5, name="output"),
    ])
    rng = np.random.default_rng(7)
    for layer, bias in zip(model.layers, ([0.25] * 8, [-1.0, -0.5, 2.0, -0.5, -1.0])):
        kernel = rng.uniform(-1.0, 1.0, layer.kernel.shape)
        layer.set_weights([(kernel * 1.9e-6 / np.abs(kernel).max()).astype(np.float32), np.float32(bias)])
    model.save(path)
    return path


@pytest.mark.slow
def test_a_model_with_kernels_below_2e_6_builds_and_agrees(tmp_path):
    model = tiny_kernel_mlp(tmp_path / "tiny_kernels.h5")
    result = run_cli("build", str(model), "--board", "pynq-z2", "--out", str(tmp_path / "run"), "--max-samples", "100",
                     "--reports-dir", str(tmp_path / "reports"), "--no-cache", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = read_summary(tmp_path / "run")
    assert summary.status == "passed" and summary.fidelity.csim_agreement == 1.0
    written = json.loads((tmp_path / "run" / "hls_config.json").read_text())["LayerName"]
    # The step of 12 fractional bits, at the narrowest valid width.
    assert written["fc1_relu"]["Precision"]["weight"] == "fixed<2,-10,RND,SAT>"
    assert summary.precision.closure.rejected_changes == []


@pytest.mark.slow
def test_a_configuration_that_does_not_compile_falls_back_to_one_that_does(tmp_path, monkeypatch):
    """The inferred configuration is replaced by one with the old, invalid weight type;
    g++ really fails on it, and the closure keeps hls4ml's default, saying why."""
    import tensorflow as tf

    import fpga_flow.precision as precision

    model = tf.keras.models.load_model(tiny_kernel_mlp(tmp_path / "tiny_kernels.h5"))
    board, hls_settings = get_board("pynq-z2"), HLSSettings()
    default = base_hls_config(model, hls_settings, board.backend)

    def invalid_inference(model, hls_config, X_calib):
        config = json.loads(json.dumps(hls_config))
        config["LayerName"]["fc1_relu"]["Precision"]["weight"] = "fixed<-6,-18,RND,SAT>"
        return config

    monkeypatch.setattr(precision, "infer_precisions", invalid_inference)

    def realize(config):
        shutil.rmtree(tmp_path / "prj", ignore_errors=True)
        project = convert(model, board, hls_settings, tmp_path / "prj", config)
        return Bridge.load(compile_project(project.output_dir, objects=session_objects()))

    X = np.random.default_rng(0).standard_normal((20, 16)).astype(np.float32)
    result = close_precisions(model, default, X, realize, target_agreement=0.999)
    assert [step.change for step in result.steps][0] == "hls4ml default configuration"
    assert "inferred precisions" not in [step.change for step in result.steps]
    assert result.rejected[0].change == "inferred precisions" and result.rejected[0].layer is None
    assert "g++ failed to compile" in result.rejected[0].reason
    assert result.chosen_iteration == 0 and result.hls_config == default
    assert result.to_record().rejected_changes[0].change == "inferred precisions"
    assert result.steps[0].agreement == 1.0  # class 2 wins in Keras and in hls4ml's default


def test_when_no_configuration_compiles_the_default_configurations_error_is_raised():
    """Nothing measurable: hls4ml's own configuration fails, and its error is the one the build reports.
    (A realize that always fails stands in for a model hls4ml cannot compile at all.)"""
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Input((4,), name="x"), tf.keras.layers.Dense(2, name="out")])
    config = base_hls_config(model, HLSSettings(), "Vivado")
    calls = []

    def realize(hls_config):
        calls.append(hls_config)
        raise StageFailedError(f"g++ failed ({len(calls)})")

    with pytest.raises(StageFailedError, match=r"g\+\+ failed \(1\)"):
        close_precisions(model, config, np.zeros((4, 4), np.float32), realize)
    assert len(calls) == 2  # the default and the inferred configuration were both tried
