"""Our attention layer (hls4ml class QMHSA) in the fit: its reuse-factor options (Latency
only), the multipliers the estimate prices at a reuse factor and in each io type,
--reuse-factor and --strategy as constraints on it, check_plan_kept on it, and the
C-simulation: the same words at every reuse factor and in both io types."""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import session_objects
from test_attention import small_model

BOARD = "alveo-u250"


def _setup(model, io_type: str = "io_parallel"):
    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config

    board = get_board(BOARD)
    settings = HLSSettings(io_type=io_type, clock_period_ns=board.clock_period_ns)
    return board, settings, base_hls_config(model, settings, board.backend)


def _mhsa(graph):
    return next(layer for layer in graph.get_layers() if layer.name == "mhsa")


def _graph(model, board, settings, config, reuse: int | None = None):
    from fpga_flow.convert import model_graph
    from fpga_flow.fit import LayerSetting, with_plan

    plan = {} if reuse is None else {"mhsa": LayerSetting(strategy="Latency", reuse_factor=reuse)}
    return model_graph(model, board, settings, "unwritten", with_plan(config, plan))


def test_the_attention_layer_is_offered_the_reuse_factors_of_a_dense_of_its_projection_latency_only():
    """small_model: embed_dim 8, 2 heads of key_dim 4: hls4ml's valid reuse factors of a
    Dense 8 -> 8 are 1, 2, 4, 8, 16, 32, 64 (below n_in 8, those keeping 64 / R a multiple
    of 8; from 8, the multiples of 8 dividing 64)."""
    from fpga_flow.fit import FitRequest, fit_design

    model = small_model()
    board, settings, config = _setup(model)
    fit = fit_design(model, board, settings, config, FitRequest(budget=0.8), keep_arithmetic=False)
    mhsa = next(layer for layer in fit.layers if layer.layer == "mhsa")
    assert (mhsa.hls_class, mhsa.strategies, mhsa.reuse_factors) == ("QMHSA", ["Latency"], [1, 2, 4, 8, 16, 32, 64])
    assert "Latency only" in mhsa.note and mhsa.setting.strategy == "Latency"
    # Both io types are searched: the stream overload runs the same kernel (C-simulation below).
    assert fit.io_types == {"io_parallel": "searched", "io_stream": "searched"}
    # A refit keeps the io type for the 1-wide QDense embedding (hls4ml's pointwise Conv1D), not for the attention.
    refit = fit_design(model, board, settings, config, FitRequest(budget=0.8))
    assert refit.io_types["io_stream"] == "not searched: embed: pointwise_conv1d layers compute differently in io_stream"


def test_the_estimate_shares_the_computed_products_by_the_reuse_factor_as_counted_by_hand():
    """nnet_qmhsa.h for small_model (6 tokens, 2 heads, key_dim 4): the Dot loop's q * k
    is 2 x 6 x 6 x 4 = 288 multiplications, the scaling 2 x 6 x 6 = 72, e * inverse 72,
    the Weighted loop's p * v 288. At R = 16 they share ceil(288/16) + ceil(72/16) +
    ceil(72/16) + ceil(288/16) = 18 + 5 + 5 + 18 = 46 multipliers; at R = 1, 720. A plan
    (what the search prices) costs what hls4ml's own graph of it costs: its computed
    products stay computed under Latency (they once became constants in a plan)."""
    from fpga_flow.estimate import LayerPlan, price
    from fpga_flow.estimate.cost import count_layer
    from fpga_flow.estimate.counts import Rules
    from fpga_flow.estimate.estimator import apply_plan
    from fpga_flow.estimate.from_graph import describe_graph

    model = small_model()
    board, settings, config = _setup(model)
    base = describe_graph(_graph(model, board, settings, config), board, settings.clock_period_ns)
    for reuse, expected in ((1, 720), (16, 46)):
        planned = apply_plan(base, {"mhsa": LayerPlan(reuse_factor=reuse, strategy="latency")})
        layer = next(layer for layer in planned.layers if layer.name == "mhsa")
        computed = [product for product in layer.products if not product.constant]
        assert sorted(product.name for product in computed) == ["context", "scaling", "scores", "softmax"]
        counts = count_layer(layer.model_copy(update={"products": computed}), planned, Rules(), 1.0)
        assert counts.multipliers == expected, reuse
        made = describe_graph(_graph(model, board, settings, config, reuse), board, settings.clock_period_ns)
        assert price(made).per_layer == price(base, {"mhsa": LayerPlan(reuse_factor=reuse, strategy="latency")}).per_layer
    one, sixteen = (next(entry for entry in price(base, {"mhsa": LayerPlan(reuse_factor=r)}).per_layer
                         if entry.layer == "mhsa") for r in (1, 16))
    assert sixteen.multipliers < one.multipliers and sixteen.DSP < one.DSP


def test_in_io_stream_one_tokens_projection_hardware_serves_every_token():
    """nnet_qmhsa.h's stream kernel projects each token as its packet arrives, in a loop
    pipelined at II = R: at R = 1 the Q/K/V and output projections are one token's
    constant multiplications (the non-zero weights of wq, wk, wv, wo, 4 x 64 at most),
    where the array kernel unrolls them for each of the 6 tokens."""
    from fpga_flow.estimate.cost import count_layer
    from fpga_flow.estimate.counts import Rules
    from fpga_flow.estimate.from_graph import describe_graph

    model = small_model()
    counted = {}
    for io_type in ("io_parallel", "io_stream"):
        board, settings, config = _setup(model, io_type)
        design = describe_graph(_graph(model, board, settings, config, 1), board, settings.clock_period_ns)
        layer = next(layer for layer in design.layers if layer.name == "mhsa")
        projections = [product for product in layer.products if product.constant]
        assert [product.name for product in projections] == ["projection_wq", "projection_wk", "projection_wv", "output"]
        nonzero = sum(product.n_nonzero for product in projections)
        assert 200 < nonzero <= 4 * 64
        counts = count_layer(layer.model_copy(update={"products": projections}), design, Rules(), 1.0)
        counted[io_type] = (counts.multipliers, nonzero)
    assert counted["io_stream"] == (counted["io_stream"][1], counted["io_parallel"][1])
    assert counted["io_parallel"][0] == 6 * counted["io_parallel"][1]


def test_reuse_factor_and_strategy_given_are_constraints_on_the_attention_layer():
    from fpga_flow.errors import UserInputError
    from fpga_flow.fit import FitRequest, LayerSetting, fit_design, layer_choices

    latency = LayerSetting(strategy="Latency", reuse_factor=1)
    offered = [1, 2, 4, 8, 16, 32, 64]
    kept = layer_choices("mhsa", "QMHSA", offered, latency, True, FitRequest(budget=0.8, reuse_factor=16))
    assert (kept.strategies, kept.reuse_factors) == (["Latency"], [16])  # a saturating accumulator does not pin it
    resource = layer_choices("mhsa", "QMHSA", offered, latency, False, FitRequest(budget=0.8, strategy="Resource"))
    assert (resource.strategies, resource.reuse_factors) == (["Latency"], offered)
    with pytest.raises(UserInputError) as refused:
        layer_choices("mhsa", "QMHSA", offered, latency, False, FitRequest(budget=0.8, reuse_factor=3))
    assert str(refused.value) == ("--reuse-factor 3: layer mhsa (QMHSA) takes only 1, 2, 4, 8, 16, 32, 64 (the "
                                  "values the fit offers it): choose one of them, or leave --reuse-factor out "
                                  "and the fit chooses per layer")
    assert "\n" not in str(refused.value)
    model = _attention_only()
    board, settings, config = _setup(model)
    fit = fit_design(model, board, settings, config, FitRequest(budget=0.8, reuse_factor=16, strategy="Resource"))
    assert fit.chosen.plan == {"mhsa": LayerSetting(strategy="Latency", reuse_factor=16)}  # kept by hls4ml (checked)
    with pytest.raises(UserInputError, match=r"^--reuse-factor 12: layer mhsa \(QMHSA\) takes only 1, 2, 4, 8, 16"):
        fit_design(model, board, settings, config, FitRequest(budget=0.8, reuse_factor=12))


def _attention_only():
    """The attention layer alone on 6 tokens of 8 (its only tuned layer)."""
    import tensorflow as tf

    from fpga_flow.attention import QMultiHeadSelfAttention

    tf.keras.utils.set_random_seed(4)
    return tf.keras.Sequential([tf.keras.layers.Input((6, 8), name="tokens"),
                                QMultiHeadSelfAttention(2, 4, name="mhsa")])


def test_hls4ml_keeps_the_planned_reuse_factor_and_check_plan_kept_refuses_a_changed_one():
    from fpga_flow.fit import FitError, LayerSetting, check_plan_kept

    model = small_model()
    board, settings, config = _setup(model)
    graph = _graph(model, board, settings, config, 16)
    plan = {"mhsa": LayerSetting(strategy="Latency", reuse_factor=16)}
    check_plan_kept(graph, plan)
    layer = _mhsa(graph)
    assert "static const unsigned reuse_factor = 16;" in layer.get_attr("config_cpp")
    layer.set_attr("reuse_factor", 8)
    with pytest.raises(FitError, match=r"hls4ml made layer mhsa Latency with reuse factor 8 where the fit planned "
                                       r"Latency/16: a fault of fpga-flow's fit"):
        check_plan_kept(graph, plan)


def _compiled_words(model, X, io_type: str, reuse: int, folder):
    from fpga_flow.convert import convert
    from fpga_flow.csim import Bridge, compile_project
    from fpga_flow.fit import LayerSetting, with_plan

    board, settings, config = _setup(model, io_type)
    project = convert(model, board, settings, folder,
                      with_plan(config, {"mhsa": LayerSetting(strategy="Latency", reuse_factor=reuse)}))
    parameters = (folder / "firmware" / "parameters.h").read_text()
    mhsa_config = re.search(r"struct config\d+ : nnet::qmhsa_config \{.*?\};", parameters, re.S).group(0)
    assert f"static const unsigned reuse_factor = {reuse};" in mhsa_config
    return Bridge.load(compile_project(project.output_dir, objects=session_objects())).predict(X)


@pytest.mark.slow
def test_the_attention_kernel_computes_the_same_words_at_every_reuse_factor_and_in_both_io_types(tmp_path):
    """The kernel's C++ reads the reuse factor only in PIPELINE II, and its io_stream
    overload runs the io_parallel kernel on the buffered sequence: the C-simulations at
    R = 1 (io_parallel) and R = 16 (io_parallel, io_stream) give the same words, and the
    emulator (the kernel's numpy model) gives them too."""
    from fpga_flow.emulate.graph import Emulator

    model = small_model()
    X = np.random.default_rng(1).uniform(-1, 1, (64, 6, 5)).astype(np.float32)
    at_one = _compiled_words(model, X, "io_parallel", 1, tmp_path / "r1")
    at_sixteen = _compiled_words(model, X, "io_parallel", 16, tmp_path / "r16")
    streamed = _compiled_words(model, X, "io_stream", 16, tmp_path / "stream16")
    assert np.ptp(at_one) > 0
    np.testing.assert_array_equal(at_sixteen, at_one)
    np.testing.assert_array_equal(streamed, at_one)
    board, settings, config = _setup(model)
    np.testing.assert_array_equal(Emulator(_graph(model, board, settings, config, 16)).predict(X), at_one)
