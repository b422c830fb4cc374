"""``fpga-flow rtl RUN_DIR``: the RTL stages (da4ml Verilog, Verilator, yosys) on a finished build."""

from __future__ import annotations

from pathlib import Path

import typer

from fpga_flow import api
from fpga_flow.cli.app import app, console, user_errors
from fpga_flow.cli.build import show_summary


@app.command()
@user_errors
def rtl(
    run_dir: Path = typer.Argument(..., help="The run directory of a finished fpga-flow build."),
    as_json: bool = typer.Option(False, "--json", help="Print the updated summary.json to stdout."),
) -> None:
    """Write RUN_DIR's model as RTL, simulate it against the run's C-simulation and count
    its gates; the run's summary.json and page gain the figures."""

    def progress(step: str, state: str) -> None:
        if state == "start" and not as_json:
            console.print(f"{step} ...", highlight=False)

    show_summary(api.rtl(run_dir, progress), as_json)
