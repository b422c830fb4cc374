"""The open ECP5 flow, measured: per ECP5 board and zoo model, ``fpga-flow build MODEL --board
BOARD --rtl --pnr`` and what it recorded: synthesis (yosys synth_ecp5), place-and-route
(nextpnr-ecp5) and bitstream (ecppack) times, post-route utilization, achieved Fmax against
the clock, and the board top level's word agreement with the C-simulation (Verilator,
bytes in and bytes out).

    python benchmarks/open_fpga.py [--boards ulx3s-85f,...] [--models mlp_tiny,...]
                                   [--max-samples N] [--runs RUN_DIR ...] [--timeout S] [--json OUT.json]

With --json it also writes the table to docs/measured/open_fpga.md. A model whose RTL
does not fit a board (yosys' counts over the build's budget, the fit on ECP5:
fpga_flow/rtl/fit_ecp5.py; or da4ml's estimate, a lower bound of yosys' count, already over
it, and then yosys is not run) is listed with that verdict and not placed: the WebAssembly
nextpnr did not route a design at 65% of an 85F in 30 minutes here (shared/probes/ecp5),
so the default models are the small ones. --runs tabulates finished runs (built in
parallel, or a model over budget built with --rtl only), old ones included, and unfinished
ones in a ``MODEL_BOARD`` folder (as this script names them): their stage, yosys' counts and
nextpnr's last progress line. --timeout stops a build and its tools after S seconds, so a
place and route that does not converge gives such a row instead of holding the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from fpga_flow.boards import get_board
from fpga_flow.config import DEFAULT_BUDGET
from fpga_flow.records.rtl import RTLRecord
from fpga_flow.rtl.fit_ecp5 import ESTIMATE_SOURCE, rtl_budget
from fpga_flow.rtl.pnr import last_router_progress

REPO = Path(__file__).resolve().parents[1]
MEASURED = REPO / "docs" / "measured" / "open_fpga.md"
DEFAULT_BOARDS = ("ulx3s-85f", "orangecrab-25f", "ecpix5-85f")
DEFAULT_MODELS = ("mlp_tiny",)


def measure(model: str, board: str, max_samples: int, reports: Path, timeout_s: float | None) -> dict:
    """Build MODEL for BOARD with --rtl --pnr, stopped (with its tools) after ``timeout_s``;
    the run's figures, or what an unfinished run got to."""
    out = reports / "runs" / f"{model}_{board}"
    build = subprocess.Popen([sys.executable, "-m", "fpga_flow", "build", model, "--board", board, "--rtl", "--pnr",
                              "--max-samples", str(max_samples), "--out", str(out), "--force",
                              "--reports-dir", str(reports), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=REPO, start_new_session=True,
                             # SIGINT stops it even when this script runs in the background (which ignores SIGINT)
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _, stderr = build.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        # As Ctrl-C: the build kills its running tool (each in its own process group) and
        # marks the run INCOMPLETE; a build that does not stop is killed with its process group.
        build.send_signal(signal.SIGINT)
        try:
            _, stderr = build.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(build.pid, signal.SIGKILL)
            _, stderr = build.communicate()
        stderr += f"\nstopped after {timeout_s:g} s"
    if not (out / "summary.json").is_file():
        note = (stderr.strip().splitlines() or ["no summary"])[-1][:160]
        return {**tabulate(out), "exit": build.returncode, "note": note}
    return {**tabulate(out), "exit": build.returncode}


def unfinished(out: Path) -> dict:
    """What a run stopped before its summary got to (``MODEL_BOARD`` folder, as measure names
    it): the stage, yosys' counts and nextpnr's last progress line."""
    model, _, board = out.name.rpartition("_")  # zoo names hold underscores, catalogue boards none
    stage = (out / "INCOMPLETE").read_text().strip() if (out / "INCOMPLETE").is_file() else "no summary"
    row = {"model": model, "board": board, "status": f"unfinished ({stage})"}
    rtl_file = out / "rtl" / "rtl.json"
    if rtl_file.is_file():
        # da4ml's estimate is known once the RTL is written: when that lower bound of yosys'
        # count is over the budget (this script's builds use the default), the design does not fit.
        rtl = RTLRecord.model_validate_json(rtl_file.read_text())
        row.update({"da4ml_LUT": rtl.estimated_luts, "rtl_s": rtl.seconds})
        bound = rtl_budget(rtl, None, get_board(board), DEFAULT_BUDGET)
        if bound is not None:
            row["fit"] = fit_verdict(bound)
    gates_file = out / "rtl" / "gates.json"
    if gates_file.is_file():
        gates = json.loads(gates_file.read_text())
        use = gates.get("device_use") or {}
        row.update({"synth_s": gates.get("seconds"), "gates_LUT4": gates.get("LUT"), "gates_CCU2C": gates.get("CARRY")})
        if "LUT4" in use:
            row["yosys_LUT4"] = use["LUT4"]["used"]
            row["yosys_LUT4_pct"] = round(100 * use["LUT4"]["used"] / use["LUT4"]["available"], 2)
    where = last_router_progress(out / "rtl" / "ecp5" / "nextpnr.log")
    if where is not None:
        row["note"] = "nextpnr stopped routing: " + where
    return row


def tabulate(out: Path) -> dict:
    """The figures a finished --rtl --pnr run recorded (its own step times)."""
    if not (out / "summary.json").is_file():
        return unfinished(out)
    summary = json.loads((out / "summary.json").read_text())
    row = {"model": summary["model"]["name"], "board": summary["board"]["name"],
           "build_s": summary["timings_s"].get("total"), "rtl_s": summary["timings_s"].get("rtl"),
           "da4ml_LUT": (summary.get("rtl") or {}).get("estimated_luts")}
    gates, pnr, timings = summary.get("gates") or {}, summary.get("pnr") or {}, summary["timings_s"]
    fit = summary["checks"].get("fit_budget") or {}
    row.update({"synth_s": gates.get("seconds"), "gates_LUT4": gates.get("LUT"), "gates_CCU2C": gates.get("CARRY"),
                "status": summary["status"]})
    if gates.get("status") == "done":
        # The fit's LUT4 (fpga_flow/rtl/fit_ecp5.py): LUT4 cells and two per CCU2C carry cell.
        row["yosys_LUT4"] = gates["LUT"] + 2 * gates["CARRY"]
        row["yosys_LUT4_pct"] = round(100 * row["yosys_LUT4"] / summary["board"]["resources"]["LUT"], 2)
    if fit.get("source"):
        row["fit"] = fit_verdict(fit)
    elif summary["checks"].get("fit_not_checked"):
        row["fit"] = "not checked"  # ECP5 without the RTL's counts: the note says why
    if pnr.get("status") != "done":
        row["note"] = pnr.get("reason") or gates.get("reason") or "no place and route"
        return row
    use = pnr["utilization"]
    row.update({
        "pnr_s": pnr["pnr_seconds"], "bitstream_s": pnr["pack_seconds"], "pnr_step_s": timings.get("pnr"),
        "LUT4": use["LUT4"]["used"], "LUT4_pct": round(100 * use["LUT4"]["used"] / use["LUT4"]["available"], 2),
        "FF": use["FF"]["used"], "MULT18": use["MULT18"]["used"], "EBR": use["EBR"]["used"],
        "target_mhz": pnr["target_mhz"], "achieved_mhz": pnr["achieved_mhz"], "timing_met": pnr["timing_met"],
        "top_sim_samples": pnr["top_sim"]["n_samples"], "top_sim_word_agreement": pnr["top_sim"]["word_agreement"],
        "rtl_stages": summary["rtl"]["pipeline_stages"],
    })
    if "yosys_LUT4" in row:
        row["LUT4_pnr_minus_yosys"] = row["LUT4"] - row["yosys_LUT4"]
    return row


def fit_verdict(fit: dict) -> str:
    """The fit check in a few words; ``at least`` when it is da4ml's estimate (yosys not run)."""
    bound = "at least " if fit["source"] == ESTIMATE_SOURCE else ""
    return f"{fit['resource']} {bound}{100 * fit['value']:.0f}% {'fits' if fit['passed'] else 'DOES NOT FIT'}"


COLUMNS = ("model", "board", "status", "fit", "rtl_s", "synth_s", "pnr_s", "bitstream_s", "da4ml_LUT", "yosys_LUT4",
           "yosys_LUT4_pct",
           "LUT4", "LUT4_pct", "LUT4_pnr_minus_yosys", "FF", "MULT18", "EBR", "rtl_stages", "target_mhz", "achieved_mhz",
           "top_sim_word_agreement", "top_sim_samples", "build_s", "note")


def markdown(rows: list[dict], command: str) -> str:
    lines = ["<!-- generated by benchmarks/open_fpga.py; do not edit -->", "",
             f"Measured with `{command}` ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.0f} when "
             "written: times are wall seconds on a shared machine; nextpnr-ecp5 and ecppack from yowasp, WebAssembly; "
             "yosys from Debian). `fit` is the build's verdict from yosys' counts of the RTL (`yosys_LUT4`: LUT4 cells "
             "and two per CCU2C), or `at least` from da4ml's estimate of the RTL (`da4ml_LUT`), a lower bound of "
             "yosys' count, when that alone is over the budget and yosys is not run (fpga_flow/rtl/fit_ecp5.py); "
             "`LUT4`, `FF`, `MULT18`, `EBR`, utilization and Fmax are post-route open-tool figures "
             "(nextpnr's timing model)"
             + ("; `mlp` is tests/test_open_fpga.py's 4-3-2 Keras MLP (6-4-3 before)"
                if any(r.get("model") == "mlp" for r in rows) else "") + ".", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join("" if row.get(c) is None else str(row.get(c)) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", default=",".join(DEFAULT_BOARDS))
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--max-samples", type=int, default=100)
    parser.add_argument("--reports-dir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--runs", type=Path, nargs="*", default=[],
                        help="also tabulate these finished --rtl --pnr runs (built before, e.g. in parallel)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="stop a build (and its nextpnr) after this many seconds; its row says where it got to")
    parser.add_argument("--json", type=Path, default=None, help="write the rows as JSON here, and the Markdown table")
    args = parser.parse_args()
    reports = args.reports_dir or Path(tempfile.mkdtemp(prefix="open_fpga_"))
    rows = [tabulate(run) for run in args.runs]
    for row in rows:
        print(json.dumps(row), flush=True)
    for board in filter(None, args.boards.split(",")):
        for model in filter(None, args.models.split(",")):
            row = measure(model, board, args.max_samples, reports, args.timeout)
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
        MEASURED.parent.mkdir(parents=True, exist_ok=True)
        command = "python benchmarks/open_fpga.py " + " ".join(sys.argv[1:])
        MEASURED.write_text(markdown(rows, command.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
