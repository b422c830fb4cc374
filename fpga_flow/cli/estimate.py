"""``fpga-flow estimate``: resources and latency of a model on a board in seconds, from the
hls4ml graph alone (nothing compiled, no project written)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from fpga_flow.cli.app import app, print_json, user_errors
from fpga_flow.cli.build import build_config


@app.command()
@user_errors
def estimate(
    model: str = typer.Argument(..., help="A zoo recipe name, or a model file (.h5, .keras, or .json with --weights)."),
    board: str = typer.Option(..., "--board", "-b", help="Target board (see 'fpga-flow boards')."),
    io_type: Optional[str] = typer.Option(None, "--io-type", help="io_parallel or io_stream (default: the recipe's)."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="Latency or Resource."),
    reuse_factor: Optional[int] = typer.Option(None, "--reuse-factor", help="hls4ml reuse factor (>= 1)."),
    clock: Optional[float] = typer.Option(None, "--clock", help="Clock period in ns (default: the board's)."),
    precision_policy: str = typer.Option("auto", "--precision-policy", help="default or auto (closure needs 'build')."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights .h5 for a .json architecture."),
    test_data: Optional[Path] = typer.Option(None, "--test-data", help=".npz whose X calibrates the 'auto' precisions."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs for a zoo recipe trained on demand."),
    boards_dir: Optional[Path] = typer.Option(None, "--boards-dir", help="Folder of extra board YAML files."),
    reports_dir: Path = typer.Option(Path("reports"), "--reports-dir", help="Where zoo exports live."),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
) -> None:
    """Estimate what C-synthesis and Vivado synthesis would report for MODEL on BOARD."""
    from fpga_flow.estimate import estimate_model

    config = build_config(
        model=model, board=board, io_type=io_type, strategy=strategy, reuse_factor=reuse_factor,
        clock_period_ns=clock, precision_policy=precision_policy, weights=weights, test_data=test_data,
        epochs=epochs, boards_dir=boards_dir, reports_dir=reports_dir, use_cache=False, record_history=False,
    )
    result, _ = estimate_model(config)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    render(result, board)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _err(value: float | None) -> str:
    return "" if value is None else f"±{100 * value:.0f}%"


def render(result, board: str) -> None:
    out = Console()
    table = Table(title=f"{result.design} on {board} ({result.family}, {result.clock_period_ns:g} ns): {result.model}")
    for column in ("figure", "csynth (HLS report)", "error", "vivado_synth (post-synthesis)", "error"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    usage = result.utilization_pct or {}
    for key in ("LUT", "FF", "DSP", "BRAM_18K"):
        cells = []
        for kind, figures in (("csynth", result.csynth), ("vivado_synth", result.vivado_synth)):
            share = (usage.get(kind) or {}).get(key)
            cells += [f"{getattr(figures, key):,} ({_pct(share)})", _err(result.error.get(kind, {}).get(key))]
        table.add_row(key, *cells)
    for name, value in (("latency", result.csynth.latency_cycles), ("interval", result.csynth.interval_cycles)):
        table.add_row(f"{name} (cycles)", f"{value:,}", _err(result.error.get("csynth", {}).get(name)), "", "")
    out.print(table)
    layers = Table(title="per layer (csynth)")
    for column in ("layer", "kind", "strategy", "reuse", "multipliers", "LUT", "FF", "DSP", "BRAM_18K", "latency"):
        layers.add_column(column, justify="left" if column in ("layer", "kind", "strategy") else "right")
    for layer in result.per_layer:
        values = [layer.multipliers, layer.LUT, layer.FF, layer.DSP, layer.BRAM_18K, layer.latency_cycles]
        layers.add_row(layer.layer, layer.kind, layer.strategy, str(layer.reuse_factor),
                       *("not priced" if v is None else f"{v:,}" for v in values))
    out.print(layers)
    out.print(f"latency {result.csynth.latency_cycles:,} cycles = {result.latency_ns:g} ns; errors are the median "
              "cross-validated errors measured on real report pairs")
    for note in result.scope_notes:
        out.print(f"[yellow]outside the validated scope:[/] {note}")
