"""``fpga-flow estimate``: resources and latency of a model on a board in seconds, from the
hls4ml graph alone (nothing compiled, no project written)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from fpga_flow.cli import options
from fpga_flow.cli.app import app, print_json, user_errors
from fpga_flow.config import build_config
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
    from fpga_flow.estimate import estimate_model

    result, _ = estimate_model(build_config(**fields, use_cache=False, record_history=False))
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
    for key in ESTIMATED_RESOURCE_KEYS:
        cells = []
        for kind, figures in (("csynth", result.csynth), ("vivado_synth", result.vivado_synth)):
            share = (usage.get(kind) or {}).get(key)
            cells += [f"{getattr(figures, key):,} ({_pct(share)})", _err(result.error.get(kind, {}).get(key))]
        table.add_row(key, *cells)
    for name, value in (("latency", result.csynth.latency_cycles), ("interval", result.csynth.interval_cycles)):
        table.add_row(f"{name} (cycles)", f"{value:,}", _err(result.error.get("csynth", {}).get(name)), "", "")
    out.print(table)
    layers = Table(title="per layer (csynth)")
    for column in ("layer", "kind", "strategy", "reuse", "multipliers", *ESTIMATED_RESOURCE_KEYS, "latency"):
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
