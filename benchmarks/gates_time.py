"""The gates stage (yosys) on runs' RTL: wall and CPU seconds, the longest yosys run, and
the count error against a reference synthesis of the same Verilog.

    python benchmarks/gates_time.py RUN [RUN ...] [--reference whole|flat] [--json]

Each RUN is a folder written by ``fpga-flow build --rtl`` (its ``rtl/verilog``). Three
syntheses of the same Verilog, none from an existing cache:

- ``default``: what the build does (``synthesize_gates`` with a fresh cache): wall seconds,
  CPU seconds (user + system of the yosys processes, ``getrusage`` of the children), the
  number of yosys runs and the longest one's CPU (yosys' own ``End of script`` line);
- ``rebuild``: one stage's Verilog edited (a comment appended to the largest), the same
  cache: only that stage's batch runs again;
- the reference: ``whole`` synthesizes the flattened design in one run (the full flow),
  ``flat`` every stage flattened (``hierarchy=False``), for designs where the whole run
  takes too long, ``run`` the counts the build recorded (``RUN/rtl/gates.json``: those of
  the flow the build ran, e.g. an earlier version's); the error is (default - reference) /
  reference per count.

Wall seconds mean something only on an idle machine: the 1-minute load average is recorded
beside them. Results go to ``benchmarks/results/gates_time.json``; with ``--json`` the table
is also written to docs/measured/gates_time.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from measured import markdown_table, write_measured

from fpga_flow.boards import get_board
from fpga_flow.rtl.gates import YOSYS_LOG, synthesize_gates
from fpga_flow.rtl.records import GATES_RECORD, RTL_RECORD, GateRecord, RTLRecord, read_record

REPO = Path(__file__).resolve().parents[1]
KINDS = ("LUT", "FF", "CARRY", "DSP", "BRAM_18K")
_CPU = re.compile(r"End of script\..*CPU: user ([\d.]+)s system ([\d.]+)s")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def yosys_runs(out: Path) -> list[float]:
    """CPU seconds of each yosys run under ``out``, from its log's last line."""
    seconds = []
    for log in out.rglob(YOSYS_LOG):
        match = _CPU.search(log.read_text(encoding="utf-8", errors="replace"))
        if match:
            seconds.append(float(match[1]) + float(match[2]))
    return seconds


def timed(rtl: RTLRecord, board, out: Path, **options) -> dict:
    load = os.getloadavg()[0]
    cpu, start = _children_cpu(), time.perf_counter()
    record = synthesize_gates(rtl, board, out, **options)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    runs = yosys_runs(out)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load": round(load, 2), "yosys_runs": len(runs),
            "longest_run_cpu_s": round(max(runs, default=0.0), 1), "tool": record.tool,
            "cached_modules": record.cached_modules, **{k: getattr(record, k) for k in KINDS}}


def measure(run: Path, reference: str, scratch: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    board = get_board(summary["board"]["name"])
    original = read_record(RTLRecord, run / "rtl" / RTL_RECORD)
    verilog = scratch / "verilog"
    shutil.copytree(original.verilog_dir, verilog)
    rtl = original.model_copy(update={"verilog_dir": str(verilog)})
    cache = scratch / "cache"
    row = {"run": str(run), "model": summary["model"]["name"], "board": board.name, "reference": reference}
    row["default"] = timed(rtl, board, scratch / "default", cache_dir=cache)
    stages = sorted((verilog / "src").glob(f"{rtl.top}_stage*.v"), key=lambda p: p.stat().st_size)
    stages[-1].write_text(stages[-1].read_text() + "\n// edited\n")
    row["rebuild"] = {"edited": stages[-1].stem, **timed(rtl, board, scratch / "rebuild", cache_dir=cache)}
    stages[-1].write_text(stages[-1].read_text().removesuffix("\n// edited\n"))
    if reference == "run":  # the counts the build recorded (an earlier flow's, when it ran one), not timed again
        recorded = read_record(GateRecord, run / "rtl" / GATES_RECORD)
        ref = {"cpu_s": None, "tool": recorded.tool, **{k: getattr(recorded, k) for k in KINDS}}
    else:
        ref = timed(rtl, board, scratch / "reference", **({"whole": True} if reference == "whole" else {"hierarchy": False}))
    row["reference_run"] = ref
    row["error"] = {k: round((row["default"][k] - ref[k]) / ref[k], 4) if ref[k] else None for k in KINDS}
    return row


HEADER = ["model", "board", "default wall s", "CPU s", "longest run CPU s", "yosys runs", "load",
          "rebuild (one stage edited) wall s / CPU s", "reference", "reference CPU s", "LUT", "LUT error", "FF",
          "FF error", "CARRY error", "DSP error"]
INTRO = ("`python benchmarks/gates_time.py RUN --reference whole|flat|run --json` (2 cores; yosys 0.23). Seconds: "
         "wall, CPU of the yosys processes, and the CPU of the longest yosys run; load: the 1-minute load average "
         "when the synthesis started (wall seconds are a quiet machine's only below about 1.5). Error: the "
         "default's count against the reference's.")


def table_rows(rows: list[dict]) -> list[list[object]]:
    pct = lambda v: "" if v is None else f"{100 * v:+.1f}%"  # noqa: E731
    table = []
    for row in rows:
        d, r, ref, e = row["default"], row["rebuild"], row["reference_run"], row["error"]
        table.append([row["model"], row["board"], d["wall_s"], d["cpu_s"], d["longest_run_cpu_s"], d["yosys_runs"],
                      d["load"], f"{r['wall_s']} / {r['cpu_s']} ({r['yosys_runs']} runs)", row["reference"],
                      ref["cpu_s"] or "", d["LUT"], pct(e["LUT"]), d["FF"], pct(e["FF"]), pct(e["CARRY"]),
                      pct(e["DSP"])])
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders written by fpga-flow build --rtl")
    parser.add_argument("--reference", choices=("whole", "flat", "run"), default="whole",
                        help="whole: the flattened design in one run; flat: every stage flattened; run: the counts "
                             "in RUN/rtl/gates.json (the flow the build ran)")
    parser.add_argument("--json", action="store_true", help="also write docs/measured/gates_time.md")
    parser.add_argument("--json-out", type=Path, default=REPO / "benchmarks" / "results" / "gates_time.json")
    args = parser.parse_args()
    missing = [str(run) for run in args.runs if not (run / "rtl" / RTL_RECORD).is_file()]
    if missing:
        print(f"error: no RTL in {', '.join(missing)}: give run folders of fpga-flow build --rtl", file=sys.stderr)
        return 2
    rows = []
    for run in args.runs:
        with tempfile.TemporaryDirectory() as scratch:
            rows.append(measure(run.resolve(), args.reference, Path(scratch)))
        print(json.dumps(rows[-1]), flush=True)
    # Rows of other runs measured earlier are kept (one command per reference kind).
    earlier = json.loads(args.json_out.read_text()) if args.json_out.is_file() else []
    rows = [r for r in earlier if r.get("run") not in {row["run"] for row in rows}] + rows
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(rows, indent=2))
    if args.json:
        print(f"wrote {write_measured(__file__, INTRO, HEADER, table_rows(rows))}")
    print(markdown_table(HEADER, table_rows(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
