"""``fpga-flow dashboard``: one static HTML page over run directories or the run history."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from fpga_flow.cli.app import app, console, user_errors


@app.command()
@user_errors
def dashboard(
    run_dirs: Optional[List[Path]] = typer.Argument(None, help="Run directories or trees of them (e.g. reports/)."),
    db: Optional[Path] = typer.Option(None, "--db", help="Read runs from this history database (default with no RUN_DIRs: reports/fpga_flow.db)."),
    out: Path = typer.Option(Path("reports/dashboard"), "--out", help="Folder for index.html."),
) -> None:
    """Write a self-contained HTML dashboard of runs."""
    from fpga_flow.dashboard import collect_runs, write_dashboard
    from fpga_flow.history import RunHistory, default_db_path

    if run_dirs:
        summaries, warnings = collect_runs(list(run_dirs))
    else:
        path = db or default_db_path()
        summaries, warnings = RunHistory(path).runs(), []
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    page = write_dashboard(summaries, out)
    console.print(f"{len(summaries)} run(s) -> [bold]{page}[/]", highlight=False)
    typer.echo(str(page))
