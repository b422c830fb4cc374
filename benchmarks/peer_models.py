"""Build every peer model (hls4ml example models and other public models nobody on
this team wrote) with the default and the closure precision policies, and tabulate
C-simulation agreement with Keras.

    python benchmarks/peer_models.py [--models ../shared/peer_models] [--board alveo-u250]
        [--zoo cnn_digits@pynq-z2,lstm_digits,...] [--json]

A folder holds one model per sub-folder: a Keras v2 architecture ``*.json`` with its
``*_weights.h5``, or a whole-model ``*.h5``; an optional ``test_data.npz`` (``X``,
optionally ``y``) gives reference inputs, otherwise inputs are drawn standard-normal
with seed 0 (stated in the table). A model that cannot be converted gets its reason; a
closure below 0.99 gets the hls4ml limit the build named, if any. Zoo recipes
(``--zoo``, each ``NAME[@BOARD]``) are trained and built beside them on their test split.
With ``--json`` the table is also written to ``docs/measured/peer_models.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from measured import write_measured

from fpga_flow.config import BuildConfig
from fpga_flow.errors import FlowError
from fpga_flow.pipeline import run_build

DEFAULT_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "peer_models"
POLICIES = ("default", "closure")
TARGET = 0.99  # the agreement every peer should reach, or name why not
DEFAULT_ZOO = "cnn_digits@pynq-z2,lstm_digits,gru_digits,attention_digits"
# Layer classes the measured table leaves out of its "layers" column (no arithmetic of note).
PLAIN_LAYERS = ("InputLayer", "Activation", "QActivation", "Flatten", "Dropout", "Reshape", "Pooling", "Softmax")


def model_files(folder: Path) -> dict | None:
    architectures = sorted(folder.glob("*.json"))
    if architectures:
        weights = sorted(folder.glob("*weights*.h5")) or sorted(folder.glob("*.h5"))
        return {"model": architectures[0], "weights": weights[0] if weights else None}
    whole = sorted(folder.glob("*.h5"))
    return {"model": whole[0], "weights": None} if whole else None


def build_point(files: dict, policy: str, board: str, reports: Path, out: Path) -> dict:
    test_data = files["model"].parent / "test_data.npz" if isinstance(files["model"], Path) else None  # zoo: str
    cfg = BuildConfig(model=str(files["model"]), weights=files["weights"], board=board, precision_policy=policy,
                      reports_dir=reports, out=out, test_data=test_data if test_data and test_data.is_file() else None,
                      min_agreement=0.0)
    start = time.perf_counter()
    try:
        summary = run_build(cfg)
    except FlowError as exc:
        return {"policy": policy, "error": str(exc), "seconds": round(time.perf_counter() - start, 1)}
    closure = summary.precision.closure
    ties = near_ties(cfg, out, summary.fidelity.max_abs_error) if summary.fidelity.csim_agreement < TARGET else None
    return {
        "policy": policy,
        "near_ties": ties,
        "hls4ml_limits": [limit.model_dump() for limit in closure.hls4ml_limits] if closure else [],
        "closure_candidates": closure.realization.model_dump() if closure and closure.realization else None,
        "agreement": summary.fidelity.csim_agreement,
        "testbench_agreement": summary.fidelity.testbench_agreement,
        "max_abs_error": summary.fidelity.max_abs_error,
        "layer_families": summary.model.layer_families,
        "data": summary.data.origin,
        "n_eval": summary.data.n_eval,
        "timings_s": summary.timings_s,
    }


def near_ties(cfg: BuildConfig, out: Path, max_abs_error: float) -> dict:
    """Where the C-simulation's class differs from Keras's: Keras's margin between its two
    highest outputs on those samples. A margin below the design's largest output error
    is a near-tie that only less error can resolve (the evaluation data and the run's
    compiled design, read back with the build's own code)."""
    import numpy as np

    from fpga_flow.boards import get_board
    from fpga_flow.csim import Bridge, CompiledProject
    from fpga_flow.pipeline.context import BuildContext
    from fpga_flow.pipeline.steps import step_load

    loaded = step_load(BuildContext(cfg, get_board(cfg.board), out))
    keras = loaded.keras_eval.reshape(len(loaded.X_eval), -1)
    csim = Bridge.load(CompiledProject.open(out / "hls_project")).predict(loaded.X_eval).reshape(keras.shape)
    differing = np.argmax(keras, axis=1) != np.argmax(csim, axis=1)
    top_two = np.sort(keras, axis=1)[:, -2:]
    margins = (top_two[:, 1] - top_two[:, 0])[differing]
    return {"differing": int(differing.sum()), "largest_margin": float(margins.max()) if margins.size else None,
            "all_within_error": bool(margins.size and margins.max() < max_abs_error)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--board", default="alveo-u250")
    parser.add_argument("--zoo", default=DEFAULT_ZOO, help="zoo recipes to build too, NAME[@BOARD],... ('' for none)")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON and write docs/measured/peer_models.md")
    parser.add_argument("--json-out", type=Path, default=Path("benchmarks/results/peer_models.json"))
    args = parser.parse_args()
    if not args.models.is_dir():
        print(f"error: models folder {args.models} not found: give --models DIR", file=sys.stderr)
        return 2

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for entry in filter(None, args.zoo.split(",")):
            name, _, board = entry.partition("@")
            points = [build_point({"model": name, "weights": None}, policy, board or args.board, Path(scratch),
                                  Path(scratch) / f"{name}-{policy}") for policy in POLICIES]
            rows.append({"model": name, "board": board or args.board, "points": points})
            print(_row_text(rows[-1]), flush=True)
        for folder in sorted(p for p in args.models.iterdir() if p.is_dir()):
            files = model_files(folder)
            if files is None:
                rows.append({"model": folder.name, "error": "no .json + weights .h5 nor whole-model .h5"})
                continue
            points = [build_point(files, policy, args.board, Path(scratch), Path(scratch) / f"{folder.name}-{policy}")
                      for policy in POLICIES]
            rows.append({"model": folder.name, "points": points})
            print(_row_text(rows[-1]), flush=True)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps({"board": args.board, "models": rows}, indent=2))
    if args.json:
        print(json.dumps(rows, indent=2))
        print(f"wrote {write_measured_table(rows)}")
    print(f"wrote {args.json_out}")
    return 0


def write_measured_table(rows: list[dict]) -> Path:
    table = []
    for row in rows:
        points = {point["policy"]: point for point in row.get("points", [])}
        model = f"{row['model']} ({row['board']})" if "board" in row else row["model"]
        if "agreement" not in points.get("default", {}) or "agreement" not in points.get("closure", {}):
            reason = next((p["error"] for p in points.values() if "error" in p), row.get("error", ""))
            table.append([model, "", "", f"cannot build: {reason}"])
            continue
        closure = points["closure"]
        layers = [f for f in closure["layer_families"] if not any(plain in f for plain in PLAIN_LAYERS)]
        closed = f"{closure['agreement']:.3f}"
        if closure["agreement"] < TARGET:
            named = ["hls4ml limit"] if closure["hls4ml_limits"] else []
            named += ["near-ties"] if (closure.get("near_ties") or {}).get("all_within_error") else []
            closed += f" ({', '.join(named) or 'no named reason'})"
        table.append([model, ", ".join(layers), f"{points['default']['agreement']:.3f}", closed])
    return write_measured(
        __file__, "Argmax agreement of C-simulation with Keras on data the closure never saw "
        "(`python benchmarks/peer_models.py --json`; hls4ml's default configuration beside; zoo models on their "
        "test split, peer models on standard-normal inputs, seed 0, unless they bring test data):",
        ["model", "layers", "hls4ml default", "fpga-flow closure"], table)


def _row_text(row: dict) -> str:
    parts = [f"{row['model']:<28}"]
    for point in row.get("points", []):
        if "error" in point:
            parts.append(f"{point['policy']}: cannot build ({point['error']})")
            break
        stages = point["timings_s"]
        parts.append(f"{point['policy']}: agreement {point['agreement']:.4f} max|err| {point['max_abs_error']:.3g}"
                     f" (precision {stages['precision']:.0f} s, compile {stages['compile']:.0f} s)")
    if row.get("points") and "error" not in row["points"][0]:
        parts.insert(1, f"[{', '.join(row['points'][0]['layer_families'])}; {row['points'][0]['data']}]")
    last = row["points"][-1] if row.get("points") else {}
    if "agreement" in last and last["agreement"] < TARGET:
        reasons = [f"hls4ml limit in {limit['layer']}: {limit['agreement_if_exact']:.4f} with its arithmetic exact "
                   f"({limit['reason']})" for limit in last["hls4ml_limits"]]
        ties = last.get("near_ties") or {}
        if ties.get("all_within_error"):
            reasons.append(f"near-ties: on all {ties['differing']} differing samples Keras's top two outputs are "
                           f"within {ties['largest_margin']:.2g}, under the design's largest error "
                           f"{last['max_abs_error']:.2g}")
        parts.append(f"below {TARGET}: " + ("; ".join(reasons) if reasons else "no named reason"))
    return "  ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
