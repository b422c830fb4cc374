"""Vendor-free hardware truth: the model's RTL, simulated bit-exactly and synthesized with
open tools. Three stages run after the C-simulation, each writing its record into
``rtl/`` of the run:

* ``rtl`` (:mod:`~fpga_flow.rtl.generate`): Verilog of the whole model through da4ml,
  computing what the hls4ml project computes, pipelined for the board's clock;
* ``rtl_sim`` (:mod:`~fpga_flow.rtl.simulate`): Verilator on the evaluation set, compared
  word for word with the C-simulation and by argmax with Keras;
* ``gates`` (:mod:`~fpga_flow.rtl.gates`): yosys synthesis for the board's family, cell
  counts of kind "open synthesis of the RTL".

A model the RTL does not mirror is refused in one line (``RTLUnsupportedError``) and a
missing verilator or yosys skips its stage with the reason; :func:`run_rtl_stages` turns
both into :class:`~fpga_flow.rtl.records.SkippedStage` records, while a tool that runs and
fails raises ``StageFailedError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fpga_flow.boards import Board
from fpga_flow.convert import HLSSettings
from fpga_flow.errors import RTLUnsupportedError, ToolMissingError
from fpga_flow.rtl.records import GateRecord, RTLRecord, RTLSimRecord, SkippedStage

RTL_STAGES = ("rtl", "rtl_sim", "gates")
RTL_DIR = "rtl"


def run_rtl_stages(model, board: Board, settings: HLSSettings, hls_config: dict[str, Any], project_dir: Path,
                   X: np.ndarray, csim_out: np.ndarray, keras_out: np.ndarray,
                   out_dir: Path) -> dict[str, RTLRecord | RTLSimRecord | GateRecord | SkippedStage]:
    """All three stages on a converted, C-simulated project; one record per stage."""
    from fpga_flow.rtl.gates import synthesize_gates
    from fpga_flow.rtl.generate import generate_rtl
    from fpga_flow.rtl.simulate import simulate_rtl

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        rtl = generate_rtl(model, board, settings, hls_config, project_dir, out_dir)
    except RTLUnsupportedError as exc:
        return {stage: SkippedStage(stage=stage, reason=str(exc)) for stage in RTL_STAGES}
    records: dict[str, Any] = {"rtl": rtl}
    for stage, run in (("rtl_sim", lambda: simulate_rtl(rtl, X, csim_out, keras_out, out_dir)),
                       ("gates", lambda: synthesize_gates(rtl, board, out_dir))):
        try:
            records[stage] = run()
        except (ToolMissingError, RTLUnsupportedError) as exc:
            records[stage] = SkippedStage(stage=stage, reason=str(exc))
    return records
