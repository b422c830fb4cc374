"""Vendor report parsing: every report an HLS build leaves, into typed records.

Parsers are pure functions (a file in, a :class:`ParsedReport` out) and raise only
:class:`ReportParseError`. :func:`build_report` merges the reports of one project into
a :class:`BuildReport`; :func:`failed_stage` names the stage a failed run stopped in.
"""

from fpga_flow.reports.detect import KINDS, detect_kind, find_reports, parse_data, parse_report
from fpga_flow.reports.merge import (
    ReportSet, build_report, collect, failed_stage, merge_reports, project_top, utilization_against,
)
from fpga_flow.reports.model import (
    RESOURCE_KEYS, BuildReport, CosimResult, Interval, Latency, LogSummary, ModuleFigures, ParsedReport, Power,
    ReportParseError, Timing,
)
from fpga_flow.reports.values import normalize_part, same_part

__all__ = [
    "KINDS", "RESOURCE_KEYS", "BuildReport", "CosimResult", "Interval", "Latency", "LogSummary", "ModuleFigures",
    "ParsedReport", "Power", "ReportParseError", "ReportSet", "Timing", "build_report", "collect", "detect_kind",
    "failed_stage", "find_reports", "merge_reports", "normalize_part", "parse_data",
    "parse_report", "project_top", "same_part", "utilization_against",
]
