"""Vendor-free hardware truth: the model's RTL, simulated bit-exactly and synthesized with
open tools. Three stages run after the C-simulation (``fpga-flow build --rtl``, or
``fpga-flow rtl RUN_DIR`` on a finished run), each writing its record into ``rtl/`` of the
run and its section into ``summary.json``:

* ``rtl`` (:mod:`~fpga_flow.rtl.generate`): Verilog of the whole model through da4ml,
  computing what the hls4ml project computes, pipelined for the board's clock;
* ``rtl_sim`` (:mod:`~fpga_flow.rtl.simulate`): Verilator on the evaluation set, compared
  word for word with the C-simulation and by argmax with Keras;
* ``gates`` (:mod:`~fpga_flow.rtl.gates`): yosys synthesis for the board's family, cell
  counts of kind "open synthesis of the RTL".

A model the RTL does not mirror is refused in one line (``RTLUnsupportedError``) and a
missing verilator or yosys skips its stage with the reason: each stage function below
returns a :class:`~fpga_flow.rtl.records.SkippedStage` then, and the rest of the build
runs on. A tool that runs and fails raises ``StageFailedError`` (exit 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fpga_flow.boards import Board
from fpga_flow.convert import HLSSettings
from fpga_flow.errors import RTLUnsupportedError, ToolMissingError
from fpga_flow.rtl.records import RTL_DIR, GateRecord, RTLRecord, RTLSimRecord, SkippedStage

RTL_STAGES = ("rtl", "rtl_sim", "gates")
__all__ = ["RTL_DIR", "RTL_STAGES", "rtl_stage", "rtl_sim_stage", "gates_stage", "run_rtl_stages"]


def _no_rtl(stage: str, rtl: RTLRecord | SkippedStage) -> SkippedStage:
    return SkippedStage(stage=stage, reason=f"no RTL: {rtl.reason}")


def rtl_stage(model, board: Board, settings: HLSSettings, hls_config: dict[str, Any], project_dir: Path,
              out_dir: Path) -> RTLRecord | SkippedStage:
    from fpga_flow.rtl.generate import generate_rtl

    try:
        return generate_rtl(model, board, settings, hls_config, project_dir, out_dir)
    except RTLUnsupportedError as exc:
        return SkippedStage(stage="rtl", reason=str(exc))


def rtl_sim_stage(rtl: RTLRecord | SkippedStage, X: np.ndarray, csim_out: np.ndarray, keras_out: np.ndarray,
                  out_dir: Path) -> RTLSimRecord | SkippedStage:
    from fpga_flow.rtl.simulate import simulate_rtl

    if isinstance(rtl, SkippedStage):
        return _no_rtl("rtl_sim", rtl)
    try:
        return simulate_rtl(rtl, X, csim_out, keras_out, out_dir)
    except (ToolMissingError, RTLUnsupportedError) as exc:
        return SkippedStage(stage="rtl_sim", reason=str(exc))


def gates_stage(rtl: RTLRecord | SkippedStage, board: Board, out_dir: Path) -> GateRecord | SkippedStage:
    from fpga_flow.rtl.gates import synthesize_gates

    if isinstance(rtl, SkippedStage):
        return _no_rtl("gates", rtl)
    try:
        return synthesize_gates(rtl, board, out_dir)
    except (ToolMissingError, RTLUnsupportedError) as exc:
        return SkippedStage(stage="gates", reason=str(exc))


def run_rtl_stages(model, board: Board, settings: HLSSettings, hls_config: dict[str, Any], project_dir: Path,
                   X: np.ndarray, csim_out: np.ndarray, keras_out: np.ndarray,
                   out_dir: Path) -> dict[str, RTLRecord | RTLSimRecord | GateRecord | SkippedStage]:
    """All three stages on a converted, C-simulated project; one record per stage."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rtl = rtl_stage(model, board, settings, hls_config, project_dir, out_dir)
    return {"rtl": rtl, "rtl_sim": rtl_sim_stage(rtl, X, csim_out, keras_out, out_dir),
            "gates": gates_stage(rtl, board, out_dir)}
