"""Stage ``dashboard``: one self-contained static HTML page over finished runs.

The page needs no network: styles and the small filter script are inline, charts are
inline SVG drawn here, and a Content-Security-Policy forbids the browser any fetch.
Every figure carries ``data-*`` attributes (``data-run-id``, ``data-metric``,
``data-value``) so tests and scripts can read it from the DOM.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from fpga_flow.boards import RESOURCE_KEYS
from fpga_flow.fixed import FixedType
from fpga_flow.history import ESTIMATE, VENDOR, HardwareFigures, hardware_figures
from fpga_flow.layers import ESTIMATED_RESOURCE_KEYS
from fpga_flow.rundir import HLS_CONFIG_NAME, INCOMPLETE_NAME, PROJECT_DIR, RUN_PAGE_NAME, SUMMARY_NAME
from fpga_flow.summary import RunSummary, SummaryError, read_summary

PAGE_NAME = "index.html"
# Entries that mark a build's run directory even when its summary is missing.
RUN_DIR_MARKERS = (SUMMARY_NAME, INCOMPLETE_NAME, PROJECT_DIR, HLS_CONFIG_NAME)
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")


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


def fmt_pct(fraction: float | None, digits: int = 2) -> str:
    return "n/a" if fraction is None else f"{100 * fraction:.{digits}f}%"


def fmt_num(value: float | int | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _short(value: float) -> str:
    """Axis tick labels: 1.5k, 2M."""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


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


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    series: str
    run_id: str
    model: str
    board: str
    title: str
    square: bool = False  # figures from a vendor report
    hollow: bool = False
    faded: bool = False
    # Relative errors (fractions) of an estimated x or y: drawn as error bars of +-that share.
    x_error: float | None = None
    y_error: float | None = None
    role: str = ""  # a role the point plays in its chart ('chosen' is drawn ringed), in data-role

    def spans(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """(x low, x high), (y low, y high): the point with its error bars."""
        x_err, y_err = self.x_error or 0.0, self.y_error or 0.0
        return (self.x * (1 - x_err), self.x * (1 + x_err)), (self.y * (1 - y_err), self.y * (1 + y_err))


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        low, high = (low - 1, high + 1) if low else (0.0, 1.0)
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 2.5, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    start = math.floor(low / step) * step
    ticks = [start]
    while ticks[-1] < high - 1e-9 * step:
        ticks.append(ticks[-1] + step)
    return [round(t, 10) for t in ticks]


def scatter_chart(chart_id: str, points: list[ChartPoint], x_label: str, y_label: str, *,
                  log2_x: bool = False, y_percent: bool = False, lines: dict[str, list[ChartPoint]] | None = None,
                  step_lines: bool = False, x_from_zero: bool = True, y_from_zero: bool = True,
                  x_limits: dict[str, float] | None = None, log10_y: bool = False, note: str = "") -> Markup:
    """A scatter chart as a ``<figure>`` with an inline SVG and a legend. ``lines``
    joins points of a series; ``step_lines`` draws them as a staircase (Pareto front);
    a point with ``x_error``/``y_error`` carries error bars (the axes take them in);
    ``x_limits`` draws a labelled vertical line at each named x (a board's capacity);
    ``log10_y`` scales y by decades (positive values spanning orders of magnitude)."""
    width, height, left, right, top, bottom = 470, 290, 62, 14, 12, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    series = sorted({p.series for p in points})
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    limits = x_limits or {}
    x_spans = [value for p in points for value in p.spans()[0] if value > 0 or not log2_x]
    xs = [math.log2(value) if log2_x else value for value in x_spans]
    ys = [value for p in points for value in p.spans()[1] if value > 0 or not log10_y]
    if limits and not log2_x:
        xs += list(limits.values())
    if log2_x:
        lo, hi = math.floor(min(xs)), math.ceil(max(xs))
        x_ticks = list(range(lo - (lo == hi), hi + 1 + (lo == hi)))
    else:
        x_ticks = _ticks(min(0.0, min(xs)) if x_from_zero else min(xs), max(xs))
    if log10_y:
        lo, hi = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
        y_ticks = list(range(lo, hi + 1 + (lo == hi)))
    else:
        y_ticks = _ticks(min(0.0, min(ys)) if y_from_zero else min(ys), max(ys))
    inset = 10  # keeps markers off the axes

    def sx_scaled(value: float) -> float:
        return left + inset + (plot_w - 2 * inset) * (value - x_ticks[0]) / (x_ticks[-1] - x_ticks[0])

    def sx(value: float) -> float:
        return sx_scaled(math.log2(value) if log2_x else value)

    def sy_scaled(value: float) -> float:
        return top + inset + (plot_h - 2 * inset) * (1 - (value - y_ticks[0]) / (y_ticks[-1] - y_ticks[0]))

    def sy(value: float) -> float:
        return sy_scaled(math.log10(value) if log10_y else value)

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(y_label)} against {escape(x_label)}">']
    for tick in y_ticks:
        label = _short(10 ** tick) if log10_y else f"{tick:g}%" if y_percent else _short(tick)
        y = sy_scaled(tick)
        parts.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for tick in x_ticks:
        x = sx_scaled(tick)
        label = f"{2 ** tick:g}" if log2_x else _short(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}"/>'
                     f'<text class="tick" x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{label}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}"/>'
                 f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}"/>'
                 f'<text class="label" x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">{escape(x_label)}</text>'
                 f'<text class="label" transform="translate(14 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
                 f'{escape(y_label)}</text>')
    for name, value in limits.items():
        x = sx(value)
        parts.append(f'<line class="limit" data-limit="{escape(name)}" data-x="{value:g}" x1="{x:.1f}" x2="{x:.1f}" '
                     f'y1="{top}" y2="{top + plot_h}"/><text class="tick" x="{x - 3:.1f}" y="{top + 10}" '
                     f'text-anchor="end">{escape(name)}</text>')
    for name, joined in sorted((lines or {}).items()):
        joined = sorted(joined, key=lambda p: (p.x, p.y))
        if len(joined) < 2:
            continue
        coords = []
        for before, after in zip(joined, joined[1:]):
            coords.append((sx(before.x), sy(before.y)))
            if step_lines:
                coords.append((sx(after.x), sy(before.y)))
        coords.append((sx(joined[-1].x), sy(joined[-1].y)))
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline class="series-line" points="{path}" stroke="{colors[name]}"/>')
    for point in points:
        color = colors[point.series]
        fill = "#fff" if point.hollow else color
        errors = "".join(f' data-{axis}-error="{value:g}"' for axis, value in (("x", point.x_error), ("y", point.y_error))
                         if value is not None)
        attrs = (f'class="pt{" faded" if point.faded else ""}" fill="{fill}" stroke="{color}" '
                 f'data-run-id="{escape(point.run_id)}" data-model="{escape(point.model)}" '
                 f'data-board="{escape(point.board)}" data-x="{point.x:g}" data-y="{point.y:g}"{errors}'
                 + (f' data-role="{escape(point.role)}"' if point.role else ""))
        x, y = sx(point.x), sy(point.y)
        (x_low, x_high), (y_low, y_high) = point.spans()
        if point.y_error and (y_low > 0 or not log10_y):
            parts.append(_error_bar(x, sy(y_low), x, sy(y_high), point, color, "y"))
        if point.x_error and (x_low > 0 or not log2_x):
            parts.append(_error_bar(sx(x_low), y, sx(x_high), y, point, color, "x"))
        if point.role == "chosen":
            parts.append(f'<circle class="ring" cx="{x:.1f}" cy="{y:.1f}" r="10"/>')
        shape = (f'<rect {attrs} x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10">' if point.square
                 else f'<circle {attrs} cx="{x:.1f}" cy="{y:.1f}" r="5">')
        parts.append(f'{shape}<title>{escape(point.title)}</title>{"</rect>" if point.square else "</circle>"}')
    parts.append("</svg>")
    legend = "".join(f'<span class="key"><i style="background:{colors[name]}"></i>{escape(name)}</span>' for name in series)
    caption = f'<figcaption>{legend}{f"<br>{escape(note)}" if note else ""}</figcaption>'
    return Markup(f'<figure id="{chart_id}" data-chart="{chart_id}" data-points="{len(points)}">'
                  f'{"".join(parts)}{caption}</figure>')


def _error_bar(x1: float, y1: float, x2: float, y2: float, point: ChartPoint, color: str, axis: str) -> str:
    """The error bar of ``point`` from (x1, y1) to (x2, y2), in its series' colour, with a cap at each end."""
    cap = 4
    caps = ((x1, y1 - cap, x1, y1 + cap), (x2, y2 - cap, x2, y2 + cap)) if axis == "x" else \
        ((x1 - cap, y1, x1 + cap, y1), (x2 - cap, y2, x2 + cap, y2))
    lines = "".join(f'<line x1="{a:.1f}" y1="{b:.1f}" x2="{c:.1f}" y2="{d:.1f}"/>' for a, b, c, d in ((x1, y1, x2, y2), *caps))
    return (f'<g class="errbar{" faded" if point.faded else ""}" stroke="{color}" data-run-id="{escape(point.run_id)}" '
            f'data-axis="{axis}">{lines}</g>')


def resource_bars(bars_id: str, figures: HardwareFigures, errors: dict[str, float | None] | None = None) -> Markup:
    """One bar per resource against the board's capacity, with the 100% line; for an
    estimate, an error bar over +-its measured median error (``errors``, fractions)."""
    row_h, label_w, bar_w, text_w = 30, 84, 330, 330
    pcts = [figures.utilization_pct(key) for key in RESOURCE_KEYS]
    scale = max([100.0] + [p for p in pcts if p is not None]) * 1.08
    height = row_h * len(RESOURCE_KEYS) + 26
    x100 = label_w + bar_w * 100 / scale
    parts = [f'<svg id="{bars_id}" class="bars" viewBox="0 0 {label_w + bar_w + text_w} {height}" '
             f'width="{label_w + bar_w + text_w}" height="{height}" role="img" aria-label="resource use against board capacity">']
    for row, (key, pct) in enumerate(zip(RESOURCE_KEYS, pcts)):
        y = 8 + row * row_h
        used, capacity = figures.resources[key], figures.capacity.get(key)
        if used is None:
            text = "not reported"
        elif not capacity:
            text = f"{used:,} used; the board has none" if used else "0 (the board has none)"
        else:
            text = f"{used:,} of {capacity:,} ({pct:.1f}%)"
        over = pct is not None and pct > 100
        width = 0 if pct is None else bar_w * min(pct, scale) / scale
        error = (errors or {}).get(key)
        whisker = ""
        if error is not None and pct is not None:
            low, high = (label_w + bar_w * min(pct * factor, scale) / scale for factor in (1 - error, 1 + error))
            whisker = (f'<line class="err" x1="{low:.1f}" x2="{high:.1f}" y1="{y + 10}" y2="{y + 10}"/>'
                       f'<line class="err" x1="{low:.1f}" x2="{low:.1f}" y1="{y + 5}" y2="{y + 15}"/>'
                       f'<line class="err" x1="{high:.1f}" x2="{high:.1f}" y1="{y + 5}" y2="{y + 15}"/>')
            text += f" ±{100 * error:.0f}%"
        parts.append(
            f'<g data-metric="resource" data-resource="{key}" data-used="{"" if used is None else used}" '
            f'data-capacity="{"" if capacity is None else capacity}" data-pct="{"" if pct is None else f"{pct:.2f}"}" '
            f'data-error="{"" if error is None else error}">'
            f'<text class="rlabel" x="0" y="{y + 15}">{key}</text>'
            f'<rect class="track" x="{label_w}" y="{y}" width="{bar_w}" height="20"/>'
            f'<rect class="{"bar over" if over else "bar"}" x="{label_w}" y="{y}" width="{width:.1f}" height="20"/>'
            f'{whisker}<text class="rvalue{" over" if over else ""}" x="{label_w + bar_w + 10}" y="{y + 15}">'
            f'{escape(text)}{" — does not fit" if over else ""}</text></g>')
    parts.append(f'<line class="full" x1="{x100:.1f}" x2="{x100:.1f}" y1="2" y2="{height - 18}"/>'
                 f'<text class="tick" x="{x100:.1f}" y="{height - 4}" text-anchor="middle">100% of the board</text></svg>')
    return Markup("".join(parts))


def layer_error_chart(chart_id: str, before: dict[str, float], after: dict[str, float]) -> Markup:
    """Per-layer relative error before and after precision closure, as paired bars."""
    layers = list(dict.fromkeys([*before, *after]))
    row_h, label_w, bar_w, text_w = 34, 110, 300, 130
    top = max([v for v in [*before.values(), *after.values()] if v is not None] + [1e-12])
    height = row_h * len(layers) + 8
    parts = [f'<svg id="{chart_id}" class="bars" viewBox="0 0 {label_w + bar_w + text_w} {height}" '
             f'width="{label_w + bar_w + text_w}" height="{height}" role="img" aria-label="per-layer error before and after closure">']
    for row, layer in enumerate(layers):
        y = 4 + row * row_h
        parts.append(f'<text class="rlabel" x="0" y="{y + 18}">{escape(layer)}</text>')
        for offset, (name, values) in enumerate((("before", before), ("after", after))):
            value = values.get(layer)
            width = 0 if value is None else bar_w * value / top
            parts.append(
                f'<g data-metric="layer_error_{name}" data-layer="{escape(layer)}" data-value="{"" if value is None else value}">'
                f'<rect class="err-{name}" x="{label_w}" y="{y + offset * 13}" width="{width:.1f}" height="12"/>'
                f'<text class="tick" x="{label_w + width + 4:.1f}" y="{y + offset * 13 + 10}">'
                f'{name} {fmt_num(value)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


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
        fronts = _pareto_fronts(points)
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


def _pareto_fronts(points: list[ChartPoint]) -> dict[str, list[ChartPoint]]:
    fronts: dict[str, list[ChartPoint]] = {}
    for point in points:
        dominated = any(
            other.series == point.series and other.x <= point.x and other.y <= point.y
            and (other.x, other.y) != (point.x, point.y)
            for other in points)
        if not dominated:
            fronts.setdefault(point.series, []).append(point)
    return fronts


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
