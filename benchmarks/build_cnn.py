"""Time each stage of the cnn_digits build (cold: the trained model is reused, the build
cache is off, so every other stage runs), print a table and write JSON.

    python benchmarks/build_cnn.py [--board pynq-z2] [--repeats 2] [--json-out benchmarks/results/build_cnn.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fpga_flow.config import BuildConfig
from fpga_flow.pipeline import run_build


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="pynq-z2")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--reports-dir", type=Path, default=Path("reports"))
    parser.add_argument("--json-out", type=Path, default=Path("benchmarks/results/build_cnn.json"))
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            cfg = BuildConfig(model="cnn_digits", board=args.board, reports_dir=args.reports_dir,
                              out=Path(scratch) / f"run{repeat}", use_cache=False)
            start = time.perf_counter()
            summary = run_build(cfg)
            runs.append({"wall_s": time.perf_counter() - start, "timings_s": summary.timings_s,
                         "csim_agreement": summary.fidelity.csim_agreement,
                         "testbench_agreement": summary.fidelity.testbench_agreement})
    stages = list(runs[-1]["timings_s"])
    table = {stage: statistics.median(run["timings_s"][stage] for run in runs) for stage in stages}
    print(f"cnn_digits on {args.board}, median of {len(runs)} builds (first may include training)")
    print(f"{'stage':<14}{'seconds':>10}")
    for stage, seconds in table.items():
        print(f"{stage:<14}{seconds:>10.2f}")
    print(f"agreement bridge {runs[-1]['csim_agreement']:.4f}, testbench {runs[-1]['testbench_agreement']:.4f}")
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps({"board": args.board, "median_stage_s": table, "runs": runs}, indent=2))
    print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
