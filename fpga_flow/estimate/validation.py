"""How wrong the estimate is on a folder of pairs: each pair's figures next to its
reports, the absolute percentage error of each, and the medians, cross-validated
(each pair priced by constants fitted without its repository) and in sample.

The JSON is the one ``benchmarks/estimate_error.py --json`` prints (issue 13)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from fpga_flow.estimate.fit import (
    PairResult, ape, cross_validated, estimate_pairs, figure_values, fit, load_pairs,
)
from fpga_flow.estimate.truth import CSYNTH, CSYNTH_FIGURES


def pair_row(name: str, result: PairResult | None, reason: str | None, report: dict[str, Any] | None) -> dict[str, Any]:
    """One pair's entry: its csynth figures, estimated and reported, and their error."""
    priced = result is not None and result.estimate is not None and reason is None
    values = figure_values(result.estimate, CSYNTH) if priced else {}
    figures = {}
    for figure in CSYNTH_FIGURES:
        estimate, reported = values.get(figure), (report or {}).get(figure)
        figures[figure] = {"estimate": estimate, "report": reported, "ape": ape(estimate, reported) if priced else None}
    return {"name": name, "estimated": priced, "reason": reason, "figures": figures}


def medians(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Median APE per figure over the rows with a non-null APE for it."""
    found = {}
    for figure in CSYNTH_FIGURES:
        errors = [row["figures"][figure]["ape"] for row in rows if row["figures"][figure]["ape"] is not None]
        found[figure] = statistics.median(errors) if errors else None
    return found


def error_report(folder: str | Path) -> dict[str, Any]:
    """The benchmark's record for the pairs in ``folder``."""
    pairs, failed = load_pairs(folder)
    rows_cv: list[dict[str, Any]] = [pair_row(name, None, f"cannot read the pair: {reason}", None)
                                     for name, reason in failed]
    rows_in = list(rows_cv)
    if pairs:
        in_sample = estimate_pairs(pairs, lambda pair, calibration=fit(pairs): calibration)
        held_out = cross_validated(pairs) if len({pair.repository for pair in pairs}) > 1 else [None] * len(pairs)
        for pair, result_in, result_cv in zip(pairs, in_sample, held_out):
            unpriced = result_in.estimate.unpriced_layers
            reason = f"layers the estimator cannot price: {', '.join(unpriced)}" if unpriced else None
            cv_reason = reason or (None if result_cv is not None else "no other repository to fit on")
            rows_in.append(pair_row(pair.name, result_in, reason, pair.truth.csynth))
            rows_cv.append(pair_row(pair.name, result_cv, cv_reason, pair.truth.csynth))
    order = {row["name"]: index for index, row in enumerate(sorted(rows_cv, key=lambda r: r["name"]))}
    rows_cv.sort(key=lambda row: order[row["name"]])
    rows_in.sort(key=lambda row: order[row["name"]])
    return {
        "pairs": rows_cv,
        "median_ape": medians(rows_cv),
        "median_ape_in_sample": medians(rows_in),
        "coverage": {"estimated": sum(row["estimated"] for row in rows_cv), "total": len(rows_cv)},
    }
