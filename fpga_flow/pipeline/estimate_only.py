"""``fpga-flow estimate``: the estimate from a model reference alone. The model is
loaded, checked and given its precisions by the build's own steps
(:data:`~fpga_flow.pipeline.flows.ESTIMATE_STEPS`), converted to an hls4ml graph for the
board and priced; nothing is compiled or written."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fpga_flow.boards import get_board
from fpga_flow.config import BuildConfig
from fpga_flow.convert import model_graph
from fpga_flow.errors import UserInputError
from fpga_flow.estimate import Design, Estimate
from fpga_flow.estimate.stage import ESTIMATE_POLICIES, price_design
from fpga_flow.model_io import without_autograph
from fpga_flow.pipeline.context import BuildContext
from fpga_flow.pipeline.driver import run_steps
from fpga_flow.pipeline.flows import ESTIMATE_STEPS


def estimate_model(config: BuildConfig) -> tuple[Estimate, Design]:
    """Load the model of the build configuration ``config`` and choose its precisions the
    way the build does (its load, check and precision steps), convert it to an hls4ml
    graph for the board and price it; nothing is compiled or written. Bad input raises a
    one-line UserInputError."""
    if config.precision_policy not in ESTIMATE_POLICIES:
        raise UserInputError(f"--precision-policy {config.precision_policy}: the estimate compiles nothing, so use "
                             f"one of {', '.join(ESTIMATE_POLICIES)} (closure needs C-simulation: 'fpga-flow build')")
    board = get_board(config.board, config.boards_dir)
    with tempfile.TemporaryDirectory(prefix="fpga-flow-estimate-") as scratch:
        context = BuildContext(config, board, Path(scratch))
        with without_autograph():  # nothing here traces a tf.function (model_io.without_autograph)
            run_steps(context, ESTIMATE_STEPS)
        loaded = context.loaded
        graph = model_graph(loaded.model, board, loaded.settings, Path(scratch) / "graph", context.precision.hls_config)
        return price_design(graph, board, loaded.settings.clock_period_ns, loaded.name)
