"""Sweep and cache benchmark: 8 points one after another against a LocalCluster (speedup,
parallel efficiency), and a cold against a cached ``fpga-flow build`` (convert+compile
stage ratio from ``timings_s``, and whole-command ratio of the CLI run as a subprocess).
Prints a table and writes JSON.

    python benchmarks/sweep.py [--model cnn_digits] [--board pynq-z2] [--workers 2]
        [--precision-policy closure] [--repeats 2] [--json-out benchmarks/results/sweep.json]

The model is trained once beforehand (into --reports-dir/zoo) and every measurement uses
its own empty cache folder, so each side of a comparison starts equally cold.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

# Set before TensorFlow loads, here and in the worker processes that inherit it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", category=UserWarning)

REUSE_FACTORS = [1, 2, 4, 8]
STRATEGIES = ["Latency", "Resource"]


def sweep_part(args, scratch: Path) -> dict:
    from fpga_flow.history import RunHistory, default_db_path
    from fpga_flow.pipeline import run_build
    from fpga_flow.sweep import plan_sweep, prepare, run_sweep

    def plan(name: str):
        return plan_sweep(args.model, [args.board], REUSE_FACTORS, STRATEGIES, precision_policies=[args.precision_policy],
                          out=scratch / name, reports_dir=args.reports_dir, cache_dir=scratch / f"cache-{name}")

    sequential = plan("sequential")
    prepare(sequential, force=True)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    summaries = [run_build(config) for config in sequential.configs]
    sequential_s = time.perf_counter() - start

    parallel = plan("parallel")
    result = run_sweep(parallel, workers=args.workers, force=True)
    parallel_s = result.wall_s
    recorded = {row["run_id"] for row in RunHistory(default_db_path(args.reports_dir)).runs(kind="sweep_point")}
    in_history = sum(1 for row in result.rows if row.run_id in recorded)
    speedup = sequential_s / parallel_s
    return {
        "points": len(sequential.points), "workers": args.workers, "precision_policy": args.precision_policy,
        "sequential_s": round(sequential_s, 2), "parallel_s": round(parallel_s, 2),
        "speedup": round(speedup, 3), "parallel_efficiency": round(speedup / args.workers, 3),
        "sequential_statuses": [summary.status for summary in summaries], "parallel_counts": result.counts,
        "sequential_point_s": [summary.timings_s["total"] for summary in summaries],
        "parallel_point_s": [row.seconds for row in sorted(result.rows, key=lambda row: row.point)],
        # Other processes on the machine take CPU from the parallel run first; see the load.
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "points_in_history": in_history, "points_on_dashboard": len(result.summaries),
        "dashboard_written": result.dashboard is not None and result.dashboard.is_file(),
    }


def cli_build(args, cache_dir: Path, out: Path) -> tuple[float, dict]:
    command = [sys.executable, "-m", "fpga_flow", "build", args.model, "--board", args.board,
               "--precision-policy", args.precision_policy, "--reports-dir", str(args.reports_dir),
               "--cache-dir", str(cache_dir), "--out", str(out), "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"build failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout)


def cache_part(args, scratch: Path) -> dict:
    runs = []
    for repeat in range(args.repeats):
        cache_dir = scratch / f"cache-cli-{repeat}"
        cold_wall, cold = cli_build(args, cache_dir, scratch / f"cold-{repeat}")
        warm_wall, warm = cli_build(args, cache_dir, scratch / f"cached-{repeat}")
        if not warm["cache"]["hit"]:
            raise SystemExit(f"the rebuild missed the cache: key {warm['cache']['key']}")
        # The cached steps (precision to estimate) and the cache's own work; a hit runs only the latter.
        covered = (*cold["cache"]["steps"], "build_cache")
        stage = {name: round(sum(summary["timings_s"].get(step, 0.0) for step in covered), 3)
                 for name, summary in (("cold", cold), ("cached", warm))}
        runs.append({
            "cold_command_s": round(cold_wall, 2), "cached_command_s": round(warm_wall, 2),
            "cold_cached_steps_s": stage["cold"], "cached_cached_steps_s": stage["cached"],
            "cold_timings_s": cold["timings_s"], "cached_timings_s": warm["timings_s"],
            "same_agreement": cold["fidelity"] == warm["fidelity"],
        })
    stage_ratio = statistics.median(r["cached_cached_steps_s"] / r["cold_cached_steps_s"] for r in runs)
    command_ratio = statistics.median(r["cached_command_s"] / r["cold_command_s"] for r in runs)
    return {"stage_ratio": round(stage_ratio, 4), "command_ratio": round(command_ratio, 3), "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn_digits")
    parser.add_argument("--board", default="pynq-z2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--precision-policy", default="closure")
    parser.add_argument("--repeats", type=int, default=2, help="cold/cached pairs of CLI builds")
    parser.add_argument("--reports-dir", type=Path, default=Path("reports"))
    parser.add_argument("--json-out", type=Path, default=Path("benchmarks/results/sweep.json"))
    args = parser.parse_args()
    args.reports_dir = args.reports_dir.resolve()

    from fpga_flow.train import trained_or_train
    from model_zoo import get_recipe

    trained_or_train(get_recipe(args.model), args.reports_dir / "zoo")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        # The benchmark's points go to a history of their own, not the user's.
        os.environ["FPGA_FLOW_DB"] = str(scratch / "history.db")
        sweep = sweep_part(args, scratch)
        cache = cache_part(args, scratch)

    print(f"{args.model} on {args.board}, precision policy {args.precision_policy}, {os.cpu_count()} CPUs")
    print(f"{'figure':<44}{'value':>12}")
    rows = [
        (f"{sweep['points']} points sequentially (s)", f"{sweep['sequential_s']:.1f}"),
        (f"{sweep['points']} points on {sweep['workers']} workers (s)", f"{sweep['parallel_s']:.1f}"),
        ("speedup", f"{sweep['speedup']:.2f}"),
        ("parallel efficiency", f"{sweep['parallel_efficiency']:.2f}"),
        ("sweep points recorded in the history", f"{sweep['points_in_history']}/{sweep['points']}"),
        ("sweep points on the dashboard", f"{sweep['points_on_dashboard']}/{sweep['points']}"),
        ("cold command (s, median)", f"{statistics.median(r['cold_command_s'] for r in cache['runs']):.1f}"),
        ("cached command (s, median)", f"{statistics.median(r['cached_command_s'] for r in cache['runs']):.1f}"),
        ("cached/cold precision..estimate steps", f"{100 * cache['stage_ratio']:.2f}%"),
        ("cached/cold whole command", f"{100 * cache['command_ratio']:.1f}%"),
    ]
    for name, value in rows:
        print(f"{name:<44}{value:>12}")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps({"model": args.model, "board": args.board, "cpus": os.cpu_count(),
                                         "sweep": sweep, "cache": cache}, indent=2))
    print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
