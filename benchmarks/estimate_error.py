"""The estimate against real reports: each pair of a folder of estimate pairs priced by
constants fitted without its repository (leave-one-repository-out), with the absolute
percentage error of every csynth figure and their medians (cross-validated, and in
sample); also written to benchmarks/results/estimate_error.json.

    python benchmarks/estimate_error.py [--pairs ../shared/estimate_pairs] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fpga_flow.estimate.truth import CSYNTH_FIGURES
from fpga_flow.estimate.validation import error_report

REPO = Path(__file__).resolve().parents[1]


def _cell(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if percent else f"{value:,.0f}"


def print_table(record: dict) -> None:
    print(f"{'pair':40s}" + "".join(f"{figure:>22s}" for figure in CSYNTH_FIGURES))
    for row in record["pairs"]:
        if not row["estimated"]:
            print(f"{row['name'][:40]:40s}  not estimated: {row['reason']}")
            continue
        cells = [f"{_cell(f['estimate'])}/{_cell(f['report'])} {_cell(f['ape'], True)}"
                 for f in (row["figures"][figure] for figure in CSYNTH_FIGURES)]
        print(f"{row['name'][:40]:40s}" + "".join(f"{cell:>22s}" for cell in cells))
    for label, key in (("median APE, cross-validated", "median_ape"), ("median APE, in sample", "median_ape_in_sample")):
        print(f"{label:40s}" + "".join(f"{_cell(record[key][figure], True):>22s}" for figure in CSYNTH_FIGURES))
    coverage = record["coverage"]
    print(f"estimated {coverage['estimated']} of {coverage['total']} pairs "
          "(cells: estimate/report APE; cross-validated estimates)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=REPO.parent / "shared" / "estimate_pairs")
    parser.add_argument("--json", action="store_true", help="Print exactly one JSON object.")
    parser.add_argument("--json-out", type=Path, default=REPO / "benchmarks" / "results" / "estimate_error.json")
    args = parser.parse_args()
    record = error_report(args.pairs)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(record, indent=1), encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        print_table(record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
