"""``fpga-flow build``: parse options, run the build steps, render the result."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from fpga_flow.cli.app import app, console, print_json, user_errors
from fpga_flow.errors import UserInputError


def build_config(**options):
    """The build's configuration from command-line options; a bad value is one line naming the option."""
    from pydantic import ValidationError

    from fpga_flow.build import BuildConfig

    try:
        return BuildConfig(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-")
        raise UserInputError(f"{option}: {first['msg']}") from None


@app.command()
@user_errors
def build(
    model: str = typer.Argument(..., help="A zoo recipe name, or a model file (.h5, .keras, or .json with --weights)."),
    board: str = typer.Option(..., "--board", "-b", help="Target board (see 'fpga-flow boards')."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default: reports/runs/MODEL_BOARD_TIME)."),
    io_type: Optional[str] = typer.Option(None, "--io-type", help="io_parallel or io_stream (default: the recipe's)."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="Latency or Resource."),
    reuse_factor: Optional[int] = typer.Option(None, "--reuse-factor", help="hls4ml reuse factor (>= 1)."),
    clock: Optional[float] = typer.Option(None, "--clock", help="Clock period in ns (default: the board's)."),
    synth: bool = typer.Option(False, "--synth/--no-synth", help="Run vendor synthesis when the tool is on PATH."),
    min_agreement: float = typer.Option(0.99, "--min-agreement", help="Fail (exit 1) below this C-sim/Keras agreement."),
    precision_policy: str = typer.Option("closure", "--precision-policy", help="default, auto or closure."),
    target_agreement: float = typer.Option(0.999, "--target-agreement", help="Agreement the closure aims for."),
    test_data: Optional[Path] = typer.Option(None, "--test-data", help=".npz with X (and optionally y) for a model file."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights .h5 for a .json architecture."),
    input_dist: str = typer.Option("normal", "--input-dist", help="Synthetic inputs when no --test-data: normal or uniform."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs for a zoo recipe trained on demand."),
    max_samples: Optional[int] = typer.Option(None, "--max-samples", help="Use at most this many evaluation samples."),
    boards_dir: Optional[Path] = typer.Option(None, "--boards-dir", help="Folder of extra board YAML files."),
    reports_dir: Path = typer.Option(Path("reports"), "--reports-dir", help="Root of runs, zoo exports and history."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out directory."),
    cache_dir: Optional[Path] = typer.Option(
        None, "--cache-dir", help="Build cache folder (default: $FPGA_FLOW_CACHE_DIR or REPORTS_DIR/cache)."),
    use_cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse and store precisions and compiled projects."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout; no progress display."),
) -> None:
    """Convert MODEL for BOARD with hls4ml, C-simulate it two ways, and check it against Keras."""
    from fpga_flow.build import BUILD_STEPS, run_build

    cfg = build_config(
        model=model, board=board, out=out, io_type=io_type, strategy=strategy, reuse_factor=reuse_factor,
        clock_period_ns=clock, synth=synth, min_agreement=min_agreement, precision_policy=precision_policy,
        target_agreement=target_agreement, test_data=test_data, weights=weights, input_dist=input_dist,
        epochs=epochs, boards_dir=boards_dir, reports_dir=reports_dir, force=force, max_samples=max_samples,
        cache_dir=cache_dir, use_cache=use_cache,
    )
    summary = _run_with_progress(cfg, BUILD_STEPS, run_build, quiet=as_json)
    if as_json:
        print_json(summary)
    else:
        render_summary(summary)
    if summary["status"] != "passed":
        raise typer.Exit(1)


def _run_with_progress(cfg, steps, runner, quiet: bool):
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    titles = {name: title for name, title, _ in steps}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, disable=quiet) as bar:
        tasks = {}

        def progress(step: str, state: str) -> None:
            if state == "start":
                tasks[step] = bar.add_task(titles.get(step, step), total=1)
            elif state == "done":
                bar.update(tasks[step], completed=1, description=f"[green]✓[/] {titles.get(step, step)}")
            else:
                bar.update(tasks[step], description=f"{titles.get(step, step)}: {state}")

        return runner(cfg, progress)


def render_summary(summary: dict) -> None:
    out = Console()
    table = Table(title=f"{summary['model']} on {summary['board']} ({summary['part']}, {summary['backend']})")
    table.add_column("figure")
    table.add_column("value", justify="right")

    def pct(value):
        return "n/a" if value is None else f"{100 * value:.2f}%"

    rows = [
        ("io type / strategy / reuse", f"{summary['io_type']} / {summary['strategy']} / {summary['reuse_factor']}"),
        ("clock", f"{summary['clock_period_ns']:g} ns"),
        ("precision policy", summary["precision_policy"]),
        ("evaluation data", f"{summary['n_test']} samples: {summary['data']}"),
        ("Keras accuracy", pct(summary["keras_accuracy"])),
        ("C-sim accuracy", pct(summary["csim_accuracy"])),
        ("C-sim agreement (bridge)", pct(summary["csim_agreement"])),
        ("C-sim agreement (testbench)", pct(summary["testbench_agreement"])),
        ("max |C-sim - Keras|", f"{summary['max_abs_error']:.4g}"),
    ]
    closure = summary.get("precision_closure")
    if closure:
        rows.append(("default-config agreement (calibration)", pct(closure["default_agreement_calibration"])))
        rows.append(("closure iterations", f"{len(closure['iterations'])} ({closure['stopped_because']})"))
    estimate = summary.get("estimate") or {}
    if estimate:
        res = estimate["resources"]
        rows.append(("estimate: LUT / FF / DSP / BRAM_18K",
                     f"{res['LUT']:,} / {res['FF']:,} / {res['DSP']:,} / {res['BRAM_18K']:,}"))
        rows.append(("estimate: latency", f"{estimate['latency_cycles']} cycles = {estimate['latency_ns']:g} ns"))
    synthesis = summary["synthesis"]
    rows.append(("synthesis", synthesis["status"] + (f", {synthesis['reason']}" if synthesis.get("reason") else "")))
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    overflowing = {k: v for k, v in (summary.get("overflow") or {}).items() if v["overflowed"]}
    if overflowing:
        for layer, info in overflowing.items():
            out.print(f"[yellow]overflow[/] {layer}: {info['overflowed']} of {info['values']} values outside {info['type']}")
    else:
        out.print("overflow: no Keras value of the evaluation set falls outside its layer's type")
    verdict = {"passed": "[green]passed[/]", "check_failed": "[red]check failed[/]",
               "synthesis_failed": "[red]synthesis failed[/]"}[summary["status"]]
    out.print(f"{verdict}: agreement >= {summary['min_agreement']} required; run directory {summary['artifacts']['run_dir']}")
    if "dashboard" in summary["artifacts"]:
        out.print(f"dashboard: {summary['artifacts']['dashboard']}")
