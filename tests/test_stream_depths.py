"""The io_stream FIFO depths fpga-flow sets (fpga_flow.stream_depths), hand-counted on a
small ResNet block: chains get 16 words, the skip branch of a fork and join the other
branch's first-output delay plus the margin, never more than hls4ml's whole feature map;
the model's input keeps hls4ml's depth; the C simulation is unchanged."""

from __future__ import annotations

import numpy as np
import pytest


def _block():
    """16x16x2 input, a 3x3 'same' convolution of 2 filters, a second one, and an Add skip."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(5)
    x = tf.keras.layers.Input((16, 16, 2), name="x")
    y = tf.keras.layers.Conv2D(2, 3, padding="same", name="c1")(x)
    y = tf.keras.layers.ReLU(name="r1")(y)
    y = tf.keras.layers.Conv2D(2, 3, padding="same", name="c2")(y)
    y = tf.keras.layers.Add(name="add")([y, x])
    y = tf.keras.layers.Flatten(name="flat")(y)
    return tf.keras.Model(x, tf.keras.layers.Dense(3, name="fc")(y))


def _graph(model, tmp_path):
    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config, model_graph

    board = get_board("pynq-z2")
    settings = HLSSettings(io_type="io_stream", clock_period_ns=board.clock_period_ns)
    return model_graph(model, board, settings, tmp_path / "g", base_hls_config(model, settings, board.backend))


def test_a_skip_branch_holds_what_the_convolution_branch_reads_before_it_writes(tmp_path):
    graph = _graph(_block(), tmp_path)
    depths = {name: var.pragma[1] for name, var in graph.output_vars.items() if isinstance(var.pragma, tuple)}
    clone = next(layer for layer in graph.get_layers() if layer.class_name == "Clone")
    conv_side, skip_side = clone.outputs  # hls4ml's order: the first consumer is the padding of c1
    # Hand count, in words of the 16x16 input (256 words): the zero padding reads 1 word
    # before its first (rate 256/324 input words per word it writes); c1 on the padded
    # 18-wide map reads (3-1)*18+3 = 39 words before its first output: 39 * 256/324 =
    # 30.81 input words (its rate 324/256 brings the rate back to 1); r1 1; the second
    # padding 1; c2 30.81 more. The convolution branch's delay is 64.63 words, the skip's
    # (straight into the Add) 0: depth ceil(64.63) + 16 * (5 layers + 1) = 161, under
    # hls4ml's whole map (256).
    assert depths[skip_side] == 161
    assert depths[conv_side] == 16
    assert depths["x"] == 256  # the model's input keeps hls4ml's depth (its predict reads it)
    for name in ("c1", "r1", "c2", "add"):
        assert depths[name] == 16, name


def test_the_skip_depth_is_the_delay_difference_plus_the_margin_when_below_hls4mls():
    from fpga_flow.stream_depths import CHAIN_DEPTH, _first_output_delay

    class Layer:
        def __init__(self, **attrs):
            self.attrs = attrs

        def get_attr(self, key, default=None):
            return self.attrs.get(key, default)

    assert CHAIN_DEPTH == 16
    assert _first_output_delay(Layer(filt_height=3, filt_width=3, in_width=34), 1156, 1024) == 2 * 34 + 3
    assert _first_output_delay(Layer(filt_width=5), 100, 96) == 5
    assert _first_output_delay(Layer(), 64, 1) == 64  # global pooling: everything first
    assert _first_output_delay(Layer(), 64, 64) == 1


@pytest.mark.slow
def test_the_c_simulation_does_not_depend_on_the_depths(tmp_path):
    model = _block()
    graph = _graph(model, tmp_path)
    X = np.random.default_rng(0).uniform(-1, 1, (20, 16, 16, 2)).astype(np.float32)
    graph.compile()
    ours = graph.predict(X)
    deep = _graph(model, tmp_path / "deep")
    for name, var in deep.output_vars.items():
        if isinstance(var.pragma, tuple) and name != "x":
            var.pragma = ("stream", 1024)
    deep.config.config["OutputDir"] = str(tmp_path / "deep_out")
    deep.compile()
    np.testing.assert_array_equal(ours, deep.predict(X))


def test_fifo_depths_hls4ml_keeps_hls4mls_whole_feature_maps(tmp_path):
    """The fit's other choice (``FifoDepths: hls4ml``): every stream as hls4ml makes it."""
    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config, model_graph
    from fpga_flow.stream_depths import with_fifo_depths

    model, board = _block(), get_board("pynq-z2")
    settings = HLSSettings(io_type="io_stream", clock_period_ns=board.clock_period_ns)
    config = with_fifo_depths(base_hls_config(model, settings, board.backend), "hls4ml")
    graph = model_graph(model, board, settings, tmp_path / "g", config)
    depths = {name: var.pragma[1] for name, var in graph.output_vars.items() if isinstance(var.pragma, tuple)}
    assert depths["c1"] == depths["add"] == 256 and depths["fc"] == 1
