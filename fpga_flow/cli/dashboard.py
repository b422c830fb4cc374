"""``fpga-flow dashboard``: one static HTML page over run directories or the run history."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from fpga_flow import api
from fpga_flow.cli.app import app, console, user_errors
from fpga_flow.history import default_db_path


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
    # Without RUN_DIRs (or with --db) the run history is read as well.
    history_db = (db or default_db_path()) if db is not None or not run_dirs else None
    page = api.dashboard(run_dirs or [], out, history_db=history_db, title=title, on_warning=warn)
    typer.echo(str(page))


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
