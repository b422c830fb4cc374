"""Wall time of ``fpga-flow estimate MODEL --board BOARD`` (a fresh process each time:
imports, model loading, conversion to a graph, pricing) and of pricing alone, per plan,
for the search issue 16 runs; prints a table and writes JSON.

    python benchmarks/estimate_speed.py [--model cnn_digits] [--board pynq-z2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn_digits")
    parser.add_argument("--board", default="pynq-z2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--plans", type=int, default=2000)
    parser.add_argument("--json-out", type=Path, default=REPO / "benchmarks" / "results" / "estimate_speed.json")
    args = parser.parse_args()

    walls, cpus, record = [], [], None
    for _ in range(args.repeats):
        start, used = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run([sys.executable, "-m", "fpga_flow", "estimate", args.model, "--board", args.board,
                                 "--json"], cwd=REPO, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return 1
        record = json.loads(result.stdout)

    from fpga_flow.estimate import Design, LayerPlan, price
    from fpga_flow.estimate.design import FREE_KINDS

    design = Design.model_validate(_design_of(args.model, args.board))
    layers = [layer.name for layer in design.layers if layer.products and layer.kind not in FREE_KINDS]
    start = time.perf_counter()
    for index in range(args.plans):
        price(design, plan={layers[index % len(layers)]: LayerPlan(reuse_factor=1 + index % 8)})
    per_plan = (time.perf_counter() - start) / args.plans

    summary = {"model": args.model, "board": args.board, "command_wall_s": walls,
               "command_median_s": statistics.median(walls), "command_cpu_s": cpus,
               "load_average": os.getloadavg(), "cpus": os.cpu_count(), "price_per_plan_ms": 1000 * per_plan,
               "csynth": record["csynth"], "vivado_synth": record["vivado_synth"]}
    print(f"fpga-flow estimate {args.model} --board {args.board}: median {summary['command_median_s']:.1f} s "
          f"over {args.repeats} runs ({', '.join(f'{w:.1f}' for w in walls)} s; CPU "
          f"{', '.join(f'{c:.1f}' for c in cpus)} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"price() with a one-layer plan: {summary['price_per_plan_ms']:.2f} ms per plan")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0


def _design_of(model: str, board: str) -> dict:
    from fpga_flow.config import build_config
    from fpga_flow.pipeline.estimate_only import estimate_model

    _, design = estimate_model(build_config(model=model, board=board, precision_policy="auto", use_cache=False,
                                            record_history=False))
    return design.model_dump(by_alias=True)


if __name__ == "__main__":
    raise SystemExit(main())
