"""C/RTL co-simulation reports: ``*_cosim.rpt`` and the per-transaction
``*.performance.result.transaction.xml``, which despite its name is a whitespace table."""

from __future__ import annotations

from pathlib import Path

from fpga_flow.reports.model import CosimResult, ParsedReport, ReportParseError
from fpga_flow.reports.text import colon_fields, pipe_tables
from fpga_flow.reports.values import is_unknown, non_negative, to_int

_STATS = ("min", "avg", "max")


def parse_cosim_rpt(path: Path, text: str) -> ParsedReport:
    lines = text.splitlines()
    table = next((t for t in pipe_tables(lines) if t.find_exact("rtl") is not None and t.find_exact("status") is not None), None)
    if table is None:
        raise ReportParseError(path, "no RTL/Status table: not a co-simulation report")
    header = colon_fields(lines[:10], prefixes="")
    result = CosimResult(simulation_tool=(header.get("Simulation tool") or "").rstrip(".") or None)
    rtl_col, status_col = table.find_exact("rtl"), table.find_exact("status")
    total_col = table.find("totalexecution")
    for row in table.rows:
        rtl, status = table.cell(row, rtl_col), table.cell(row, status_col)
        if not rtl:
            continue
        run = {
            "rtl": rtl,
            "status": None if is_unknown(status) else status,
            "latency_cycles": {stat: non_negative(to_int(table.cell(row, table.find("latency", stat)))) for stat in _STATS},
            "interval_cycles": {stat: non_negative(to_int(table.cell(row, table.find("interval", stat)))) for stat in _STATS},
            "total_execution_cycles": non_negative(to_int(table.cell(row, total_col))),
        }
        result.runs.append(run)
    if not result.runs:
        raise ReportParseError(path, "the co-simulation table has no RTL rows")
    ran = [run for run in result.runs if run["status"] is not None]
    failed = [run for run in ran if run["status"].lower() != "pass"]
    chosen = failed[0] if failed else (ran[0] if ran else None)
    if chosen is not None:
        result.status, result.rtl = chosen["status"], chosen["rtl"]
        result.latency_cycles = dict(chosen["latency_cycles"])
        result.interval_cycles = dict(chosen["interval_cycles"])
        result.total_execution_cycles = chosen["total_execution_cycles"]
    report = ParsedReport(path=str(path), kind="cosim", format="rpt", cosim=result)
    if result.status is not None and result.status.lower() != "pass":
        report.warnings.append(f"co-simulation ({result.rtl}) status: {result.status}")
    if result.status is not None and result.latency_cycles["max"] is None:
        report.notes.append("the co-simulation report gives no latency figures (NA)")
    return report


def parse_cosim_transactions(path: Path, text: str) -> ParsedReport:
    """Rows ``transaction <n> <latency> <interval>``; a negative value (the last
    transaction's interval is -2147483648) means not measured."""
    latencies, intervals, rows = [], [], 0
    header_seen = False
    for line in text.splitlines():
        words = line.split()
        if words[:2] == ["latency", "interval"]:
            header_seen = True
            continue
        if len(words) != 4 or words[0] != "transaction":
            continue
        rows += 1
        latency, interval = non_negative(to_int(words[2])), non_negative(to_int(words[3]))
        if latency is not None:
            latencies.append(latency)
        if interval is not None:
            intervals.append(interval)
    if not header_seen or rows == 0:
        raise ReportParseError(path, "no 'latency interval' header with 'transaction' rows: not a co-simulation transaction file")

    def stats(values: list[int]) -> dict[str, int | None]:
        if not values:
            return {"min": None, "avg": None, "max": None}
        return {"min": min(values), "avg": round(sum(values) / len(values)), "max": max(values)}

    result = CosimResult(latency_cycles=stats(latencies), interval_cycles=stats(intervals), transactions=rows)
    return ParsedReport(path=str(path), kind="cosim_transaction", format="txt", cosim=result)
