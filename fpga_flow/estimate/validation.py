"""How wrong the estimate is on folders of pairs: each pair's figures next to its
reports, the absolute percentage error of each, and the medians, cross-validated (each
pair priced by constants fitted without its repository) and in sample, or as shipped
(``calibration.json``, no refit: the estimate a user gets), with medians per layer kind
(each layer against its per-module report), per io type and per repository, and the
post-synthesis figures against every ``vivado_synth.rpt``.

The JSON is the one ``benchmarks/estimate_error.py --json`` prints (issue 13; the
``pairs``, ``median_ape``, ``median_ape_in_sample`` and ``coverage`` keys keep their
meaning, issue 21 added the others)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Callable

from fpga_flow.estimate.calibrate import (
    LAYER_FIGURES,
    Pair,
    PairResult,
    ape,
    cross_validated,
    estimate_pairs,
    figure_values,
    fit,
    layer_rows,
    load_pairs,
)
from fpga_flow.estimate.calibration import load_calibration
from fpga_flow.estimate.truth import CSYNTH, CSYNTH_FIGURES, SYNTH_FIGURES, VIVADO_SYNTH


def pair_row(name: str, result: PairResult | None, reason: str | None, report: dict[str, Any] | None,
             untrusted: tuple[str, ...] = (), kind: str = CSYNTH) -> dict[str, Any]:
    """One pair's entry: its figures of ``kind``, estimated and reported, and their error
    (None for a figure the pair's reports do not judge, ``untrusted``)."""
    priced = result is not None and result.estimate is not None and reason is None
    values = figure_values(result.estimate, kind) if priced else {}
    figures = {}
    for figure in (CSYNTH_FIGURES if kind == CSYNTH else SYNTH_FIGURES):
        estimate, reported = values.get(figure), (report or {}).get(figure)
        error = ape(estimate, reported) if priced and figure not in untrusted else None
        figures[figure] = {"estimate": estimate, "report": reported, "ape": error}
    return {"name": name, "estimated": priced, "reason": reason, "figures": figures}


def medians(rows: list[dict[str, Any]], figures: tuple[str, ...] = CSYNTH_FIGURES) -> dict[str, float | None]:
    """Median APE per figure over the rows with a non-null APE for it."""
    found = {}
    for figure in figures:
        errors = [row["figures"][figure]["ape"] for row in rows
                  if figure in row["figures"] and row["figures"][figure]["ape"] is not None]
        found[figure] = statistics.median(errors) if errors else None
    return found


def _grouped(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], str],
             figures: tuple[str, ...] = CSYNTH_FIGURES) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return {name: {**medians(members, figures), "count": len(members)} for name, members in sorted(groups.items())}


def _rows(pairs: list[Pair], results: list[PairResult | None], kind: str = CSYNTH) -> list[dict[str, Any]]:
    rows = []
    for pair, result in zip(pairs, results):
        unpriced = result.estimate.unpriced_layers if result is not None and result.estimate is not None else []
        reason = f"layers the estimator cannot price: {', '.join(unpriced)}" if unpriced else None
        if result is None:
            reason = "no other repository to fit on"
        truth = pair.truth.csynth if kind == CSYNTH else pair.truth.vivado_synth
        row = pair_row(pair.name, result, reason, truth, pair.untrusted, kind)
        row.update(repository=pair.repository, io_type=pair.design.io_type, note=pair.note)
        rows.append(row)
    return rows


def _section(pairs: list[Pair], results: list[PairResult | None]) -> dict[str, Any]:
    """Medians of one way of pricing the pairs: by figure, io type, repository, layer kind,
    and the post-synthesis figures."""
    rows = _rows(pairs, results)
    synth_pairs = [(p, r) for p, r in zip(pairs, results) if p.truth.vivado_synth]
    synth = _rows([p for p, _ in synth_pairs], [r for _, r in synth_pairs], VIVADO_SYNTH)
    layers = layer_rows(pairs, [r for r in results if r is not None]) if all(results) else []
    return {
        "rows": rows,
        "median_ape": medians(rows),
        "by_io_type": _grouped(rows, lambda row: row["io_type"]),
        "by_repository": _grouped(rows, lambda row: row["repository"]),
        "by_layer_kind": _grouped(layers, lambda row: row["kind"], LAYER_FIGURES),
        "layers": len(layers),
        "vivado_synth": {"median_ape": medians(synth, SYNTH_FIGURES), "pairs": len(synth)},
    }


def error_report(folders: str | Path | list[str | Path], shipped: bool = False) -> dict[str, Any]:
    """The benchmark's record for the pairs in ``folders``: refitted (in sample and
    leave-one-repository-out) and as shipped, or only as shipped (``shipped``)."""
    pairs, failed = load_pairs(folders)
    unread = [pair_row(name, None, f"cannot read the pair: {reason}", None) for name, reason in failed]
    calibration = load_calibration()
    as_shipped = _section(pairs, estimate_pairs(pairs, lambda pair: calibration))
    if shipped:
        main, in_sample, sections = as_shipped, as_shipped, {"shipped": as_shipped}
    else:
        refit = fit(pairs) if pairs else None
        in_sample = _section(pairs, estimate_pairs(pairs, lambda pair: refit)) if pairs else as_shipped
        several = len({pair.repository for pair in pairs}) > 1
        main = _section(pairs, cross_validated(pairs) if several else [None] * len(pairs))
        sections = {"cross_validated": main, "in_sample": in_sample, "shipped": as_shipped}
    rows = sorted(unread + main["rows"], key=lambda row: row["name"])
    return {
        "pairs": rows,
        "median_ape": main["median_ape"],
        "median_ape_in_sample": in_sample["median_ape"],
        "coverage": {"estimated": sum(row["estimated"] for row in rows), "total": len(rows)},
        "mode": "shipped" if shipped else "refit",
        "calibration": calibration.version,
        "excluded": {pair.name: {"figures": list(pair.untrusted), "reason": pair.note} for pair in pairs
                     if pair.untrusted},
        **{name: {key: value for key, value in section.items() if key != "rows"} for name, section in sections.items()},
    }
