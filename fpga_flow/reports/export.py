"""HLS export reports (``export_design -flow syn|impl``): ``export_syn.xml``,
``export_impl.xml``, their ``.rpt`` twins, and the older ``<top>_export.rpt``.

BRAM in these reports is in 18Kb units: ``AvailableResources/BRAM`` is twice the
device's 36Kb tile count (432 on xczu3eg, 4032 on xcu280, 1934 on xcvc1902), and the
legacy ``_export.rpt`` of the same Vitis run repeats the XML's numbers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from fpga_flow.reports.model import ModuleFigures, ParsedReport, ReportParseError, Timing, fmax_from_slack, no_resources
from fpga_flow.reports.text import colon_fields, pipe_tables
from fpga_flow.reports.values import normalize_part, to_bool, to_float, to_int, to_ns
from fpga_flow.reports.xmlsafe import child_text, parse_xml

def _fmax(achieved_ns: float | None) -> float | None:
    return round(1000.0 / achieved_ns, 3) if achieved_ns is not None and achieved_ns > 0 else None


_EXPORT_KEYS = {"LUT": "LUT", "FF": "FF", "DSP": "DSP", "BRAM": "BRAM_18K", "URAM": "URAM"}
_EXTRA_KEYS = ("CLB", "SLICE", "SRL", "LATCH")


def _resources_from(values: dict[str, str | None]) -> tuple[dict[str, Any], dict[str, Any]]:
    resources = no_resources()
    for name, key in _EXPORT_KEYS.items():
        resources[key] = to_int(values.get(name))
    extra = {name: to_int(values[name]) for name in _EXTRA_KEYS if values.get(name) is not None}
    return resources, extra


def _element_values(element: Element | None) -> dict[str, str | None]:
    if element is None:
        return {}
    return {child.tag: (child.text or "").strip() or None for child in element}


def parse_export_xml(path: Path, data: bytes) -> ParsedReport:
    root = parse_xml(data, path)
    run = root.find("RunData")
    timing_element = root.find("TimingReport")
    area = root.find("AreaReport")
    if root.tag != "profile" or (run is None and timing_element is None and area is None):
        raise ReportParseError(path, "no <RunData>, <TimingReport> or <AreaReport>: not an HLS export report")
    run_type = (child_text(run, "RUN_TYPE") or "").lower()
    kind = "export_impl" if run_type == "impl" else "export_syn" if run_type == "synth" else (
        "export_impl" if "impl" in path.name else "export_syn")
    report = ParsedReport(path=str(path), kind=kind, format="xml", tool="vivado")
    version = child_text(run, "VIVADO_VERSION")
    report.tool_version = version[2:] if version and version.startswith("v.") else version
    report.design_state = "routed" if kind == "export_impl" else "synthesized"
    info = {item.get("NAME"): item.get("VALUE") for item in root.iterfind("GeneralInfo/item")}
    report.part = normalize_part(info.get("Target device"))
    report.family = info.get("Product family") or None
    timing = _element_values(timing_element)
    target = to_ns(timing.get("TargetClockPeriod"))
    report.target_clock_ns = target
    achieved = to_ns(timing.get("AchievedClockPeriod"))
    wns = to_float(timing.get("WNS_FINAL"))
    report.timing = Timing(
        wns_ns=wns, tns_ns=to_float(timing.get("TNS_FINAL")), met=to_bool(timing.get("TIMING_MET")),
        fmax_mhz=_fmax(achieved) or fmax_from_slack(target, wns),
        clock=timing.get("CLOCK_NAME"), clock_period_ns=target, achieved_period_ns=achieved,
        stage="route" if kind == "export_impl" else "synth",
    )
    if area is not None:
        report.resources, report.extra_resources = _resources_from(_element_values(area.find("Resources")))
        report.available, _ = _resources_from(_element_values(area.find("AvailableResources")))
    for module in root.iterfind("RtlModules/RtlModule"):
        depth = to_int(module.get("DEPTH"))
        if depth == 0:
            report.top = module.get("MODULENAME") or report.top
        if depth != 1:
            continue
        used = module.find("Resources")
        values = {name: used.get(name) for name in _EXPORT_KEYS} if used is not None else {}
        resources, _ = _resources_from(values)
        if not any(value is not None for value in resources.values()):
            continue
        report.modules.append(ModuleFigures(name=module.get("MODULENAME") or module.get("DISPNAME") or "?",
                                            instance=module.get("DISPNAME"), depth=1, resources=resources))
    return report


_RESULTS_TITLE = re.compile(r"^==\s*Vivado (RTL Synthesis|Place & Route) Results")


def parse_export_rpt(path: Path, text: str) -> ParsedReport:
    """``export_syn.rpt`` / ``export_impl.rpt`` (Vitis HLS 2020.2 and later)."""
    lines = text.splitlines()
    title = next((match for line in lines[:10] if (match := _RESULTS_TITLE.match(line.strip()))), None)
    if title is None:
        raise ReportParseError(path, "no '== Vivado RTL Synthesis Results' or '== Vivado Place & Route Results' title")
    impl = title.group(1).startswith("Place")
    report = ParsedReport(path=str(path), kind="export_impl_rpt" if impl else "export_syn_rpt", format="rpt", tool="vivado")
    report.design_state = "routed" if impl else "synthesized"
    fields = colon_fields(lines)
    version = fields.get("Version")
    report.tool_version = version.split()[0] if version else None
    report.part = normalize_part(fields.get("Target device"))
    report.family = fields.get("Product family")
    summary = _section(lines, "Resource Summary")
    values = colon_fields(summary, prefixes="")
    report.resources, report.extra_resources = _resources_from(values)
    timing_lines = _section(lines, "Timing Summary")
    met = None
    for line in timing_lines:
        lowered = line.lower()
        if "timing was met" in lowered:
            met = True
        elif "timing was not met" in lowered or "timing not met" in lowered:
            met = False
    table = next((t for t in pipe_tables(timing_lines) if t.find_exact("timing") is not None), None)
    periods: dict[str, float | None] = {}
    if table is not None:
        period_col = table.find("period")
        periods = {row[0].lower(): to_ns(table.cell(row, period_col)) for row in table.rows if row}
    target = periods.get("target")
    achieved = periods.get("post-route") if impl else periods.get("post-synthesis", periods.get("post-route"))
    report.target_clock_ns = target
    wns = round(target - achieved, 3) if target is not None and achieved is not None else None
    report.timing = Timing(wns_ns=wns, met=met, fmax_mhz=_fmax(achieved),
                           clock_period_ns=target, achieved_period_ns=achieved, stage="route" if impl else "synth")
    return report


def _section(lines: list[str], title_part: str) -> list[str]:
    """Lines of the '== ... <title_part>' section, up to the next '==' title."""
    inside, found = False, []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("== "):
            inside = title_part in stripped
            continue
        if inside and not stripped.startswith("=="):
            found.append(line)
    return found


def parse_legacy_export_rpt(path: Path, text: str) -> ParsedReport:
    """``<top>_export.rpt``: 'Implementation tool', resource lines, 'CP required/achieved'."""
    lines = text.splitlines()
    fields = colon_fields(lines, prefixes="")
    tool_line = fields.get("Implementation tool")
    if tool_line is None or not any(line.startswith("#=== ") for line in lines):
        raise ReportParseError(path, "no 'Implementation tool:' line and '#=== ...' sections: not an HLS export report")
    report = ParsedReport(path=str(path), kind="export_rpt", format="rpt", tool="vivado")
    version = re.search(r"v\.?(\d{4}\.\d+(?:\.\d+)?)", tool_line)
    report.tool_version = version.group(1) if version else None
    report.part = normalize_part(fields.get("Device target"))
    implemented = any("Post-Implementation" in line for line in lines)
    report.design_state = "routed" if implemented else "synthesized"
    report.resources, report.extra_resources = _resources_from(fields)
    target = to_ns(fields.get("CP required"))
    achieved = to_ns(fields.get("CP achieved post-implementation") or fields.get("CP achieved post-synthesis"))
    met = True if any(line.strip() == "Timing met" for line in lines) else (
        False if any(line.strip().lower() == "timing not met" for line in lines) else None)
    report.target_clock_ns = target
    report.timing = Timing(wns_ns=round(target - achieved, 3) if target is not None and achieved is not None else None,
                           met=met, fmax_mhz=_fmax(achieved),
                           clock_period_ns=target, achieved_period_ns=achieved,
                           stage="route" if implemented else "synth")
    return report
