"""A small network converted for the accelerator with types of odd widths: a signed 13-bit
input (32-bit words) and an unsigned 36-bit output (64-bit words), 3 words per sample.

The driver's words go through the bundle project's compiled AXI wrapper (the stand-in)
and must give what hls4ml's own generated bridge of the same project computes from the
same floats; the project's files must carry the word types hls4ml 1.3.0 gets wrong.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fpga_flow.boards import get_board
from fpga_flow.convert import HLSSettings, base_hls_config
from fpga_flow.csim import Bridge
from fpga_flow.deploy import standin
from fpga_flow.deploy.board import driver
from fpga_flow.deploy.board.driver import FixedPoint
from fpga_flow.deploy.project import accelerator_target, convert_accelerator

pytestmark = pytest.mark.slow

INPUT_TYPE = "ap_fixed<13,4,AP_RND_CONV,AP_SAT_SYM>"
OUTPUT_TYPE = "ap_ufixed<36,12,AP_RND,AP_SAT>"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    import tensorflow as tf

    inputs = tf.keras.Input(shape=(5,), name="x")
    hidden = tf.keras.layers.Dense(3, name="dense")(inputs)
    model = tf.keras.Model(inputs, tf.keras.layers.ReLU(name="relu")(hidden))
    rng = np.random.default_rng(3)
    model.get_layer("dense").set_weights([rng.normal(size=(5, 3)).astype(np.float32), np.array([0.5, -0.25, 1.0], np.float32)])
    settings = HLSSettings()
    config = base_hls_config(model, settings, "Vivado")
    config["LayerName"]["x"]["Precision"] = {"result": INPUT_TYPE}
    config["LayerName"]["dense"]["Precision"].update(result="ap_fixed<30,10>", accum="ap_fixed<30,10>")
    config["LayerName"]["relu"]["Precision"] = {"result": OUTPUT_TYPE}
    folder = tmp_path_factory.mktemp("accel") / "bundle"
    target = accelerator_target(get_board("pynq-z2"))
    accelerator = convert_accelerator(model, target, settings, folder / "hls_project", config)
    standin.write_source(folder, "myproject", accelerator.input.model_type.cpp())
    wrapper = standin.compile_standin(folder)
    # The stand-in's library holds hls4ml's bridge of the same project too.
    bridge = Bridge(wrapper.library, json.loads((folder / "hls_project" / "bridge.json").read_text()))
    return accelerator, wrapper, bridge


def test_word_types_follow_the_network_types(project):
    accelerator, wrapper, _ = project
    assert accelerator.input.model_type == FixedPoint(13, 4, True, "RND_CONV", "SAT_SYM")
    assert accelerator.input.word_type == FixedPoint(32, 4, True, "RND_CONV", "SAT_SYM")
    assert accelerator.output.model_type == FixedPoint(36, 12, False, "RND", "SAT")
    assert accelerator.output.word_type.width == 64 and accelerator.output.values_per_sample == 3
    assert (wrapper.in_dtype, wrapper.out_dtype, wrapper.n_in, wrapper.n_out) == (np.uint32, np.uint64, 5, 3)


def test_project_files_carry_the_word_types(project):
    accelerator, _, _ = project
    header = (accelerator.output_dir / "firmware" / "myproject_axi.h").read_text()
    assert "typedef ap_fixed<32,4,AP_RND_CONV,AP_SAT_SYM,0> T_in;" in header
    assert "typedef ap_ufixed<64,12,AP_RND,AP_SAT,0> T_out;" in header
    tcl = (accelerator.output_dir / "project.tcl").read_text().splitlines()
    assert "set bit_width_hls_input 32" in tcl and "set bit_width_hls_output 64" in tcl
    assert not (accelerator.output_dir / "axi_stream_driver.py").exists()


def test_driver_words_through_the_wrapper_give_the_bridge_values(project):
    accelerator, wrapper, bridge = project
    rng = np.random.default_rng(0)
    # Values on and between the input grid (steps of 2**-9), some beyond +-8 to saturate.
    X = np.concatenate([rng.normal(0, 3, size=(200, 5)), np.round(rng.normal(0, 4, size=(56, 5)) * 2**10) / 2**10])
    words_in = driver.pack(X, accelerator.input)
    assert np.array_equal(words_in, wrapper.reference_input_words(X))
    last = np.zeros(len(words_in), np.uint8)
    last[-1] = 1
    words_out, last_out = wrapper.run(words_in, last)
    values = driver.unpack(words_out, accelerator.output)
    assert values.shape == (256, 3) and (values > 0).any() and (values == 0).any()
    assert values.tolist() == bridge.predict(X).tolist()
    assert values.tolist() == wrapper.output_values(words_out).reshape(-1, 3).tolist()
    assert last_out.tolist() == [0] * (len(last_out) - 1) + [1]
