"""Cold build time by stage and the number of full C++ compiles, for a checkout of
fpga-flow: run it on a checkout of main from before the emulator and on this one, then
compare.

    python benchmarks/build_time.py [--checkout DIR] [--label after] [--json]
    python benchmarks/build_time.py --compare benchmarks/results/build_time_before.json \\
        benchmarks/results/build_time_after.json

Each model is built once with ``fpga-flow build`` of the given checkout (its own code on
PYTHONPATH, the same interpreter), with the default closure policy, without the build
cache (cold); zoo recipes are trained once beforehand (with this repository's code) into
a reports folder every run shares, so training is not timed. ``--from-export NAMES``
builds those recipes from their trained export instead (``model.h5`` with
``--test-data data.npz``), so a checkout that does not know a recipe can build it too:
give the same list to both runs. g++ runs through a pass-through wrapper on PATH that
logs every invocation with its duration: a "full compile" is a compile of the network's
top (``myproject.cpp``, hls4ml's or the per-layer split's), and "g++ s" is the wall time of
all invocations. Each row also gives the compile/C-simulation split: the seconds of every
compiled unit (``compiled.json``) and of the two C-simulations.

``--rtl`` builds with ``--rtl`` and adds the RTL stages (rtl, rtl_sim, gates) to the table.
``--rebuild`` also times an unchanged rebuild answered by the run cache (a cached build,
then the same command again, wall time of the second). With ``--json`` the table is also
written as Markdown to docs/measured/build_time.md, with every label measured so far.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "peer_models"
MODELS = ("cnn_digits", "lstm_digits", "KERAS_conv1d_small", "KERAS_conv2d_model", "conv1d_pulses")
STAGES = ("load", "precision", "convert", "compile", "csim_bridge", "testbench", "total")
RTL_STAGES = ("rtl", "rtl_sim", "gates")
TABLE = REPO / "docs" / "measured" / "build_time.md"
WRAPPER = """#!{python}
import os, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call([{gxx!r}, *sys.argv[1:]])
with open({log!r}, "a") as log:
    log.write(repr((time.perf_counter() - start, sys.argv[1:])) + "\\n")
sys.exit(code)
"""


def model_argument(name: str, export: Path | None = None) -> list[str]:
    """``fpga-flow build`` arguments naming a zoo recipe (or its trained ``export``) or a
    shared peer model's files."""
    if export is not None:
        return [str(export / "model.h5"), "--test-data", str(export / "data.npz")]
    folder = SHARED / name
    if not folder.is_dir():
        return [name]
    architecture = sorted(folder.glob("*.json"))
    if architecture:
        return [str(architecture[0]), "--weights", str(sorted(folder.glob("*weights*.h5"))[0])]
    return [str(sorted(folder.glob("*.h5"))[0])]


def run(checkout: Path, args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fpga_flow", *args], cwd=checkout, capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(checkout), "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=timeout)


def measure(checkout: Path, name: str, board: str, reports: Path, scratch: Path, timeout: float,
            from_export: bool = False, rtl: bool = False, rebuild: bool = False) -> dict:
    gxx = shutil.which("g++")
    bin_dir = scratch / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = scratch / f"gxx-{name}.log"
    log.write_text("")
    wrapper = bin_dir / "g++"
    wrapper.write_text(WRAPPER.format(python=sys.executable, gxx=gxx, log=str(log)))
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    export = reports / "zoo" / name
    if not (SHARED / name).is_dir() and not (export / "model.h5").is_file():  # trained once, untimed
        trained = run(REPO, ["train", name, "--out", str(export)], env, timeout)
        if trained.returncode != 0:
            return {"model": name, "error": (trained.stderr.strip().splitlines() or ["training failed"])[-1]}
    log.write_text("")
    out = scratch / f"run-{name}"
    start = time.perf_counter()
    argument = model_argument(name, export if from_export else None)
    built = run(checkout, ["build", *argument, "--board", board, "--reports-dir", str(reports),
                           "--out", str(out), "--force", "--no-cache", "--min-agreement", "0", "--json",
                           *(["--rtl"] if rtl else [])], env, timeout)
    wall = time.perf_counter() - start
    if built.returncode not in (0, 1) or not (out / "summary.json").is_file():
        return {"model": name, "error": (built.stderr.strip().splitlines() or ["no output"])[-1]}
    summary = json.loads((out / "summary.json").read_text())
    calls = [ast.literal_eval(line) for line in log.read_text().splitlines()]  # (seconds, argv) from the wrapper
    full = [seconds for seconds, argv in calls if "-c" in argv and any(arg.endswith("/myproject.cpp") for arg in argv)]
    compiled = json.loads((out / "hls_project" / "build" / "compiled.json").read_text())
    closure = summary["precision"].get("closure") or {}
    return {
        "model": name + (" (export)" if from_export else ""),
        "wall_s": round(wall, 1),
        "timings_s": {stage: summary["timings_s"].get(stage) for stage in (*STAGES, *(RTL_STAGES if rtl else ()))},
        "units_s": compiled.get("unit_seconds", {}),
        "rebuild_s": unchanged_rebuild(checkout, argument, board, reports, scratch / f"rebuild-{name}", env, timeout)
        if rebuild else None,
        "full_compiles": len(full),
        "gxx_invocations": len(calls),
        "gxx_s": round(sum(seconds for seconds, _ in calls), 1),
        "closure_iterations": len(closure.get("iterations", [])),
        "csim_agreement": summary["fidelity"]["csim_agreement"],
        "testbench_agreement": summary["fidelity"]["testbench_agreement"],
    }


def unchanged_rebuild(checkout: Path, argument: list[str], board: str, reports: Path, folder: Path, env: dict,
                      timeout: float) -> dict | None:
    """Wall seconds of the second of two identical cached builds, and whether the run
    cache answered it (False on a checkout without one)."""
    args = ["build", *argument, "--board", board, "--reports-dir", str(reports), "--cache-dir", str(folder / "cache"),
            "--min-agreement", "0", "--json"]
    for attempt in ("first", "again"):
        start = time.perf_counter()
        done = run(checkout, [*args, "--out", str(folder / attempt)], env, timeout)
        if done.returncode not in (0, 1):
            return None
    seconds = round(time.perf_counter() - start, 2)
    return {"s": seconds, "run_hit": bool((json.loads(done.stdout).get("cache") or {}).get("run_hit"))}


def markdown(records: list[dict]) -> str:
    """Every recorded label's rows as one Markdown table (docs/measured/build_time.md)."""
    stages = [*STAGES, *RTL_STAGES]
    lines = ["<!-- generated by benchmarks/build_time.py; do not edit -->", "",
             "Cold build (no cache) seconds per stage; units: the slowest compiled unit; rebuild: an unchanged "
             "rebuild's wall seconds (run cache).", "",
             "| label | model | " + " | ".join(stages) + " | slowest unit | full compiles | g++ s | rebuild s |",
             "|---|---|" + "---:|" * len(stages) + "---|---:|---:|---:|"]
    for record in records:
        for row in record["models"]:
            if "error" in row:
                lines.append(f"| {record['label']} | {row['model']} | cannot build: {row['error']} |")
                continue
            cells = " | ".join("" if row["timings_s"].get(s) is None else f"{row['timings_s'][s]:.1f}" for s in stages)
            unit = max(row.get("units_s", {}).items(), key=lambda item: item[1], default=("", 0))
            rebuild = row.get("rebuild_s")
            if isinstance(rebuild, dict):
                rebuild = f"{rebuild['s']}{' (run cache)' if rebuild['run_hit'] else ''}"
            lines.append(f"| {record['label']} | {row['model']} | {cells} | {unit[0]} {unit[1]:.1f} | "
                         f"{row['full_compiles']} | {row['gxx_s']:.0f} | {'' if rebuild is None else rebuild} |")
    return "\n".join(lines) + "\n"


def table(rows: list[dict], label: str) -> str:
    lines = [f"{label}: cold build (no cache), seconds per stage",
             f"{'model':<20}" + "".join(f"{s:>11}" for s in STAGES) + f"{'compiles':>10}{'g++ s':>8}{'agree':>8}"]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['model']:<20} cannot build: {row['error']}")
            continue
        stages = "".join(f"{row['timings_s'][s] or 0:>11.1f}" for s in STAGES)
        lines.append(f"{row['model']:<20}{stages}{row['full_compiles']:>10}{row['gxx_s']:>8.0f}"
                     f"{row['csim_agreement']:>8.3f}")
    return "\n".join(lines)


def compare(before: dict, after: dict) -> str:
    lines = ["before -> after: total s, precision s, full compiles, g++ s, agreement",
             f"{'model':<20}{'total':>17}{'precision':>17}{'compiles':>11}{'g++ s':>15}{'agreement':>17}"]
    old = {row["model"]: row for row in before["models"]}
    for row in after["models"]:
        prior = old.get(row["model"])
        if prior is None or "error" in row or "error" in prior:
            lines.append(f"{row['model']:<20} not comparable")
            continue
        pair = lambda a, b, f: f"{a:{f}} -> {b:{f}}"  # noqa: E731
        lines.append(f"{row['model']:<20}"
                     f"{pair(prior['timings_s']['total'], row['timings_s']['total'], '.0f'):>17}"
                     f"{pair(prior['timings_s']['precision'], row['timings_s']['precision'], '.1f'):>17}"
                     f"{pair(prior['full_compiles'], row['full_compiles'], 'd'):>11}"
                     f"{pair(prior['gxx_s'], row['gxx_s'], '.0f'):>15}"
                     f"{pair(prior['csim_agreement'], row['csim_agreement'], '.3f'):>17}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=REPO, help="the fpga-flow checkout to time (default: this one)")
    parser.add_argument("--label", default="after")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--board", default="alveo-u250")
    parser.add_argument("--reports-dir", type=Path, default=None,
                        help="where zoo recipes are trained (kept between runs; default: a temporary folder)")
    parser.add_argument("--from-export", default="", help="zoo recipes to build from their trained export (comma list)")
    parser.add_argument("--timeout", type=float, default=7200)
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON and write the Markdown table")
    parser.add_argument("--rtl", action="store_true", help="build with --rtl and time the RTL stages (gates: yosys)")
    parser.add_argument("--rebuild", action="store_true", help="also time an unchanged rebuild (run cache)")
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                        help="print the before/after table of two earlier runs and exit")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(path.read_text()) for path in args.compare)
        print(compare(before, after))
        return 0
    checkout = args.checkout.resolve()
    if not (checkout / "fpga_flow").is_dir():
        print(f"error: {checkout} is not an fpga-flow checkout: give --checkout DIR", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        reports = args.reports_dir.resolve() if args.reports_dir else Path(scratch) / "reports"
        for name in args.models.split(","):
            rows.append(measure(checkout, name, args.board, reports, Path(scratch), args.timeout,
                                name in args.from_export.split(","), args.rtl, args.rebuild))
            print(table(rows[-1:], args.label).splitlines()[-1], flush=True)
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    record = {"label": args.label, "checkout": str(checkout), "commit": commit, "board": args.board, "models": rows}
    json_out = args.json_out or REPO / "benchmarks" / "results" / f"build_time_{args.label}.json"
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(record, indent=2))
    print(table(rows, f"{args.label} ({commit})"))
    if args.json:
        print(json.dumps(rows, indent=2))
        records = [json.loads(path.read_text()) for path in sorted(json_out.parent.glob("build_time_*.json"))]
        TABLE.parent.mkdir(parents=True, exist_ok=True)
        TABLE.write_text(markdown(records), encoding="utf-8")
    print(f"wrote {json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
