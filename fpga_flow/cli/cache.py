"""``fpga-flow cache info`` and ``fpga-flow cache clear``: the build cache's size and contents."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fpga_flow.cache import BuildCache, default_cache_dir
from fpga_flow.cli import options
from fpga_flow.cli.app import app, console, print_json, user_errors

cache_app = typer.Typer(help="The build cache of precisions and compiled projects (see 'fpga-flow build --cache-dir').",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")

ReportsDir = options.config_option("reports_dir", help="Reports folder holding the default cache.")


def _open(cache_dir: Path | None, reports_dir: Path):
    """The cache, or None when no build has made one there yet."""
    folder = cache_dir or default_cache_dir(reports_dir)
    return BuildCache(folder) if folder.exists() else None


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _size(count: float) -> str:
    units = ("B", "KiB", "MiB", "GiB")
    power = 0
    while count >= 1024 and power < len(units) - 1:
        count, power = count / 1024, power + 1
    return f"{count:.0f} B" if power == 0 else f"{count:.1f} {units[power]}"


@cache_app.command("info")
@user_errors
def info(
    cache_dir: Optional[Path] = options.CACHE_DIR,
    reports_dir: Path = ReportsDir,
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Entries, size against the limit ($FPGA_FLOW_CACHE_SIZE), and last use."""
    cache = _open(cache_dir, reports_dir)
    if cache is None:
        folder = cache_dir or default_cache_dir(reports_dir)
        if as_json:
            print_json({"dir": str(folder), "entries": 0, "bytes": 0, "exists": False})
        else:
            typer.echo(f"no build cache at {folder} yet: builds make it")
        return
    figures = cache.info()
    if as_json:
        print_json(figures.to_dict())
        return
    typer.echo(f"cache {figures.folder}")
    typer.echo(f"  {_entries(figures.entries)}, {_size(figures.bytes)} of {_size(figures.max_bytes)} "
               "(least recently used entries go first)")
    for kind, counts in sorted(figures.by_kind.items()):
        typer.echo(f"  {kind}: {_entries(counts['entries'])}, {_size(counts['bytes'])}")
    if figures.unfinished:
        typer.echo(f"  {figures.unfinished} unfinished (being written, or left by a killed build; never read)")
    if figures.newest_use_utc:
        typer.echo(f"  last used {figures.newest_use_utc}, oldest use {figures.oldest_use_utc}")


@cache_app.command("clear")
@user_errors
def clear(
    cache_dir: Optional[Path] = options.CACHE_DIR,
    reports_dir: Path = ReportsDir,
) -> None:
    """Delete every entry that no running build is using."""
    cache = _open(cache_dir, reports_dir)
    if cache is None:
        typer.echo(f"removed 0 entries: no build cache at {cache_dir or default_cache_dir(reports_dir)}")
        return
    result = cache.clear()
    typer.echo(f"removed {_entries(result.removed)}, {_size(result.freed_bytes)}")
    if result.busy:
        console.print(f"[yellow]warning:[/] kept {_entries(len(result.busy))} in use by a running build",
                      highlight=False)
