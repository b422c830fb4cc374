"""A build's summary from its context (:func:`make_summary`), and the checks it records;
``fpga-flow rtl`` on a finished run records the RTL's checks by the same rules."""

from __future__ import annotations

from datetime import datetime, timezone

from fpga_flow import rundir
from fpga_flow.boards import Board
from fpga_flow.csim import current_toolchain
from fpga_flow.estimate import Estimate
from fpga_flow.fidelity import confusion
from fpga_flow.fit import FitResult, budget_share
from fpga_flow.layers import ESTIMATED_RESOURCE_KEYS
from fpga_flow.pipeline.context import BuildContext
from fpga_flow.records.synth import SynthesisResult
from fpga_flow.rtl.fit_ecp5 import rtl_budget, unchecked_note
from fpga_flow.rtl.records import REQUIRED_WORD_AGREEMENT, RTL_DIR, GateRecord, PnRRecord, RTLRecord, RTLSimRecord, SkippedStage
from fpga_flow.summary import (
    BudgetCheck,
    Check,
    Checks,
    ConfusionMatrix,
    DataSection,
    FidelitySection,
    ModelSection,
    PrecisionSection,
    RunSummary,
    run_status,
    verdict,
)


def make_summary(ctx: BuildContext) -> RunSummary:
    """The run's summary from the context's results."""
    cfg, loaded, bridge, testbench = ctx.config, ctx.loaded, ctx.csim.fidelity, ctx.testbench.fidelity
    fit = fit_check(ctx)
    checks = Checks(csim_agreement=_check(bridge.agreement, cfg.min_agreement),
                    testbench_agreement=_check(testbench.agreement, cfg.min_agreement),
                    fit_budget=fit,
                    target_latency=_target_check(ctx.fit), rtl_word_agreement=rtl_check(ctx.rtl_sim),
                    fit_not_checked=unchecked_note(ctx.board, ctx.gates, fit is not None) or None,
                    **pnr_checks(ctx.pnr))
    classes = loaded.keras_eval.reshape(len(loaded.keras_eval), -1).shape[1]
    return RunSummary(
        run_id=ctx.run_dir.name,
        status=run_status(checks, ctx.synthesis),
        verdict=run_verdict(checks, ctx.board.name, ctx.synthesis),
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=ModelSection(name=loaded.name, source=loaded.source, weights=loaded.weights,
                           layer_families=sorted({type(layer).__name__ for layer in loaded.model.layers})),
        data=DataSection(origin=loaded.data_origin, n_eval=len(loaded.X_eval), n_calibration=len(loaded.X_calib)),
        board=ctx.board.record(),
        hls=ctx.settings,
        checks=checks,
        fidelity=FidelitySection(
            keras_accuracy=bridge.keras_accuracy, csim_accuracy=bridge.csim_accuracy,
            csim_agreement=bridge.agreement, testbench_agreement=testbench.agreement,
            testbench_vs_bridge_max_abs=ctx.testbench.vs_bridge_max_abs,
            max_abs_error=bridge.max_abs_error, mean_abs_error=bridge.mean_abs_error,
            confusion_matrix=ConfusionMatrix(labels=[str(i) for i in range(classes)],
                                             counts=confusion(loaded.keras_eval, ctx.csim.outputs)),
        ),
        precision=PrecisionSection(policy=ctx.precision.policy, closure=ctx.precision.closure,
                                   layer_precisions=ctx.project.bridge_spec["layer_precisions"],
                                   overflow=ctx.csim.overflow),
        estimate=ctx.estimate,
        fit=ctx.fit,
        synthesis=ctx.synthesis,
        rtl=ctx.rtl,
        rtl_sim=ctx.rtl_sim,
        gates=ctx.gates,
        pnr=ctx.pnr,
        cache=ctx.cache,
        artifacts=_artifacts(ctx),
        timings_s=ctx.timings,
        toolchain=current_toolchain(),
        config=cfg,
    )


def _artifacts(ctx: BuildContext) -> dict[str, str]:
    run_dir = ctx.run_dir
    found = {
        "run_dir": run_dir, "summary": run_dir / rundir.SUMMARY_NAME, "dashboard": run_dir / rundir.RUN_PAGE_NAME,
        "hls_config": run_dir / rundir.HLS_CONFIG_NAME, "hls_project": ctx.project.output_dir,
        "csim_library": ctx.compiled.library, "testbench_log": ctx.testbench.run.log,
        "testbench_results": ctx.testbench.run.results_file, "closure_plot": ctx.closure_plot,
        "rtl_dir": None if ctx.rtl is None else run_dir / RTL_DIR,
    }
    return {name: str(path) for name, path in found.items() if path is not None}


def _check(value: float, threshold: float) -> Check:
    return Check(value=value, threshold=threshold, passed=value >= threshold)


def fit_check(ctx: BuildContext) -> BudgetCheck | None:
    """The design against the board: the estimate's figures, or on a board without a vendor
    HLS flow (ECP5) the RTL's (:func:`rtl_fit_check`), None without them."""
    if ctx.board.hls_vendor_flow:
        return budget_check(ctx.estimate, ctx.board, ctx.config.fit_budget)
    return rtl_fit_check(ctx.rtl, ctx.gates, ctx.board, ctx.config.fit_budget)


def rtl_fit_check(rtl: RTLRecord | SkippedStage | None, gates: GateRecord | SkippedStage | None, board: Board,
                  budget: float) -> BudgetCheck | None:
    """The RTL against an ECP5 board (:func:`fpga_flow.rtl.fit_ecp5.rtl_budget`): yosys'
    counts, or da4ml's estimate when that lower bound is already over; None when the RTL
    was not synthesized and its estimate does not decide."""
    fields = rtl_budget(rtl, gates, board, budget)
    return None if fields is None else BudgetCheck(**fields)


def run_verdict(checks: Checks, board: str, synthesis: SynthesisResult | None) -> str:
    """The summary's verdict line, with the note that the fit was not checked (``fit_not_checked``:
    a board without a vendor HLS flow whose RTL was not synthesized)."""
    return "; ".join(filter(None, (verdict(checks, board, synthesis), checks.fit_not_checked)))


def budget_check(estimate: Estimate, board: Board, budget: float) -> BudgetCheck:
    """The build's estimate against the board (every build, fitted or not): its largest
    resource share within ``budget``, by the fit's own rule (:func:`fpga_flow.fit.budget_share`)."""
    used = {key: estimate.resources[key] for key in ESTIMATED_RESOURCE_KEYS}
    available = {key: getattr(board.resources, key) for key in ESTIMATED_RESOURCE_KEYS}
    binding, share, fits = budget_share(used, available, budget)
    return BudgetCheck(value=round(share, 4), threshold=budget, passed=fits, resource=binding,
                       estimate_error=estimate.error_of(binding))


def _target_check(fit: FitResult | None) -> Check | None:
    """With the fit's --target-latency: the chosen plan's latency (ns) within it."""
    target = None if fit is None else fit.request.target_latency_ns
    if target is None:
        return None
    return Check(value=fit.chosen.latency_ns, threshold=target, passed=bool(fit.target_met))


def rtl_check(rtl_sim: RTLSimRecord | SkippedStage | None) -> Check | None:
    """The RTL's word agreement with the C-simulation as a check, when the simulation ran."""
    if not isinstance(rtl_sim, RTLSimRecord):
        return None
    return _check(rtl_sim.word_agreement, REQUIRED_WORD_AGREEMENT)


def pnr_checks(pnr: PnRRecord | SkippedStage | None) -> dict[str, Check]:
    """Place and route's checks: the achieved Fmax at least the clock, and the board top
    level's words equal to the C-simulation's (each when it ran)."""
    if not isinstance(pnr, PnRRecord):
        return {}
    checks = {"pnr_fmax": Check(value=pnr.achieved_mhz or 0.0, threshold=pnr.target_mhz, passed=pnr.timing_met)}
    if pnr.top_sim.word_agreement is not None:
        checks["top_word_agreement"] = _check(pnr.top_sim.word_agreement, REQUIRED_WORD_AGREEMENT)
    return checks
