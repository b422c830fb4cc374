"""The typed records the report parsers return, and the one error they may raise.

Units are in the field names (``_ns``, ``_mhz``, ``_cycles``, ``_pct``, ``_w``); BRAM is
counted in 18Kb units under ``BRAM_18K`` everywhere, and in 36Kb tiles only under
``bram_36k_tiles``. A figure a report does not give is ``None``, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fpga_flow.boards import RESOURCE_KEYS
from fpga_flow.errors import UserInputError


class ReportParseError(UserInputError):
    """A file that cannot be read as the vendor report it claims (or seems) to be."""

    def __init__(self, file: str | Path, reason: str) -> None:
        self.file = str(file)
        self.reason = reason
        super().__init__(f"{self.file}: {reason}")


def no_resources() -> dict[str, Any]:
    return {key: None for key in RESOURCE_KEYS}


@dataclass
class Latency:
    """Latency in clock cycles and in ns; ``unknown_reason`` says why a cycle count is None."""

    best: int | None = None
    avg: int | None = None
    worst: int | None = None
    best_ns: float | None = None
    avg_ns: float | None = None
    worst_ns: float | None = None
    unknown_reason: str | None = None

    def cycles_dict(self) -> dict[str, int | None]:
        return {"best": self.best, "avg": self.avg, "worst": self.worst}

    def ns_dict(self) -> dict[str, float | None]:
        return {"best": self.best_ns, "avg": self.avg_ns, "worst": self.worst_ns}


@dataclass
class Interval:
    """Initiation interval in clock cycles."""

    min: int | None = None
    max: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        return {"min": self.min, "max": self.max}


@dataclass
class ModuleFigures:
    """One instance (an hls4ml layer), loop or sub-module of a design."""

    name: str
    instance: str | None = None
    depth: int | None = None
    latency_cycles: dict[str, int | None] = field(default_factory=lambda: {"best": None, "avg": None, "worst": None})
    interval_cycles: dict[str, int | None] = field(default_factory=lambda: {"min": None, "max": None})
    pipeline_type: str | None = None
    resources: dict[str, Any] = field(default_factory=no_resources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "instance": self.instance, "depth": self.depth,
            "latency_cycles": dict(self.latency_cycles), "interval_cycles": dict(self.interval_cycles),
            "pipeline_type": self.pipeline_type, "resources": dict(self.resources),
        }


@dataclass
class Timing:
    """Post-synthesis or post-route timing; ``fmax_mhz`` is 1000 / (clock period - WNS)."""

    wns_ns: float | None = None
    tns_ns: float | None = None
    whs_ns: float | None = None
    ths_ns: float | None = None
    met: bool | None = None
    fmax_mhz: float | None = None
    clock: str | None = None
    clock_period_ns: float | None = None
    achieved_period_ns: float | None = None
    stage: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "wns_ns": self.wns_ns, "tns_ns": self.tns_ns, "whs_ns": self.whs_ns, "ths_ns": self.ths_ns,
            "met": self.met, "fmax_mhz": self.fmax_mhz, "clock": self.clock,
            "clock_period_ns": self.clock_period_ns, "achieved_period_ns": self.achieved_period_ns, "stage": self.stage,
        }


def fmax_from_slack(period_ns: float | None, wns_ns: float | None) -> float | None:
    """The highest clock frequency the routed design meets: 1000 / (period - WNS)."""
    if period_ns is None or wns_ns is None or period_ns - wns_ns <= 0:
        return None
    return round(1000.0 / (period_ns - wns_ns), 3)


@dataclass
class CosimResult:
    """RTL co-simulation: pass/fail and the measured latency and interval."""

    status: str | None = None
    rtl: str | None = None
    simulation_tool: str | None = None
    latency_cycles: dict[str, int | None] = field(default_factory=lambda: {"min": None, "avg": None, "max": None})
    interval_cycles: dict[str, int | None] = field(default_factory=lambda: {"min": None, "avg": None, "max": None})
    total_execution_cycles: int | None = None
    transactions: int | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "rtl": self.rtl, "simulation_tool": self.simulation_tool,
            "latency_cycles": dict(self.latency_cycles), "interval_cycles": dict(self.interval_cycles),
            "total_execution_cycles": self.total_execution_cycles, "transactions": self.transactions,
            "runs": [dict(run) for run in self.runs],
        }


@dataclass
class LogSummary:
    """What an HLS log says about the run: stages, real errors, and the warnings that matter."""

    stages_started: list[str] = field(default_factory=list)
    stages_completed: list[str] = field(default_factory=list)
    failed_stage: str | None = None
    first_error: str | None = None
    errors: list[str] = field(default_factory=list)
    harmless_errors: list[str] = field(default_factory=list)
    warning_count: int = 0
    estimated_fmax_mhz: float | None = None

    def failure(self) -> str | None:
        """``'<stage>: <first real error line>'``, or None for a run that did not fail."""
        if self.failed_stage is None:
            return None
        return f"{self.failed_stage}: {self.first_error}" if self.first_error else self.failed_stage

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages_started": list(self.stages_started), "stages_completed": list(self.stages_completed),
            "failed_stage": self.failed_stage, "first_error": self.first_error, "errors": list(self.errors),
            "harmless_errors": list(self.harmless_errors), "warning_count": self.warning_count,
            "estimated_fmax_mhz": self.estimated_fmax_mhz,
        }


@dataclass
class Power:
    """Vivado ``report_power`` summary."""

    total_w: float | None = None
    dynamic_w: float | None = None
    static_w: float | None = None
    junction_temp_c: float | None = None
    confidence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"total_w": self.total_w, "dynamic_w": self.dynamic_w, "static_w": self.static_w,
                "junction_temp_c": self.junction_temp_c, "confidence": self.confidence}


@dataclass
class Figures:
    """The figures a report (or a merge of reports) gives about one design."""

    tool: str | None = None
    tool_version: str | None = None
    top: str | None = None
    part: str | None = None
    family: str | None = None
    design_state: str | None = None
    target_clock_ns: float | None = None
    clock_uncertainty_ns: float | None = None
    estimated_clock_ns: float | None = None
    latency: Latency = field(default_factory=Latency)
    interval: Interval = field(default_factory=Interval)
    pipeline_type: str | None = None
    resources: dict[str, Any] = field(default_factory=no_resources)
    available: dict[str, Any] = field(default_factory=no_resources)
    reported_utilization_pct: dict[str, Any] = field(default_factory=no_resources)
    bram_36k_tiles: dict[str, float | None] | None = None
    extra_resources: dict[str, Any] = field(default_factory=dict)
    modules: list[ModuleFigures] = field(default_factory=list)
    timing: Timing | None = None
    cosim: CosimResult | None = None
    log: LogSummary | None = None
    power: Power | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def utilization_pct(self) -> dict[str, float | None]:
        """Used / available in percent, from the counts when both are known (the
        reports round to whole percent or write '~0'), else as the report printed it;
        None for a resource the part does not have (available 0)."""
        result: dict[str, float | None] = {}
        for key in RESOURCE_KEYS:
            used, total = self.resources.get(key), self.available.get(key)
            if total == 0:
                result[key] = None  # the part has none of this resource: no share to give
            elif used is not None and total is not None:
                result[key] = round(100.0 * used / total, 2)
            else:
                result[key] = self.reported_utilization_pct.get(key)
        return result

    def has_resources(self) -> bool:
        return any(value is not None for value in self.resources.values())

    def figures_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "tool_version": self.tool_version,
            "top": self.top,
            "part": self.part,
            "family": self.family,
            "design_state": self.design_state,
            "target_clock_ns": self.target_clock_ns,
            "clock_uncertainty_ns": self.clock_uncertainty_ns,
            "estimated_clock_ns": self.estimated_clock_ns,
            "latency_cycles": self.latency.cycles_dict(),
            "latency_ns": self.latency.ns_dict(),
            "latency_unknown_reason": self.latency.unknown_reason,
            "interval_cycles": self.interval.to_dict(),
            "pipeline_type": self.pipeline_type,
            "resources": dict(self.resources),
            "available": dict(self.available),
            "utilization_pct": self.utilization_pct(),
            "bram_36k_tiles": dict(self.bram_36k_tiles) if self.bram_36k_tiles is not None else None,
            "extra_resources": dict(self.extra_resources),
            "modules": [module.to_dict() for module in self.modules],
            "timing": (self.timing or Timing()).to_dict(),
            "cosim": self.cosim.to_dict() if self.cosim is not None else None,
            "log": self.log.to_dict() if self.log is not None else None,
            "power": self.power.to_dict() if self.power is not None else None,
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


@dataclass
class ParsedReport(Figures):
    """One report file: where it is, what kind it is, and its figures."""

    path: str = ""
    kind: str = ""
    format: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "format": self.format, **self.figures_dict()}


@dataclass
class BuildReport(Figures):
    """Everything the reports of one build say, merged, with the file each figure came from.

    ``resources`` are the C-synthesis estimate when there is one (``resources_stage``
    says which stage they come from); ``post_synthesis`` holds Vivado's own counts.
    """

    resources_stage: str | None = None
    post_synthesis: dict[str, Any] | None = None
    sources: dict[str, str] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    def failed_stage(self) -> str | None:
        return self.log.failure() if self.log is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.figures_dict(),
            "resources_stage": self.resources_stage,
            "post_synthesis": self.post_synthesis,
            "failed_stage": self.failed_stage(),
            "sources": dict(self.sources),
            "unreadable": list(self.unreadable),
        }
