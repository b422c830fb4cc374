"""The fit (``fpga-flow build --fit``) for three models on two boards: the plan it
chooses, the estimated utilization and latency of the plan and of the unfitted design,
and the search's time; prints a table (or, with --json, exactly one JSON object) and
writes benchmarks/results/fit.json.

    python benchmarks/fit.py [--json] [--reports-dir reports] [--peers ../shared/peer_models]
                             [--policy auto|default|closure] [--budget 0.8]

The models: the zoo's digits CNN and digits QLSTM (trained on demand into
REPORTS_DIR/zoo) and hls4ml's KERAS_conv2d_model from the shared peer models (standard
normal inputs). Each goes through the build's own load, check and precision steps, then
the fit step, which is what is timed (``search_s``: conversions to graphs, pricing and
search; nothing is compiled). The precisions are the inferred ones (``auto``) unless
--policy says otherwise: ``closure`` compiles C++ for every iteration, which the fit
does not need to be measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOARDS = ("pynq-z2", "arty-a7-100t")
RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K")


def models(peers: Path) -> dict[str, dict]:
    """The BuildConfig fields naming each model."""
    conv2d = peers / "KERAS_conv2d_model"
    return {"cnn_digits": {"model": "cnn_digits"}, "lstm_digits": {"model": "lstm_digits"},
            "KERAS_conv2d_model": {"model": str(conv2d / "KERAS_conv2d_model.json"),
                                   "weights": conv2d / "KERAS_conv2d_model_weights.h5"}}


def fit_one(fields: dict, board_name: str, policy: str, budget: float, reports_dir: Path) -> dict:
    """Fit one model to one board through the build's steps; the fit's record and the wall time of its step."""
    from fpga_flow.boards import get_board
    from fpga_flow.config import build_config
    from fpga_flow.pipeline.context import BuildContext
    from fpga_flow.pipeline.steps import step_check, step_fit, step_load, step_precision

    config = build_config(**fields, board=board_name, precision_policy=policy, fit=True, budget=budget,
                          reports_dir=reports_dir, use_cache=False, record_history=False)
    with tempfile.TemporaryDirectory(prefix="fpga-flow-fit-benchmark-") as scratch:
        context = BuildContext(config, get_board(board_name), Path(scratch))
        context.loaded = step_load(context)
        step_check(context)
        context.precision = step_precision(context)
        start = time.perf_counter()
        fit = step_fit(context)
        wall = time.perf_counter() - start
    return {"fit": fit, "wall_s": wall}


def row(model: str, board: str, fit, wall_s: float) -> dict:
    chosen, unfitted = fit.chosen, fit.unfitted
    return {
        "model": model, "board": board, "fits": fit.fits, "io_type": chosen.io_type,
        "plan": {layer: str(setting) for layer, setting in chosen.plan.items()},
        "utilization_pct": chosen.utilization_pct, "peak_pct": chosen.peak_pct, "binding": chosen.binding,
        "latency_cycles": chosen.latency_cycles, "latency_ns": chosen.latency_ns,
        "interval_cycles": chosen.interval_cycles,
        "unfitted": {"io_type": unfitted.io_type, "peak_pct": unfitted.peak_pct, "binding": unfitted.binding,
                     "latency_ns": unfitted.latency_ns},
        "io_types": fit.io_types, "search_s": fit.search_s, "step_wall_s": round(wall_s, 3),
        "layer_options_priced": fit.layer_options_priced, "plans_priced": fit.plans_priced,
        "search_nodes": fit.search_nodes, "search_complete": fit.search_complete,
    }


def print_table(rows: list[dict]) -> None:
    print(f"{'model':<20} {'board':<13} {'io type':<11} {'LUT%':>6} {'FF%':>5} {'DSP%':>5} {'BRAM%':>6} "
          f"{'latency':>10} {'unfitted':>16} {'search':>7}  plan")
    for r in rows:
        u = r["utilization_pct"]
        unfitted = f"{r['unfitted']['peak_pct']:.0f}% {r['unfitted']['binding']}"
        print(f"{r['model']:<20} {r['board']:<13} {r['io_type']:<11} "
              + " ".join(f"{u[key]:>{width}.1f}" for key, width in zip(RESOURCES, (6, 5, 5, 6)))
              + f" {r['latency_ns']:>7g} ns {unfitted:>16} {r['search_s']:>6.2f}s  "
              + ", ".join(f"{layer} {setting}" for layer, setting in r["plan"].items())
              + ("" if r["fits"] else "  (does not fit)"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument("--reports-dir", type=Path, default=REPO / "reports")
    parser.add_argument("--peers", type=Path, default=REPO.parent / "shared" / "peer_models")
    parser.add_argument("--policy", default="auto", choices=("default", "auto", "closure"))
    parser.add_argument("--budget", type=float, default=0.8)
    parser.add_argument("--json-out", type=Path, default=REPO / "benchmarks" / "results" / "fit.json")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    rows = []
    for name, fields in models(args.peers).items():
        for board in BOARDS:
            result = fit_one(fields, board, args.policy, args.budget, args.reports_dir)
            rows.append(row(name, board, result["fit"], result["wall_s"]))
    record = {"policy": args.policy, "budget": args.budget, "load_average": os.getloadavg(), "cpus": os.cpu_count(),
              "rows": rows}
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(record, indent=1), encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        print_table(rows)
        print(f"(precision policy {args.policy}, budget {args.budget:g}; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores; written to {args.json_out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
