"""Stage ``dashboard``: one self-contained static HTML page over finished runs.

The page needs no network: styles and the small filter script are inline, charts are
inline SVG (:mod:`fpga_flow.charts`), and a Content-Security-Policy forbids the browser any fetch.
Every figure carries ``data-*`` attributes (``data-run-id``, ``data-metric``,
``data-value``) so tests and scripts can read it from the DOM.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from fpga_flow.charts import ChartPoint, fmt_num, fmt_pct, layer_error_chart, pareto_fronts, resource_bars, scatter_chart
from fpga_flow.figures import ESTIMATE, VENDOR, HardwareFigures, hardware_figures
from fpga_flow.fixed import FixedType
from fpga_flow.layers import ESTIMATED_RESOURCE_KEYS, RESOURCE_KEYS
from fpga_flow.rundir import HLS_CONFIG_NAME, INCOMPLETE_NAME, PROJECT_DIR, RUN_PAGE_NAME, SUMMARY_NAME
from fpga_flow.summary import RunSummary, SummaryError, read_summary

PAGE_NAME = "index.html"
# Entries that mark a build's run directory even when its summary is missing.
RUN_DIR_MARKERS = (SUMMARY_NAME, INCOMPLETE_NAME, PROJECT_DIR, HLS_CONFIG_NAME)
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.


# --------------------------------------------------------------------------- collecting runs


def collect_runs(paths: Iterable[str | Path]) -> tuple[list[RunSummary], list[str]]:
    """Summaries of the finished runs in ``paths`` (run directories, ``summary.json``
    files, or trees of run directories such as ``reports/``), and one warning per
    path or run directory skipped, naming it and why."""
    summaries: list[RunSummary] = []
    warnings: list[str] = []
    seen: set[Path] = set()
    for path in paths:
        path = Path(path)
        if path.is_file() and path.name == SUMMARY_NAME:
            path = path.parent
        if not path.is_dir():
            warnings.append(f"{path}: no such run directory, skipped")
            continue
        run_dirs = list(_run_dirs(path))
        if not run_dirs:
            warnings.append(f"{path}: no run directory (with {SUMMARY_NAME}) inside, skipped")
        for run_dir in run_dirs:
            if run_dir.resolve() in seen:
                continue
            seen.add(run_dir.resolve())
            summary, problem = _read_run(run_dir)
            if problem:
                warnings.append(f"{run_dir}: {problem}, skipped")
            else:
                summaries.append(summary)
    return summaries, warnings


def _run_dirs(root: Path) -> Iterable[Path]:
    for folder, subfolders, files in os.walk(root):
        if "CACHEDIR.TAG" in files:  # the build cache holds projects, not runs
            subfolders[:] = []
            continue
        # HLS projects hold thousands of files and never a run.
        subfolders[:] = sorted(name for name in subfolders if not name.startswith(".") and name != PROJECT_DIR)
        if _is_run_dir(Path(folder)):
            yield Path(folder)


def _is_run_dir(folder: Path) -> bool:
    return any((folder / marker).exists() for marker in RUN_DIR_MARKERS)


def _read_run(run_dir: Path) -> tuple[RunSummary | None, str | None]:
    marker = run_dir / INCOMPLETE_NAME
    if marker.exists():
        stage = marker.read_text(encoding="utf-8", errors="replace").strip()
        return None, f"incomplete run ({stage or 'interrupted'})"
    if not (run_dir / SUMMARY_NAME).is_file():
        return None, f"no {SUMMARY_NAME} (not a finished run)"
    try:
        return read_summary(run_dir), None
    except SummaryError as exc:
        return None, str(exc)


# --------------------------------------------------------------------------- formatting


def weight_bits(summary: RunSummary) -> int | None:
    """Width of the widest weight type in the design (the bit width the accuracy
    comparison is plotted against)."""
    widths = []
    for types in summary.precision.layer_precisions.values():
        weight = FixedType.parse(types.get("weight", ""))
        if weight is not None:
            widths.append(weight.width)
    return max(widths) if widths else None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "run"


# --------------------------------------------------------------------------- SVG charts


def fit_charts(index: int, summary: RunSummary) -> list[Markup]:
    """For a fitted run, latency against each resource for every plan the fit priced:
    the board's capacity and the budget as lines, the chosen plan ringed, the design
    without --fit hollow, plans over budget faded; one colour per io type."""
    fit = summary.fit
    roles = [(fit.chosen, "chosen"), (fit.unfitted, "unfitted"), *((point, "") for point in fit.alternatives)]
    charts = []
    for key in fit.board_resources:
        capacity = fit.board_resources[key]
        points = [ChartPoint(
            float(getattr(point, key)), point.latency_ns, point.io_type, summary.run_id, summary.model.name,
            summary.board.name,
            f"{role or 'considered'} ({point.io_type}): {', '.join(f'{name} {setting}' for name, setting in point.plan.items())}"
            f"; {getattr(point, key):,} {key}, {fmt_num(point.latency_ns)} ns" + ("" if point.fits else ", over budget"),
            hollow=role == "unfitted", faded=not role and not point.fits, role=role) for point, role in roles]
        limits = {"board": capacity, f"budget {100 * fit.request.budget:g}%": fit.request.budget * capacity} if capacity else {}
        charts.append(scatter_chart(f"fit-{index}-{key.lower()}", points, f"{key} (estimate)", "latency (ns, log scale)",
                                    x_limits=limits, log10_y=True))
    return charts


# --------------------------------------------------------------------------- page model


def _run_view(index: int, summary: RunSummary) -> dict[str, Any]:
    figures = hardware_figures(summary)
    synthesis, estimate, closure = summary.synthesis, summary.estimate, summary.precision.closure
    report = synthesis.report or {}
    anchor = f"run-{index}-{_slug(summary.run_id)}"
    comparison = []
    errors = {key: estimate.error_of(key) for key in (*RESOURCE_KEYS, "latency", "interval")}
    if figures.source == VENDOR:
        for key in RESOURCE_KEYS:
            vendor, guess = figures.resources.get(key), estimate.resources.get(key)
            ratio = None if not vendor or guess is None else guess / vendor
            comparison.append({"key": key, "vendor": fmt_num(vendor), "estimate": fmt_num(guess),
                               "error": "" if errors.get(key) is None else f"±{100 * errors[key]:.0f}%",
                               "ratio": "n/a" if ratio is None else f"{ratio:.2f}×"})
        timing = report.get("timing") or {}
        source_note = (f"from the {figures.tool or 'vendor'} synthesis report: target clock "
                       f"{fmt_num(report.get('target_clock_ns'))} ns, estimated clock {fmt_num(report.get('estimated_clock_ns'))} ns"
                       + (f", worst negative slack {fmt_num(timing.get('wns_ns'))} ns" if timing.get("wns_ns") is not None else "")
                       + (f", timing {'met' if timing.get('met') else 'NOT met'}" if timing.get("met") is not None else ""))
    else:
        why = synthesis.reason or synthesis.status
        source_note = f"from the {estimate.model} (no vendor report: {why}): {_estimate_note(estimate)}"
    chosen = None if closure is None else next(
        (it for it in closure.iterations if it.iteration == closure.chosen_iteration), None)
    return {
        "s": summary,
        "index": index,
        "anchor": anchor,
        "figures": figures,
        "source": figures.source,
        "source_note": source_note,
        "bars": resource_bars(f"resources-{index}", figures, errors if figures.source == ESTIMATE else None),
        "estimate_kind": estimate.headline.kind,
        "estimate_errors": {key: None if value is None else f"±{100 * value:.0f}%" for key, value in errors.items()},
        "utilization": {key: figures.utilization_pct(key) for key in RESOURCE_KEYS},
        "comparison": comparison,
        "bits": weight_bits(summary),
        "status": summary.status,
        "status_line": summary.headline(),  # PASSED, or what failed (DOES NOT FIT: LUT 156% of pynq-z2 ...)
        "confusion": _confusion_view(summary.fidelity.confusion_matrix),
        "closure_agreement": None if chosen is None else chosen.agreement,
        "layer_errors": layer_error_chart(f"layer-error-{index}", closure.layer_error_before, closure.layer_error_after)
        if closure and (closure.layer_error_before or closure.layer_error_after) else None,
        "overflowing": {name: info for name, info in summary.precision.overflow.items() if info.overflowed},
        "fit_charts": fit_charts(index, summary) if summary.fit is not None else [],
        "device_fit": summary.device_fit(),  # ECP5: the RTL's counts against the device, by source
        "deploy": summary.deploy,
        "board_check": None if summary.deploy is None or summary.deploy.board_check is None
        else summary.deploy.board_check.results,
        "design_throughput": design_throughput(figures),
    }


def _estimate_note(estimate) -> str:
    """What the estimate's figures predict and how far they were measured to be off."""
    head = estimate.headline
    note = estimate.kinds.get(head.kind, head.kind)
    if estimate.error:
        note += ("; error bars: median error on real report pairs, cross-validated "
                 f"(latency ±{100 * (estimate.error_of('latency') or 0):.0f}%)")
    if estimate.vivado_synth is not None:
        synth = estimate.vivado_synth
        note += (f"; Vivado synthesis would use about {synth.LUT:,} LUT, {synth.FF:,} FF, {synth.DSP:,} DSP, "
                 f"{synth.BRAM_18K:,} BRAM_18K")
    if estimate.scope_notes:
        note += f"; outside the validated scope: {'; '.join(estimate.scope_notes)}"
    return note + "; read them as a guide, not a synthesis result"


def design_throughput(figures: HardwareFigures) -> float | None:
    """Samples per second the IP takes in: a new sample every initiation interval, so
    ``1e9 / (interval_cycles * clock_period_ns)`` (the figure a board's measured
    throughput stands beside; the board adds the host's transfers)."""
    if not figures.interval_cycles or not figures.clock_period_ns:
        return None
    return 1e9 / (figures.interval_cycles * figures.clock_period_ns)


def _confusion_view(matrix) -> dict[str, Any]:
    counts = matrix.counts
    labels = list(matrix.labels)
    labels += [str(i) for i in range(len(labels), len(counts))]
    total = sum(sum(row) for row in counts)
    diagonal = [row[i] for i, row in enumerate(counts) if i < len(row)]
    off_diagonal = [count for i, row in enumerate(counts) for j, count in enumerate(row) if i != j]
    # Agreements and disagreements are shaded on their own scales: a single
    # disagreement among hundreds of agreements must still catch the eye.
    peaks = {True: max(diagonal, default=0) or 1, False: max(off_diagonal, default=0) or 1}
    cells = [[{"count": count, "diagonal": i == j,
               "alpha": round(0.25 + 0.75 * count / peaks[i == j], 3) if count else 0}
              for j, count in enumerate(row)] for i, row in enumerate(counts)]
    return {"labels": labels, "cells": cells, "total": total, "disagreements": sum(off_diagonal)}


# Caption of charts whose estimated points carry error bars.
ERROR_BAR_NOTE = "bars on estimated points: the estimate's median error on real report pairs, cross-validated"


def _estimate_error(view: dict[str, Any], figure: str) -> float | None:
    """The measured error (fraction) of a figure the view's run shows from its estimate."""
    return view["s"].estimate.error_of(figure) if view["figures"].source == ESTIMATE else None


def _comparison_charts(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    charts = []
    resource_points: dict[str, list[ChartPoint]] = {}
    for view in views:
        s, figures = view["s"], view["figures"]
        model, board, reuse = s.model.name, s.board.name, s.hls.reuse_factor
        for key in ESTIMATED_RESOURCE_KEYS:
            pct = figures.utilization_pct(key)
            if pct is None:
                continue
            error = _estimate_error(view, key)
            resource_points.setdefault(key, []).append(ChartPoint(
                float(reuse), pct, f"{model} @ {board}", s.run_id, model, board,
                f"{s.run_id}: reuse factor {reuse}, {key} {fmt_num(figures.resources[key])} "
                f"({pct:.1f}% of the board, {figures.source}{'' if error is None else f' ±{100 * error:.0f}%'})",
                square=figures.source == VENDOR, y_error=error))
    for key, points in resource_points.items():
        lines: dict[str, list[ChartPoint]] = {}
        for point in points:
            lines.setdefault(point.series, []).append(point)
        charts.append({"group": "Resources against reuse factor", "chart": scatter_chart(
            f"chart-{key.lower()}-vs-reuse", points, "reuse factor", f"{key} (% of board)",
            log2_x=True, y_percent=True, lines=lines,
            note=ERROR_BAR_NOTE if any(p.y_error for p in points) else "")})

    accuracy_points = []
    for view in views:
        s, bits = view["s"], view["bits"]
        if bits is None:
            continue
        for accuracy, hollow in ((s.fidelity.csim_accuracy, False), (s.fidelity.keras_accuracy, True)):
            if accuracy is None:
                continue
            accuracy_points.append(ChartPoint(
                float(bits), 100 * accuracy, s.model.name, s.run_id, s.model.name, s.board.name,
                f"{s.run_id}: {bits}-bit weights, {'Keras' if hollow else 'C-sim'} accuracy {fmt_pct(accuracy)}",
                hollow=hollow))
    if accuracy_points:
        charts.append({"group": "Accuracy against bit width", "chart": scatter_chart(
            "chart-accuracy-vs-bits", accuracy_points, "widest weight type (bits)", "accuracy (%)",
            x_from_zero=False, y_from_zero=False,
            note="filled: C-simulation accuracy; hollow: Keras accuracy of the same run")})

    for key in ("LUT", "DSP"):
        points = [ChartPoint(float(v["figures"].resources[key]), float(v["figures"].latency_ns), v["s"].model.name,
                             v["s"].run_id, v["s"].model.name, v["s"].board.name,
                             f"{v['s'].run_id}: {fmt_num(v['figures'].resources[key])} {key}, "
                             f"{fmt_num(v['figures'].latency_ns)} ns ({v['figures'].source})",
                             square=v["figures"].source == VENDOR, x_error=_estimate_error(v, key),
                             y_error=_estimate_error(v, "latency"))
                  for v in views if v["figures"].resources[key] is not None and v["figures"].latency_ns is not None]
        if not points:
            continue
        fronts = pareto_fronts(points)
        on_front = {id(p) for front in fronts.values() for p in front}
        points = [p if id(p) in on_front else replace(p, faded=True) for p in points]
        charts.append({"group": "Pareto view: latency against resources", "chart": scatter_chart(
            f"chart-pareto-{key.lower()}", points, f"{key} used", "latency (ns)", lines=fronts, step_lines=True,
            note="line: Pareto front per model (no other run of the model is both faster and smaller); faded: dominated"
                 + ("; " + ERROR_BAR_NOTE if any(p.x_error or p.y_error for p in points) else ""))})
    return charts


def _grouped(charts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[Markup]] = {}
    for chart in charts:
        groups.setdefault(chart["group"], []).append(chart["chart"])
    return [{"title": title, "charts": members} for title, members in groups.items()]


# --------------------------------------------------------------------------- rendering


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("fpga_flow", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = fmt_pct
    env.filters["num"] = fmt_num
    env.filters["raw"] = lambda value: "" if value is None else value
    return env


def render(summaries: list[RunSummary], title: str, warnings: Iterable[str] = (), single_run: bool = False) -> str:
    """The page's HTML for ``summaries`` (newest first)."""
    ordered = sorted(summaries, key=lambda s: s.created_utc, reverse=True)
    views = [_run_view(i, s) for i, s in enumerate(ordered)]
    return _environment().get_template("dashboard.html.j2").render(
        title=title,
        runs=views,
        single_run=single_run,
        warnings=list(warnings),
        models=sorted({v["s"].model.name for v in views}),
        boards=sorted({v["s"].board.name for v in views}),
        charts=_grouped(_comparison_charts(views)) if len(views) > 1 else [],
        resource_keys=RESOURCE_KEYS,
        vendor=VENDOR,
        estimate=ESTIMATE,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_dashboard(summaries: list[RunSummary], out_dir: str | Path, title: str = "fpga-flow runs",
                    warnings: Iterable[str] = ()) -> Path:
    """Write ``index.html`` over ``summaries`` into ``out_dir``; ``warnings`` (what was
    skipped) are listed on the page. Returns the page's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / PAGE_NAME
    page.write_text(render(summaries, title, warnings), encoding="utf-8")
    return page


def write_run_page(run_dir: str | Path) -> Path:
    """Write ``dashboard.html`` of one run beside its ``summary.json``; returns its path."""
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    page = run_dir / RUN_PAGE_NAME
    page.write_text(render([summary], f"{summary.model.name} on {summary.board.name}", single_run=True), encoding="utf-8")
    return page
