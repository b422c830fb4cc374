"""``fpga-flow deploy``: a passed build to a bundle for the board, and the board's check
of the bundle back to the run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from fpga_flow.cli.app import app, print_json, run_with_progress, user_errors
from fpga_flow.deploy.bundle import BITSTREAM_STEP, DEPLOY_STEPS, DeployConfig, run_deploy
from fpga_flow.deploy.ecp5 import deploy_ecp5, is_open_fpga_run
from fpga_flow.deploy.record import record_check
from fpga_flow.errors import UserInputError
from fpga_flow.pipeline.driver import titles


@app.command()
@user_errors
def deploy(
    run_dir: Path = typer.Argument(..., help="Run directory of a passed 'fpga-flow build' for a board with an accelerator design."),
    out: Optional[Path] = typer.Option(None, "--out", help="Bundle folder (default: RUN_DIR/bundle)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing bundle folder."),
    bitstream: bool = typer.Option(False, "--bitstream", help="Also build the bitstream/xclbin (needs Vivado HLS and Vivado on PATH)."),
    platform: Optional[str] = typer.Option(None, "--platform", help="Vitis platform of an Alveo card, for --bitstream."),
    record: Optional[Path] = typer.Option(
        None, "--record", metavar="RESULTS.json",
        help="Write no bundle: bring check_on_board.py's results (check_results.json) of RUN_DIR's bundle back "
             "into the run's summary, run page and run history (exit 1 when that check found a differing word)."),
    simulate: bool = typer.Option(False, "--simulate", help="ECP5 runs: after writing the bundle, run its "
                                  "check_serial.py against the Verilator model of the top level."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON; no progress display."),
) -> None:
    """Write a deployment bundle: accelerator project, bitstream script, host driver, the
    C-simulation's words and check_on_board.py. With --record, bring the board's check back."""
    if record is not None:
        given = [flag for flag, value in (("--out", out), ("--force", force), ("--bitstream", bitstream),
                                          ("--platform", platform)) if value]
        if given:
            raise UserInputError(f"--record writes no bundle: leave out {', '.join(given)}")
        _record(run_dir, record, as_json)
        return
    if is_open_fpga_run(run_dir):
        _deploy_ecp5(run_dir, out, force, simulate, as_json)
        return
    if simulate:
        raise UserInputError("--simulate is for ECP5 runs: run the bundle's check_on_board.py --simulate instead")
    cfg = DeployConfig(run_dir=run_dir, out=out, force=force, bitstream=bitstream, platform=platform)
    result = run_with_progress(cfg, titles((*DEPLOY_STEPS, BITSTREAM_STEP)), run_deploy, quiet=as_json)
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
        f"  the run's summary and page note the bundle; {result.history}",
        f"next: cd {result.bundle_dir} && python check_on_board.py --simulate; then README.md for the board",
    ]
    for line in lines:
        typer.echo(line)


def _deploy_ecp5(run_dir: Path, out: Optional[Path], force: bool, simulate: bool, as_json: bool) -> None:
    bundle, manifest = deploy_ecp5(run_dir, out, force)
    check = None
    if simulate:
        check = subprocess.run([sys.executable, "check_serial.py", "--simulate"], cwd=bundle, capture_output=True,
                               text=True)
    if as_json:
        print_json({"bundle": str(bundle), "manifest": manifest.model_dump(mode="json"),
                    "simulated_check": None if check is None else check.stdout.strip()})
    else:
        typer.echo(f"bundle: {bundle}")
        typer.echo(f"  bitstream: {manifest.bitstream} ({manifest.achieved_mhz} MHz achieved, "
                   f"{manifest.target_mhz:g} MHz clock)")
        typer.echo(f"  program: {manifest.program}")
        typer.echo(f"  check: python check_serial.py --port /dev/ttyUSB0 ({manifest.n_samples} samples)")
        if check is not None:
            typer.echo(f"  simulated check: {(check.stdout + check.stderr).strip()}")
    if check is not None and check.returncode != 0:
        raise typer.Exit(1)


def _record(run_dir: Path, results: Path, as_json: bool) -> None:
    deployed, history = record_check(run_dir, results)
    check = deployed.board_check.results
    if as_json:
        print_json({"deploy": deployed.model_dump(mode="json"), "history": history})
    else:
        where = "SIMULATED (software stand-in, not the board)" if check.simulated else "on the board"
        typer.echo(f"recorded into {run_dir}: the check of bundle {deployed.bundle_id} {where}")
        typer.echo(f"  output words equal to the C-simulation's: {check.output_words_equal}/{check.output_words} "
                   f"({100.0 * check.word_agreement:.3f}%), latency median {check.latency_median_us:.1f} us, "
                   f"throughput {check.throughput_samples_per_s:.0f} samples/s")
        typer.echo(f"  {history}")
    if not check.passed:
        raise typer.Exit(1)
