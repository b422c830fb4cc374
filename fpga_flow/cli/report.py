"""``fpga-flow report``: vendor reports (files, hls4ml project folders, trees of them)
as a table, JSON or CSV, optionally with utilization against a catalogue board."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from fpga_flow import api
from fpga_flow.cli.app import app, console, print_json, user_errors
from fpga_flow.history import default_db_path
from fpga_flow.layers import RESOURCE_KEYS

CSV_COLUMNS = ("path", "kind", "tool", "tool_version", "top", "part", "design_state", "target_clock_ns",
               "estimated_clock_ns", "latency_best_cycles", "latency_avg_cycles", "latency_worst_cycles",
               "latency_worst_ns", "interval_min_cycles", "interval_max_cycles", *RESOURCE_KEYS,
               "LUT_available", "FF_available", "DSP_available", "BRAM_18K_available", "URAM_available",
               "wns_ns", "tns_ns", "timing_met", "fmax_mhz", "cosim_status", "failed_stage", "error")


def _csv_row(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("error"):
        return {"path": record["path"], "error": record["error"]}
    latency, latency_ns = record["latency_cycles"], record["latency_ns"]
    timing, log, cosim = record["timing"], record.get("log") or {}, record.get("cosim") or {}
    row = {key: record.get(key) for key in ("path", "kind", "tool", "tool_version", "top", "part", "design_state",
                                           "target_clock_ns", "estimated_clock_ns")}
    row.update({
        "latency_best_cycles": latency["best"], "latency_avg_cycles": latency["avg"],
        "latency_worst_cycles": latency["worst"], "latency_worst_ns": latency_ns["worst"],
        "interval_min_cycles": record["interval_cycles"]["min"], "interval_max_cycles": record["interval_cycles"]["max"],
        **record["resources"], **{f"{key}_available": value for key, value in record["available"].items()},
        "wns_ns": timing["wns_ns"], "tns_ns": timing["tns_ns"], "timing_met": timing["met"], "fmax_mhz": timing["fmax_mhz"],
        "cosim_status": cosim.get("status"), "failed_stage": log.get("failed_stage"),
    })
    return row


def _shown_path(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _resource_cell(build: dict[str, Any], key: str, board_pct: dict[str, Any] | None) -> str:
    used = build["resources"].get(key)
    if used is None:
        return "-"
    shares = [f"{build['utilization_pct'][key]:.1f}%" if build["utilization_pct"].get(key) is not None else None,
              f"board {board_pct[key]:.1f}%" if board_pct and board_pct.get(key) is not None else None]
    shares = [share for share in shares if share]
    return f"{used:,}" + (f" ({', '.join(shares)})" if shares else "")


def _status_cell(build: dict[str, Any]) -> str:
    if build.get("failed_stage"):
        return f"[red]failed: {build['failed_stage']}[/]"
    cosim = (build.get("cosim") or {}).get("status")
    if cosim is None:
        return "-"
    return cosim if cosim == "Pass" else f"[red]cosim {cosim}[/]"


TABLE_COLUMNS = ("project", "tool", "top / part", "clock ns\ntarget / est.", "latency\ncycles (ns)", "II",
                 *RESOURCE_KEYS, "timing", "cosim / failure")


def _cells(build: dict[str, Any]) -> tuple[str, ...]:
    """One build's values, in the order of TABLE_COLUMNS."""
    latency, latency_ns = build["latency_cycles"], build["latency_ns"]
    if latency["worst"] is not None:
        known_range = latency["best"] is not None and latency["best"] != latency["worst"]
        latency_text = f"{_fmt(latency['best'])}-{_fmt(latency['worst'])}" if known_range else _fmt(latency["worst"])
        latency_text += f" ({_fmt(latency_ns['worst'])})" if latency_ns["worst"] is not None else ""
    else:
        latency_text = "unknown" if build.get("latency_unknown_reason") else "-"
    timing = build["timing"]
    timing_text = "-" if timing["wns_ns"] is None and timing["met"] is None else (
        f"WNS {_fmt(timing['wns_ns'])} {'met' if timing['met'] else 'NOT met' if timing['met'] is False else ''}"
        + (f", {_fmt(timing['fmax_mhz'])} MHz" if timing["fmax_mhz"] else ""))
    board_pct = build.get("board_utilization_pct")
    return (
        _shown_path(build["project"]), " ".join(str(p) for p in (build["tool"], build["tool_version"]) if p) or "-",
        f"{build['top'] or '-'}\n{build['part'] or '-'}",
        f"{_fmt(build['target_clock_ns'])} / {_fmt(build['estimated_clock_ns'])}", latency_text,
        _fmt(build["interval_cycles"]["max"]),
        *(_resource_cell(build, key, board_pct) for key in RESOURCE_KEYS),
        timing_text, _status_cell(build),
    )


def _print_blocks(out: Console, rows: list[tuple[str, ...]]) -> None:
    """One block per build: its project, then a value per line under its column's name.
    What the table says, for a terminal too narrow to hold its columns."""
    for row in rows:
        out.print()
        out.print(f"[bold]{escape(row[0])}[/]", overflow="fold")
        block = Table(show_header=False, box=None, padding=(0, 1, 0, 2))
        block.add_column(no_wrap=True)
        block.add_column(overflow="fold")
        for column, value in zip(TABLE_COLUMNS[1:], row[1:]):
            block.add_row(column.replace("\n", " "), value)
        out.print(block)


PROJECT_WIDTH = 32  # a longer project path folds onto more lines


def _column_widths(rows: list[tuple[str, ...]], available: int) -> list[int] | None:
    """Column widths for the table in ``available`` characters that break no word (the
    project path excepted, which folds at PROJECT_WIDTH), or None when none exist.

    Each column needs at least its longest word and at most its longest line; the box
    adds 3 characters per column (a border and a space either side) and 1 at the end.
    Whatever room is left above the minimum goes to the columns in proportion to what
    they would use unwrapped."""
    columns = list(zip(TABLE_COLUMNS, *rows))
    lines = [[line for cell in column for line in Text.from_markup(cell).plain.split("\n")] for column in columns]
    narrowest = [max(cell_len(word) for line in column for word in line.split() or [""]) for column in lines]
    widest = [max(cell_len(line) for line in column) for column in lines]
    narrowest[0], widest[0] = min(narrowest[0], PROJECT_WIDTH), min(widest[0], PROJECT_WIDTH)
    room = available - (3 * len(columns) + 1)
    if sum(widest) <= room:
        return widest
    if sum(narrowest) > room:
        return None
    spare, wanted = room - sum(narrowest), sum(widest) - sum(narrowest)
    return [low + (high - low) * spare // wanted for low, high in zip(narrowest, widest)]


def _render(builds: list[dict[str, Any]], errors: list[dict[str, Any]], report_count: int, board: str | None) -> None:
    title = (f"{len(builds)} build(s) from {report_count} report file(s)"
             + (f", utilization also against board {board}" if board else ""))
    out = Console()
    rows = [_cells(build) for build in builds]
    widths = _column_widths(rows, out.width) if rows else None
    if widths is not None:
        table = Table(title=title)
        for column, width in zip(TABLE_COLUMNS, widths):
            table.add_column(column, width=width, overflow="fold")
        for row in rows:
            table.add_row(*row)
        out.print(table)
    elif rows:
        out.print(title)
        _print_blocks(out, rows)
    for error in errors:
        console.print(f"[red]unreadable:[/] {error['path']}: {error['error']}", highlight=False, soft_wrap=True)


@app.command()
@user_errors
def report(
    paths: List[Path] = typer.Argument(..., help="Report files, hls4ml project folders, or trees of them."),
    as_json: bool = typer.Option(False, "--json", help="Print every report and every merged build as JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print one CSV row per report file."),
    board: Optional[str] = typer.Option(None, "--board", help="Also give utilization against this catalogue board."),
    boards_dir: Optional[Path] = typer.Option(None, "--boards-dir", help="Folder of extra board YAML files."),
    db: Optional[Path] = typer.Option(None, "--db", help="Run history to record the builds in (default: reports/fpga_flow.db or FPGA_FLOW_DB)."),
    history: bool = typer.Option(True, "--history/--no-history", help="Record each merged build in the run history."),
) -> None:
    """Parse vendor reports (csynth, cosim, export, Vivado utilization/timing/power, HLS
    logs, Intel HLS/oneAPI/Quartus, Catapult) and merge them per project folder.
    Exits 1 when a report file cannot be parsed."""
    found = api.read_reports(paths, board, boards_dir)
    records, errors, builds = found.reports, found.errors, found.builds
    if history:
        found.record(db or default_db_path())
    if as_json:
        print_json({"reports": records + errors, "builds": builds})
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for record in records + errors:
            writer.writerow(_csv_row(record))
    else:
        _render(builds, errors, len(records) + len(errors), found.board)
    if not records and not errors:
        console.print("[yellow]warning:[/] no vendor report files found under the given paths", highlight=False)
    if errors:
        raise typer.Exit(1)
