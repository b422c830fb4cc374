"""The estimate as the rest of fpga-flow uses it: from a converted graph (the build),
from a written project's ``design.json`` (a cached build), and from a model reference
alone (``fpga-flow estimate``: load, convert to a graph, price; nothing compiled or
written)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fpga_flow.boards import Board, get_board
from fpga_flow.errors import UserInputError
from fpga_flow.estimate.design import DESIGN_FILE, Design
from fpga_flow.estimate.estimator import Estimate, price
from fpga_flow.estimate.from_graph import describe_graph

# What ``fpga-flow estimate`` accepts for --precision-policy: the two that need no C++.
ESTIMATE_POLICIES = ("default", "auto")


def write_design(graph, board: Board, clock_period_ns: float, project_dir: str | Path) -> Path:
    """Write the graph's description into the project, beside ``bridge.json``."""
    path = Path(project_dir) / DESIGN_FILE
    path.write_text(describe_graph(graph, board, clock_period_ns).to_json(), encoding="utf-8")
    return path


def read_design(project_dir: str | Path) -> Design:
    path = Path(project_dir) / DESIGN_FILE
    if not path.is_file():
        raise UserInputError(f"{project_dir}: no {DESIGN_FILE}; convert the project again with this fpga-flow")
    return Design.model_validate_json(path.read_text(encoding="utf-8"))


def estimate(graph, settings, board: Board) -> Estimate:
    """The estimate of a converted graph (the build's estimate step)."""
    return price(describe_graph(graph, board, settings.clock_period_ns), available=_available(board))


def estimate_project(project_dir: str | Path, board: Board) -> Estimate:
    """The estimate of a written project, from its ``design.json`` (no hls4ml graph needed)."""
    return price(read_design(project_dir), available=_available(board))


def _available(board: Board) -> dict[str, int]:
    return {key: value for key, value in board.resources.model_dump().items() if key != "URAM"}


def estimate_model(config) -> tuple[Estimate, Design]:
    """Load the model of the build configuration ``config`` and choose its precisions the
    way the build does (its load, check and precision steps), convert it to an hls4ml
    graph for the board and price it; nothing is compiled or written. Bad input raises a
    one-line UserInputError."""
    from fpga_flow.build import BuildContext, step_check, step_load, step_precision
    from fpga_flow.convert import model_graph
    from fpga_flow.model_io import without_autograph

    if config.precision_policy not in ESTIMATE_POLICIES:
        raise UserInputError(f"--precision-policy {config.precision_policy}: the estimate compiles nothing, so use "
                             f"one of {', '.join(ESTIMATE_POLICIES)} (closure needs C-simulation: 'fpga-flow build')")
    board = get_board(config.board, config.boards_dir)
    with tempfile.TemporaryDirectory(prefix="fpga-flow-estimate-") as scratch:
        context = BuildContext(config, board, Path(scratch))
        with without_autograph():  # nothing here traces a tf.function (model_io.without_autograph)
            context.loaded = step_load(context)
            step_check(context)
            context.precision = step_precision(context)
        graph = model_graph(context.loaded.model, board, context.loaded.settings, Path(scratch) / "graph",
                            context.precision.hls_config)
        design = describe_graph(graph, board, context.loaded.settings.clock_period_ns)
    design = design.model_copy(update={"name": context.loaded.name})
    return price(design, available=_available(board)), design
