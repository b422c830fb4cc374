"""``fpga-flow estimate``: resources and latency of a model on a board in seconds, from the
hls4ml graph alone (nothing compiled, no project written)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from fpga_flow import api
from fpga_flow.cli import options
from fpga_flow.cli.app import app, print_json, user_errors
from fpga_flow.estimate.stage import ESTIMATE_POLICIES
from fpga_flow.layers import ESTIMATED_RESOURCE_KEYS


@app.command()
@user_errors
def estimate(
    model: str = options.MODEL,
    board: str = options.config_option("board", "-b"),
    io_type: Optional[str] = options.IO_TYPE,
    strategy: Optional[str] = options.STRATEGY,
    reuse_factor: Optional[int] = options.REUSE_FACTOR,
    clock_period_ns: Optional[float] = options.CLOCK,
    precision_policy: str = typer.Option(
        "auto", "--precision-policy", help=f"{' or '.join(ESTIMATE_POLICIES)} (closure needs C-simulation: 'build')."),
    weights: Optional[Path] = options.WEIGHTS,
    test_data: Optional[Path] = options.config_option("test_data", help=".npz whose X tunes the 'auto' precisions."),
    epochs: Optional[int] = options.EPOCHS,
    boards_dir: Optional[Path] = options.BOARDS_DIR,
    reports_dir: Path = options.REPORTS_DIR,
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
) -> None:
    """Estimate what C-synthesis and Vivado synthesis would report for MODEL on BOARD, in
    seconds: the model is converted to an hls4ml graph, nothing is compiled or written."""
    # Every parameter but --json is the BuildConfig field of its name.
    fields = {name: value for name, value in locals().items() if name != "as_json"}
    result, _ = api.estimate(**fields)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    render(result, board)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _err(value: float | None) -> str:
    return "" if value is None else f"±{100 * value:.0f}%"


def render(result, board: str, console: Console | None = None) -> None:
    """The estimate as tables whose every name and figure is whole: a table too wide for
    the terminal (an 80-column one) is printed as two, its first column repeated, rather
    than cut to ``q_co…`` (as ``fpga-flow boards`` does)."""
    out = console or Console()
    usage = result.utilization_pct or {}
    rows: dict[str, dict[str, str]] = {}
    for key in ESTIMATED_RESOURCE_KEYS:
        row = {}
        for kind, figures in (("csynth", result.csynth), ("vivado_synth", result.vivado_synth)):
            row[f"{kind}"] = f"{getattr(figures, key):,} ({_pct((usage.get(kind) or {}).get(key))})"
            row[f"{kind} error"] = _err(result.error.get(kind, {}).get(key))
        rows[key] = row
    for name, value in (("latency", result.csynth.latency_cycles), ("interval", result.csynth.interval_cycles)):
        rows[f"{name} (cycles)"] = {"csynth": f"{value:,}", "csynth error": _err(result.error.get("csynth", {}).get(name)),
                                    "vivado_synth": "", "vivado_synth error": ""}
    _whole_tables(out, f"{result.design} on {board} ({result.family}, {result.clock_period_ns:g} ns): {result.model}",
                  "figure", rows, [["csynth", "csynth error"], ["vivado_synth", "vivado_synth error"]])
    layers = {}
    for layer in result.per_layer:
        values = [layer.multipliers, layer.LUT, layer.FF, layer.DSP, layer.BRAM_18K, layer.latency_cycles]
        layers[layer.layer] = {"kind": layer.kind, "strategy": layer.strategy or "", "reuse": str(layer.reuse_factor),
                               **{column: "not priced" if value is None else f"{value:,}"
                                  for column, value in zip(LAYER_FIGURES, values)}}
    _whole_tables(out, "per layer (csynth)", "layer", layers,
                  [["kind", "strategy", "reuse"], list(LAYER_FIGURES)])
    out.print(f"latency {result.csynth.latency_cycles:,} cycles = {result.latency_ns:g} ns; errors are the median "
              "cross-validated errors measured on real report pairs")
    for note in result.scope_notes:
        out.print(f"[yellow]scope:[/] {note}")


LAYER_FIGURES = ("multipliers", *ESTIMATED_RESOURCE_KEYS, "latency")


def _whole_tables(console: Console, title: str, first: str, rows: dict[str, dict[str, str]],
                  groups: list[list[str]]) -> None:
    """One table of every column if it fits the console; else tables of as many whole
    columns as fit, in order, a group of ``groups`` never split unless it alone is too wide."""
    def fits(columns: list[str]) -> bool:
        table = _table(title, first, rows, columns)
        return Measurement.get(console, console.options.update_width(10_000), table).maximum <= console.width

    columns = [column for group in groups for column in group]
    if fits(columns):
        console.print(_table(title, first, rows, columns))
        return
    tables: list[list[str]] = []
    for group in groups:
        for column in group:
            if tables and fits(tables[-1] + [column]) and (column != group[0] or fits(tables[-1] + group)):
                tables[-1].append(column)
            else:
                tables.append([column])
    for index, columns in enumerate(tables):
        console.print(_table(title if index == 0 else f"{title}, continued", first, rows, columns))


def _table(title: str, first: str, rows: dict[str, dict[str, str]], columns: list[str]) -> Table:
    table = Table(title=title)
    table.add_column(first, no_wrap=True)
    for column in columns:
        table.add_column(column, no_wrap=True, justify="left" if column in ("kind", "strategy") else "right")
    for name, row in rows.items():
        table.add_row(name, *(row[column] for column in columns))
    return table
