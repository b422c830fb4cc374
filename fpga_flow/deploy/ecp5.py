"""``fpga-flow deploy RUN`` for an ECP5 run (``--rtl --pnr``): a bundle of the bitstream,
the command that programs the board, and a host script that checks the board over serial.

The bundle (default ``RUN_DIR/bundle``)::

    bundle.json                  what is in it, and where it came from (written last)
    fpga_flow_top.bit            ecppack's bitstream of the board top level
    program.sh                   the programming command (openFPGALoader -b BOARD ...)
    check_serial.py              the evaluation set over serial against the C-simulation's words
    frame.json                   the serial framing: bytes per word and per sample, baud rate
    data/input.bin               the evaluation samples' bytes, as sent
    data/expected_output.bin     the C-simulation's output words, as the board must send them
    sim/top_sim (+ ROM files)    the Verilator model of the top level (check_serial.py --simulate)
    rtl/                         the top level's Verilog and the board's pin constraints (LPF)

Everything is copied from the run's ``rtl/ecp5/``, where the ``pnr`` stage left it after
checking the top level's simulation word for word against the C-simulation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from fpga_flow import rundir
from fpga_flow.boards import get_board
from fpga_flow.deploy.run_record import read_run
from fpga_flow.errors import UserInputError
from fpga_flow.rtl.records import PnRRecord
from fpga_flow.rtl.top import LPF_FILE, TOP_FILE
from fpga_flow.rtl.topsim import EXPECTED_BYTES, FRAME_JSON, INPUT_BYTES, SIM_DIR
from fpga_flow.summary import read_summary

HOST_SCRIPT = Path(__file__).resolve().parent / "board" / "check_serial.py"


class ECP5Bundle(BaseModel):
    """``bundle.json`` of an ECP5 bundle."""

    model_config = ConfigDict(extra="forbid")

    kind: str = "ecp5 bitstream"
    run_id: str
    board: str
    part: str
    bitstream: str
    program: str
    achieved_mhz: float | None
    target_mhz: float
    n_samples: int
    top_sim_word_agreement: float | None


def is_open_fpga_run(run_dir: Path) -> bool:
    """True for a run whose board has no vendor flow (an ECP5 run)."""
    summary_path = Path(run_dir) / rundir.SUMMARY_NAME
    return summary_path.is_file() and read_summary(Path(run_dir)).board.family == "ecp5"


def deploy_ecp5(run_dir: Path, out: Path | None, force: bool) -> tuple[Path, ECP5Bundle]:
    """Write the bundle of the passed ECP5 run ``run_dir``; returns its folder and manifest."""
    run = read_run(Path(run_dir))
    pnr = run.summary.pnr
    if not isinstance(pnr, PnRRecord) or pnr.bitstream is None:
        raise UserInputError(f"the run in {run_dir} has no bitstream: build it with --rtl --pnr on an ECP5 board")
    work = Path(pnr.bitstream).parent
    sim = work / SIM_DIR
    if pnr.top_sim.program is None or not (sim / EXPECTED_BYTES).is_file():
        raise UserInputError(f"the run in {run_dir} has no top-level simulation (verilator was missing): "
                             "build again where verilator is installed")
    bundle = Path(out) if out is not None else run.run_dir / "bundle"
    if bundle.exists() and any(bundle.iterdir()):
        if not force:
            raise UserInputError(f"bundle folder {bundle} already exists: choose another --out or add --force to replace it")
        shutil.rmtree(bundle)
    (bundle / "data").mkdir(parents=True)
    (bundle / "rtl").mkdir()
    (bundle / "sim").mkdir()
    bitstream = shutil.copy2(pnr.bitstream, bundle)
    for name in (TOP_FILE, LPF_FILE):
        shutil.copy2(work / name, bundle / "rtl")
    shutil.copy2(sim / INPUT_BYTES, bundle / "data" / "input.bin")
    shutil.copy2(sim / EXPECTED_BYTES, bundle / "data" / "expected_output.bin")
    shutil.copy2(sim / FRAME_JSON, bundle / "frame.json")
    shutil.copy2(pnr.top_sim.program, bundle / "sim" / "top_sim")
    # The simulated ROMs are read from the working directory, as on the board they are in the bitstream.
    for rom in (Path(run.summary.rtl.verilog_dir) / "src" / "memfiles").glob("*.mem"):
        shutil.copy2(rom, bundle / "sim")
    shutil.copy2(HOST_SCRIPT, bundle / "check_serial.py")
    board = run.summary.board.name
    program = f"{get_board(board, run.summary.config.boards_dir).open_fpga.program} {Path(bitstream).name}"
    (bundle / "program.sh").write_text(f"#!/bin/sh\n# Program {board} (volatile: SRAM); add -f to write the "
                                       f"flash.\ncd \"$(dirname \"$0\")\" && {program}\n", encoding="utf-8")
    (bundle / "program.sh").chmod(0o755)
    manifest = ECP5Bundle(run_id=run.summary.run_id, board=board, part=run.summary.board.part,
                          bitstream=Path(bitstream).name, program=program, achieved_mhz=pnr.achieved_mhz,
                          target_mhz=pnr.target_mhz, n_samples=pnr.top_sim.n_samples,
                          top_sim_word_agreement=pnr.top_sim.word_agreement)
    rundir.write_json_atomic(bundle / "bundle.json", json.loads(manifest.model_dump_json()))
    return bundle, manifest
