"""The logs an HLS build leaves: ``vitis_hls.log``, ``vivado_hls.log`` and the
``build_stdout.log`` fpga-flow writes (the same text, plus Vivado's when it runs).

Failure is judged from the stages, not from the mere presence of 'ERROR': hls4ml's
build script wraps ``config_array_partition -maximum_size`` in ``catch``, and Vitis
HLS, which dropped that option, prints ``ERROR: [HLS 200-642]`` on every successful
run. A stage failed when a real error is printed inside it, or when the log stops
inside it without the tool exiting.
"""

from __future__ import annotations

import re
from pathlib import Path

from fpga_flow.reports.model import LogSummary, ParsedReport, ReportParseError
from fpga_flow.reports.values import normalize_part, to_float, to_ns

# Printed by hls4ml's build_prj.tcl around each stage ('***** C/RTL SYNTHESIS *****',
# '***** C/RTL SYNTHESIS COMPLETED IN 0h0m38s *****').
HLS4ML_STAGES = {"C SIMULATION": "csim", "C/RTL SYNTHESIS": "csynth", "C/RTL SIMULATION": "cosim",
                 "C/RTL VALIDATION": "validation", "EXPORT IP": "export", "VIVADO SYNTHESIS": "vsynth"}
# Tcl commands of scripts that are not hls4ml's ('INFO: [HLS 200-1510] Running: csynth_design').
COMMAND_STAGES = {"csim_design": "csim", "csynth_design": "csynth", "cosim_design": "cosim", "export_design": "export"}
HARMLESS_ERRORS = ("[HLS 200-642]",)
SETUP_STAGE = "setup"

_BANNER = re.compile(r"^\*{4,}\s+(Vivado\(TM\) HLS|Vitis HLS|Vivado|vitis-run|Vitis)\b.*?\bv(\d{4}\.\d+(?:\.\d+)?)")
_FMAX = re.compile(r"Estimated Fmax:\s*([\d.]+)\s*MHz")
_DEVICE = re.compile(r"Setting target device to '([^']+)'")
_CLOCK = re.compile(r"Setting up clock '[^']*' with a period of ([\d.]+\s*\w*s)")
_EXIT = re.compile(r"Exiting (vitis_hls|vivado_hls|vitis-run|v\+\+)\b")
MAX_WARNINGS = 50


def _is_error(line: str) -> bool:
    return line.startswith(("ERROR:", "ERROR [", "Error:")) or line.startswith("ERROR ")


def key_warning(line: str) -> bool:
    """Warnings that change what the design is: II violations, pipelines and unrolling
    the tool gave up on, and estimated clocks over the target."""
    if not line.startswith(("WARNING", "CRITICAL WARNING")):
        return False
    lowered = line.lower()
    return ("ii violation" in lowered or "unable to satisfy pipeline directive" in lowered
            or "unable to schedule" in lowered or "unable to enforce" in lowered
            or ("unroll" in lowered and any(word in lowered for word in ("limit", "exceed", "excessive", "too large", "stop")))
            or ("exceeds the target" in lowered) or "timing violation" in lowered)


def _stage_marker(line: str) -> tuple[str, bool] | None:
    """(stage, completed) for an hls4ml '***** NAME *****' line."""
    if not (line.startswith("***** ") and line.endswith(" *****")):
        return None
    inner = line[6:-6].strip()
    name, completed_marker, _ = inner.partition(" COMPLETED IN ")
    stage = HLS4ML_STAGES.get(name.strip())
    return (stage, bool(completed_marker)) if stage else None


def summarize_log(lines: list[str]) -> tuple[LogSummary, list[str], dict[str, str]]:
    """The log's stages, errors and key warnings; also the facts it states (version, part, clock, top)."""
    summary = LogSummary()
    warnings: list[str] = []
    facts: dict[str, str] = {}
    current = SETUP_STAGE
    exited = False
    first_error_stage: str | None = None
    previous = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        marker = _stage_marker(line)
        if marker is not None:
            stage, completed = marker
            if completed:
                if stage not in summary.stages_completed:
                    summary.stages_completed.append(stage)
            else:
                current = stage
                summary.stages_started.append(stage)
        elif "Running: " in line and "[HLS" in line:
            command = line.split("Running: ", 1)[1].split()
            stage = COMMAND_STAGES.get(command[0]) if command else None
            if stage is not None and (not summary.stages_started or summary.stages_started[-1] != stage):
                current = stage
                summary.stages_started.append(stage)
            if command and command[0] == "set_top" and len(command) > 1:
                facts.setdefault("top", command[1])
        elif line.startswith("INFO: [HLS 200-111] Finished Command "):
            command = line[len("INFO: [HLS 200-111] Finished Command "):].split()
            stage = COMMAND_STAGES.get(command[0]) if command else None
            if stage is not None and stage not in summary.stages_completed:
                summary.stages_completed.append(stage)
        elif line == "INFO: Test PASSED" and current == "validation" and "validation" not in summary.stages_completed:
            summary.stages_completed.append("validation")
        if _is_error(line):
            if any(code in line for code in HARMLESS_ERRORS):
                summary.harmless_errors.append(line)
            else:
                summary.errors.append(line)
                if first_error_stage is None:
                    first_error_stage, summary.first_error = current, line
        elif line == "while executing" and first_error_stage is None:
            # A Tcl error aborted the script; its message is the line above.
            first_error_stage, summary.first_error = current, previous
            summary.errors.append(previous)
        if line.startswith(("WARNING", "CRITICAL WARNING")):
            summary.warning_count += 1
            if key_warning(line) and line not in warnings and len(warnings) < MAX_WARNINGS:
                warnings.append(line)
        if _EXIT.search(line):
            exited = True
        if "tool_version" not in facts:
            banner = _BANNER.match(line)
            if banner:
                facts["tool"] = "vivado_hls" if "Vivado(TM) HLS" in banner.group(1) else "vitis_hls"
                facts["tool_version"] = banner.group(2)
        if "HLS 200-789" in line or "Estimated Fmax" in line:
            fmax = _FMAX.search(line)
            if fmax:
                summary.estimated_fmax_mhz = to_float(fmax.group(1))
        if "part" not in facts and "Setting target device" in line:
            device = _DEVICE.search(line)
            if device:
                facts["part"] = device.group(1)
        if "clock" not in facts and "Setting up clock" in line and "period" in line:
            clock = _CLOCK.search(line)
            if clock:
                facts["clock"] = clock.group(1)
        previous = line
    if first_error_stage is not None:
        summary.failed_stage = first_error_stage
    elif not exited and summary.stages_started:
        last = summary.stages_started[-1]
        if last not in summary.stages_completed:
            summary.failed_stage = last
            summary.first_error = f"the log ends inside '{last}' and the tool never exited (killed or crashed?)"
    return summary, warnings, facts


_GENERIC_ERROR = re.compile(r"\berror\b", re.IGNORECASE)


def generic_failure(lines: list[str]) -> str | None:
    """'build: <first error line>' for the log of a tool that is not Vivado/Vitis HLS."""
    for line in lines:
        stripped = line.strip()
        if _GENERIC_ERROR.search(stripped) and not re.search(r"\b0 errors?\b", stripped, re.IGNORECASE):
            return f"build: {stripped}"
    return None


def parse_hls_log(path: Path, text: str) -> ParsedReport:
    lines = text.splitlines()
    head = "\n".join(lines[:40])
    if "High-Level Synthesis" not in head and "[HLS " not in text[:200_000] and "***** C" not in text[:200_000]:
        raise ReportParseError(path, "no Vivado/Vitis HLS banner or [HLS ...] messages: not an HLS log")
    summary, warnings, facts = summarize_log(lines)
    report = ParsedReport(path=str(path), kind="hls_log", format="log", log=summary, warnings=warnings)
    report.tool = facts.get("tool")
    report.tool_version = facts.get("tool_version")
    report.part = normalize_part(facts.get("part"))
    report.top = facts.get("top")
    report.target_clock_ns = to_ns(facts.get("clock"))
    if summary.failed_stage is not None:
        report.warnings.insert(0, f"build failed in stage '{summary.failed_stage}': {summary.first_error}")
    return report
