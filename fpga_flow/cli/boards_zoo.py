"""``fpga-flow boards``, ``fpga-flow zoo`` and ``fpga-flow train``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fpga_flow.boards import load_boards
from fpga_flow.cli import options
from fpga_flow.cli.app import app, print_json, user_errors
from fpga_flow.layers import RESOURCE_KEYS
from fpga_flow.train import train_recipe
from model_zoo import get_recipe, recipes


@app.command()
@user_errors
def boards(
    as_json: bool = typer.Option(False, "--json", help="Print the catalogue as JSON."),
    boards_dir: Optional[Path] = options.BOARDS_DIR,
) -> None:
    """List the board catalogue: part, clock, resources and hls4ml backend."""
    catalogue = load_boards(boards_dir)
    if as_json:
        print_json([board.model_dump() for board in catalogue.values()])
        return
    rows = {board.name: {"part": board.part, "backend": board.backend if board.hls_vendor_flow else "nextpnr",
                         "clock ns": f"{board.clock_period_ns:g}",
                         **{key: f"{getattr(board.resources, key):,}" for key in RESOURCE_KEYS}}
            for board in catalogue.values()}
    console = Console()
    # ECP5 boards: resources in the device's units, the build's figures from the open tools.
    note = ("nextpnr: Lattice ECP5, open tools (--rtl --pnr); hls4ml's Vivado backend writes the C-simulation "
            "only. Their LUT = LUT4, DSP = MULT18, BRAM_18K = EBR."
            if any(not board.hls_vendor_flow for board in catalogue.values()) else None)
    whole = _board_table(f"{len(catalogue)} boards", rows, list(next(iter(rows.values()))))
    if Measurement.get(console, console.options.update_width(10_000), whole).maximum <= console.width:
        console.print(whole)
        if note:
            console.print(note)
        return
    # Too narrow for one table (an 80-column terminal): the device, then its resources,
    # each table whole, rather than every name and number cut short.
    console.print(_board_table(f"{len(catalogue)} boards: device", rows, ["part", "backend", "clock ns"]))
    console.print(_board_table("resources", rows, list(RESOURCE_KEYS)))
    if note:
        console.print(note)


def _board_table(title: str, rows: dict[str, dict[str, str]], columns: list[str]) -> Table:
    table = Table(title=title)
    table.add_column("board", no_wrap=True)
    for column in columns:
        table.add_column(column, no_wrap=True, justify="left" if column in ("part", "backend") else "right")
    for name, row in rows.items():
        table.add_row(name, *(row[column] for column in columns))
    return table


@app.command()
@user_errors
def zoo(as_json: bool = typer.Option(False, "--json", help="Print the recipes as JSON.")) -> None:
    """List the model zoo recipes."""
    found = recipes()
    if as_json:
        print_json([recipe.describe() for recipe in found.values()])
        return
    table = Table(title=f"{len(found)} recipes")
    for column in ("recipe", "family", "epochs", "io type", "description"):
        table.add_column(column)
    for recipe in found.values():
        table.add_row(recipe.name, recipe.family, str(recipe.training.epochs), recipe.hls.io_type, recipe.description)
    Console().print(table)


@app.command()
@user_errors
def train(
    recipe: str = typer.Argument(..., help="A zoo recipe name (see 'fpga-flow zoo')."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Training epochs (default: the recipe's)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Export folder (default: reports/zoo/RECIPE)."),
    as_json: bool = typer.Option(False, "--json", help="Print the export's metadata as JSON."),
) -> None:
    """Train a zoo recipe with quantization-aware training and export it."""
    chosen = get_recipe(recipe)
    out = out or Path("reports") / "zoo" / chosen.name
    total = epochs or chosen.training.epochs
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), disable=as_json, transient=False) as bar:
        task = bar.add_task(f"training {chosen.name}", total=total)
        trained = train_recipe(
            chosen, out, epochs=epochs,
            on_epoch=lambda epoch, n, logs: bar.update(
                task, completed=epoch, description=f"training {chosen.name} (val acc {logs.get('val_accuracy', 0):.3f})"),
        )
    if as_json:
        print_json({"recipe": trained.recipe, "export_dir": str(trained.export_dir), "epochs": trained.epochs,
                    "test_accuracy": trained.test_accuracy, "model": str(trained.model_path), "data": str(trained.data_path)})
        return
    Console().print(f"[green]trained[/] {trained.recipe}: test accuracy {trained.test_accuracy:.4f} "
                    f"in {trained.train_seconds:.1f} s -> {trained.export_dir}")
