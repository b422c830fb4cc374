"""Realistic models on real boards with the fitted build: for each model and board, the
plan the fit chose, the estimated utilization and latency, the build time by stage
(fit search, precision closure, compile, C-simulations) and the agreement with Keras;
prints a table (or, with --json, exactly one JSON object), writes
benchmarks/results/realistic.json and docs/measured/realistic.md.

    python benchmarks/realistic.py [--json] [--models tiny_resnet,...] [--boards pynq-z2,...]
                                   [--max-samples 200] [--reports-dir reports] [--timeout 900]
                                   [--runs RUN_DIR ...] [--merge RECORD.json ...]

Each build is ``fpga-flow build MODEL --board BOARD --fit --no-cache`` in a subprocess,
as a user runs it, cold (no build cache), into --runs-dir (kept: ``--runs`` tabulates
them again without rebuilding); zoo recipes are trained beforehand into
REPORTS_DIR/zoo if no export is there (untimed). ``--fit`` is passed explicitly so the
figures are the fitted build's whether or not the fit is the default. A build that
fails is a row naming its last line; a build over ``--timeout`` is a row saying so.
``--merge`` takes the rows of records written before (``--json-out`` of earlier runs, one
model and board each, say), so a long grid can run piece by piece.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from measured import write_readme_block

REPO = Path(__file__).resolve().parents[1]
MODELS = ("tiny_resnet", "conv1d_pulses", "cnn_digits", "lstm_digits", "jet_mlp")
BOARDS = ("pynq-z2", "arty-a7-100t", "zcu102", "alveo-u250")
RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K")
# the build's steps by what this benchmark reports them as
STAGES = {"search": "fit", "closure": "precision", "compile": "compile", "csim": ("csim_bridge", "testbench")}
MEASURED = REPO / "docs" / "measured" / "realistic.md"


def fpga_flow(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fpga_flow", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def last_line(text: str, fallback: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else fallback


def train_if_missing(name: str, reports: Path, timeout: float) -> str | None:
    export = reports / "zoo" / name
    if (export / "metadata.json").is_file():
        return None
    trained = fpga_flow(["train", name, "--out", str(export)], timeout)
    return None if trained.returncode == 0 else last_line(trained.stderr, "training failed")


def stage_seconds(timings: dict[str, float]) -> dict[str, float | None]:
    seconds = {}
    for label, steps in STAGES.items():
        steps = steps if isinstance(steps, tuple) else (steps,)
        ran = [timings[step] for step in steps if step in timings]
        seconds[label] = round(sum(ran), 1) if ran else None
    seconds["total"] = timings.get("total")
    return seconds


def build_row(name: str, board: str, reports: Path, scratch: Path, max_samples: int | None, timeout: float) -> dict:
    out = scratch / f"{name}_{board}"
    args = ["build", name, "--board", board, "--fit", "--no-cache", "--reports-dir", str(reports), "--out", str(out),
            "--force", "--min-agreement", "0", "--json"]
    if max_samples:
        args += ["--max-samples", str(max_samples)]
    start = time.perf_counter()
    try:
        built = fpga_flow(args, timeout)
    except subprocess.TimeoutExpired:
        return {"model": name, "board": board, "error": f"did not finish in {timeout:.0f} s"}
    wall = round(time.perf_counter() - start, 1)
    if not (out / "summary.json").is_file():
        return {"model": name, "board": board, "wall_s": wall, "error": last_line(built.stderr, "no summary")}
    return summary_row(json.loads((out / "summary.json").read_text()), wall, built.returncode)


def summary_row(summary: dict, wall: float | None, exit_code: int | None) -> dict:
    """One row from a fitted build's summary.json."""
    name, board = summary["model"]["name"], summary["board"]["name"]
    fit, estimate = summary.get("fit") or {}, summary["estimate"]
    chosen = fit.get("chosen") or {}
    closure = (summary["precision"].get("closure") or {}).get("realization") or {}
    return {
        "model": name, "board": board, "status": summary["status"], "exit_code": exit_code, "wall_s": wall,
        "io_type": chosen.get("io_type", summary["hls"]["io_type"]),
        "plan": chosen.get("plan", {}), "fits": chosen.get("fits"),
        "utilization_pct": {key: (chosen.get("utilization_pct") or {}).get(key) for key in RESOURCES},
        "peak_pct": chosen.get("peak_pct"), "binding": chosen.get("binding"),
        "latency_ns": chosen.get("latency_ns", estimate.get("latency_ns")),
        "unpriced_layers": estimate.get("unpriced_layers", []),
        "stages_s": stage_seconds(summary["timings_s"]),
        "closure_emulated": closure.get("emulated_iterations"), "closure_compiled": closure.get("compiled_iterations"),
        "csim_agreement": summary["fidelity"]["csim_agreement"],
        "testbench_agreement": summary["fidelity"]["testbench_agreement"],
        "n_eval": summary["data"]["n_eval"],
    }


def table(rows: list[dict]) -> str:
    head = ("| model | board | io type | LUT % | FF % | DSP % | BRAM % | latency | search s | closure s | compile s "
            "| C-sim s | total s | agreement | status |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['board']} | " + " | " * 11 + f"{r['error']} |")
            continue
        u, s = r["utilization_pct"], r["stages_s"]
        cell = lambda v, f=".0f": "-" if v is None else format(v, f)  # noqa: E731
        lines.append(f"| {r['model']} | {r['board']} | {r['io_type']} | " + " | ".join(cell(u[k]) for k in RESOURCES)
                     + f" | {cell(r['latency_ns'])} ns | {cell(s['search'], '.1f')} | {cell(s['closure'], '.1f')} | "
                     f"{cell(s['compile'], '.1f')} | {cell(s['csim'], '.1f')} | {cell(s['total'], '.0f')} | "
                     f"{r['csim_agreement']:.3f} | {r['status']} |")
    return "\n".join(lines)


def plans(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        if r.get("plan"):
            settings = ", ".join(f"{layer} {choice['strategy']}/{choice['reuse_factor']}"
                                 for layer, choice in r["plan"].items())
            lines.append(f"- {r['model']} on {r['board']} ({r['io_type']}): {settings}")
        if r.get("unpriced_layers"):
            lines.append(f"  - not priced by the estimate ({len(r['unpriced_layers'])} layers, so its figures are low): "
                         + ", ".join(r["unpriced_layers"]))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--boards", default=",".join(BOARDS))
    parser.add_argument("--max-samples", type=int, default=200, help="evaluation samples per build")
    parser.add_argument("--reports-dir", type=Path, default=REPO / "reports")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per build")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "benchmarks" / "results" / "realistic_runs",
                        help="where the builds' run directories are kept")
    parser.add_argument("--runs", type=Path, nargs="*", default=[],
                        help="run directories of fitted builds already made, tabulated as they are (before the rest)")
    parser.add_argument("--merge", type=Path, nargs="*", default=[],
                        help="JSON records of earlier runs (--json-out) whose rows are tabulated first")
    parser.add_argument("--json-out", type=Path, default=REPO / "benchmarks" / "results" / "realistic.json")
    args = parser.parse_args()

    rows = [row for record in args.merge for row in json.loads(record.read_text())["rows"]]
    rows += [summary_row(json.loads((run / "summary.json").read_text()), None, None) for run in args.runs]
    for name in filter(None, args.models.split(",")):
        error = train_if_missing(name, args.reports_dir, args.timeout)
        for board in args.boards.split(","):
            row = {"model": name, "board": board, "error": f"training failed: {error}"} if error else \
                build_row(name, board, args.reports_dir, args.runs_dir, args.max_samples, args.timeout)
            rows.append(row)
            if not args.json:
                print(f"{name} on {board}: {row.get('error') or row['status']} ({row.get('wall_s', '-')} s)", flush=True)
    record = {"max_samples": args.max_samples, "load_average": os.getloadavg(), "cpus": os.cpu_count(), "rows": rows}
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(record, indent=1), encoding="utf-8")
    markdown = (f"<!-- generated by benchmarks/realistic.py; do not edit -->\n"
                f"Fitted builds (`fpga-flow build MODEL --board BOARD --fit --no-cache --max-samples "
                f"{args.max_samples}`), cold, on {os.cpu_count()} cores (load average "
                f"{os.getloadavg()[0]:.1f} at the end). Utilization and latency are the fit's estimate of the "
                f"chosen plan; times are the build's own per stage.\n\n{table(rows)}\n\nPlans:\n\n{plans(rows)}\n")
    if args.json:
        MEASURED.parent.mkdir(parents=True, exist_ok=True)
        MEASURED.write_text(markdown, encoding="utf-8")
        write_readme_block(__file__, table(rows))
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
