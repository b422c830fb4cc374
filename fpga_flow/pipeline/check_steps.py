"""The check steps of a build: the compiled design against Keras (C-simulation two ways),
then on request the RTL (--rtl), place and route (--pnr), vendor synthesis (--synth),
and the closure's plot.

Steps after C-simulation read the run directory's files and the context's results
(``loaded``, ``project``, ``compiled``, ``csim``). The RTL steps call :mod:`fpga_flow.rtl`'s
stage functions with them; ``fpga-flow rtl RUN_DIR`` calls the same functions on what
:mod:`fpga_flow.pipeline.rtl_on_run` reads back from a finished run. A step that only runs
on request reads its flag from ``ctx.config`` and returns None when not asked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpga_flow.cache import config_cache_dir
from fpga_flow.csim import Bridge, run_testbench
from fpga_flow.fidelity import compare
from fpga_flow.pipeline.context import BuildContext, CsimCheck, TestbenchCheck
from fpga_flow.precision import keras_layer_outputs, overflow_report, plot_closure
from fpga_flow.rtl import gates_stage, pnr_stage, rtl_sim_stage, rtl_stage
from fpga_flow.rtl.records import RTL_DIR, GateRecord, PnRRecord, RTLRecord, RTLSimRecord, SkippedStage
from fpga_flow.synth import SynthesisFailed, SynthesisResult, run_synthesis, skipped

CLOSURE_PLOT_NAME = "precision_closure.svg"


def step_csim_bridge(ctx: BuildContext) -> CsimCheck:
    """The compiled model called on the evaluation split through its bridge library,
    compared with Keras; per layer, the Keras values outside the layer's C++ type.
    A long run goes in one process per core over slices of the split (same words)."""
    loaded = ctx.loaded
    outputs, _ = Bridge.load(ctx.compiled).trace(loaded.X_eval, jobs=None)
    overflow = overflow_report(keras_layer_outputs(loaded.model, loaded.X_eval),
                               ctx.project.bridge_spec["layer_precisions"])
    return CsimCheck(outputs, compare(loaded.keras_eval, outputs, loaded.y_eval), overflow)


def step_testbench(ctx: BuildContext) -> TestbenchCheck:
    """hls4ml's testbench built against the compiled firmware and run on the evaluation split."""
    loaded = ctx.loaded
    run = run_testbench(ctx.compiled, loaded.X_eval, loaded.keras_eval)
    return TestbenchCheck(run, compare(loaded.keras_eval, run.predictions, loaded.y_eval),
                          float(np.abs(run.predictions - ctx.csim.outputs).max()))


def step_rtl(ctx: BuildContext) -> RTLRecord | SkippedStage | None:
    """With ``--rtl``: the Verilog of the model as the converted project computes it,
    pipelined for the clock, in ``rtl/`` (:mod:`fpga_flow.rtl`); skipped with the reason
    for a model it does not mirror."""
    if not ctx.config.rtl:
        return None
    return rtl_stage(ctx.loaded.model, ctx.board, ctx.settings, ctx.hls_config, ctx.project.output_dir,
                     ctx.run_dir / RTL_DIR, ctx.config.stage_levels)


def step_rtl_sim(ctx: BuildContext) -> RTLSimRecord | SkippedStage | None:
    """The RTL simulated by Verilator on the evaluation split, against the bridge's outputs
    word for word and against Keras by argmax; skipped without verilator, and on ECP5 when
    da4ml's estimate alone is over the budget (:mod:`fpga_flow.rtl.fit_ecp5`)."""
    if ctx.rtl is None:
        return None
    return rtl_sim_stage(ctx.rtl, ctx.loaded.X_eval, ctx.csim.outputs, ctx.loaded.keras_eval, ctx.run_dir / RTL_DIR,
                         ctx.board, ctx.config.tool_budget)


def step_gates(ctx: BuildContext) -> GateRecord | SkippedStage | None:
    """The RTL synthesized by yosys for the board's family; skipped without yosys, and on
    ECP5 when da4ml's estimate alone is over the budget (:mod:`fpga_flow.rtl.fit_ecp5`)."""
    if ctx.rtl is None:
        return None
    cfg = ctx.config
    # yosys' counts per pipeline stage, kept by content beside the build cache's entries.
    modules = config_cache_dir(cfg) / "gates" if cfg.use_cache else None
    return gates_stage(ctx.rtl, ctx.board, ctx.run_dir / RTL_DIR, cache_dir=modules, budget=cfg.tool_budget)


def step_pnr(ctx: BuildContext) -> PnRRecord | SkippedStage | None:
    """With ``--pnr`` (ECP5 boards): the board top level placed and routed by nextpnr-ecp5,
    simulated bytes in, bytes out against the bridge's outputs, packed by ecppack."""
    if not ctx.config.pnr:
        return None
    return pnr_stage(ctx.rtl, ctx.gates, ctx.board, ctx.loaded.X_eval, ctx.csim.outputs, ctx.run_dir / RTL_DIR,
                     budget=ctx.config.tool_budget,
                     timeout_min=ctx.config.pnr_timeout)


def step_synthesis(ctx: BuildContext) -> SynthesisResult:
    """Vendor synthesis when asked and the backend's tool is on PATH, else why not."""
    if not ctx.board.hls_vendor_flow:
        return SynthesisResult(status="skipped", reason=f"no vendor synthesis for {ctx.board.name} ({ctx.board.vendor}): "
                                                        "--rtl --pnr runs the open tools")
    result = skipped(ctx.board.backend, ctx.config.synth)
    if result is not None:
        return result
    try:
        return run_synthesis(ctx.project.output_dir, ctx.board.backend)
    except SynthesisFailed as exc:
        return SynthesisResult(status="failed", reason=str(exc), failed_stage=exc.stage, log=str(exc.log))


def step_plots(ctx: BuildContext) -> Path | None:
    """The closure's per-layer errors and iterations as an SVG (closure policy only)."""
    if ctx.precision.closure is None:
        return None
    path = ctx.run_dir / CLOSURE_PLOT_NAME
    plot_closure(ctx.precision.closure, path)
    return path

