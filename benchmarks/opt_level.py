"""g++ optimization level against compile plus run time of the C-simulation on an
evaluation set: for each model, the design of the ``auto`` policy compiled at each
level, then run through the bridge and the testbench on the evaluation inputs.

    python benchmarks/opt_level.py [--levels -O0,-O1,-O2] [--models ...] [--json]

Zoo recipes use their test split (trained once into --reports-dir, untimed); shared peer
models 500 standard-normal inputs (what ``fpga-flow build`` evaluates them on: half of
its 1000 synthetic inputs). Writes benchmarks/results/opt_level.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fpga_flow.boards import get_board
from fpga_flow.convert import HLSSettings, base_hls_config, convert
from fpga_flow.csim import Bridge, compile_project, run_testbench
from fpga_flow.precision import infer_precisions

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "peer_models"
MODELS = ("cnn_digits", "lstm_digits", "KERAS_conv1d_small", "KERAS_conv2d_model", "conv1d_pulses", "btag_lstm")


def load(name: str, reports: Path):
    from fpga_flow.model_io import load_keras_model

    folder = SHARED / name
    if folder.is_dir():
        architecture = sorted(folder.glob("*.json"))
        model = (load_keras_model(architecture[0], sorted(folder.glob("*weights*.h5"))[0]) if architecture
                 else load_keras_model(sorted(folder.glob("*.h5"))[0], None))
        X = np.random.default_rng(0).standard_normal((1000,) + tuple(model.input_shape[1:])).astype(np.float32)
        return model, X[:500], X[500:], "alveo-u250", HLSSettings()
    from fpga_flow.train import trained_or_train
    from model_zoo import get_recipe

    recipe = get_recipe(name)
    trained = trained_or_train(recipe, reports / "zoo", None)
    data = trained.load_data()
    hls = recipe.hls
    settings = HLSSettings(io_type=hls.io_type, strategy=hls.strategy, reuse_factor=hls.reuse_factor,
                           default_precision=hls.default_precision)
    return trained.load_model(), data["X_calib"], data["X"], "alveo-u250", settings


def measure(name: str, levels: list[str], reports: Path, scratch: Path) -> dict:
    model, X_calib, X_eval, board_name, settings = load(name, reports)
    board = get_board(board_name)
    config = infer_precisions(model, base_hls_config(model, settings, board.backend), X_calib)
    reference = np.asarray(model.predict(X_eval, verbose=0))
    rows = []
    for level in levels:
        project = convert(model, board, settings, scratch / f"{name}{level}", config)
        start = time.perf_counter()
        compiled = compile_project(project.output_dir, level)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        out = Bridge.load(compiled).predict(X_eval)
        bridge_s = time.perf_counter() - start
        bench = run_testbench(compiled, X_eval, reference)
        rows.append({"level": level, "compile_s": round(compile_s, 1), "bridge_s": round(bridge_s, 1),
                     "testbench_s": round(bench.compile_seconds + bench.run_seconds, 1),
                     "total_s": round(compile_s + bridge_s + bench.compile_seconds + bench.run_seconds, 1),
                     "output_checksum": float(np.sum(out))})
    sums = {row["output_checksum"] for row in rows}
    return {"model": name, "n_eval": int(len(X_eval)), "levels": rows, "same_outputs": len(sums) == 1,
            "best": min(rows, key=lambda row: row["total_s"])["level"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="-O0,-O1,-O2")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--reports-dir", type=Path, default=Path("reports"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--json-out", type=Path, default=REPO / "benchmarks" / "results" / "opt_level.json")
    args = parser.parse_args()
    levels = args.levels.split(",")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.models.split(","):
            result = measure(name, levels, args.reports_dir, Path(scratch))
            results.append(result)
            cells = "  ".join(f"{r['level']}: {r['compile_s']:.0f}+{r['bridge_s']:.0f}+{r['testbench_s']:.0f}"
                              f"={r['total_s']:.0f} s" for r in result["levels"])
            print(f"{name:<20} n={result['n_eval']:<5} {cells}  best {result['best']}"
                  f"{'' if result['same_outputs'] else '  OUTPUTS DIFFER'}", flush=True)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps(results, indent=2))
    print(f"compile + bridge + testbench seconds per level; wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
