"""``fpga-flow rtl RUN_DIR``: the build's RTL stages on a finished run, whose summary and page
then carry their figures.

A run keeps the model's source, the chosen hls4ml configuration, the project and the
evaluation set its testbench ran on (``tb_data/``: inputs and Keras' outputs, as float32
in ``%.9g``, which reads back exactly). The C-simulation outputs are recomputed from a
copy of the project, compiled afresh: the testbench's ``csim_results.log`` goes through
an accelerator board's AXI wrapper (not the words the RTL computes), and the run's own
library may read its weights from a build-cache entry evicted since. With the run's
build cache on, the copy's objects whose preprocessed source the build compiled are
taken from the cache (the layers and the bridge: only the units that name the copy's
weights folder compile again). The run folder
keeps its files; ``rtl/`` is replaced and ``summary.json`` rewritten atomically at the
end, so an interrupted command leaves the previous summary as it was.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fpga_flow import rundir
from fpga_flow.boards import Board, get_board
from fpga_flow.cache import object_store
from fpga_flow.convert import HLSSettings
from fpga_flow.csim import BUILD_SUBDIR, Bridge, compile_project
from fpga_flow.model_io import load_keras_model
from fpga_flow.pipeline.context import Progress, silent
from fpga_flow.pipeline.driver import Step, run_steps
from fpga_flow.pipeline.publish import publish
from fpga_flow.pipeline.summarize import pnr_checks, rtl_check, rtl_fit_check, run_verdict
from fpga_flow.rtl import gates_stage, pnr_stage, rtl_sim_stage, rtl_stage
from fpga_flow.rtl.fit_ecp5 import unchecked_note
from fpga_flow.rtl.records import RTL_DIR, GateRecord, PnRRecord, RTLRecord, RTLSimRecord, SkippedStage
from fpga_flow.summary import RunSummary, read_summary, run_status

CSIM_COPY = "csim_project"  # in rtl/


@dataclass
class RunInputs:
    model: Any
    board: Board
    settings: HLSSettings
    hls_config: dict[str, Any]
    project_dir: Path
    X: np.ndarray
    keras_out: np.ndarray
    csim_out: np.ndarray


def load_run(run_dir: Path, work_dir: Path) -> RunInputs:
    """Inputs of the RTL stages for the finished run ``run_dir``; ``work_dir`` receives
    the recompiled copy of the project."""
    run_dir = Path(run_dir).resolve()
    summary = read_summary(run_dir)
    config = summary.config
    model = load_keras_model(Path(summary.model.source), config.weights)
    board = get_board(summary.board.name, config.boards_dir)
    project_dir = run_dir / rundir.PROJECT_DIR
    tb = project_dir / "tb_data"
    X = np.loadtxt(tb / "tb_input_features.dat", dtype=np.float64, ndmin=2)
    X = X.reshape(len(X), *model.input_shape[1:])
    keras_out = np.loadtxt(tb / "tb_output_predictions.dat", dtype=np.float64, ndmin=2)
    copy = Path(work_dir).resolve() / CSIM_COPY
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(project_dir, copy, ignore=shutil.ignore_patterns(BUILD_SUBDIR))
    csim_out = Bridge.load(compile_project(copy, objects=object_store(config))).predict(X)
    hls_config = json.loads((run_dir / rundir.HLS_CONFIG_NAME).read_text(encoding="utf-8"))
    return RunInputs(model, board, summary.hls, hls_config, project_dir, X, keras_out, csim_out)


@dataclass
class RunRTLContext:
    """What ``fpga-flow rtl`` knows so far about the finished run ``run_dir``."""

    run_dir: Path
    summary: RunSummary
    progress: Progress = silent
    inputs: RunInputs | None = None  # load
    rtl: RTLRecord | SkippedStage | None = None  # rtl
    rtl_sim: RTLSimRecord | SkippedStage | None = None  # rtl_sim
    gates: GateRecord | SkippedStage | None = None  # gates
    pnr: PnRRecord | SkippedStage | None = None  # pnr (a --pnr run only)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def marker_dir(self) -> Path:
        return self.run_dir  # never marked: a finished run keeps looking finished (marks=False)

    @property
    def out_dir(self) -> Path:
        return self.run_dir / RTL_DIR


def _rtl(ctx: RunRTLContext) -> RTLRecord | SkippedStage:
    inputs = ctx.inputs
    return rtl_stage(inputs.model, inputs.board, inputs.settings, inputs.hls_config, inputs.project_dir, ctx.out_dir,
                     ctx.summary.config.stage_levels)


def _rtl_sim(ctx: RunRTLContext) -> RTLSimRecord | SkippedStage:
    return rtl_sim_stage(ctx.rtl, ctx.inputs.X, ctx.inputs.csim_out, ctx.inputs.keras_out, ctx.out_dir,
                         ctx.inputs.board, ctx.summary.config.tool_budget)


def _gates(ctx: RunRTLContext) -> GateRecord | SkippedStage:
    return gates_stage(ctx.rtl, ctx.inputs.board, ctx.out_dir, budget=ctx.summary.config.tool_budget)


def _pnr(ctx: RunRTLContext) -> PnRRecord | SkippedStage:
    # rtl/ was replaced: a --pnr run places and routes the new RTL again.
    config = ctx.summary.config
    return pnr_stage(ctx.rtl, ctx.gates, ctx.inputs.board, ctx.inputs.X, ctx.inputs.csim_out, ctx.out_dir,
                     budget=config.tool_budget, timeout_min=config.pnr_timeout)


# The build's RTL steps on what a finished run keeps; ``pnr`` for a --pnr run only.
RTL_ON_RUN_STEPS: tuple[Step, ...] = (
    Step("load", "Reading the run back", lambda ctx: load_run(ctx.run_dir, ctx.out_dir), writes="inputs", marks=False),
    Step("rtl", "Writing the RTL (da4ml)", _rtl, writes="rtl", marks=False),
    Step("rtl_sim", "Simulating the RTL (Verilator)", _rtl_sim, writes="rtl_sim", marks=False),
    Step("gates", "Synthesizing the RTL (yosys)", _gates, writes="gates", marks=False),
    Step("pnr", "Placing and routing (nextpnr-ecp5)", _pnr, writes="pnr", marks=False),
)


def rtl_on_run(run_dir: Path, progress: Progress = silent) -> RunSummary:
    """Run the RTL stages on the finished run ``run_dir`` and record them in its summary
    (sections ``rtl``, ``rtl_sim``, ``gates``, ``pnr`` for a ``--pnr`` run, their checks and
    the status), its page and its run-history row; returns the updated summary."""
    run_dir = Path(run_dir).resolve()
    ctx = RunRTLContext(run_dir, read_summary(run_dir), progress)  # refuses anything but a finished run's summary
    summary = ctx.summary
    shutil.rmtree(ctx.out_dir, ignore_errors=True)
    ctx.out_dir.mkdir()
    run_steps(ctx, RTL_ON_RUN_STEPS, stop_after=None if summary.config.pnr else "gates")
    # On ECP5 the fit is the RTL's yosys counts (fpga_flow.rtl.fit_ecp5): the new RTL's replace the run's.
    rtl_fit = rtl_fit_check(ctx.rtl, ctx.gates, ctx.inputs.board, summary.config.fit_budget)
    checks = summary.checks.model_copy(update={
        "rtl_word_agreement": rtl_check(ctx.rtl_sim), "pnr_fmax": None, "top_word_agreement": None,
        "fit_not_checked": unchecked_note(ctx.inputs.board, ctx.gates, rtl_fit is not None) or None,
        **pnr_checks(ctx.pnr), **({"fit_budget": rtl_fit} if rtl_fit else {})})
    updated = RunSummary.model_validate({
        **summary.model_dump(), "rtl": ctx.rtl, "rtl_sim": ctx.rtl_sim, "gates": ctx.gates, "pnr": ctx.pnr,
        "checks": checks, "status": run_status(checks, summary.synthesis),
        "verdict": run_verdict(checks, ctx.inputs.board.name, summary.synthesis),
        "artifacts": {**summary.artifacts, "rtl_dir": str(ctx.out_dir)},
        "timings_s": {**summary.timings_s, **{f"rtl_command_{step}": s for step, s in ctx.timings.items()}},
    })
    publish(run_dir, updated, kind="build")
    return updated
