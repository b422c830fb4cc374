"""``fpga-flow dashboard``: one static HTML page over run directories or the run history."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from fpga_flow.cli.app import app, console, user_errors


@app.command()
@user_errors
def dashboard(
    run_dirs: Optional[List[Path]] = typer.Argument(
        None, metavar="RUN_DIR",
        help="Run directories, or trees of them such as reports/. Without any, runs come from the run history."),
    db: Optional[Path] = typer.Option(
        None, "--db", metavar="FILE", help="Run history database to read (default without RUN_DIRs: $FPGA_FLOW_DB or reports/fpga_flow.db)."),
    out: Path = typer.Option(Path("reports/dashboard"), "--out", metavar="DIR", help="Folder to write index.html into."),
    title: str = typer.Option("fpga-flow runs", "--title", help="Page title."),
) -> None:
    """Write a self-contained HTML dashboard of runs (works offline) and print its path."""
    from fpga_flow.dashboard import collect_runs, write_dashboard
    from fpga_flow.history import RunHistory, default_db_path

    summaries, warnings = collect_runs(run_dirs or [])
    if db is not None or not run_dirs:
        known = {summary.run_id for summary in summaries}
        recorded = RunHistory(db or default_db_path(), create=False).summaries()
        summaries += [summary for summary in recorded if summary.run_id not in known]
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    page = write_dashboard(summaries, out, title=title, warnings=warnings)
    if not summaries:
        console.print("[yellow]warning:[/] no runs found: the page says the selection is empty", highlight=False)
    typer.echo(str(page))
