"""The fit chooses the ParallelizationFactor of io_parallel convolutions (hls4ml 1.3.0's
io_stream convolution kernels never read it: fpga_flow/fit/options.py): the factors
offered are exactly those hls4ml keeps, the estimate multiplies the multipliers by PF and
divides the partition loop's steps by it (counted by hand), a plan's factor reaches
hls4ml and check_plan_kept refuses a changed one, the fit takes PF > 1 when a target
latency needs it, and the C-simulation words are the same at every factor."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

from conftest import session_objects

BOARD = "pynq-z2"


def _conv_model():
    """Conv2D of 4 filters, 3x3, on 6x6x2: 16 output pixels, n_in 18, n_out 4 (72 weights)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(5)
    return tf.keras.Sequential([
        tf.keras.layers.Input((6, 6, 2), name="x"),
        tf.keras.layers.Conv2D(4, 3, name="conv", activation="relu"),
        tf.keras.layers.Flatten(name="flat"),
        tf.keras.layers.Dense(3, name="fc"),
    ])


def _setup(model, io_type: str = "io_parallel"):
    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config

    board = get_board(BOARD)
    settings = HLSSettings(io_type=io_type, clock_period_ns=board.clock_period_ns)
    return board, settings, base_hls_config(model, settings, board.backend)


def _graph(model, board, settings, config, plan=None):
    from fpga_flow.convert import model_graph
    from fpga_flow.fit import with_plan

    return model_graph(model, board, settings, "unwritten", with_plan(config, plan or {}))


def _conv(graph):
    return next(layer for layer in graph.get_layers() if layer.name == "conv")


def _setting(strategy: str, reuse: int, factor: int | None):
    from fpga_flow.fit import LayerSetting

    return LayerSetting(strategy=strategy, reuse_factor=reuse, parallelization_factor=factor)


def test_the_factors_offered_are_exactly_those_hls4ml_keeps_and_none_in_io_stream():
    import hls4ml

    from fpga_flow.fit.options import valid_parallelization_factors

    model = _conv_model()
    board, settings, config = _setup(model)
    backend = hls4ml.backends.get_backend(board.backend)
    offered = valid_parallelization_factors(backend, _conv(_graph(model, board, settings, config)), "io_parallel")
    assert offered == [1, 2, 4, 8, 16]  # the divisors of 4 x 4 output pixels
    for factor in range(1, 17):
        graph = _graph(model, board, settings, config, {"conv": _setting("Latency", 1, factor)})
        kept = _conv(graph).get_attr("parallelization_factor") == factor
        assert kept == (factor in offered), factor
        assert _conv(graph).get_attr("n_partitions") == 16 // _conv(graph).get_attr("parallelization_factor")
    stream_settings = settings.model_copy(update={"io_type": "io_stream"})
    streamed = _conv(_graph(model, board, stream_settings, config))
    assert valid_parallelization_factors(backend, streamed, "io_stream") is None
    dense = next(layer for layer in _graph(model, board, settings, config).get_layers() if layer.name == "fc")
    assert valid_parallelization_factors(backend, dense, "io_parallel") is None
    # A 1-wide 1-D convolution at one partition gets another kernel (BatchedDenseForConv1D): not offered.
    import tensorflow as tf

    narrow = tf.keras.Sequential([tf.keras.layers.Input((8, 3), name="x"), tf.keras.layers.Conv1D(4, 1, name="conv")])
    board, settings, config = _setup(narrow)
    assert _conv(_graph(narrow, board, settings, config)).class_name in ("Conv1D", "PointwiseConv1D")
    assert valid_parallelization_factors(backend, _conv(_graph(narrow, board, settings, config)), "io_parallel") is None


def test_the_estimate_multiplies_the_multipliers_by_the_factor_as_counted_by_hand():
    """Resource at R = 9: ceil(72 / 9) = 8 shared multipliers per pixel, PF pixels side by
    side; the partition loop runs 16 / PF times R cycles. Latency at R = 1: every
    non-zero weight, PF times. The plan priced on the PF = 1 description costs what
    hls4ml's own graph at that factor costs."""
    from fpga_flow.estimate import price
    from fpga_flow.estimate.from_graph import describe_graph
    from fpga_flow.fit import layer_plan

    model = _conv_model()
    board, settings, config = _setup(model)
    base = describe_graph(_graph(model, board, settings, config), board, settings.clock_period_ns)
    figures = {}
    for strategy, reuse in (("Resource", 9), ("Latency", 1)):
        for factor in (1, 4):
            plan = {"conv": _setting(strategy, reuse, factor)}
            made = describe_graph(_graph(model, board, settings, config, plan), board, settings.clock_period_ns)
            planned = price(base, {"conv": layer_plan(plan["conv"])})
            assert planned.csynth == price(made).csynth and planned.per_layer == price(made).per_layer, plan
            figures[strategy, factor] = next(layer for layer in planned.per_layer if layer.layer == "conv")
            if factor > 1:
                assert any("ParallelizationFactor > 1 (conv)" in note for note in planned.scope_notes)
    assert figures["Resource", 1].multipliers == 8 and figures["Resource", 4].multipliers == 32
    assert figures["Resource", 1].latency_cycles - figures["Resource", 4].latency_cycles == (16 - 4) * 9
    weights = int(np.count_nonzero(model.get_layer("conv").get_weights()[0]))
    assert weights == 72
    assert figures["Latency", 1].multipliers == 72 and figures["Latency", 4].multipliers == 4 * 72
    assert figures["Latency", 4].LUT > figures["Latency", 1].LUT
    # One partition (PF = every pixel) and no Resource layer: hls4ml makes the top one
    # pipeline instead of DATAFLOW (SetPipelineStyle), and the planned price follows it.
    plan = {"conv": _setting("Latency", 1, 16), "fc": _setting("Latency", 1, None)}
    made = describe_graph(_graph(model, board, settings, config, plan), board, settings.clock_period_ns)
    assert (base.pipeline_style, made.pipeline_style) == ("dataflow", "pipeline")
    planned = price(base, {name: layer_plan(setting) for name, setting in plan.items()})
    assert planned.csynth == price(made).csynth


def test_a_plans_factor_reaches_hls4ml_and_check_plan_kept_refuses_a_changed_one():
    from fpga_flow.fit import FitError, check_plan_kept

    model = _conv_model()
    board, settings, config = _setup(model)
    plan = {"conv": _setting("Latency", 1, 4)}
    graph = _graph(model, board, settings, config, plan)
    check_plan_kept(graph, plan)
    assert _conv(graph).get_attr("n_partitions") == 4
    # A factor hls4ml does not keep (5 divides no 16) is replaced by the closest valid one.
    changed = _graph(model, board, settings, config, {"conv": _setting("Latency", 1, 5)})
    assert _conv(changed).get_attr("parallelization_factor") != 5
    with pytest.raises(FitError, match=r"hls4ml made layer conv latency with reuse factor 1 ParallelizationFactor 4 "
                                       r"where the fit planned Latency/1 PF 5: a fault of fpga-flow's fit"):
        check_plan_kept(changed, {"conv": _setting("Latency", 1, 5)})


def _fit(model, **request):
    from fpga_flow.fit import FitRequest, fit_design

    board, settings, config = _setup(model)
    return fit_design(model, board, settings, config, FitRequest(**{"budget": 0.8, "io_type": "io_parallel", **request}))


def test_the_fit_takes_a_factor_above_one_when_the_target_latency_needs_it():
    from fpga_flow.cli.build import render_fit
    from fpga_flow.estimate import price
    from fpga_flow.estimate.from_graph import describe_graph
    from fpga_flow.fit import layer_plan

    model = _conv_model()
    free = _fit(model)
    conv = next(layer for layer in free.layers if layer.layer == "conv")
    assert conv.parallelization_factors == [1, 2, 4, 8, 16]
    assert "not calibrated on any Conv1D/Conv2D pair at PF > 1" in conv.note
    every_plan = [free.chosen, free.unfitted, *free.alternatives]
    assert all(point.plan["conv"].parallelization_factor in conv.parallelization_factors for point in every_plan)
    assert free.unfitted.plan["conv"].parallelization_factor == 1
    # The build's fit table shows the factor (a column only when a layer has one).
    out = Console(file=io.StringIO(), width=200)
    render_fit(out, free)
    header, conv_row = [line for line in out.file.getvalue().splitlines() if "PF" in line or "│ conv" in line][:2]
    assert "PF" in header
    assert conv_row.split("│")[4].strip() == str(free.chosen.plan["conv"].parallelization_factor)
    # A target between the fastest plan and the fastest plan at PF = 1 (every layer at
    # Latency/1, which fits this board): only PF > 1 meets it.
    board, settings, config = _setup(model)
    base = describe_graph(_graph(model, board, settings, config), board, settings.clock_period_ns)
    plan = {"conv": _setting("Latency", 1, 1), "fc": _setting("Latency", 1, None)}
    pf_one_fastest = price(base, {name: layer_plan(setting) for name, setting in plan.items()}).csynth.latency_cycles
    fastest = free.chosen.latency_cycles
    assert free.chosen.plan["conv"].parallelization_factor > 1 and fastest < pf_one_fastest
    target = (fastest + pf_one_fastest) / 2 * board.clock_period_ns
    fit = _fit(model, target_latency_ns=target)
    assert fit.fits and fit.chosen.latency_ns <= target
    assert fit.chosen.plan["conv"].parallelization_factor > 1


def _compiled_words(model, X, setting, folder):
    from fpga_flow.convert import convert
    from fpga_flow.csim import Bridge, compile_project
    from fpga_flow.fit import with_plan

    board, settings, config = _setup(model)
    project = convert(model, board, settings, folder, with_plan(config, {"conv": setting}))
    parameters = (folder / "firmware" / "parameters.h").read_text()
    assert f"static const unsigned n_partitions = {16 // setting.parallelization_factor};" in parameters
    return Bridge.load(compile_project(project.output_dir, objects=session_objects())).predict(X)


@pytest.mark.slow
def test_the_c_simulation_words_are_the_same_at_every_factor(tmp_path):
    """The factor changes how many pixels are computed side by side, not any pixel's
    sums: the C-simulations at PF 1 and PF 4 (Latency, and Resource at R = 9) give the
    same words, and the emulator (which reads no factor) gives them too."""
    from fpga_flow.emulate.graph import Emulator

    model = _conv_model()
    X = np.random.default_rng(2).uniform(-2, 2, (64, 6, 6, 2)).astype(np.float32)
    at_one = _compiled_words(model, X, _setting("Latency", 1, 1), tmp_path / "pf1")
    at_four = _compiled_words(model, X, _setting("Latency", 1, 4), tmp_path / "pf4")
    resource = _compiled_words(model, X, _setting("Resource", 9, 4), tmp_path / "res_pf4")
    resource_one = _compiled_words(model, X, _setting("Resource", 9, 1), tmp_path / "res_pf1")
    assert np.ptp(at_one) > 0
    np.testing.assert_array_equal(at_four, at_one)
    np.testing.assert_array_equal(resource, resource_one)
    board, settings, config = _setup(model)
    graph = _graph(model, board, settings, config, {"conv": _setting("Latency", 1, 4)})
    np.testing.assert_array_equal(Emulator(graph).predict(X), at_one)


@pytest.mark.slow
def test_a_users_io_parallel_build_with_a_target_latency_writes_the_chosen_factor_and_passes(tmp_path):
    """``fpga-flow build conv.h5 --board pynq-z2 --io-type io_parallel --target-latency
    195``: 195 ns lies between the fastest plan (17 cycles of 10 ns, PF > 1) and the
    fastest at PF 1 (22 cycles), as the test above finds; the build writes the chosen
    factor into hls4ml's configuration and its C simulation agrees with Keras."""
    import json

    from conftest import run_cli

    model_file = tmp_path / "conv.h5"
    _conv_model().save(model_file)
    result = run_cli("build", str(model_file), "--board", BOARD, "--io-type", "io_parallel", "--target-latency", "195",
                     "--out", str(tmp_path / "run"), "--reports-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    factor = summary["fit"]["chosen"]["plan"]["conv"]["parallelization_factor"]
    assert factor > 1 and summary["status"] == "passed" and summary["fidelity"]["csim_agreement"] == 1.0
    assert summary["checks"]["target_latency"]["passed"]
    parameters = (tmp_path / "run" / "hls_project" / "firmware" / "parameters.h").read_text()
    assert f"static const unsigned n_partitions = {16 // factor};" in parameters
    assert " PF " in result.stdout or "│ PF" in result.stdout
