"""Vendor-free hardware truth: the model's RTL, simulated bit-exactly and synthesized with
open tools. Three stages run after the C-simulation (``fpga-flow build --rtl``, or
``fpga-flow rtl RUN_DIR`` on a finished run), each writing its record into ``rtl/`` of the
run and its section into ``summary.json``:

* ``rtl`` (:mod:`~fpga_flow.rtl.generate`): Verilog of the whole model through da4ml,
  computing what the hls4ml project computes, pipelined for the board's clock;
* ``rtl_sim`` (:mod:`~fpga_flow.rtl.simulate`): Verilator on the evaluation set, compared
  word for word with the C-simulation and by argmax with Keras;
* ``gates`` (:mod:`~fpga_flow.rtl.gates`): yosys synthesis for the board's family, cell
  counts of kind "open synthesis of the RTL"; on an ECP5 board
  (:mod:`~fpga_flow.rtl.ecp5`), ``synth_ecp5`` of the board top level (the model with its
  serial framing, :mod:`~fpga_flow.rtl.top`), in the device's units;
* ``pnr`` (``--pnr``, ECP5 boards, :mod:`~fpga_flow.rtl.pnr`): that top level simulated
  bytes in, bytes out against the C-simulation, placed and routed by nextpnr-ecp5 and packed
  into a bitstream by ecppack: post-route open-tool figures.

A model the RTL does not mirror is refused in one line (``RTLUnsupportedError``) and a
missing verilator or yosys skips its stage with the reason: each stage function below
returns a :class:`~fpga_flow.records.rtl.SkippedStage` then, and the rest of the build
runs on. A tool that runs and fails raises ``StageFailedError`` (exit 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fpga_flow.boards import Board
from fpga_flow.convert import HLSSettings
from fpga_flow.errors import RTLUnsupportedError, ToolMissingError, UserInputError
from fpga_flow.records.rtl import RTL_DIR, GateRecord, PnRRecord, RTLRecord, RTLSimRecord, SkippedStage
from fpga_flow.rtl.ecp5 import synthesize_ecp5
from fpga_flow.rtl.fit_ecp5 import estimate_refusal, pnr_refusal
from fpga_flow.rtl.gates import synthesize_gates
from fpga_flow.rtl.pnr import place_and_route
from fpga_flow.rtl.simulate import simulate_rtl

RTL_STAGES = ("rtl", "rtl_sim", "gates")
__all__ = ["RTL_DIR", "RTL_STAGES", "rtl_stage", "rtl_sim_stage", "gates_stage", "pnr_stage", "run_rtl_stages"]


ESTIMATE_NOT_APPLICABLE = ("the estimate is calibrated on AMD/Xilinx reports and does not apply to {board} "
                           "({vendor}): hls4ml's Vivado backend writes its C++ for the C-simulation only; "
                           "--rtl gives yosys counts of the RTL in the device's units, --pnr nextpnr's")


def open_fpga_scope(estimate, board: Board):
    """The HLS estimate, marked out of scope on a board without a vendor HLS flow (ECP5)."""
    if board.hls_vendor_flow:
        return estimate
    note = ESTIMATE_NOT_APPLICABLE.format(board=board.name, vendor=board.vendor)
    return estimate.model_copy(update={"in_scope": False, "scope_notes": [note, *estimate.scope_notes]})


def check_pnr_board(config, board: Board) -> None:
    """``--pnr`` needs a board with an open place-and-route flow: refused in one line otherwise."""
    if config.pnr and board.open_fpga is None:
        raise UserInputError(f"--pnr: board {board.name} ({board.vendor}) has no open place-and-route flow; "
                             "use an ECP5 board (ulx3s-85f, orangecrab-25f, ecpix5-85f) or drop --pnr")


def _no_rtl(stage: str, rtl: RTLRecord | SkippedStage) -> SkippedStage:
    return SkippedStage(stage=stage, reason=f"no RTL: {rtl.reason}")


def rtl_stage(model, board: Board, settings: HLSSettings, hls_config: dict[str, Any], project_dir: Path,
              out_dir: Path, stage_levels: int | None = None) -> RTLRecord | SkippedStage:
    # deferred: rtl.generate loads da4ml (0.4 s of imports), which only an RTL build needs
    from fpga_flow.rtl.generate import generate_rtl

    try:
        return generate_rtl(model, board, settings, hls_config, project_dir, out_dir, stage_levels)
    except RTLUnsupportedError as exc:
        return SkippedStage(stage="rtl", reason=str(exc))


def rtl_sim_stage(rtl: RTLRecord | SkippedStage, X: np.ndarray, csim_out: np.ndarray, keras_out: np.ndarray,
                  out_dir: Path, board: Board | None = None, budget: float = 1.0) -> RTLSimRecord | SkippedStage:
    """Verilator on the RTL against the C-simulation; skipped with the reason when there is
    no RTL, verilator is missing, or (ECP5 ``board``) the RTL cannot fit it by da4ml's
    estimate: a design that cannot be placed is not simulated either (conv1d_pulses' 51 MB
    of Verilog was still compiling in Verilator after 13 minutes here)."""
    if isinstance(rtl, SkippedStage):
        return _no_rtl("rtl_sim", rtl)
    refusal = None if board is None else estimate_refusal(rtl, board, budget, stage="its Verilator simulation")
    if refusal is not None:
        return SkippedStage(stage="rtl_sim", reason=refusal)
    try:
        return simulate_rtl(rtl, X, csim_out, keras_out, out_dir)
    except (ToolMissingError, RTLUnsupportedError) as exc:
        return SkippedStage(stage="rtl_sim", reason=str(exc))


def gates_stage(rtl: RTLRecord | SkippedStage, board: Board, out_dir: Path,
                cache_dir: Path | None = None, budget: float = 1.0) -> GateRecord | SkippedStage:
    """yosys on the RTL for the board's family; skipped with the reason when there is no RTL,
    yosys is missing, or (ECP5) da4ml's estimate, a lower bound of yosys' count, is already
    over ``budget`` of the device (:mod:`fpga_flow.rtl.fit_ecp5`)."""
    if isinstance(rtl, SkippedStage):
        return _no_rtl("gates", rtl)
    refusal = estimate_refusal(rtl, board, budget)
    if refusal is not None:
        return SkippedStage(stage="gates", reason=refusal)
    synthesize = synthesize_gates if board.open_fpga is None else synthesize_ecp5
    try:
        return synthesize(rtl, board, out_dir, cache_dir=cache_dir) if synthesize is synthesize_gates \
            else synthesize(rtl, board, out_dir)
    except (ToolMissingError, RTLUnsupportedError) as exc:
        return SkippedStage(stage="gates", reason=str(exc))


def pnr_stage(rtl: RTLRecord | SkippedStage, gates: GateRecord | SkippedStage, board: Board, X: np.ndarray,
              csim_out: np.ndarray, out_dir: Path, budget: float = 1.0, timeout_min: float = 0) -> PnRRecord | SkippedStage:
    """Place and route the top level ``gates`` synthesized (ECP5 boards); skipped with the
    reason when there is no netlist, the RTL is over ``budget`` of the device by yosys
    (:mod:`fpga_flow.rtl.fit_ecp5`), or nextpnr/ecppack is missing; nextpnr is stopped
    after ``timeout_min`` minutes (0: no limit), failing the stage."""
    if isinstance(rtl, SkippedStage):
        return _no_rtl("pnr", rtl)
    if isinstance(gates, SkippedStage):
        return SkippedStage(stage="pnr", reason=f"no netlist: {gates.reason}")
    refusal = pnr_refusal(gates, board, budget)
    if refusal is not None:
        return SkippedStage(stage="pnr", reason=refusal)
    try:
        return place_and_route(rtl, gates, board, X, csim_out, out_dir, timeout_min)
    except (ToolMissingError, RTLUnsupportedError) as exc:
        return SkippedStage(stage="pnr", reason=str(exc))


def run_rtl_stages(model, board: Board, settings: HLSSettings, hls_config: dict[str, Any], project_dir: Path,
                   X: np.ndarray, csim_out: np.ndarray, keras_out: np.ndarray,
                   out_dir: Path) -> dict[str, RTLRecord | RTLSimRecord | GateRecord | SkippedStage]:
    """All three stages on a converted, C-simulated project; one record per stage."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rtl = rtl_stage(model, board, settings, hls_config, project_dir, out_dir)
    return {"rtl": rtl, "rtl_sim": rtl_sim_stage(rtl, X, csim_out, keras_out, out_dir, board),
            "gates": gates_stage(rtl, board, out_dir)}
