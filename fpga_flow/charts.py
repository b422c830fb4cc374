"""The run page's and dashboard's charts, drawn as inline SVG (no plotting library, no
script): a scatter chart with error bars, limit lines and Pareto staircases, resource
bars against a board, per-layer error bars; and the number formats they and the pages
share. They draw points and figures; :mod:`fpga_flow.dashboard` decides what to plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from fpga_flow.figures import HardwareFigures
from fpga_flow.layers import RESOURCE_KEYS

PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")


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


def pareto_fronts(points: list[ChartPoint]) -> dict[str, list[ChartPoint]]:
    fronts: dict[str, list[ChartPoint]] = {}
    for point in points:
        dominated = any(
            other.series == point.series and other.x <= point.x and other.y <= point.y
            and (other.x, other.y) != (point.x, point.y)
            for other in points)
        if not dominated:
            fronts.setdefault(point.series, []).append(point)
    return fronts
