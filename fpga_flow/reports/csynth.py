"""Vivado HLS / Vitis HLS C-synthesis reports: ``*_csynth.xml``, ``*_csynth.rpt``, the
Vitis 'Synthesis Summary' ``csynth.rpt`` (and its ``hls_compile.rpt`` copy), and
``csynth_design_size.rpt``.

The XML is preferred when both exist: it has the average latency and exact numbers
where the text rounds ('~0'). Text tables are read by header: Vivado HLS 2016.4 puts
units in the section titles, 2019.2 and later in the cells, 2025.2 reorders the summary
columns. The DSP column is ``DSP48E`` in Vivado HLS and ``DSP`` in Vitis HLS; 2016.4
has no URAM.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from fpga_flow.reports.model import (
    RESOURCE_KEYS, Interval, Latency, ModuleFigures, ParsedReport, ReportParseError, no_resources,
)
from fpga_flow.reports.text import Table, colon_fields, norm_key, pipe_tables
from fpga_flow.reports.values import (
    count_and_pct, is_unknown, non_negative, normalize_part, to_float, to_int, to_ns, to_pct,
)
from fpga_flow.reports.xmlsafe import child_text, parse_xml

RESOURCE_TAGS = {"BRAM_18K": "BRAM_18K", "BRAM": "BRAM_18K", "DSP48E": "DSP", "DSP48": "DSP", "DSP": "DSP",
                 "FF": "FF", "LUT": "LUT", "URAM": "URAM"}
_REPORT_TITLE = re.compile(r"^==\s*(Vivado|Vitis) HLS Report for '([^']*)'")
_SUMMARY_TITLE = re.compile(r"^==\s*Synthesis Summary Report of '([^']*)'")


def _resource_key(name: str) -> str | None:
    return RESOURCE_TAGS.get(name.strip().upper().replace(" ", "_"))


def _latency_from_cycles(best: str | None, avg: str | None, worst: str | None) -> Latency:
    latency = Latency(best=non_negative(to_int(best)), avg=non_negative(to_int(avg)), worst=non_negative(to_int(worst)))
    raw = [text for text in (best, avg, worst) if text is not None]
    unknown = [text.strip() for text in raw if to_int(text) is None or (to_int(text) or 0) < 0]
    if unknown:
        latency.unknown_reason = (f"the report gives the latency as '{unknown[0]}' (data-dependent or unbounded "
                                  "loop trip counts leave it undetermined)")
    return latency


def _fill_latency_ns(latency: Latency, clock_ns: float | None, notes: list[str]) -> None:
    """Latency in ns as HLS computes it (cycles x target clock) when the report does not print it."""
    if clock_ns is None:
        return
    filled = False
    for name in ("best", "avg", "worst"):
        cycles = getattr(latency, name)
        if getattr(latency, f"{name}_ns") is None and cycles is not None:
            setattr(latency, f"{name}_ns", round(cycles * clock_ns, 6))
            filled = True
    if filled:
        notes.append("latency_ns = latency cycles x target clock period (not printed in this report)")


def _tool_name(vendor: str) -> str:
    return "vitis_hls" if vendor.lower().startswith("vitis") else "vivado_hls"


# --------------------------------------------------------------------------- XML


def _xml_resources(element: Element | None) -> dict[str, Any]:
    resources = no_resources()
    if element is None:
        return resources
    for child in element:
        key = _resource_key(child.tag)
        if key is not None and resources[key] is None:
            resources[key] = to_int(child.text)
    return resources


def _xml_modules(root: Element) -> list[ModuleFigures]:
    modules = []
    for module in root.iterfind("ModuleInformation/Module"):
        name = child_text(module, "Name")
        if not name:
            continue
        overall = module.find("PerformanceEstimates/SummaryOfOverallLatency")
        figures = ModuleFigures(name=name)
        if overall is not None:
            latency = _latency_from_cycles(child_text(overall, "Best-caseLatency"), child_text(overall, "Average-caseLatency"),
                                           child_text(overall, "Worst-caseLatency"))
            figures.latency_cycles = latency.cycles_dict()
            interval_min = child_text(overall, "Interval-min") or child_text(overall, "PipelineInitiationInterval")
            interval_max = child_text(overall, "Interval-max") or child_text(overall, "PipelineInitiationInterval")
            figures.interval_cycles = {"min": non_negative(to_int(interval_min)), "max": non_negative(to_int(interval_max))}
            figures.pipeline_type = child_text(overall, "PipelineType")
        figures.resources = _xml_resources(module.find("AreaEstimates/Resources"))
        modules.append(figures)
    return modules


def _xml_violations(perf: Element | None) -> list[str]:
    if perf is None:
        return []
    warnings = []
    for holder in perf.iter():
        issue = child_text(holder, "IssueType")
        if issue is None or is_unknown(issue):
            continue
        name = child_text(holder, "Name") or "top"
        kind = child_text(holder, "ViolationType") or ""
        where = child_text(holder, "SourceLocation") or ""
        warnings.append(f"{issue} violation in {name}{f' ({kind})' if not is_unknown(kind) else ''}"
                        f"{f' at {where}' if where else ''}")
    return warnings


def parse_csynth_xml(path: Path, data: bytes, kind: str = "csynth") -> ParsedReport:
    """``<top>_csynth.xml`` (and Vitis' ``csynth.xml``, which adds per-module figures)."""
    root = parse_xml(data, path)
    user = root.find("UserAssignments")
    perf = root.find("PerformanceEstimates")
    if root.tag != "profile" or (user is None and perf is None):
        raise ReportParseError(path, "no <UserAssignments> or <PerformanceEstimates>: not a C-synthesis XML report")
    report = ParsedReport(path=str(path), kind=kind, format="xml")
    report.tool_version = child_text(root, "ReportVersion/Version")
    area = root.find("AreaEstimates")
    used = area.find("Resources") if area is not None else None
    resource_tags = {child.tag for child in used} if used is not None else set()
    vitis = (user is not None and user.find("FlowTarget") is not None) or ("DSP" in resource_tags and "DSP48E" not in resource_tags)
    report.tool = "vitis_hls" if vitis else "vivado_hls"
    if user is not None:
        report.part = normalize_part(child_text(user, "Part"))
        report.family = child_text(user, "ProductFamily")
        report.top = child_text(user, "TopModelName")
        report.target_clock_ns = to_ns(child_text(user, "TargetClockPeriod"))
        report.clock_uncertainty_ns = to_ns(child_text(user, "ClockUncertainty"))
    if perf is not None:
        report.pipeline_type = child_text(perf, "PipelineType")
        report.estimated_clock_ns = to_ns(child_text(perf, "SummaryOfTimingAnalysis/EstimatedClockPeriod"))
        overall = perf.find("SummaryOfOverallLatency")
        if overall is not None:
            latency = _latency_from_cycles(child_text(overall, "Best-caseLatency"), child_text(overall, "Average-caseLatency"),
                                           child_text(overall, "Worst-caseLatency"))
            latency.best_ns = to_ns(child_text(overall, "Best-caseRealTimeLatency"))
            latency.avg_ns = to_ns(child_text(overall, "Average-caseRealTimeLatency"))
            latency.worst_ns = to_ns(child_text(overall, "Worst-caseRealTimeLatency"))
            report.latency = latency
            report.interval = Interval(non_negative(to_int(child_text(overall, "Interval-min"))),
                                       non_negative(to_int(child_text(overall, "Interval-max"))))
        report.warnings.extend(_xml_violations(perf))
    _fill_latency_ns(report.latency, report.target_clock_ns, report.notes)
    if area is not None:
        report.resources = _xml_resources(area.find("Resources"))
        report.available = _xml_resources(area.find("AvailableResources"))
    report.modules = _xml_modules(root)
    return report


# --------------------------------------------------------------------------- text


def _header(lines: list[str]) -> dict[str, str]:
    return colon_fields(line for line in lines[:40] if line.strip().startswith("*"))


def _apply_header(report: ParsedReport, fields: dict[str, str]) -> None:
    version = fields.get("Version")
    report.tool_version = version.split()[0] if version else None
    report.part = normalize_part(fields.get("Target device"))
    report.family = fields.get("Product family")


def _resources_from_row(table: Table, row: tuple[str, ...] | None) -> dict[str, Any]:
    resources = no_resources()
    if row is None:
        return resources
    for index, column in enumerate(table.columns):
        key = _resource_key(column)
        if key is not None and index < len(row) and resources[key] is None:
            resources[key] = count_and_pct(row[index])[0]
    return resources


def _is_resource_table(table: Table) -> bool:
    return sum(_resource_key(column) is not None for column in table.columns) >= 3


def _latency_columns(table: Table) -> dict[str, int | None]:
    return {
        "min": table.find("latency", "min", exclude=("absolute", "iteration")),
        "max": table.find("latency", "max", exclude=("absolute", "iteration")),
        "min_ns": table.find("latency(absolute)min"),
        "max_ns": table.find("latency(absolute)max"),
        "ii_min": table.find("interval", "min"),
        "ii_max": table.find("interval", "max"),
        "type": table.find("pipeline", "type"),
    }


def _detailed_rpt(report: ParsedReport, lines: list[str]) -> None:
    tables = pipe_tables(lines)
    latency_done = usage_done = False
    modules: dict[str, ModuleFigures] = {}
    for table in tables:
        has_instance = table.find_exact("instance") is not None
        if table.find_exact("clock") is not None and table.find("estimated") is not None and table.rows:
            row = table.rows[0]
            report.target_clock_ns = to_ns(table.cell(row, table.find("target")))
            report.estimated_clock_ns = to_ns(table.cell(row, table.find("estimated")))
            report.clock_uncertainty_ns = to_ns(table.cell(row, table.find("uncertainty")))
        elif table.find("latency", "min") is not None and table.find("interval", "min") is not None:
            columns = _latency_columns(table)
            if has_instance:
                name_col, module_col = table.find_exact("instance"), table.find_exact("module")
                for row in table.rows:
                    instance = table.cell(row, name_col)
                    if not instance:
                        continue
                    figures = modules.setdefault(instance, ModuleFigures(name=table.cell(row, module_col) or instance,
                                                                           instance=instance, depth=1))
                    latency = _latency_from_cycles(table.cell(row, columns["min"]), None, table.cell(row, columns["max"]))
                    figures.latency_cycles = latency.cycles_dict()
                    figures.interval_cycles = {"min": non_negative(to_int(table.cell(row, columns["ii_min"]))),
                                               "max": non_negative(to_int(table.cell(row, columns["ii_max"])))}
                    figures.pipeline_type = table.cell(row, columns["type"])
            elif not latency_done and table.find("loopname") is None and table.rows:
                latency_done = True
                row = table.rows[0]
                latency = _latency_from_cycles(table.cell(row, columns["min"]), None, table.cell(row, columns["max"]))
                latency.best_ns = to_ns(table.cell(row, columns["min_ns"]))
                latency.worst_ns = to_ns(table.cell(row, columns["max_ns"]))
                report.latency = latency
                report.interval = Interval(non_negative(to_int(table.cell(row, columns["ii_min"]))),
                                           non_negative(to_int(table.cell(row, columns["ii_max"]))))
                report.pipeline_type = table.cell(row, columns["type"])
        elif _is_resource_table(table):
            if has_instance and table.find_exact("module") is not None:
                name_col, module_col = table.find_exact("instance"), table.find_exact("module")
                for row in table.rows:
                    instance = table.cell(row, name_col)
                    if not instance or instance.lower() == "total":
                        continue
                    figures = modules.setdefault(instance, ModuleFigures(name=table.cell(row, module_col) or instance,
                                                                           instance=instance, depth=1))
                    figures.resources = _resources_from_row(table, row)
            elif not usage_done and table.find_exact("name") is not None and table.row_named("Total") is not None:
                usage_done = True
                report.resources = _resources_from_row(table, table.row_named("Total"))
                report.available = _resources_from_row(table, table.row_named("Available"))
                pct_row = table.row_named("Utilization (%)")
                report.reported_utilization_pct = {
                    key: to_pct(table.cell(pct_row, index)) if pct_row is not None else None
                    for key, index in ((key, _column_of(table, key)) for key in RESOURCE_KEYS)
                }
    if report.latency.best is not None or report.latency.worst is not None:
        report.notes.append("text reports give latency min/max only: the average is in the XML report")
    _fill_latency_ns(report.latency, report.target_clock_ns, report.notes)
    report.modules = list(modules.values())


def _column_of(table: Table, key: str) -> int | None:
    for index, column in enumerate(table.columns):
        if _resource_key(column) == key:
            return index
    return None


def _summary_rpt(report: ParsedReport, lines: list[str]) -> None:
    """The Vitis 'Synthesis Summary' table: one row per module ('+') and loop ('o');
    its latency is the worst case and its interval the largest."""
    table = next((t for t in pipe_tables(lines) if t.find("modules&loops") is not None), None)
    if table is None:
        raise ReportParseError(report.path, "no 'Modules & Loops' table in the synthesis summary report")
    name_col = table.find("modules&loops")
    cols = {
        "issue": table.find("issuetype"), "violation": table.find("violationtype"), "slack": table.find_exact("slack"),
        "latency": table.find("latency(cycles)"), "latency_ns": table.find("latency(ns)"),
        "interval": table.find_exact("interval"), "pipelined": table.find_exact("pipelined"),
    }
    top_seen = False
    for row, raw in zip(table.rows, table.raw_first_cells):
        label = table.cell(row, name_col) or ""
        marker, _, name = label.partition(" ")
        name = name.strip()
        depth = len(raw) - len(raw.lstrip(" "))
        dataflow = name.endswith("*")
        name = name.rstrip("*").strip()
        issue = table.cell(row, cols["issue"])
        if issue and not is_unknown(issue):
            violation = table.cell(row, cols["violation"])
            detail = f" ({violation})" if violation and not is_unknown(violation) else ""
            slack = table.cell(row, cols["slack"])
            report.warnings.append(f"{issue} issue in {'loop' if marker == 'o' else 'module'} {name}{detail}, slack {slack}")
        if marker != "+":
            continue
        worst = table.cell(row, cols["latency"])
        latency = _latency_from_cycles(None, None, worst)
        interval = non_negative(to_int(table.cell(row, cols["interval"])))
        resources = _resources_from_row(table, row)
        pipeline = "dataflow" if dataflow else table.cell(row, cols["pipelined"])
        if not top_seen:
            top_seen = True
            report.top = report.top or name
            latency.worst_ns = to_float(table.cell(row, cols["latency_ns"]))
            report.latency = latency
            report.interval = Interval(None, interval)
            report.pipeline_type = pipeline
            report.resources = resources
            report.reported_utilization_pct = {
                key: count_and_pct(table.cell(row, _column_of(table, key)))[1] for key in RESOURCE_KEYS
            }
            continue
        report.modules.append(ModuleFigures(name=name, depth=depth, latency_cycles=latency.cycles_dict(),
                                            interval_cycles={"min": None, "max": interval},
                                            pipeline_type=pipeline, resources=resources))
    if not top_seen:
        raise ReportParseError(report.path, "the synthesis summary table has no top module row ('+ name')")
    report.notes.append("the synthesis summary gives the worst-case latency and the largest interval only")


def parse_csynth_rpt(path: Path, text: str, kind: str = "csynth") -> ParsedReport:
    """``<top>_csynth.rpt`` (detailed) or ``csynth.rpt`` / ``hls_compile.rpt`` (Vitis summary)."""
    lines = text.splitlines()
    detailed = next(((index, match) for index, line in enumerate(lines) if (match := _REPORT_TITLE.match(line.strip()))), None)
    summary = next(((index, match) for index, line in enumerate(lines) if (match := _SUMMARY_TITLE.match(line.strip()))), None)
    if detailed is None and summary is None:
        raise ReportParseError(path, "no '== Vivado/Vitis HLS Report for' or '== Synthesis Summary Report of' title")
    report = ParsedReport(path=str(path), kind=kind, format="rpt")
    if detailed is not None:
        start, match = detailed
        report.tool, report.top = _tool_name(match.group(1)), match.group(2)
        section = lines[start:]
        _apply_header(report, _header(section))
        _detailed_rpt(report, section)
    else:
        start, match = summary
        report.tool, report.top = "vitis_hls", match.group(1)
        section = lines[start:]
        _apply_header(report, _header(section))
        _summary_rpt(report, section)
    return report


# --------------------------------------------------------------------------- design size


def parse_design_size(path: Path, text: str) -> ParsedReport:
    """``csynth_design_size.rpt``: instructions per compilation phase; '*' marks a count
    over the tool's design-size warning threshold."""
    lines = text.splitlines()
    table = next((t for t in pipe_tables(lines) if t.find_exact("function") is not None and t.find("compile") is not None), None)
    if table is None or not table.rows:
        raise ReportParseError(path, "no 'Instructions per Function' table: not a design size report")
    report = ParsedReport(path=str(path), kind="csynth_design_size", format="rpt", tool="vitis_hls")
    top = table.rows[0]
    report.top = (table.cell(top, table.find_exact("function")) or "").lstrip("+ ").strip() or None
    counts: dict[str, int | None] = {}
    for index, column in enumerate(table.columns):
        if index <= 1 or norm_key(column) == "location":
            continue
        cell = table.cell(top, index) or ""
        counts[column] = to_int(cell.split("(")[0])
        if cell.strip().endswith("*"):
            report.warnings.append(f"design size: {report.top} has {cell.rstrip('* ').strip()} instructions after "
                                   f"{column}, over the design-size warning threshold")
    report.extra_resources = {"instructions": counts}
    return report
