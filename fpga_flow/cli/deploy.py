"""``fpga-flow deploy``: a passed build to a bundle for the board."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from fpga_flow.cli.app import app, print_json, run_with_progress, user_errors


@app.command()
@user_errors
def deploy(
    run_dir: Path = typer.Argument(..., help="Run directory of a passed 'fpga-flow build' for a board with an accelerator design."),
    out: Optional[Path] = typer.Option(None, "--out", help="Bundle folder (default: RUN_DIR/bundle)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing bundle folder."),
    bitstream: bool = typer.Option(False, "--bitstream", help="Also build the bitstream/xclbin (needs Vivado HLS and Vivado on PATH)."),
    platform: Optional[str] = typer.Option(None, "--platform", help="Vitis platform of an Alveo card, for --bitstream."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON; no progress display."),
) -> None:
    """Write a deployment bundle: accelerator project, bitstream script, host driver, the
    C-simulation's words and check_on_board.py."""
    from fpga_flow.deploy.bundle import DEPLOY_STEPS, DeployConfig, run_deploy

    cfg = DeployConfig(run_dir=run_dir, out=out, force=force, bitstream=bitstream, platform=platform)
    titles = {name: title for name, title, _ in DEPLOY_STEPS} | {"bitstream": "Building the bitstream (Vivado)"}
    result = run_with_progress(cfg, titles, run_deploy, quiet=as_json)
    if as_json:
        print_json(result.to_dict())
        return
    m = result.manifest
    lines = [
        f"bundle: {result.bundle_dir}",
        f"  input:  {m.input.values_per_sample} values of {m.input.model_type.cpp()} per sample, in {m.input.word_type.width}-bit words",
        f"  output: {m.output.values_per_sample} values of {m.output.model_type.cpp()} per sample, in {m.output.word_type.width}-bit words",
        f"  {m.n_samples} evaluation samples: the bundle's C-simulation equals the run's on all "
        f"{m.provenance.csim_values_matched} output values",
        f"  overlay: {result.overlay}" if result.overlay else
        f"  overlay: not built (bash {result.bundle_dir / 'build_bitstream.sh'} where Vivado is installed, or --bitstream)",
        f"next: cd {result.bundle_dir} && python check_on_board.py --simulate; then README.md for the board",
    ]
    for line in lines:
        typer.echo(line)
