"""Vivado text reports: ``report_utilization`` (flat or ``-hierarchical``; hls4ml's
``vivado_synth.rpt`` and ``util.rpt``), ``report_timing_summary`` and ``report_power``.

Site names differ by family: 'Slice LUTs'/'Slice Registers' on 7-series, 'CLB LUTs'/
'CLB Registers' on UltraScale(+), 'CLB LUTs'/'Registers'/'DSP Slices' on Versal; newer
versions add a 'Prohibited' column. Block RAM is counted in 36Kb tiles (halves
allowed): ``BRAM_18K`` is twice the tile count, and both are kept.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fpga_flow.reports.model import ModuleFigures, ParsedReport, Power, ReportParseError, Timing, fmax_from_slack, no_resources
from fpga_flow.reports.text import Table, colon_fields, dash_table, pipe_tables
from fpga_flow.reports.values import count_and_pct, normalize_part, to_float, to_pct

_SITE_NAMES = {
    "LUT": ("clb luts", "slice luts"),
    "FF": ("clb registers", "slice registers", "registers"),
    "BRAM_TILE": ("block ram tile",),
    "DSP": ("dsps", "dsp slices"),
    "URAM": ("uram",),
}


def _vivado_header(lines: list[str]) -> dict[str, str]:
    """The '| Key : value' block at the top of every Vivado report."""
    return colon_fields(line for line in lines[:30] if line.startswith("|"))


def _apply_header(report: ParsedReport, header: dict[str, str]) -> None:
    version = re.search(r"v\.?(\d{4}\.\d+(?:\.\d+)?)", header.get("Tool Version", ""))
    report.tool = "vivado"
    report.tool_version = version.group(1) if version else None
    report.part = normalize_part(header.get("Device"))
    report.top = header.get("Design") or None
    state = header.get("Design State")
    report.design_state = state.lower() if state else None


def _site_rows(tables: list[Table]) -> dict[str, dict[str, float | None]]:
    """Top-level site rows (not the indented breakdown rows) of the flat utilization tables."""
    found: dict[str, dict[str, float | None]] = {}
    for table in tables:
        site_col, used_col = table.find_exact("sitetype"), table.find_exact("used")
        if site_col is None or used_col is None:
            continue
        available_col, util_col = table.find_exact("available"), table.find_exact("util%")
        for row, raw in zip(table.rows, table.raw_first_cells):
            if len(raw) - len(raw.lstrip(" ")) > 1:
                continue
            site = table.cell(row, site_col).rstrip("*").strip().lower()
            for key, names in _SITE_NAMES.items():
                if site in names and key not in found:
                    found[key] = {
                        "used": to_float(table.cell(row, used_col)),
                        "available": to_float(table.cell(row, available_col)),
                        "pct": to_pct(table.cell(row, util_col)),
                    }
    return found


def _as_count(value: float | None) -> int | None:
    return int(value) if value is not None and value.is_integer() else None


def _flat_utilization(report: ParsedReport, tables: list[Table]) -> None:
    sites = _site_rows(tables)
    if not sites:
        raise ReportParseError(report.path, "no 'Site Type | Used' tables with LUT, register, BRAM or DSP rows")
    for key in ("LUT", "FF", "DSP", "URAM"):
        if key in sites:
            report.resources[key] = _as_count(sites[key]["used"])
            report.available[key] = _as_count(sites[key]["available"])
            report.reported_utilization_pct[key] = sites[key]["pct"]
    tiles = sites.get("BRAM_TILE")
    if tiles is not None:
        used, available = tiles["used"], tiles["available"]
        report.bram_36k_tiles = {"used": used, "available": available}
        report.resources["BRAM_18K"] = _as_count(2 * used) if used is not None else None
        report.available["BRAM_18K"] = _as_count(2 * available) if available is not None else None
        report.reported_utilization_pct["BRAM_18K"] = tiles["pct"]


_HIER_COLUMNS = {"LUT": ("totalluts",), "FF": ("ffs",), "URAM": ("uram", "urams"),
                 "DSP": ("dsp48blocks", "dspblocks", "dsps", "dsp")}


def _hier_figures(table: Table, row: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any], dict[str, float | None]]:
    resources, pct = no_resources(), no_resources()
    for key, names in _HIER_COLUMNS.items():
        index = table.find_exact(*names)
        resources[key], pct[key] = count_and_pct(table.cell(row, index))
    ramb36, pct36 = count_and_pct(table.cell(row, table.find_exact("ramb36")))
    ramb18, pct18 = count_and_pct(table.cell(row, table.find_exact("ramb18")))
    tiles: dict[str, float | None] = {"used": None, "available": None}
    if ramb36 is not None and ramb18 is not None:
        resources["BRAM_18K"] = 2 * ramb36 + ramb18
        tiles["used"] = ramb36 + ramb18 / 2
        # RAMB18 shares are of twice the tiles, so the two shares add up to the 18K share.
        pct["BRAM_18K"] = round(pct36 + pct18, 2) if pct36 is not None and pct18 is not None else None
    return resources, pct, tiles


def _hier_utilization(report: ParsedReport, tables: list[Table]) -> None:
    table = next((t for t in tables if t.find_exact("instance") is not None and t.find_exact("totalluts") is not None), None)
    if table is None or not table.rows:
        raise ReportParseError(report.path, "no 'Instance | Module | Total LUTs' table in the hierarchical utilization report")
    report.resources, report.reported_utilization_pct, report.bram_36k_tiles = _hier_figures(table, table.rows[0])
    report.notes.append("a hierarchical utilization report gives shares, not the device's available totals")
    instance_col, module_col = table.find_exact("instance"), table.find_exact("module")
    for row, raw in zip(table.rows[1:], table.raw_first_cells[1:]):
        depth = (len(raw) - len(raw.lstrip(" ")) - 1) // 2
        instance = table.cell(row, instance_col) or ""
        if depth > 2 or instance.startswith("("):
            continue
        resources, _, _ = _hier_figures(table, row)
        report.modules.append(ModuleFigures(name=table.cell(row, module_col) or instance, instance=instance,
                                            depth=depth, resources=resources))


def parse_utilization(path: Path, text: str) -> ParsedReport:
    lines = text.splitlines()
    header = _vivado_header(lines)
    command = header.get("Command", "")
    if "report_utilization" not in command:
        raise ReportParseError(path, "the header names no 'report_utilization' command: not a utilization report")
    hierarchical = "-hierarchical" in command or any("Utilization by Hierarchy" in line for line in lines[:60])
    report = ParsedReport(path=str(path), kind="utilization_hier" if hierarchical else "utilization", format="rpt")
    _apply_header(report, header)
    tables = pipe_tables(lines)
    if hierarchical:
        _hier_utilization(report, tables)
    else:
        _flat_utilization(report, tables)
    return report


# --------------------------------------------------------------------------- timing


def _section_after(lines: list[str], title: str) -> int | None:
    for index, line in enumerate(lines):
        if line.startswith("| ") and line[2:].strip() == title:
            return index
    return None


def _table_after(lines: list[str], start: int | None, first_column: str) -> tuple[int, Any] | None:
    """The dash table whose header starts with ``first_column`` after line ``start``."""
    if start is None:
        return None
    for index in range(start, min(len(lines), start + 12)):
        stripped = lines[index].strip()
        if stripped.startswith(first_column) and index + 1 < len(lines) and lines[index + 1].strip().startswith("-"):
            return index, dash_table(lines, index)
    return None


def parse_timing_summary(path: Path, text: str) -> ParsedReport:
    lines = text.splitlines()
    header = _vivado_header(lines)
    if "report_timing_summary" not in header.get("Command", ""):
        raise ReportParseError(path, "the header names no 'report_timing_summary' command: not a timing summary report")
    report = ParsedReport(path=str(path), kind="timing_summary", format="rpt")
    _apply_header(report, header)
    found = _table_after(lines, _section_after(lines, "Design Timing Summary"), "WNS(ns)")
    if found is None:
        raise ReportParseError(path, "no 'Design Timing Summary' table with WNS(ns)")
    index, design = found
    values = dict(zip(design.columns, design.rows[0])) if design.rows else {}
    timing = Timing(wns_ns=to_float(values.get("WNS(ns)")), tns_ns=to_float(values.get("TNS(ns)")),
                    whs_ns=to_float(values.get("WHS(ns)")), ths_ns=to_float(values.get("THS(ns)")),
                    stage=report.design_state)
    verdict = " ".join(line.strip() for line in lines[index:index + 10])
    if "All user specified timing constraints are met" in verdict:
        timing.met = True
    elif "Timing constraints are not met" in verdict:
        timing.met = False
    elif timing.wns_ns is not None:
        timing.met = timing.wns_ns >= 0 and (timing.whs_ns is None or timing.whs_ns >= 0)
    clocks = _table_after(lines, _section_after(lines, "Clock Summary"), "Clock")
    if clocks is not None:
        clock_lines = lines[clocks[0] + 2:]
        for line in clock_lines:
            if not line.strip():
                break
            match = re.match(r"(\S+)\s+\{[^}]*\}\s+([\d.]+)\s+([\d.]+)", line)
            if match and not line[0].isspace():
                timing.clock, timing.clock_period_ns = match.group(1), to_float(match.group(2))
                break
    intra = _table_after(lines, _section_after(lines, "Intra Clock Table"), "Clock")
    clock_wns = timing.wns_ns
    if intra is not None and timing.clock is not None:
        for row in intra[1].rows:
            if row and row[0] == timing.clock and len(row) > 1:
                clock_wns = to_float(row[1])
    timing.fmax_mhz = fmax_from_slack(timing.clock_period_ns, clock_wns)
    if timing.clock_period_ns is not None and clock_wns is not None:
        timing.achieved_period_ns = round(timing.clock_period_ns - clock_wns, 3)
    report.timing = timing
    report.target_clock_ns = timing.clock_period_ns
    if timing.met is False:
        report.warnings.append(f"timing not met: WNS {timing.wns_ns} ns, TNS {timing.tns_ns} ns")
    return report


# --------------------------------------------------------------------------- power


def parse_power(path: Path, text: str) -> ParsedReport:
    lines = text.splitlines()
    header = _vivado_header(lines)
    if "report_power" not in header.get("Command", ""):
        raise ReportParseError(path, "the header names no 'report_power' command: not a power report")
    report = ParsedReport(path=str(path), kind="power", format="rpt")
    _apply_header(report, header)
    summary: dict[str, str] = {}
    for table in pipe_tables(lines):
        if not table.columns:
            summary = {row[0]: row[1] for row in table.rows if len(row) >= 2}
            if "Total On-Chip Power (W)" in summary:
                break
    if "Total On-Chip Power (W)" not in summary:
        raise ReportParseError(path, "no summary table with 'Total On-Chip Power (W)'")
    report.power = Power(total_w=to_float(summary.get("Total On-Chip Power (W)")),
                         dynamic_w=to_float(summary.get("Dynamic (W)")),
                         static_w=to_float(summary.get("Device Static (W)")),
                         junction_temp_c=to_float(summary.get("Junction Temperature (C)")),
                         confidence=summary.get("Confidence Level") or None)
    return report
