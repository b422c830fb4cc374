"""``fpga-flow build``: parse options, run the build (:func:`fpga_flow.api.build_from_config`), render the result."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fpga_flow import api
from fpga_flow.cli import options
from fpga_flow.cli.app import app, fail, print_json, run_with_progress, user_errors
from fpga_flow.config import build_config
from fpga_flow.layers import ESTIMATED_RESOURCE_KEYS
from fpga_flow.pipeline.run_cache import titles


@app.command()
@user_errors
def build(
    model: str = options.MODEL,
    board: str = options.config_option("board", "-b"),
    out: Optional[Path] = options.config_option("out"),
    io_type: Optional[str] = options.IO_TYPE,
    strategy: Optional[str] = options.STRATEGY,
    reuse_factor: Optional[int] = options.REUSE_FACTOR,
    clock_period_ns: Optional[float] = options.CLOCK,
    synth: bool = options.SYNTH,
    rtl: bool = options.RTL,
    pnr: bool = options.PNR,
    pnr_timeout: float = options.PNR_TIMEOUT,
    stage_levels: Optional[int] = options.STAGE_LEVELS,
    min_agreement: float = options.MIN_AGREEMENT,
    precision_policy: str = options.PRECISION_POLICY,
    target_agreement: float = options.TARGET_AGREEMENT,
    test_data: Optional[Path] = options.TEST_DATA,
    weights: Optional[Path] = options.WEIGHTS,
    input_dist: str = options.INPUT_DIST,
    epochs: Optional[int] = options.EPOCHS,
    max_samples: Optional[int] = options.MAX_SAMPLES,
    boards_dir: Optional[Path] = options.BOARDS_DIR,
    reports_dir: Path = options.REPORTS_DIR,
    force: bool = options.config_option("force"),
    cache_dir: Optional[Path] = options.CACHE_DIR,
    use_cache: bool = options.USE_CACHE,
    fit: Optional[bool] = options.FIT,
    budget: Optional[float] = options.BUDGET,
    allow_over_budget: bool = options.ALLOW_OVER_BUDGET,
    target_latency_ns: Optional[float] = options.TARGET_LATENCY,
    as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout; no progress display."),
) -> None:
    """Convert MODEL for BOARD with hls4ml, C-simulate it two ways, and check it against Keras."""
    # Every parameter but --json is the BuildConfig field of its name.
    fields = {name: value for name, value in locals().items() if name != "as_json"}
    # An unchanged rebuild is answered from the run cache before anything heavy is imported.
    show_summary(run_with_progress(build_config(**fields), titles(), api.build_from_config, quiet=as_json), as_json)


def show_summary(summary, as_json: bool) -> None:
    """The summary as JSON on stdout or as the table; exit 1 unless the run passed (or
    only its budget check failed and --allow-over-budget was given)."""
    if as_json:
        print_json(summary.model_dump(mode="json"))
    else:
        render_summary(summary)
    failure = summary.fit.failure() if summary.fit is not None else None
    if failure is not None:
        raise fail(failure, 1)
    if summary.status == "does_not_fit":
        if summary.config.allow_over_budget:
            return
        fix = ("drop --no-fit: the fit chooses a plan that fits" if not summary.config.fit
               else "use a larger board or --budget")
        raise fail(f"{summary.headline()}: {fix}, or add --allow-over-budget to accept it", 1)
    if summary.status != "passed":
        raise typer.Exit(1)


def render_summary(summary) -> None:
    """The summary as a table of the figures a user reads first, then overflow and verdict."""
    out = Console()
    board, hls, fidelity = summary.board, summary.hls, summary.fidelity
    table = Table(title=f"{summary.model.name} on {board.name} ({board.part}, {board.backend})")
    table.add_column("figure")
    table.add_column("value", justify="right")

    def pct(value):
        return "n/a" if value is None else f"{100 * value:.2f}%"

    fit = summary.fit
    layout = (f"{hls.io_type} / per layer, fitted (below)" if fit is not None
              else f"{hls.io_type} / {hls.strategy} / {hls.reuse_factor}")
    rows = [
        ("io type / strategy / reuse", layout),
        ("clock", f"{hls.clock_period_ns:g} ns"),
        ("precision policy", summary.precision.policy),
        ("evaluation data", f"{summary.data.n_eval} samples: {summary.data.origin}"),
        ("Keras accuracy", pct(fidelity.keras_accuracy)),
        ("C-sim accuracy", pct(fidelity.csim_accuracy)),
        ("C-sim agreement (bridge)", pct(fidelity.csim_agreement)),
        ("C-sim agreement (testbench)", pct(fidelity.testbench_agreement)),
        ("max |C-sim - Keras|", f"{fidelity.max_abs_error:.4g}"),
    ]
    closure = summary.precision.closure
    if closure is not None:
        rows.append(("default-config agreement (calibration)", pct(closure.default_agreement_calibration)))
        rows.append(("closure iterations", f"{len(closure.iterations)} ({closure.stopped_because})"))
        if closure.realization is not None:
            realized = closure.realization
            how = f"{realized.emulated_iterations} emulated, {realized.compiled_iterations} compiled"
            rows.append(("closure candidates", how + (f" ({realized.fallback_reason})" if realized.fallback_reason else "")))
    estimate = summary.estimate
    for figures in (estimate.headline, estimate.vivado_synth):
        if figures is None:
            continue
        errors = estimate.error.get(figures.kind, {})
        cells = [f"{getattr(figures, key):,}" + (f" ±{100 * errors[key]:.0f}%" if errors.get(key) is not None else "")
                 for key in ESTIMATED_RESOURCE_KEYS]
        rows.append((f"estimate ({figures.kind}): LUT / FF / DSP / BRAM_18K", " / ".join(cells)))
    latency_error = estimate.error_of("latency")
    rows.append(("estimate: latency", f"{estimate.latency_cycles} cycles = {estimate.latency_ns:g} ns"
                 + (f" ±{100 * latency_error:.0f}%" if latency_error is not None else "")))
    if summary.cache is not None:
        rows.append(("build cache", "hit: precisions and compiled project reused" if summary.cache.hit else "miss: stored"))
    rows += rtl_rows(summary)
    synthesis = summary.synthesis
    rows.append(("synthesis", synthesis.status + (f", {synthesis.reason}" if synthesis.reason else "")))
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    closure = summary.precision.closure
    for limit in (closure.hls4ml_limits if closure is not None else []):
        out.print(f"[yellow]hls4ml limit[/] {limit.layer}: agreement {limit.agreement:.4f} as built, "
                  f"{limit.agreement_if_exact:.4f} with this layer's arithmetic exact (its error "
                  f"{limit.layer_error:.4f} -> {limit.layer_error_if_exact:.4f}): {limit.reason}")
    if fit is not None:
        render_fit(out, fit, by_estimate=summary.checks.fit_by_estimate())
    render_device_fit(out, summary)
    overflowing = {name: info for name, info in summary.precision.overflow.items() if info.overflowed}
    if overflowing:
        for layer, info in overflowing.items():
            out.print(f"[yellow]overflow[/] {layer}: {info.overflowed} of {info.values} values outside {info.type}")
    else:
        out.print("overflow: no Keras value of the evaluation set falls outside its layer's type")
    verdict = f"[{'green' if summary.status == 'passed' else 'red'}]{escape(summary.headline())}[/]"
    required = f"agreement >= {summary.checks.csim_agreement.threshold}"
    if summary.checks.fit_budget is not None:
        required += (f", every resource within {100 * summary.checks.fit_budget.threshold:g}% of the board by "
                     f"{summary.checks.fit_budget.source or 'estimate'}")
    if summary.checks.rtl_word_agreement is not None:
        required += " and the RTL equal to the C-simulation word for word"
    out.print(f"{verdict} ({required} required); run directory {summary.artifacts['run_dir']}", highlight=False)
    out.print(f"dashboard: {summary.artifacts['dashboard']}")


def render_fit(out: Console, fit, by_estimate: bool = True) -> None:
    """The fitted plan: per tuned layer its strategy, reuse factor and estimated cost;
    then the fitted and the unfitted design against the board. On a board whose fit is the
    RTL's (``by_estimate`` False: ECP5) the estimate only chose the HLS plan: its shares of
    the board, AMD/Xilinx figures, are not shown (:func:`render_device_fit` shows the fit)."""
    title = (f"fit: {fit.objective} within {100 * fit.request.budget:g}% of the board " if by_estimate
             else f"HLS plan, priced by the estimate (AMD/Xilinx units; the fit on the board is the RTL's): "
                  f"{fit.objective} ")
    table = Table(title=title + f"({fit.chosen.io_type}; {fit.plans_priced} plans priced in {fit.search_s:.2f} s)")
    # The ParallelizationFactor column only when the plan chose one (io_parallel convolutions).
    factors = any(layer.setting.parallelization_factor is not None for layer in fit.layers)
    for column in ("layer", "strategy", "reuse factor", *(["PF"] if factors else []), *ESTIMATED_RESOURCE_KEYS,
                   "latency (cycles)"):
        table.add_column(column, justify="left" if column in ("layer", "strategy") else "right")
    for layer in fit.layers:
        factor = [str(layer.setting.parallelization_factor or "-")] if factors else []
        table.add_row(layer.layer, layer.setting.strategy, str(layer.setting.reuse_factor), *factor,
                      *(f"{value:,}" if value is not None else "-" for value in
                        (layer.LUT, layer.FF, layer.DSP, layer.BRAM_18K, layer.latency_cycles)))
    out.print(table)
    if not by_estimate:
        return
    for name, point in (("fitted", fit.chosen), ("unfitted", fit.unfitted)):
        shares = ", ".join(f"{key} {pct:.1f}%" for key, pct in point.utilization_pct.items() if pct is not None)
        out.print(f"{name}: {point.io_type}, {shares}, latency {point.latency_ns:g} ns", highlight=False)
    for note in fit.notes:
        out.print(f"note: {note}", highlight=False)


def render_device_fit(out: Console, summary) -> None:
    """On a board whose fit is the RTL's counts (ECP5): each source's figures (yosys, then
    nextpnr post-route with --pnr) against the device in its units; or the line saying the
    fit was not checked, why, and the fix. Nothing on a board whose fit is the estimate's."""
    check = summary.checks.fit_budget
    if summary.checks.fit_not_checked:
        out.print(f"[yellow]{escape(summary.checks.fit_not_checked)}[/]")
        return
    figures = summary.device_fit()
    if check is None or not figures:
        return
    verdict = "fits" if check.passed else "DOES NOT FIT"
    table = Table(title=f"fit on {summary.board.name} within {100 * check.threshold:g}% of the device, "
                        f"by {check.source}: {verdict} ({check.resource} {100 * check.value:.1f}%)")
    table.add_column("resource")
    table.add_column(f"{summary.board.name} has", justify="right")
    for source, _ in figures:
        table.add_column(source, justify="right")
    for unit, use in figures[0][1].items():
        table.add_row(unit, f"{use.available:,}", *(f"{by[unit].used:,} ({by[unit].pct:.1f}%)" if unit in by else "-"
                                                    for _, by in figures))
    out.print(table)


def rtl_rows(summary) -> list[tuple[str, str]]:
    """The RTL stages' figures (nothing when they were not asked for)."""
    if summary.rtl is None:
        return []
    rows = []
    rtl, sim, gates = summary.rtl, summary.rtl_sim, summary.gates
    if rtl.status == "skipped":
        return [("RTL", f"skipped: {rtl.reason}")]
    rows.append(("RTL (da4ml)", f"{rtl.pipeline_stages} stages of {rtl.latency_cutoff} adder levels, "
                                f"{rtl.latency_cycles} cycles"))
    if sim.status == "skipped":
        rows.append(("RTL simulation", f"skipped: {sim.reason}"))
    else:
        rows.append(("RTL = C-sim, word for word", f"{100 * sim.word_agreement:.2f}% of {sim.n_samples} samples"))
        rows.append(("RTL agreement with Keras", f"{100 * sim.argmax_agreement_keras:.2f}%"))
    if gates.status == "skipped":
        rows.append(("open synthesis", f"skipped: {gates.reason}"))
    else:
        rows.append((f"open synthesis (yosys {gates.family}): LUT / FF / CARRY / DSP / BRAM_18K",
                     f"{gates.LUT:,} / {gates.FF:,} / {gates.CARRY:,} / {gates.DSP:,} / {gates.BRAM_18K:,}"))
    return rows + pnr_rows(summary.pnr)


def pnr_rows(pnr) -> list[tuple[str, str]]:
    """The place-and-route figures (``--pnr``): post-route open-tool figures."""
    if pnr is None:
        return []
    if pnr.status == "skipped":
        return [("place and route", f"skipped: {pnr.reason}")]
    use = " / ".join(f"{u.used:,} ({u.pct:.1f}%)" for u in pnr.utilization.values())
    achieved = "n/a" if pnr.achieved_mhz is None else f"{pnr.achieved_mhz:g} MHz"
    sim = pnr.top_sim
    return [(f"post-route (nextpnr {pnr.device}): {' / '.join(pnr.utilization)}", use),
            ("post-route Fmax / clock", f"{achieved} / {pnr.target_mhz:g} MHz"
                                        + ("" if pnr.timing_met else ": MISSED, try --stage-levels lower")),
            ("board top level = C-sim, bytes in/out", "skipped: " + str(sim.reason) if sim.status == "skipped"
             else f"{100 * sim.word_agreement:.2f}% of {sim.n_samples} samples"),
            ("bitstream", pnr.bitstream or "none")]
