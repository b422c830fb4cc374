"""The estimate as the rest of fpga-flow uses it: from a converted graph (the build, and
``fpga-flow estimate`` through :mod:`fpga_flow.pipeline.estimate_only`) and from a written
project's ``design.json`` (a cached build)."""

from __future__ import annotations

from pathlib import Path

from fpga_flow.boards import Board
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


def price_design(graph, board: Board, clock_period_ns: float, name: str) -> tuple[Estimate, Design]:
    """The estimate of a converted graph and the design description it prices, named
    ``name`` (``fpga-flow estimate``, :mod:`fpga_flow.pipeline.estimate_only`)."""
    design = describe_graph(graph, board, clock_period_ns).model_copy(update={"name": name})
    return price(design, available=_available(board)), design
