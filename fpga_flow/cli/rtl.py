"""``fpga-flow rtl RUN_DIR``: the RTL stages (da4ml Verilog, Verilator, yosys) on a finished build."""

from __future__ import annotations

from pathlib import Path

import typer

from fpga_flow.cli.app import app, console, user_errors


@app.command()
@user_errors
def rtl(
    run_dir: Path = typer.Argument(..., help="The run directory of a finished fpga-flow build."),
    as_json: bool = typer.Option(False, "--json", help="Print the updated summary.json to stdout."),
) -> None:
    """Write RUN_DIR's model as RTL, simulate it against the run's C-simulation and count
    its gates; the run's summary.json and page gain the figures."""
    from fpga_flow.cli.build import show_summary
    from fpga_flow.rtl.from_run import rtl_on_run

    def progress(step: str, state: str) -> None:
        if state == "start" and not as_json:
            console.print(f"{step} ...", highlight=False)

    show_summary(rtl_on_run(run_dir, progress), as_json)
