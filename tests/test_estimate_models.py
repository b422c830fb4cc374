"""The estimate of real hls4ml graphs: every zoo recipe priced with no free layer, the
description written into a project prices the same as the graph it came from, and
``fpga-flow estimate`` on good and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import recipe_model, run_cli
from fpga_flow.estimate.design import FREE_KINDS
from test_build_errors import assert_user_error


def _graph(recipe_name: str, board_name: str = "pynq-z2", io_type: str | None = None):
    """The hls4ml graph of a zoo recipe's (untrained) model: the architecture decides the cost."""
    import fpga_flow  # noqa: F401  (registers the attention layer with hls4ml)
    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config, model_graph
    from model_zoo import get_recipe

    recipe = get_recipe(recipe_name)
    model = recipe_model(recipe_name)[0]
    board = get_board(board_name)
    settings = HLSSettings(io_type=io_type or recipe.hls.io_type, strategy=recipe.hls.strategy,
                           reuse_factor=recipe.hls.reuse_factor, clock_period_ns=board.clock_period_ns)
    config = base_hls_config(model, settings, board.backend)
    graph = model_graph(model, board, settings, "unwritten", config)
    return model, graph, board, settings, config


@pytest.mark.parametrize("recipe", ["cnn_digits", "lstm_digits", "gru_digits", "lstm_signals", "attention_digits"])
def test_every_zoo_recipe_is_priced_with_no_zero_cost_layer(recipe):
    from fpga_flow.estimate import estimate

    _, graph, board, settings, _ = _graph(recipe)
    result = estimate(graph, settings, board)
    assert result.unpriced_layers == []
    for layer in result.per_layer:
        if layer.kind in FREE_KINDS:
            continue
        assert layer.priced, layer
        assert layer.LUT + layer.DSP + layer.BRAM_18K > 0, f"{recipe}: {layer.layer} costs nothing"
    assert result.csynth.latency_cycles > 0 and result.csynth.interval_cycles > 0


def test_stream_conv_counts_its_fifos():
    from fpga_flow.estimate.from_graph import describe_graph

    _, graph, board, settings, _ = _graph("cnn_digits", io_type="io_stream")
    design = describe_graph(graph, board, settings.clock_period_ns)
    conv = next(layer for layer in design.layers if layer.kind == "conv2d")
    # 8x8x1 image, 3x3 kernel, 8 filters: 6x6 output words of 8 channels; its FIFO, on a chain,
    # 16 words deep (fpga_flow.stream_depths; hls4ml's own depth is the 36 words).
    assert (conv.in_positions, conv.out_positions, conv.out_pack, conv.fifo_depth) == (64, 36, 8, 16)
    assert conv.products[0].parallel == 1 and conv.products[0].positions == 36


def test_written_description_prices_like_the_graph(tmp_path):
    from fpga_flow.convert import convert
    from fpga_flow.estimate import estimate, estimate_project, read_design, write_design

    model, graph, board, settings, config = _graph("cnn_digits")
    project = convert(model, board, settings, tmp_path / "prj", config)
    write_design(project.graph, board, settings.clock_period_ns, project.output_dir)
    design = read_design(project.output_dir)
    assert design.name == "myproject" and design.family == board.family
    from_disk = estimate_project(project.output_dir, board)
    from_graph = estimate(graph, settings, board)
    assert from_disk.csynth == from_graph.csynth and from_disk.per_layer == from_graph.per_layer


def test_unknown_board_is_one_line():
    assert_user_error(run_cli("estimate", "cnn_digits", "--board", "pynq-z3"), "unknown board 'pynq-z3'", "pynq-z2")


def test_unknown_model_is_one_line():
    assert_user_error(run_cli("estimate", "cnn_digitz", "--board", "pynq-z2"), "unknown model 'cnn_digitz'")


def test_closure_is_refused_because_the_estimate_compiles_nothing():
    assert_user_error(run_cli("estimate", "cnn_digits", "--board", "pynq-z2", "--precision-policy", "closure"),
                      "--precision-policy", "closure")


def test_unsupported_layer_is_named(tmp_path):
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Input((8, 4), name="seq"),
                                 tf.keras.layers.Conv1DTranspose(2, 3, name="upconv"),
                                 tf.keras.layers.Flatten(name="flat")])
    model.save(tmp_path / "odd.h5")
    assert_user_error(run_cli("estimate", str(tmp_path / "odd.h5"), "--board", "pynq-z2"), "'upconv'", "Conv1DTranspose")


@pytest.mark.slow
def test_estimate_command_on_the_demo_cnn(reports_root, tmp_path):
    result = run_cli("estimate", "cnn_digits", "--board", "pynq-z2", "--reports-dir", str(reports_root), "--json",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["csynth"]["kind"] == "csynth" and record["vivado_synth"]["kind"] == "vivado_synth"
    assert record["utilization_pct"]["csynth"]["LUT"] == pytest.approx(100 * record["csynth"]["LUT"] / 53200, abs=0.01)
    assert [layer["layer"] for layer in record["per_layer"]][:2] == ["conv1", "relu1"]
    assert not list(Path(tmp_path).iterdir()), "the estimate wrote files"
