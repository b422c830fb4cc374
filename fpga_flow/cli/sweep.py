"""``fpga-flow sweep``: build every combination of boards and HLS settings on Dask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from fpga_flow import api
from fpga_flow.cli import options
from fpga_flow.cli.app import app, console, fail, print_json, user_errors
from fpga_flow.config import cli_flag
from fpga_flow.errors import UserInputError
from fpga_flow.sweep import DEFAULT_WORKERS, SWEEP_CSV, SWEEP_JSON, Sweep


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
    model: str = options.MODEL,
    board: str = options.axis_option("board", "pynq-z2,zcu104", "-b"),
    reuse_factor: Optional[str] = options.axis_option("reuse_factor", "1,2,4,8"),
    strategy: Optional[str] = options.axis_option("strategy", "Latency,Resource"),
    io_type: Optional[str] = options.axis_option("io_type", "io_parallel,io_stream"),
    precision_policy: str = options.axis_option("precision_policy", "default,closure"),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes of the local cluster (default 2)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Use a running Dask cluster: tcp://HOST:PORT."),
    out: Optional[Path] = typer.Option(None, "--out", help="Sweep folder (default: REPORTS_DIR/sweeps/MODEL_TIME)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out folder."),
    clock_period_ns: Optional[float] = options.CLOCK,
    min_agreement: float = options.MIN_AGREEMENT,
    target_agreement: float = options.TARGET_AGREEMENT,
    test_data: Optional[Path] = options.TEST_DATA,
    weights: Optional[Path] = options.WEIGHTS,
    input_dist: str = options.INPUT_DIST,
    epochs: Optional[int] = options.EPOCHS,
    max_samples: Optional[int] = options.MAX_SAMPLES,
    boards_dir: Optional[Path] = options.BOARDS_DIR,
    reports_dir: Path = options.REPORTS_DIR,
    cache_dir: Optional[Path] = options.CACHE_DIR,
    use_cache: bool = options.USE_CACHE,
    fit: Optional[bool] = options.config_option(
        "fit", help="Fit each point to its board (its given options are kept) and drop, before building, the points "
                    "whose estimate cannot fit (default: on, except for --strategy distributed_arithmetic points)."),
    budget: Optional[float] = options.BUDGET,
    allow_over_budget: bool = options.ALLOW_OVER_BUDGET,
    target_latency_ns: Optional[float] = options.TARGET_LATENCY,
    as_json: bool = typer.Option(False, "--json", help="Print sweep.json to stdout; no progress lines."),
) -> None:
    """Build MODEL for every combination of the given boards and settings, each point a Dask task."""
    parameters = dict(locals())
    # Besides the axes and the sweep's own options, the parameters are BuildConfig fields every point shares.
    own = ("model", "board", "reuse_factor", "strategy", "io_type", "precision_policy", "workers", "scheduler", "out",
           "force", "as_json")
    shared = {name: value for name, value in parameters.items() if name not in own}
    where = scheduler or f"a local cluster of {workers or DEFAULT_WORKERS} workers"
    planned: list[Sweep] = []

    def on_plan(plan: Sweep) -> None:
        planned.append(plan)
        if not as_json:
            console.print(f"sweep {plan.sweep_id}: {len(plan.points)} points on {where}; folder {plan.folder}",
                          highlight=False)

    def on_point(row, finished: int, total: int) -> None:
        if as_json:
            return
        if row.status == "dropped":
            verdict = f"[yellow]dropped before building[/]: {row.error}"
        elif row.error:
            verdict = f"[red]{row.status}[/]: {row.error}"
        else:
            agreement = "n/a" if row.csim_agreement is None else f"{100 * row.csim_agreement:.2f}%"
            verdict = f"{'[green]' if row.status == 'passed' else '[red]'}{row.status}[/], agreement {agreement}"
        console.print(f"[{finished}/{total}] {row.point}: {verdict} ({row.seconds or 0:.0f} s)", highlight=False)

    try:
        result = api.sweep(
            model, _values(cli_flag("board"), board), _values(cli_flag("reuse_factor"), reuse_factor, int),
            _values(cli_flag("strategy"), strategy), _values(cli_flag("io_type"), io_type),
            _values(cli_flag("precision_policy"), precision_policy), workers=workers, scheduler=scheduler,
            force=force, on_plan=on_plan, on_point=on_point, out=out, **shared)
    except KeyboardInterrupt:
        if not planned:
            raise
        raise fail(f"interrupted: finished points are kept in {planned[0].folder / SWEEP_JSON}; "
                   "unfinished ones are marked INCOMPLETE", 130) from None
    plan = planned[0]
    dropped = result.counts.get("dropped", 0)
    if as_json:
        print_json(json.loads((plan.folder / SWEEP_JSON).read_text(encoding="utf-8")))
    else:
        render_table(result.rows, plan.sweep_id)
        console.print(f"table: {plan.folder / SWEEP_CSV}\ndashboard: {result.dashboard}", highlight=False)
        if dropped:
            console.print(f"the fit dropped {dropped} of {len(plan.points)} points before building them (the table "
                          "says why: an estimate that cannot fit the board, or a reuse factor hls4ml would change)",
                          highlight=False)
    if dropped == len(plan.points):
        raise fail(f"no point was built: the fit dropped all {dropped} (the table says why)", 1)
    # The build's rule for each point: over the budget passes only with --allow-over-budget.
    accepted = ("passed", "dropped", "does_not_fit") if allow_over_budget else ("passed", "dropped")
    if any(row.status not in accepted for row in result.rows):
        raise typer.Exit(1)


def render_table(rows: list, sweep_id: str) -> None:
    table = Table(title=f"sweep {sweep_id} (resources and latency: estimate of the csynth report)")
    table.add_column("point", overflow="fold")
    table.add_column("status")
    for column in ("agreement", "LUT", "DSP", "BRAM_18K", "latency ns", "cached"):
        table.add_column(column, justify="right")

    def num(value) -> str:
        return "-" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"

    for row in sorted(rows, key=lambda r: r.point):
        table.add_row(
            row.point, row.status, "-" if row.csim_agreement is None else f"{100 * row.csim_agreement:.2f}%",
            num(row.est_LUT), num(row.est_DSP), num(row.est_BRAM_18K), num(row.est_latency_ns),
            {True: "yes", False: "no"}.get(row.cache_hit, "-"),
        )
    Console().print(table)
