"""The RTL stages on four models: the zoo's CNN, the hls4ml example QKeras MLP, the pruned
QKeras MLP of the hls4ml tutorial and a Conv1D example model. Each is built with
``fpga-flow build`` (real training for the zoo model, real g++ C-simulation), then its RTL
is generated, simulated with Verilator on the build's evaluation set and synthesized with
yosys, all by ``fpga-flow build --rtl``. The table gives each stage's time, the word agreement with the C-simulation and
the argmax agreement with Keras, and the yosys counts beside fpga-flow's estimate of the
HLS project and, where ``../shared/estimate_pairs`` holds a real report of the same
model, beside that report.

    python benchmarks/rtl.py [--models cnn_digits,qkeras_3layer,...] [--json] [--out DIR]

Results go to ``benchmarks/results/rtl.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fpga_flow.config import BuildConfig
from fpga_flow.errors import FlowError
from fpga_flow.pipeline import run_build
from fpga_flow.rtl import RTL_STAGES

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PEERS = SHARED / "peer_models"
PAIRS = SHARED / "estimate_pairs"

# name -> build settings, and the real report of the same model if there is one. The pruned
# MLP is built as its tutorial project was (hls4ml's default QKeras configuration, Latency,
# xcu250 at 5 ns) so that its csynth report describes the same arithmetic.
MODELS: dict[str, dict] = {
    "cnn_digits": {"build": {"model": "cnn_digits", "board": "pynq-z2"}},
    "qkeras_3layer": {"build": {"model": str(PEERS / "qkeras_3layer" / "qkeras_3layer.json"),
                                "weights": PEERS / "qkeras_3layer" / "qkeras_3layer_weights.h5",
                                "board": "alveo-u250", "clock_period_ns": 5.0}},
    "hector_tutorial_m3_qkeras_pruned": {
        "build": {"model": str(PAIRS / "hector_tutorial_m3_qkeras_pruned" / "model" / "keras_model.h5"),
                  "board": "alveo-u250", "clock_period_ns": 5.0, "precision_policy": "default"},
        "report": PAIRS / "hector_tutorial_m3_qkeras_pruned" / "reports" / "myproject_csynth.xml"},
    "KERAS_conv1d_small": {"build": {"model": str(PEERS / "KERAS_conv1d_small" / "KERAS_conv1d_small.json"),
                                     "weights": PEERS / "KERAS_conv1d_small" / "KERAS_conv1d_small_weights.h5",
                                     "board": "alveo-u250", "clock_period_ns": 5.0}},
}
COUNTS = ("LUT", "FF", "DSP", "BRAM_18K")


def vendor_resources(report: Path | None) -> dict | None:
    if report is None:
        return None
    from fpga_flow.reports import parse_report

    parsed = parse_report(report).to_dict()
    return {"source": str(report), "tool": parsed.get("tool"), **{k: parsed["resources"].get(k) for k in COUNTS}}


def bench(name: str, spec: dict, out: Path) -> dict:
    """``fpga-flow build --rtl`` of one model; its summary's figures as a row."""
    run_dir = out / name
    cfg = BuildConfig(**spec["build"], rtl=True, reports_dir=out / "reports", out=run_dir, force=True,
                      min_agreement=0.0, record_history=False)
    row: dict = {"model": name, "board": cfg.board, "precision_policy": cfg.precision_policy}
    try:
        summary = run_build(cfg)
    except FlowError as exc:
        return {**row, "error": f"build: {exc}"}
    return {
        **row,
        "status": summary.status,
        "layer_families": summary.model.layer_families,
        "n_eval": summary.data.n_eval,
        "csim_agreement_keras": summary.fidelity.csim_agreement,
        "timings_s": summary.timings_s,
        "estimate": {k: summary.estimate.resources.get(k) for k in COUNTS},
        "vendor_report": vendor_resources(spec.get("report")),
        "stages": {stage: getattr(summary, stage).model_dump(mode="json") for stage in RTL_STAGES},
    }


def row_text(row: dict) -> str:
    if "error" in row:
        return f"{row['model']:<34} {row['error']}"
    stages = row["stages"]
    rtl, sim, gates = stages["rtl"], stages["rtl_sim"], stages["gates"]

    def counts(figures: dict | None) -> str:
        return "-" if not figures else "/".join(str(figures.get(k)) for k in COUNTS)

    seconds = row["timings_s"]
    timing = [f"build to C-sim {seconds['total'] - seconds['rtl'] - seconds['rtl_sim'] - seconds['gates']:.0f}s"]
    if rtl["status"] == "done":
        timing.append(f"rtl {seconds['rtl']:.0f}s ({rtl['pipeline_stages']} stages)")
    if sim["status"] == "done":
        timing.append(f"verilator {sim['build_seconds']:.0f}+{sim['sim_seconds']:.1f}s")
    if gates["status"] == "done":
        timing.append(f"yosys {seconds['gates']:.0f}s")
    words = (f"words {sim['word_agreement']:.4f} argmax {sim['argmax_agreement_keras']:.4f}"
             if sim["status"] == "done" else f"rtl_sim skipped: {sim['reason']}")
    yosys = counts(gates if gates["status"] == "done" else None)
    return (f"{row['model']:<34} {', '.join(timing)}; {words}; LUT/FF/DSP/BRAM yosys {yosys}"
            f" | estimate {counts(row['estimate'])} | report {counts(row['vendor_report'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/rtl_runs"))
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    parser.add_argument("--json-out", type=Path, default=Path("benchmarks/results/rtl.json"))
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"error: unknown model {', '.join(unknown)}: choose from {', '.join(MODELS)}", file=sys.stderr)
        return 2
    if not SHARED.is_dir():
        print(f"error: {SHARED} not found: the benchmark reads the shared peer models and reports", file=sys.stderr)
        return 2
    rows = []
    for name in names:
        rows.append(bench(name, MODELS[name], args.out.resolve()))
        print(row_text(rows[-1]), flush=True)
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(rows, indent=2, default=str))
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
