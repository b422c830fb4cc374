"""Bad input to ``fpga-flow build``: one clear line, a non-zero exit, no traceback, and
no run directory that looks complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import CNN_EPOCHS, REPO, interruptible, run_cli


def assert_user_error(result, *needles: str, code: int = 2) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr
    for needle in needles:
        assert needle in result.stderr.replace("\n", " "), result.stderr


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("models")
    model = tf.keras.Sequential([tf.keras.layers.Input((4,), name="x"), tf.keras.layers.Dense(3, name="dense"),
                                 tf.keras.layers.Activation("softmax", name="softmax")])
    model.save(folder / "tiny.h5")
    return folder / "tiny.h5"


def test_unknown_board_suggests_the_closest(tmp_path):
    assert_user_error(run_cli("build", "cnn_digits", "--board", "pynq-z1", "--out", str(tmp_path / "r")),
                      "unknown board 'pynq-z1'", "pynq-z2")
    assert not (tmp_path / "r").exists()


def test_malformed_board_yaml_names_file_and_field(tmp_path):
    (tmp_path / "mine.yaml").write_text("name: mine\nvendor: AMD\npart: xc7z020clg400-1\nfamily: zynq\n"
                                        "clock_period_ns: -3\nbackend: Vivado\n"
                                        "resources: {LUT: 1, FF: 1, DSP: 0, BRAM_18K: 0, URAM: 0}\n")
    assert_user_error(run_cli("build", "cnn_digits", "--board", "mine", "--boards-dir", str(tmp_path)),
                      "mine.yaml", "clock_period_ns")


def test_missing_model_file(tmp_path):
    assert_user_error(run_cli("build", str(tmp_path / "nope.h5"), "--board", "pynq-z2", "--out", str(tmp_path / "r")),
                      "nope.h5", "not found")


def test_corrupt_model_file(tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"this is not HDF5")
    assert_user_error(run_cli("build", str(bad), "--board", "pynq-z2", "--out", str(tmp_path / "r")),
                      "broken.h5", "cannot load")
    assert not (tmp_path / "r" / "summary.json").exists()


def test_json_architecture_without_weights(tmp_path):
    arch = tmp_path / "model.json"
    arch.write_text("{}")
    assert_user_error(run_cli("build", str(arch), "--board", "pynq-z2", "--out", str(tmp_path / "r")), "--weights")


def test_unconvertible_layer_is_named_before_conversion(tmp_path):
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Input((8, 4), name="seq"),
                                 tf.keras.layers.Conv1DTranspose(2, 3, name="upconv"),
                                 tf.keras.layers.Flatten(name="flat")])
    model.save(tmp_path / "odd.h5")
    result = run_cli("build", str(tmp_path / "odd.h5"), "--board", "pynq-z2", "--out", str(tmp_path / "r"))
    assert_user_error(result, "'upconv'", "Conv1DTranspose")
    assert not (tmp_path / "r" / "hls_project").exists()


def test_hard_recurrent_activation_names_the_replacement(tmp_path):
    import tensorflow as tf
    from qkeras import QLSTM, quantized_bits

    q = quantized_bits(8, 0, alpha=1)
    model = tf.keras.Sequential([tf.keras.layers.Input((8, 8), name="rows"),
                                 QLSTM(8, recurrent_activation="hard_sigmoid", kernel_quantizer=q,
                                       recurrent_quantizer=q, bias_quantizer=q, name="lstm")])
    model.save(tmp_path / "hard.h5")
    result = run_cli("build", str(tmp_path / "hard.h5"), "--board", "pynq-z2", "--out", str(tmp_path / "r"))
    assert_user_error(result, "'lstm'", "hard_sigmoid", "recurrent_activation='sigmoid'")


def test_test_data_of_the_wrong_shape(tiny_model, tmp_path):
    data = tmp_path / "wrong.npz"
    np.savez(data, X=np.zeros((10, 5), dtype=np.float32))
    assert_user_error(run_cli("build", str(tiny_model), "--board", "pynq-z2", "--test-data", str(data),
                              "--out", str(tmp_path / "r")), "sample shape (5,)", "(4,)")


def test_test_data_without_X(tiny_model, tmp_path):
    data = tmp_path / "noX.npz"
    np.savez(data, inputs=np.zeros((10, 4), dtype=np.float32))
    assert_user_error(run_cli("build", str(tiny_model), "--board", "pynq-z2", "--test-data", str(data),
                              "--out", str(tmp_path / "r")), "no array named 'X'")


def test_existing_output_directory_is_refused_without_force(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert_user_error(run_cli("build", "cnn_digits", "--board", "pynq-z2", "--out", str(out)), "already exists", "--force")
    assert (out / "keep.txt").read_text() == "mine"


def test_bad_option_values_are_one_line_errors(tmp_path):
    for option, value in (("--io-type", "io_serial"), ("--reuse-factor", "0")):
        result = run_cli("build", "cnn_digits", "--board", "pynq-z2", option, value, "--reports-dir", str(tmp_path))
        assert_user_error(result, option)
    result = run_cli("build", "not_a_recipe", "--board", "pynq-z2", "--reports-dir", str(tmp_path))
    assert_user_error(result, "unknown model 'not_a_recipe'")
    assert not (tmp_path / "runs").exists()


def test_missing_gxx_is_reported_before_any_work(tmp_path):
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("sh", "bash"):
        (bare / tool).symlink_to(f"/bin/{tool}")
    result = run_cli("build", "cnn_digits", "--board", "pynq-z2", "--out", str(tmp_path / "r"),
                     env={"PATH": str(bare)})
    assert_user_error(result, "g++ not found")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_ctrl_c_mid_build_leaves_no_complete_looking_run(reports_root, tmp_path):
    out = tmp_path / "interrupted"
    process = interruptible(
        sys.executable, "-m", "fpga_flow", "build", "cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS),
         "--reports-dir", str(reports_root), "--out", str(out), "--no-cache",
        cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # --no-cache: another file may have left this very build in the run cache, which would
    # answer it before it could be interrupted.
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "hls_project").exists() and not (out / "closure_work").exists():
        time.sleep(0.2)
    assert process.poll() is None, "the build ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert (out / "INCOMPLETE").exists()
    assert not (out / "summary.json").exists()


def test_saved_qgru_with_a_hard_tanh_is_refused_before_loading(tmp_path):
    from conftest import SHARED

    model = SHARED / "peer_models" / "btag_qgru_int0_frac8" / "btag_qgru_int0_frac8.h5"
    result = run_cli("build", str(model), "--board", "pynq-z2", "--out", str(tmp_path / "r"))
    assert_user_error(result, "layer 'gru' (QGRU)", "quantized_tanh", "use_real_tanh=True")


def test_distributed_arithmetic_on_an_accelerator_board_names_the_backend(tiny_model, tmp_path):
    assert_user_error(run_cli("build", str(tiny_model), "--board", "pynq-z2", "--strategy", "Distributed_Arithmetic",
                              "--out", str(tmp_path / "r")),
                      "strategy distributed_arithmetic", "Vivado and Vitis backends only, not VivadoAccelerator")


def test_distributed_arithmetic_needs_reuse_factor_one(tiny_model, tmp_path):
    assert_user_error(run_cli("build", str(tiny_model), "--board", "zcu104", "--strategy", "distributed_arithmetic",
                              "--reuse-factor", "2", "--out", str(tmp_path / "r")),
                      "use --reuse-factor 1 (got 2)")


def test_fit_refuses_distributed_arithmetic_which_the_estimate_cannot_price(tiny_model, tmp_path):
    assert_user_error(run_cli("build", str(tiny_model), "--board", "zcu104", "--strategy", "distributed_arithmetic",
                              "--fit", "--out", str(tmp_path / "r")),
                      "--fit", "chooses among Latency and Resource", "drop --strategy distributed_arithmetic or --fit")
    assert not (tmp_path / "r").exists()


def _save(model, path: Path) -> Path:
    model.save(path)
    return path


def test_a_layer_the_estimate_cannot_price_is_refused_before_any_compile(tmp_path):
    """Issue 20: the default build fits the design by estimate; a layer the estimate prices
    at nothing (LayerNormalization: hls4ml converts it, fpga_flow.estimate has no rule)
    would count as free against the board, so the fit refuses it and names --no-fit."""
    import tensorflow as tf

    layers = tf.keras.layers
    model = _save(tf.keras.Sequential([layers.Input((4, 8), name="x"), layers.LayerNormalization(name="norm"),
                                       layers.Flatten(name="flat"), layers.Dense(3, name="out")]), tmp_path / "ln.h5")
    out = tmp_path / "r"
    assert_user_error(run_cli("build", str(model), "--board", "pynq-z2", "--out", str(out),
                              "--reports-dir", str(tmp_path / "reports")),
                      "layer 'norm' (LayerNormalization) is not priced", "--no-fit")
    assert not (out / "summary.json").exists() and not (out / "hls_project").exists()


def test_a_model_hls4ml_refuses_with_a_bare_exception_is_one_line(tmp_path):
    """hls4ml 1.3.0's Keras parser raises a bare Exception for a LayerNormalization on a
    2-D input (converters/keras/core.py): the user hears it in one line, exit 2."""
    import tensorflow as tf

    layers = tf.keras.layers
    model = _save(tf.keras.Sequential([layers.Input((8,), name="x"), layers.Dense(4, name="dense"),
                                       layers.LayerNormalization(name="norm"), layers.Dense(3, name="out")]),
                  tmp_path / "ln2d.h5")
    assert_user_error(run_cli("build", str(model), "--board", "pynq-z2", "--out", str(tmp_path / "r"),
                              "--reports-dir", str(tmp_path / "reports")),
                      "hls4ml 1.3.0 cannot convert this model", "three-dimensional input")
