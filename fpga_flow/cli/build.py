"""``fpga-flow build``: parse options, run the build steps, render the result."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from fpga_flow.cli import options
from fpga_flow.cli.app import app, print_json, run_with_progress, user_errors
from fpga_flow.config import build_config


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
    as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout; no progress display."),
) -> None:
    """Convert MODEL for BOARD with hls4ml, C-simulate it two ways, and check it against Keras."""
    # Every parameter but --json is the BuildConfig field of its name.
    fields = {name: value for name, value in locals().items() if name != "as_json"}
    from fpga_flow.build import run_build, step_titles

    summary = run_with_progress(build_config(**fields), step_titles(), run_build, quiet=as_json)
    if as_json:
        print_json(summary.model_dump(mode="json"))
    else:
        render_summary(summary)
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

    rows = [
        ("io type / strategy / reuse", f"{hls.io_type} / {hls.strategy} / {hls.reuse_factor}"),
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
    estimate = summary.estimate
    res = estimate.resources
    rows.append(("estimate: LUT / FF / DSP / BRAM_18K", f"{res['LUT']:,} / {res['FF']:,} / {res['DSP']:,} / {res['BRAM_18K']:,}"))
    rows.append(("estimate: latency", f"{estimate.latency_cycles} cycles = {estimate.latency_ns:g} ns"))
    if summary.cache is not None:
        rows.append(("build cache", "hit: precisions and compiled project reused" if summary.cache.hit else "miss: stored"))
    synthesis = summary.synthesis
    rows.append(("synthesis", synthesis.status + (f", {synthesis.reason}" if synthesis.reason else "")))
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    overflowing = {name: info for name, info in summary.precision.overflow.items() if info.overflowed}
    if overflowing:
        for layer, info in overflowing.items():
            out.print(f"[yellow]overflow[/] {layer}: {info.overflowed} of {info.values} values outside {info.type}")
    else:
        out.print("overflow: no Keras value of the evaluation set falls outside its layer's type")
    verdict = {"passed": "[green]passed[/]", "check_failed": "[red]check failed[/]",
               "synthesis_failed": "[red]synthesis failed[/]"}[summary.status]
    threshold = summary.checks.csim_agreement.threshold
    out.print(f"{verdict}: agreement >= {threshold} required; run directory {summary.artifacts['run_dir']}")
    out.print(f"dashboard: {summary.artifacts['dashboard']}")
