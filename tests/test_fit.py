"""``--fit`` without compiling: the plans the search prices are the designs hls4ml makes of
them, the reuse factors offered are the ones hls4ml keeps, the search finds what an
exhaustive enumeration finds, and the fit meets its budget and target (or says why not)."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest

from conftest import SHARED

PEERS = SHARED / "peer_models"


def _recipe_model(name: str):
    """A zoo recipe's (untrained) model: the architecture decides the cost."""
    import fpga_flow  # noqa: F401  (registers the attention layer with hls4ml)
    from model_zoo import get_recipe

    recipe = get_recipe(name)
    data = recipe.dataset(recipe.training.seed)
    return recipe.builder(data.input_shape, data.n_classes)


def _peer_model(name: str):
    from fpga_flow.model_io import load_keras_model

    folder = PEERS / name
    if not folder.is_dir():
        pytest.skip(f"{folder} missing: the shared peer models are beside the clone in CI")
    return load_keras_model(folder / f"{name}.json", folder / f"{name}_weights.h5")


def _setup(model, board_name: str = "pynq-z2", io_type: str = "io_parallel", boards_dir=None):
    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config

    board = get_board(board_name, boards_dir)
    settings = HLSSettings(io_type=io_type, clock_period_ns=board.clock_period_ns)
    return board, settings, base_hls_config(model, settings, board.backend)


def _graph(model, board, settings, config, plan=None, io_type=None):
    from fpga_flow.convert import convert_graph
    from fpga_flow.fit import with_plan

    settings = settings.model_copy(update={"io_type": io_type or settings.io_type})
    graph, _ = convert_graph(model, board, settings, with_plan(config, plan or {}))
    return graph


def _tuned(graph) -> list:
    from fpga_flow.fit import TUNED_CLASSES

    return [layer for layer in graph.get_layers() if layer.class_name in TUNED_CLASSES]


# --------------------------------------------------------------------------- plans are what hls4ml makes


@pytest.mark.parametrize("recipe", ["cnn_digits", "lstm_digits", "gru_digits"])
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_a_planned_design_prices_like_the_design_hls4ml_makes_of_the_plan(recipe, io_type):
    """The search prices plans on one description; each must cost what the description
    of hls4ml's own graph of that plan costs (the recurrent gates, which hls4ml unrolls
    whatever the reuse factor, once did not)."""
    import hls4ml

    from fpga_flow.estimate import LayerPlan, price
    from fpga_flow.estimate.from_graph import describe_graph
    from fpga_flow.fit import valid_reuse_factors

    model = _recipe_model(recipe)
    board, settings, config = _setup(model, io_type=io_type)
    base_graph = _graph(model, board, settings, config)
    base = describe_graph(base_graph, board, settings.clock_period_ns)
    backend = hls4ml.backends.get_backend(board.backend)
    choices = {layer.name: valid_reuse_factors(backend, layer) for layer in _tuned(base_graph)}
    for strategy in ("Latency", "Resource"):
        plan = {name: (strategy, values[len(values) // 3]) for name, values in choices.items()}
        assert any(reuse > 1 for _, reuse in plan.values())
        made = describe_graph(_graph(model, board, settings, config, plan), board, settings.clock_period_ns)
        planned = price(base, {name: LayerPlan(strategy=s.lower(), reuse_factor=r) for name, (s, r) in plan.items()})
        assert planned.csynth == price(made).csynth, plan
        assert planned.per_layer == price(made).per_layer, plan
