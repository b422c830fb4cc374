"""Siemens Catapult HLS ``rtl*.rpt``: version, top, latency and throughput of the
design, clock constraint and critical-path delay. Catapult gives area as a score,
not as FPGA primitives, so the resource counts stay None and the score goes to
``extra_resources``."""

from __future__ import annotations

import re
from pathlib import Path

from fpga_flow.reports.model import Interval, Latency, ParsedReport, ReportParseError
from fpga_flow.reports.text import colon_fields, dash_table
from fpga_flow.reports.values import non_negative, to_float, to_int, to_ns


def parse_catapult_rtl(path: Path, text: str) -> ParsedReport:
    lines = text.splitlines()
    if not any("Catapult" in line for line in lines[:5]):
        raise ReportParseError(path, "no Catapult title in the first lines: not a Catapult report")
    fields = colon_fields(lines[:200])
    report = ParsedReport(path=str(path), kind="catapult_rtl", format="rpt", tool="catapult")
    version = fields.get("Version", "")
    report.tool_version = version.split()[0] if version else None
    solution = fields.get("Solution Settings", "")
    report.top = solution.rsplit(".", 1)[0] or None if solution else None
    header_index = next((index for index, line in enumerate(lines)
                         if line.strip().startswith("Process") and "Latency" in line and "Throughput" in line), None)
    if header_index is not None:
        table = dash_table(lines, header_index, by_words=False)
        latency_col = next((i for i, name in enumerate(table.columns) if name == "Latency"), None)
        throughput_col = next((i for i, name in enumerate(table.columns) if name == "Throughput"), None)
        for row in table.rows:
            if row and row[0].startswith("Design Total"):
                cycles = non_negative(to_int(row[latency_col])) if latency_col is not None and latency_col < len(row) else None
                interval = (non_negative(to_int(row[throughput_col]))
                            if throughput_col is not None and throughput_col < len(row) else None)
                report.latency = Latency(best=cycles, worst=cycles)
                report.interval = Interval(interval, interval)
    constraint = re.search(r"Clock period or pin-to-reg delay constraint \([^)]*\)\s*:\s*(\S+)", text)
    report.target_clock_ns = to_ns(constraint.group(1)) if constraint else None
    delay = re.search(r"Max Delay:\s*(\S+)", text)
    report.estimated_clock_ns = to_ns(delay.group(1)) if delay else None
    score = re.search(r"Total Area Score:\s*(\S+)\s+(\S+)\s+(\S+)", text)
    if score:
        report.extra_resources = {"area_score_post_assignment": to_float(score.group(3))}
    if report.target_clock_ns is not None:
        for name in ("best", "worst"):
            cycles = getattr(report.latency, name)
            if cycles is not None:
                setattr(report.latency, f"{name}_ns", round(cycles * report.target_clock_ns, 6))
    return report
