"""``fpga-flow sweep``: build every combination of boards and HLS settings on Dask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from fpga_flow.cli.app import app, console, fail, print_json, user_errors
from fpga_flow.errors import UserInputError


def _values(option: str, text: str | None, convert=str) -> list:
    """``"1,2,4"`` -> ``[1, 2, 4]``; no option -> ``[None]`` (the recipe's or board's default)."""
    if text is None:
        return [None]
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise UserInputError(f"{option}: give comma-separated values, e.g. {option} 1,2,4")
    try:
        return [convert(item) for item in items]
    except ValueError:
        raise UserInputError(f"{option}: '{text}' is not a comma-separated list of whole numbers") from None


@app.command()
@user_errors
def sweep(
    model: str = typer.Argument(..., help="A zoo recipe name, or a model file (.h5, .keras, or .json with --weights)."),
    board: str = typer.Option(..., "--board", "-b", help="Boards, comma-separated (see 'fpga-flow boards')."),
    reuse_factor: Optional[str] = typer.Option(None, "--reuse-factor", help="Reuse factors, e.g. 1,2,4,8."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="Latency,Resource or one of them."),
    io_type: Optional[str] = typer.Option(None, "--io-type", help="io_parallel,io_stream or one of them."),
    precision_policy: str = typer.Option("closure", "--precision-policy", help="Any of default,auto,closure."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes of the local cluster (default 2)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Use a running Dask cluster: tcp://HOST:PORT."),
    out: Optional[Path] = typer.Option(None, "--out", help="Sweep folder (default: REPORTS_DIR/sweeps/MODEL_TIME)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out folder."),
    clock: Optional[float] = typer.Option(None, "--clock", help="Clock period in ns (default: each board's)."),
    min_agreement: float = typer.Option(0.99, "--min-agreement", help="A point below this C-sim/Keras agreement fails its check."),
    target_agreement: float = typer.Option(0.999, "--target-agreement", help="Agreement the closure aims for."),
    test_data: Optional[Path] = typer.Option(None, "--test-data", help=".npz with X (and optionally y) for a model file."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights .h5 for a .json architecture."),
    input_dist: str = typer.Option("normal", "--input-dist", help="Synthetic inputs when no --test-data: normal or uniform."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs for a zoo recipe trained on demand."),
    max_samples: Optional[int] = typer.Option(None, "--max-samples", help="Use at most this many evaluation samples."),
    boards_dir: Optional[Path] = typer.Option(None, "--boards-dir", help="Folder of extra board YAML files."),
    reports_dir: Path = typer.Option(Path("reports"), "--reports-dir", help="Root of sweeps, zoo exports and history."),
    cache_dir: Optional[Path] = typer.Option(
        None, "--cache-dir", help="Build cache folder (default: $FPGA_FLOW_CACHE_DIR or REPORTS_DIR/cache)."),
    use_cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse and store precisions and compiled projects."),
    as_json: bool = typer.Option(False, "--json", help="Print sweep.json to stdout; no progress lines."),
) -> None:
    """Build MODEL for every combination of the given boards and settings, each point a Dask task."""
    from fpga_flow.sweep import DEFAULT_WORKERS, SWEEP_CSV, SWEEP_JSON, plan_sweep, run_sweep

    plan = plan_sweep(
        model, _values("--board", board), _values("--reuse-factor", reuse_factor, int),
        _values("--strategy", strategy), _values("--io-type", io_type),
        _values("--precision-policy", precision_policy), out=out,
        clock_period_ns=clock, min_agreement=min_agreement, target_agreement=target_agreement, test_data=test_data,
        weights=weights, input_dist=input_dist, epochs=epochs, max_samples=max_samples, boards_dir=boards_dir,
        reports_dir=reports_dir, cache_dir=cache_dir, use_cache=use_cache,
    )
    where = scheduler or f"a local cluster of {workers or DEFAULT_WORKERS} workers"
    if not as_json:
        console.print(f"sweep {plan.sweep_id}: {len(plan.points)} points on {where}; folder {plan.folder}", highlight=False)

    def on_point(row: dict, finished: int, total: int) -> None:
        if as_json:
            return
        if row["error"]:
            verdict = f"[red]{row['status']}[/]: {row['error']}"
        else:
            agreement = "n/a" if row["csim_agreement"] is None else f"{100 * row['csim_agreement']:.2f}%"
            verdict = f"{'[green]' if row['status'] == 'passed' else '[red]'}{row['status']}[/], agreement {agreement}"
        console.print(f"[{finished}/{total}] {row['point']}: {verdict} ({row['seconds']:.0f} s)", highlight=False)

    try:
        result = run_sweep(plan, workers=workers, scheduler=scheduler, force=force, on_point=on_point)
    except KeyboardInterrupt:
        raise fail(f"interrupted: finished points are kept in {plan.folder / SWEEP_JSON}; "
                   "unfinished ones are marked INCOMPLETE", 130) from None
    if as_json:
        print_json(json.loads((plan.folder / SWEEP_JSON).read_text(encoding="utf-8")))
    else:
        render_table(result.rows, plan.sweep_id)
        console.print(f"table: {plan.folder / SWEEP_CSV}\ndashboard: {result.dashboard}", highlight=False)
    if any(row["status"] != "passed" for row in result.rows):
        raise typer.Exit(1)


def render_table(rows: list[dict], sweep_id: str) -> None:
    table = Table(title=f"sweep {sweep_id} (resources and latency: first-order estimate)")
    table.add_column("point", overflow="fold")
    table.add_column("status")
    for column in ("agreement", "LUT", "DSP", "BRAM_18K", "latency ns", "cached"):
        table.add_column(column, justify="right")

    def num(value) -> str:
        return "-" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"

    for row in sorted(rows, key=lambda r: r["point"]):
        agreement = row.get("csim_agreement")
        table.add_row(
            row["point"], row["status"], "-" if agreement is None else f"{100 * agreement:.2f}%",
            *(num(row.get(f"est_{key}")) for key in ("LUT", "DSP", "BRAM_18K")), num(row.get("est_latency_ns")),
            {True: "yes", False: "no"}.get(row.get("cache_hit"), "-"),
        )
    Console().print(table)
