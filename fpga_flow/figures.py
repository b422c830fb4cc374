"""The hardware figures that stand for a run's design: resources and latency from the
vendor report when synthesis produced one, otherwise from fpga-flow's estimate. The run
history stores them as columns; the dashboard and run page show them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fpga_flow.layers import RESOURCE_KEYS
from fpga_flow.records.estimate import Estimate
from fpga_flow.summary import RunSummary

VENDOR = "vendor report"
ESTIMATE = "estimate"


@dataclass(frozen=True)
class HardwareFigures:
    """Resources and latency of a run: from the vendor report when synthesis produced
    one, otherwise from fpga-flow's estimate (its csynth figures). ``source`` says which."""

    source: str  # VENDOR | ESTIMATE | "none"
    resources: dict[str, int | None]
    capacity: dict[str, int | None]
    latency_cycles: int | None
    latency_cycles_best: int | None
    latency_ns: float | None
    interval_cycles: int | None
    clock_period_ns: float | None
    tool: str | None
    latency_unknown_reason: str | None = None

    def utilization_pct(self, key: str) -> float | None:
        used, total = self.resources.get(key), self.capacity.get(key)
        return None if used is None or not total else 100.0 * used / total


def hardware_figures(summary: RunSummary) -> HardwareFigures:
    """The resource and latency figures that stand for ``summary``'s design: the vendor
    report's when it reports any resource, else the estimate's."""
    return figures_of(summary.synthesis.report, summary.estimate, summary.board.resources.model_dump(),
                      summary.hls.clock_period_ns)


def figures_of(report: dict[str, Any] | None, estimate: Estimate | None, board_resources: dict[str, int] | None,
               clock: float | None) -> HardwareFigures:
    """Figures from a vendor report (a BuildReport dict) when it reports any resource,
    else from the estimate; capacities the report does not know come from the board."""
    board = _resources(board_resources)
    report = report or {}
    if any(value is not None for value in (report.get("resources") or {}).values()):
        latency = report.get("latency_cycles") or {}
        interval = report.get("interval_cycles") or {}
        clock = report.get("target_clock_ns") or clock
        worst = latency.get("worst")
        ns = (report.get("latency_ns") or {}).get("worst")
        if ns is None and worst is not None and clock:
            ns = worst * clock
        reported = _resources(report.get("available"))
        capacity = {key: board[key] if reported[key] is None else reported[key] for key in RESOURCE_KEYS}
        tool = " ".join(str(part) for part in (report.get("tool"), report.get("tool_version")) if part)
        return HardwareFigures(VENDOR, _resources(report["resources"]), capacity, worst, latency.get("best"), ns,
                               interval.get("max"), clock, tool or None, report.get("latency_unknown_reason"))
    if estimate is not None:
        return HardwareFigures(ESTIMATE, _resources(estimate.resources), board, estimate.latency_cycles,
                               estimate.latency_cycles, estimate.latency_ns, estimate.interval_cycles, clock,
                               estimate.model)
    return HardwareFigures("none", _resources(None), board, None, None, None, None, clock, None)


def _resources(values: dict[str, Any] | None) -> dict[str, int | None]:
    values = values or {}
    return {key: (None if values.get(key) is None else int(values[key])) for key in RESOURCE_KEYS}
