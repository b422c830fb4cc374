"""Intel reports: the Intel HLS (i++) report data hls4ml's Quartus backend leaves
(``report_data.js``, ``quartus_data.js``, ``info.json``), the oneAPI/DPC++ report JSON
(``summary.json``, ``*.ndjson``), and Quartus ``.map.summary`` / ``.fit.summary`` /
``.sta.summary``.

Intel resources are not AMD's: ALUTs are reported under ``LUT``, registers under ``FF``
and DSP blocks under ``DSP``; RAM blocks (M10K/M20K), MLABs and ALMs have no AMD
counterpart and go to ``extra_resources``, so ``BRAM_18K`` and ``URAM`` stay None.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fpga_flow.reports.model import ModuleFigures, ParsedReport, ReportParseError, Timing, no_resources
from fpga_flow.reports.text import colon_fields
from fpga_flow.reports.values import to_float

INTEL_COLUMNS = ("ALUTs", "FFs", "RAMs", "DSPs", "MLABs")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "'": "'", '"': '"', "\\": "\\", "/": "/"}


def _js_string(text: str, start: int, path: Path) -> tuple[str, int]:
    """The JavaScript string literal opening at ``text[start]`` -> (its value, index after it)."""
    quote = text[start]
    out: list[str] = []
    index, count = start + 1, len(text)
    while index < count:
        char = text[index]
        if char == quote:
            return "".join(out), index + 1
        if char != "\\":
            out.append(char)
            index += 1
            continue
        index += 1
        if index >= count:
            break
        escape = text[index]
        if escape in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escape])
            index += 1
        elif escape == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[index + 1:index + 3]):
            out.append(chr(int(text[index + 1:index + 3], 16)))
            index += 3
        elif escape == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[index + 1:index + 5]):
            out.append(chr(int(text[index + 1:index + 5], 16)))
            index += 5
        elif escape in "01234567":
            digits = re.match(r"[0-7]{1,3}", text[index:index + 3]).group(0)
            out.append(chr(int(digits, 8)))
            index += len(digits)
        elif escape == "\n":
            index += 1
        else:
            out.append(escape)
            index += 1
    raise ReportParseError(path, f"unterminated JavaScript string starting at character {start}")


def _js_value_as_json(text: str, start: int, path: Path) -> str:
    """The JSON text of the JavaScript object/array literal at ``text[start]`` (strings
    re-quoted, since i++ writes escapes such as \\' that JSON does not allow)."""
    out: list[str] = []
    depth = 0
    index, count = start, len(text)
    while index < count:
        char = text[index]
        if char in "\"'":
            value, index = _js_string(text, index, path)
            out.append(json.dumps(value))
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth <= 0:
                out.append(char)
                return "".join(out)
        elif char == ";" and depth <= 0:
            break
        out.append(char)
        index += 1
    raise ReportParseError(path, f"JavaScript value starting at character {start} never closes")


def loads(text: str, path: Path, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ReportParseError(path, f"{what} is not valid JSON ({str(exc)[:120]})") from None


def js_variable(text: str, name: str, path: Path) -> Any:
    """The value of ``var <name> = ...;`` in a report .js file: an object literal, or a
    string holding JSON (older i++ versions); None when the variable is absent."""
    match = re.search(r"\bvar\s+" + re.escape(name) + r"\s*=\s*", text)
    if match is None:
        return None
    start = match.end()
    if start < len(text) and text[start] in "\"'":
        inner, _ = _js_string(text, start, path)
        return loads(inner, path, f"'{name}'")
    if start >= len(text) or text[start] not in "{[":
        raise ReportParseError(path, f"'{name}' is neither an object literal nor a JSON string")
    return loads(_js_value_as_json(text, start, path), path, f"'{name}'")


def _dig(data: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(data, list) or not -len(data) <= key < len(data):
                return None
        elif not isinstance(data, dict):
            return None
        data = data[key] if isinstance(key, int) else data.get(key)
    return data


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        return to_float(value)
    return None


def _count(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _intel_resources(values: Any, columns: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Values under the columns ALUTs, FFs, RAMs, DSPs, MLABs (that order unless
    ``columns``, the report's header with its name column first, says otherwise)."""
    values = values if isinstance(values, list) else []
    names = [str(name).strip().rstrip("s").upper() for name in columns[1:]] if isinstance(columns, list) else []
    order = [names.index(name) if name in names else None for name in ("ALUT", "FF", "RAM", "DSP", "MLAB")]
    if not names or None in order:
        order = [0, 1, 2, 3, 4]

    def at(position: int | None) -> int | None:
        return _count(values[position]) if position is not None and position < len(values) else None

    resources = no_resources()
    resources["LUT"], resources["FF"], resources["DSP"] = at(order[0]), at(order[1]), at(order[3])
    return resources, {"RAM_blocks": at(order[2]), "MLAB": at(order[4])}


def _family_and_part(text: Any) -> tuple[str | None, str | None]:
    pieces = [piece.strip() for piece in text.split(",")] if isinstance(text, str) else []
    return (pieces[0] or None if pieces else None), (pieces[1] or None if len(pieces) > 1 else None)


# --------------------------------------------------------------------------- Intel HLS


def parse_intel_report_js(path: Path, text: str) -> ParsedReport:
    area = js_variable(text, "areaJSON", path)
    if not isinstance(area, dict):
        raise ReportParseError(path, "no 'var areaJSON' object: not an Intel HLS report_data.js")
    report = ParsedReport(path=str(path), kind="intel_hls_report_js", format="js", tool="intel_hls")
    columns = area.get("columns")
    report.resources, report.extra_resources = _intel_resources(area.get("total"), columns)
    report.available, _ = _intel_resources(area.get("max_resources"), columns)
    children = area.get("children") if isinstance(area.get("children"), list) else []
    functions = [child for child in children if isinstance(child, dict) and child.get("type") == "function"]
    if functions and isinstance(functions[0].get("name"), str):
        report.top = functions[0]["name"]
    info = js_variable(text, "infoJSON", path)
    rows = _dig(info, "rows")
    for row in rows if isinstance(rows, list) else []:
        name, value = _dig(row, "name"), _dig(row, "data", 0)
        if name == "Target Family, Device":
            report.family, report.part = _family_and_part(value)
        elif name == "i++ Version" and isinstance(value, str):
            report.tool_version = value
    fmax_ii = js_variable(text, "fmax_iiJSON", path)
    blocks = _dig(fmax_ii, "basicblocks")
    achieved = [_number(_dig(block, "achieved_fmax")) for block in blocks.values()] if isinstance(blocks, dict) else []
    achieved = [value for value in achieved if value]
    if not achieved:
        attributes = js_variable(text, "loop_attrJSON", path)
        nodes = _dig(attributes, "nodes")
        achieved = [value for node in (nodes if isinstance(nodes, list) else []) if (value := _number(_dig(node, "fmax")))]
    if achieved:
        report.estimated_clock_ns = round(1000.0 / min(achieved), 3)
        report.notes.append("estimated clock = 1000 / lowest block fmax estimated by i++")
    report.latency.unknown_reason = "i++ reports latency per block; the component latency comes from simulation (verification_data.js)"
    return report


def parse_intel_quartus_js(path: Path, text: str) -> ParsedReport:
    """``quartus_data.js``: Quartus fit results; 'TBD' until a Quartus compile has run."""
    data = js_variable(text, "quartusJSON", path)
    if not isinstance(data, dict):
        raise ReportParseError(path, "no 'var quartusJSON' object: not an Intel HLS quartus_data.js")
    return _quartus_fit(ParsedReport(path=str(path), kind="intel_hls_quartus_js", format="js", tool="quartus"), data)


def _quartus_fit(report: ParsedReport, data: dict[str, Any]) -> ParsedReport:
    clock_nodes = _dig(data, "quartusFitClockSummary", "nodes")
    clock = _dig(clock_nodes, 0)
    fmax = _number(_dig(clock, "clock fmax")) or _number(_dig(clock, "clock"))
    if fmax:
        report.timing = Timing(fmax_mhz=fmax, stage="fit")
    nodes = _dig(data, "quartusFitResourceUsageSummary", "nodes")
    nodes = [node for node in nodes if isinstance(node, dict)] if isinstance(nodes, list) else []
    chosen = next((node for node in nodes if node.get("type") in ("kernel", "component")), nodes[-1] if nodes else None)
    if chosen is not None:
        if chosen.get("type") in ("kernel", "component") and isinstance(chosen.get("name"), str):
            report.top = chosen["name"]
        report.resources["LUT"] = _count(chosen.get("alut"))
        report.resources["FF"] = _count(chosen.get("reg"))
        report.resources["DSP"] = _count(chosen.get("dsp"))
        report.extra_resources = {"ALM": _number(chosen.get("alm")), "RAM_blocks": _count(chosen.get("ram")),
                                  "MLAB": _count(chosen.get("mlab"))}
    if not fmax and not report.has_resources():
        report.notes.append("Quartus fit figures are 'TBD': Quartus compile has not run")
    report.design_state = "fitted" if fmax or report.has_resources() else None
    return report


def parse_compile_info(path: Path, text: str) -> ParsedReport:
    """``reports/lib/json/info.json`` of i++ (product HLS) or DPC++/oneAPI (product SYCL)."""
    node = _dig(loads(text, path, "info.json"), "compileInfo", "nodes", 0)
    if not isinstance(node, dict):
        raise ReportParseError(path, "no compileInfo.nodes[0]: not an Intel HLS/oneAPI info.json")
    product = str(node.get("product") or "")
    oneapi = product.upper() in ("SYCL", "DPC++", "ONEAPI")
    report = ParsedReport(path=str(path), kind="oneapi_json_info" if oneapi else "intel_hls_json_info", format="json",
                          tool="oneapi" if oneapi else "intel_hls")
    report.tool_version = node.get("version") if isinstance(node.get("version"), str) else None
    report.family, report.part = _family_and_part(node.get("family"))
    name = node.get("name")
    report.top = name.removeprefix("./").removesuffix("-fpga") if isinstance(name, str) else None
    if isinstance(node.get("quartus"), str) and node["quartus"]:
        report.notes.append(f"Quartus {node['quartus']}")
    return report


# --------------------------------------------------------------------------- oneAPI


def _estimated_rows(rows: list[dict[str, Any]], report: ParsedReport, columns: Any) -> None:
    for row in rows:
        name, data = row.get("name"), row.get("data")
        if name == "Total":
            report.resources, report.extra_resources = _intel_resources(data, columns)
        elif name == "Available":
            report.available, _ = _intel_resources(data, columns)
        elif isinstance(name, str) and not (isinstance(row.get("classes"), list) and "summary-highlight" in row["classes"]):
            resources, _ = _intel_resources(data, columns)
            report.modules.append(ModuleFigures(name=name, resources=resources))


def parse_summary_json(path: Path, text: str) -> ParsedReport:
    """``reports/lib/json/summary.json``: the estimated resources of a DPC++/oneAPI
    kernel, or of an i++ (Intel HLS) component. i++ writes a ``functionNameMapping``
    table and names its rows by function; oneAPI names them by kernel and lists the
    kernels under ``performanceSummary``."""
    data = loads(text, path, "summary.json")
    rows = _dig(data, "estimatedResources", "children")
    if not isinstance(rows, list):
        raise ReportParseError(path, "no estimatedResources.children: not an Intel HLS/oneAPI summary.json")
    intel_hls = isinstance(data, dict) and "functionNameMapping" in data
    report = ParsedReport(path=str(path), kind="intel_hls_json_summary" if intel_hls else "oneapi_json_summary",
                          format="json", tool="intel_hls" if intel_hls else "oneapi")
    _estimated_rows([row for row in rows if isinstance(row, dict)], report, _dig(data, "estimatedResources", "columns"))
    tops = _dig(data, "functionNameMapping", "children", 0, "data", 0) if intel_hls \
        else _dig(data, "performanceSummary", "children", 0, "name")
    report.top = tops if isinstance(tops, str) else None
    return report


def _ndjson(text: str, path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            record = loads(line, path, f"line {number}")
            if isinstance(record, dict):
                records.append(record)
    return records


def parse_oneapi_summary_ndjson(path: Path, text: str) -> ParsedReport:
    records = _ndjson(text, path)
    rows = [record for record in records if record.get("parent") == "estimatedResources"]
    if not rows:
        raise ReportParseError(path, "no records with parent 'estimatedResources': not a oneAPI summary.ndjson")
    report = ParsedReport(path=str(path), kind="oneapi_ndjson_summary", format="ndjson", tool="oneapi")
    header = next((record for record in records if record.get("summary_type") == "estimatedResources"), {})
    _estimated_rows(rows, report, header.get("columns"))
    return report


def parse_oneapi_loop_attr(path: Path, text: str) -> ParsedReport:
    """``loop_attr.ndjson``: fmax per kernel, II and latency per loop/block."""
    records = _ndjson(text, path)
    if not any(record.get("name") == "loop_attributes" for record in records):
        raise ReportParseError(path, "no 'loop_attributes' record: not a oneAPI loop_attr.ndjson")
    report = ParsedReport(path=str(path), kind="oneapi_ndjson_loop_attr", format="ndjson", tool="oneapi")
    fmax_values = []
    for record in records:
        name = record.get("name") if isinstance(record.get("name"), str) else None
        if record.get("type") == "kernel":
            fmax = _number(record.get("fmax"))
            if fmax:
                fmax_values.append(fmax)
        elif name and record.get("type") in ("bb", "loop"):
            latency = _count(record.get("lt"))
            interval = _count(record.get("ii"))
            report.modules.append(ModuleFigures(name=name, latency_cycles={"best": None, "avg": None, "worst": latency},
                                                interval_cycles={"min": None, "max": interval},
                                                pipeline_type="pipelined" if record.get("pl") == "Yes" else None))
    if fmax_values:
        report.estimated_clock_ns = round(1000.0 / min(fmax_values), 3)
    report.latency.unknown_reason = "the loop report gives latency per loop/block, not per kernel"
    return report


def parse_oneapi_quartus(path: Path, text: str) -> ParsedReport:
    data = loads(text, path, "quartus.ndjson")
    if not isinstance(data, dict) or "quartusFitClockSummary" not in data:
        raise ReportParseError(path, "no quartusFitClockSummary: not a oneAPI quartus.ndjson")
    return _quartus_fit(ParsedReport(path=str(path), kind="oneapi_ndjson_quartus", format="ndjson", tool="quartus"), data)


# --------------------------------------------------------------------------- Quartus


_USED_OF = re.compile(r"([\d,.]+)\s*(?:/\s*([\d,.]+))?\s*(?:\(\s*<?\s*([\d.]+)\s*%\s*\))?")


def _used_of(text: str | None) -> tuple[float | None, float | None, float | None]:
    match = _USED_OF.fullmatch((text or "").strip())
    if not match:
        return None, None, None
    return to_float(match.group(1)), to_float(match.group(2)), to_float(match.group(3))


def _quartus_summary(path: Path, text: str, kind: str, status_key: str, done_state: str) -> tuple[ParsedReport, dict]:
    """What every Quartus ``<revision>.<stage>.summary`` starts with (``Key : value``
    lines): the stage status, the version (``Quartus Prime Version``, or ``Quartus II
    Version`` / ``Quartus II 64-Bit Version`` before Quartus Prime), the top entity,
    the family and, when given, the device."""
    fields = colon_fields(text.splitlines(), prefixes="")
    if status_key not in fields:
        raise ReportParseError(path, f"no '{status_key}' line: not a Quartus {kind.split('_')[1]} summary")
    report = ParsedReport(path=str(path), kind=kind, format="txt", tool="quartus")
    version_key = next((key for key in fields if key.startswith("Quartus") and key.endswith("Version")), "")
    version = re.match(r"(\d+\.\d+(?:\.\d+)?)", fields.get(version_key, ""))
    report.tool_version = version.group(1) if version else None
    report.top = fields.get("Top-level Entity Name") or None
    report.family = fields.get("Family") or None
    report.part = (fields.get("Device") or "").upper() or None
    status = fields[status_key]
    report.design_state = done_state if status.lower().startswith("successful") else status
    return report, fields


def parse_quartus_fit_summary(path: Path, text: str) -> ParsedReport:
    report, fields = _quartus_summary(path, text, "quartus_fit_summary", "Fitter Status", "fitted")
    alms, alms_total, _ = _used_of(fields.get("Logic utilization (in ALMs)"))
    registers, _, _ = _used_of(fields.get("Total registers"))
    dsp, dsp_total, dsp_pct = _used_of(fields.get("Total DSP Blocks"))
    ram, ram_total, _ = _used_of(fields.get("Total RAM Blocks"))
    report.resources["FF"] = int(registers) if registers is not None else None
    report.resources["DSP"] = int(dsp) if dsp is not None else None
    report.available["DSP"] = int(dsp_total) if dsp_total is not None else None
    report.extra_resources = {"ALM": alms, "ALM_available": alms_total, "RAM_blocks": ram, "RAM_blocks_available": ram_total}
    return report


def parse_quartus_map_summary(path: Path, text: str) -> ParsedReport:
    """Analysis & Synthesis (``quartus_map``): counts after synthesis, before the fitter.
    It names no device and gives no totals; ALMs are 'N/A' until the fitter packs them.
    Cyclone V and later count ``Total registers`` and ``Total DSP Blocks``; Cyclone IV
    and MAX 10 count logic elements: ``Total combinational functions`` (one 4-input LUT
    each, reported under LUT) and ``Dedicated logic registers``, with 9-bit embedded
    multipliers instead of DSP blocks (kept in ``extra_resources``)."""
    report, fields = _quartus_summary(path, text, "quartus_map_summary", "Analysis & Synthesis Status", "synthesized")

    def count(*keys: str) -> int | None:
        """The count on the first of ``keys`` the summary has (None for 'N/A')."""
        key = next((key for key in keys if key in fields), None)
        used, _, _ = _used_of(fields.get(key) if key else None)
        return int(used) if used is not None else None

    report.resources["LUT"] = count("Total combinational functions")
    report.resources["FF"] = count("Total registers", "Dedicated logic registers")
    report.resources["DSP"] = count("Total DSP Blocks")
    extra = {"ALM": count("Logic utilization (in ALMs)"), "logic_elements": count("Total logic elements"),
             "memory_bits": count("Total block memory bits", "Total memory bits"),
             "multiplier_9bit": count("Embedded Multiplier 9-bit elements"), "PLL": count("Total PLLs")}
    report.extra_resources = {key: value for key, value in extra.items() if value is not None}
    report.notes.append("Analysis & Synthesis counts: the fitter's (.fit.summary) are the placed design's")
    return report


_STA_ANALYSIS = re.compile(r"\b(Setup|Hold|Recovery|Removal|Minimum Pulse Width) '")


def parse_quartus_sta_summary(path: Path, text: str) -> ParsedReport:
    """Worst setup/hold slack and TNS over every corner and clock of a Timing Analyzer summary."""
    lines = text.splitlines()
    if not any("Timing Analyzer Summary" in line for line in lines[:10]):
        raise ReportParseError(path, "no 'Timing Analyzer Summary' title: not a Quartus timing summary")
    entries = []
    current: dict[str, Any] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            continue
        if key == "Type":
            match = _STA_ANALYSIS.search(value) if value.endswith("'") else None
            current = {"analysis": match.group(1), "clock": value[match.end():-1]} if match else {}
        elif key in ("Slack", "TNS") and current:
            current[key] = to_float(value)
            if "Slack" in current and "TNS" in current:
                entries.append(current)
                current = {}
    if not entries:
        raise ReportParseError(path, "no 'Type / Slack / TNS' blocks")

    def worst(analysis: str, field: str) -> float | None:
        values = [entry[field] for entry in entries if entry["analysis"] == analysis and entry.get(field) is not None]
        return min(values) if values else None

    slacks = [entry["Slack"] for entry in entries if entry.get("Slack") is not None]
    report = ParsedReport(path=str(path), kind="quartus_sta_summary", format="txt", tool="quartus")
    report.timing = Timing(wns_ns=worst("Setup", "Slack"), tns_ns=worst("Setup", "TNS"), whs_ns=worst("Hold", "Slack"),
                           ths_ns=worst("Hold", "TNS"), met=min(slacks) >= 0 if slacks else None, stage="fit")
    report.notes.append("the summary gives no clock periods, so no fmax")
    return report

