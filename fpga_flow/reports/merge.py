"""One record per build: the reports of one project folder merged, each figure taken
from the most trustworthy report that has it, and the file it came from kept.

Precedence: the top function's C-synthesis XML, then its text report, then the Vitis
summary (latency, interval, HLS resource estimates, clocks, per-layer modules);
post-route before post-synthesis for Vivado's own counts and timing; the build log for
the failed stage. An hls4ml project names its top function in ``project.tcl``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from fpga_flow.reports.detect import find_reports, parse_report
from fpga_flow.reports.logs import generic_failure, parse_hls_log
from fpga_flow.reports.model import (
    RESOURCE_KEYS, BuildReport, Interval, Latency, ModuleFigures, ParsedReport, ReportParseError,
)
from fpga_flow.reports.text import decode, read_bytes

CSYNTH_KINDS = ("csynth", "csynth_summary", "hls_compile")
LOG_NAMES = ("build_stdout.log", "vitis_hls.log", "vivado_hls.log")
PROJECT_MARKERS = ("project.tcl", "hls4ml_config.yml", "build_prj.tcl")
# Most advanced design state first.
_STATE_ORDER = ("routed", "fully placed", "placed", "fitted", "optimized", "synthesized")
_TIMING_ORDER = ("timing_summary", "export_impl", "export_impl_rpt", "export_syn", "export_syn_rpt", "export_rpt",
                 "quartus_sta_summary", "oneapi_ndjson_quartus", "intel_hls_quartus_js")
_POST_SYNTH_KINDS = ("utilization", "utilization_hier", "export_impl", "export_impl_rpt", "export_syn", "export_syn_rpt",
                     "export_rpt", "quartus_fit_summary", "oneapi_ndjson_quartus", "intel_hls_quartus_js",
                     "quartus_map_summary")
_HLS_ESTIMATE_KINDS = ("intel_hls_report_js", "intel_hls_json_summary", "oneapi_json_summary", "oneapi_ndjson_summary", "catapult_rtl",
                       "csynth_design_size", "oneapi_ndjson_loop_attr")


def project_top(folder: Path) -> str | None:
    """The top function an hls4ml project declares (``set project_name "myproject"``)."""
    tcl = folder / "project.tcl"
    if tcl.is_file():
        match = re.search(r'set\s+project_name\s+"?([\w.-]+)"?', decode(read_bytes(tcl)))
        if match:
            return match.group(1)
    config = folder / "hls4ml_config.yml"
    if config.is_file():
        match = re.search(r"^ProjectName:\s*['\"]?([\w.-]+)", decode(read_bytes(config)), re.MULTILINE)
        if match:
            return match.group(1)
    return None


def project_root(path: Path, base: Path) -> Path:
    """The project a report belongs to: the nearest folder (up to ``base``) holding
    project.tcl / hls4ml_config.yml / build_prj.tcl, or the parent of a ``*_prj``
    folder, else the report's own folder."""
    folder = path.parent
    for candidate in [folder, *folder.parents]:
        if any((candidate / marker).is_file() for marker in PROJECT_MARKERS):
            return candidate
        if candidate.name.endswith("_prj") or candidate.name.endswith(".prj"):
            return candidate.parent
        if candidate == base:
            break
    return folder


def _state_rank(report: ParsedReport) -> int:
    state = (report.design_state or "").lower()
    return _STATE_ORDER.index(state) if state in _STATE_ORDER else len(_STATE_ORDER)


def _choose_top(csynth: list[ParsedReport], top_hint: str | None, cosim_tops: set[str]) -> str | None:
    """The design's top function: the project's own name for it, else the one the Vitis
    summary describes, else one no other report instantiates (preferring one that was
    co-simulated, then the one with the most sub-modules)."""
    tops = [report.top for report in csynth if report.top]
    if top_hint and top_hint in tops:
        return top_hint
    summary = next((report.top for report in csynth if report.kind != "csynth" and report.top), None)
    if summary:
        return summary
    instantiated = {module.name for report in csynth for module in report.modules}
    free = [report.top for report in csynth if report.top and report.top not in instantiated]
    simulated = [top for top in free if top in cosim_tops]
    if simulated:
        return simulated[0]
    if free:
        return max(free, key=lambda top: sum(len(report.modules) for report in csynth if report.top == top))
    return tops[0] if tops else None


def _csynth_rank(report: ParsedReport) -> tuple[int, int]:
    return (0 if report.format == "xml" else 1, 0 if report.kind == "csynth" else 1)


def _take(build: BuildReport, source: ParsedReport, names: Iterable[str], label: str | None = None) -> None:
    """Copy each attribute in ``names`` that ``build`` lacks and ``source`` has."""
    for name in names:
        if getattr(build, name) is None and getattr(source, name) is not None:
            setattr(build, name, getattr(source, name))
            build.sources[label or name] = source.path


def _merge_latency(build: BuildReport, sources: list[ParsedReport]) -> None:
    for source in sources:
        latency = source.latency
        if any(value is not None for value in latency.cycles_dict().values()) or latency.unknown_reason:
            build.latency = Latency(**vars(latency))
            build.sources["latency_cycles"] = source.path
            break
    for source in sources:
        if source.interval.min is not None or source.interval.max is not None:
            build.interval = Interval(source.interval.min, source.interval.max)
            build.sources["interval_cycles"] = source.path
            break
    for name in ("best", "avg", "worst"):
        if getattr(build.latency, f"{name}_ns") is not None:
            continue
        for source in sources:
            same_cycles = getattr(source.latency, name) == getattr(build.latency, name)
            if same_cycles and getattr(source.latency, f"{name}_ns") is not None:
                setattr(build.latency, f"{name}_ns", getattr(source.latency, f"{name}_ns"))
                build.sources.setdefault("latency_ns", source.path)
                break


def _resources_from(build: BuildReport, source: ParsedReport, stage: str) -> None:
    build.resources = dict(source.resources)
    build.available = dict(source.available)
    build.reported_utilization_pct = dict(source.reported_utilization_pct)
    build.bram_36k_tiles = source.bram_36k_tiles
    build.extra_resources = dict(source.extra_resources)
    build.resources_stage = stage
    build.sources["resources"] = source.path


def _post_synthesis(reports: list[ParsedReport]) -> ParsedReport | None:
    candidates = [report for report in reports if report.kind in _POST_SYNTH_KINDS and report.has_resources()]
    if not candidates:
        return None
    return min(candidates, key=lambda report: (_state_rank(report), _POST_SYNTH_KINDS.index(report.kind)))


def _post_synthesis_dict(report: ParsedReport) -> dict[str, Any]:
    return {
        "stage": report.design_state, "kind": report.kind, "resources": dict(report.resources),
        "available": dict(report.available), "utilization_pct": report.utilization_pct(),
        "bram_36k_tiles": dict(report.bram_36k_tiles) if report.bram_36k_tiles else None,
        "extra_resources": dict(report.extra_resources), "source": report.path,
    }


def _sibling_modules(csynth: list[ParsedReport], top: str | None) -> list[ModuleFigures]:
    """Per-layer figures from the other ``<layer>_csynth.xml`` files next to the top's,
    for reports (the XML of Vivado HLS and most Vitis versions) that list no instances."""
    seen, modules = set(), []
    for report in sorted(csynth, key=_csynth_rank):
        if report.top is None or report.top == top or report.top in seen or report.kind != "csynth":
            continue
        seen.add(report.top)
        modules.append(ModuleFigures(name=report.top, latency_cycles=report.latency.cycles_dict(),
                                     interval_cycles=report.interval.to_dict(), pipeline_type=report.pipeline_type,
                                     resources=dict(report.resources)))
    return modules


def _disagreements(chosen: ParsedReport, others: list[ParsedReport]) -> list[str]:
    """Resource counts other reports of the same top give differently (the tool's own
    XML and text can differ by a few LUTs)."""
    found = []
    for other in others:
        if other is chosen:
            continue
        for key, value in other.resources.items():
            used = chosen.resources.get(key)
            if value is not None and used is not None and value != used:
                found.append(f"{Path(other.path).name} gives {key} {value}, {Path(chosen.path).name} gives {used} "
                             f"(the latter is used)")
    return found


def merge_reports(reports: list[ParsedReport], top_hint: str | None = None) -> BuildReport:
    """Merge the parsed reports of one build into a BuildReport."""
    build = BuildReport()
    csynth_all = [report for report in reports if report.kind in CSYNTH_KINDS]
    cosim_tops = {Path(report.path).name.split("_cosim.rpt")[0].split(".performance.")[0]
                  for report in reports if report.kind in ("cosim", "cosim_transaction")}
    top = _choose_top(csynth_all, top_hint, cosim_tops)
    csynth = sorted((report for report in csynth_all if report.top == top), key=_csynth_rank)
    estimates = [report for report in reports if report.kind in _HLS_ESTIMATE_KINDS]
    hls = csynth or estimates
    build.top = top
    for source in hls:
        _take(build, source, ("tool", "tool_version", "part", "family", "target_clock_ns", "clock_uncertainty_ns",
                              "estimated_clock_ns", "pipeline_type"))
    _merge_latency(build, hls)
    resource_source = next((source for source in hls if source.has_resources()), None)
    if resource_source is not None:
        _resources_from(build, resource_source, "csynth" if resource_source.kind in CSYNTH_KINDS else "hls_estimate")
        for source in hls:
            for key, value in source.available.items():
                if build.available.get(key) is None and value is not None:
                    build.available[key] = value
    if resource_source is not None:
        build.warnings.extend(_disagreements(resource_source, csynth))
    module_source = next((source for source in hls if source.modules), None)
    if module_source is not None:
        build.modules = list(module_source.modules)
        build.sources["modules"] = module_source.path
    elif csynth:
        build.modules = _sibling_modules(csynth_all, top)
        if build.modules:
            build.sources["modules"] = "sibling <module>_csynth reports"
    post = _post_synthesis(reports)
    if post is not None:
        build.post_synthesis = _post_synthesis_dict(post)
        build.sources["post_synthesis"] = post.path
        if resource_source is None:
            _resources_from(build, post, post.design_state or post.kind)
    timing_sources = sorted((report for report in reports if report.kind in _TIMING_ORDER and report.timing is not None),
                            key=lambda report: _TIMING_ORDER.index(report.kind))
    if timing_sources:
        build.timing = timing_sources[0].timing
        build.sources["timing"] = timing_sources[0].path
    power = next((report for report in reports if report.kind == "power" and report.power is not None), None)
    if power is not None:
        build.power = power.power
        build.sources["power"] = power.path
    cosim = next((report for report in reports if report.kind == "cosim"), None)
    transactions = next((report for report in reports if report.kind == "cosim_transaction"), None)
    if cosim is not None:
        build.cosim = cosim.cosim
        build.sources["cosim"] = cosim.path
        if transactions is not None and transactions.cosim is not None:
            build.cosim.transactions = transactions.cosim.transactions
    elif transactions is not None:
        build.cosim = transactions.cosim
        build.sources["cosim"] = transactions.path
    logs = sorted((report for report in reports if report.kind == "hls_log"),
                  key=lambda report: LOG_NAMES.index(Path(report.path).name) if Path(report.path).name in LOG_NAMES else 9)
    if logs:
        build.log = logs[0].log
        build.sources["log"] = logs[0].path
    for source in [*hls, *reports]:
        _take(build, source, ("tool", "tool_version", "top", "part", "family", "target_clock_ns"))
    for report in reports:
        for warning in report.warnings:
            if warning not in build.warnings:
                build.warnings.append(warning)
    if hls:
        build.notes.extend(hls[0].notes)
    return build


def _relative(path: str, base: Path) -> str:
    try:
        return os.path.relpath(path, base) if base.is_dir() else path
    except ValueError:
        return path


def build_report(path: str | Path) -> BuildReport:
    """Everything the reports under one project folder (or one report file) say, merged.
    A report that cannot be parsed is listed in ``unreadable`` rather than failing the
    merge; ``sources`` name files relative to ``path``."""
    path = Path(path)
    parsed, unreadable = [], []
    for file in find_reports(path):
        try:
            parsed.append(parse_report(file))
        except ReportParseError as exc:
            unreadable.append(f"{_relative(exc.file, path)}: {exc.reason}")
    build = merge_reports(parsed, project_top(path) if path.is_dir() else None)
    build.sources = {figure: _relative(source, path) for figure, source in build.sources.items()}
    if build.post_synthesis is not None:
        build.post_synthesis["source"] = _relative(build.post_synthesis["source"], path)
    build.unreadable = unreadable
    return build


@dataclass
class ReportSet:
    """The reports found under some paths: each parsed (or why not), and one merged
    BuildReport per project folder."""

    reports: list[ParsedReport] = field(default_factory=list)
    errors: list[ReportParseError] = field(default_factory=list)
    builds: list[tuple[Path, BuildReport]] = field(default_factory=list)


def collect(paths: Iterable[str | Path]) -> ReportSet:
    found: dict[Path, Path] = {}
    for base in map(Path, paths):
        for file in find_reports(base):
            found.setdefault(file, base)
    result = ReportSet()
    by_project: dict[Path, list[ParsedReport]] = {}
    for file, base in found.items():
        try:
            report = parse_report(file)
        except ReportParseError as exc:
            result.errors.append(exc)
            continue
        result.reports.append(report)
        by_project.setdefault(project_root(file, base if base.is_dir() else file.parent), []).append(report)
    for root, reports in by_project.items():
        result.builds.append((root, merge_reports(reports, project_top(root))))
    return result


def utilization_against(resources: dict[str, Any], totals: dict[str, Any]) -> dict[str, float | None]:
    """Used / total in percent per resource (a board's totals, in the same 18K BRAM units)."""
    shares: dict[str, float | None] = {}
    for key in RESOURCE_KEYS:
        used, total = resources.get(key), totals.get(key)
        shares[key] = round(100.0 * used / total, 2) if used is not None and total else None
    return shares


def failed_stage(path: str | Path) -> str | None:
    """``'<stage>: <first real error line>'`` for a failed run, None otherwise.

    ``path`` is a log, or a project folder whose ``build_stdout.log`` (else
    ``vitis_hls.log``, ``vivado_hls.log``) is read. HLS stages: setup, csim, csynth,
    cosim, validation, export, vsynth; a log of another tool (i++, make) fails in stage
    'build' at its first error line.
    """
    path = Path(path)
    if path.is_dir():
        path = next((path / name for name in LOG_NAMES if (path / name).is_file()), None)
    if path is None or not path.is_file():
        return None
    text = decode(read_bytes(path))
    try:
        report = parse_hls_log(path, text)
    except ReportParseError:
        return generic_failure(text.splitlines())
    return report.log.failure() if report.log is not None else None
