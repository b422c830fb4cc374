"""Which report a file is (from its content, with the name breaking ties), the parser
for each kind, and finding report files in a folder tree."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

from fpga_flow.errors import UserInputError
from fpga_flow.reports import catapult, cosim, csynth, export, intel, logs, vivado
from fpga_flow.reports.model import ParsedReport, ReportParseError
from fpga_flow.reports.text import decode, read_bytes

SNIFF_BYTES = 64 * 1024

# Names only HLS reports have: such a file is listed even when its content does not
# read as one (truncated by a crash, say), so that the failure to parse it shows.
HLS_REPORT_NAMES = re.compile(
    r"(.*csynth\.(xml|rpt)|hls_compile\.rpt|csynth_design_size\.rpt|.*_cosim\.rpt|.*\.transaction\.xml"
    r"|export_(syn|impl)\.(xml|rpt)|vivado_synth\.rpt|vitis_hls\.log|vivado_hls\.log|build_stdout\.log)",
    re.IGNORECASE,
)
# Every other file is a report when its content says so, whatever its name (a csynth
# report saved as <top>_csynth_3Layers.rpt is one). Sources, binaries, models and
# images never are: their suffix spares reading them.
NEVER_REPORTS = frozenset((
    ".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".o", ".so", ".a", ".dll", ".dylib", ".exe", ".py", ".pyc",
    ".tcl", ".v", ".sv", ".vhd", ".vhdl", ".h5", ".keras", ".npz", ".npy", ".pkl", ".png", ".jpg", ".svg", ".pdf",
    ".zip", ".gz", ".bz2", ".xz", ".tar", ".db", ".sqlite", ".bit", ".dcp", ".xclbin", ".ipynb", ".lock",
))


def detect_kind(name: str, text: str) -> str | None:
    """The report kind of a file named ``name`` whose (leading) text is ``text``, or None."""
    lowered = name.lower()
    head = text[:SNIFF_BYTES].lstrip()
    first_words = head.split("\n", 1)[0].split()
    if first_words == ["latency", "interval"]:
        return "cosim_transaction"
    if head.startswith("<"):
        if "<RunData>" in head or "<AreaReport>" in head or "<TimingReport>" in head:
            run_type = re.search(r"<RUN_TYPE>\s*(\w+)", head)
            impl = run_type.group(1).lower() == "impl" if run_type else "impl" in lowered
            return "export_impl" if impl else "export_syn"
        if "<UserAssignments>" in head or "<PerformanceEstimates>" in head:
            return "csynth_summary" if lowered == "csynth.xml" or "<ModuleInformation>" in text else "csynth"
        return None
    top = head[:4000]
    if "High-Level Synthesis" in top and "****" in top:
        return "hls_log"
    if re.search(r"^==\s*(Vivado|Vitis) HLS Report for", top, re.MULTILINE):
        return "csynth"
    if re.search(r"^==\s*Synthesis Summary Report of", top, re.MULTILINE):
        return "hls_compile" if lowered == "hls_compile.rpt" else "csynth_summary"
    if "== Design Size Report" in top:
        return "csynth_design_size"
    if "== Vivado RTL Synthesis Results" in top:
        return "export_syn_rpt"
    if "== Vivado Place & Route Results" in top:
        return "export_impl_rpt"
    if "Implementation tool:" in top and "#=== " in top:
        return "export_rpt"
    # Any file is sniffed, so each marker is where the tool writes it, not anywhere in
    # the text (a table describing reports mentions 'Catapult' and 'Simulation tool').
    if re.match(r"Report time\s*:.*\n\s*Solution\s*:", head) and ("Simulation tool" in top or "RTL" in top):
        return "cosim"
    command = re.search(r"^\|\s*Command\s*:\s*(\S+)(.*)$", top, re.MULTILINE)
    if command:
        name_of = command.group(1)
        if name_of == "report_utilization":
            return "utilization_hier" if "-hierarchical" in command.group(2) else "utilization"
        if name_of == "report_timing_summary":
            return "timing_summary"
        if name_of == "report_power":
            return "power"
    if re.match(r"--\s*Catapult\b", head):
        return "catapult_rtl"
    if top.startswith("Fitter Status"):
        return "quartus_fit_summary"
    if top.startswith("Analysis & Synthesis Status"):
        return "quartus_map_summary"
    if re.search(r"^Timing Analyzer Summary\s*$", top[:400], re.MULTILINE):
        return "quartus_sta_summary"
    if "var areaJSON" in head:
        return "intel_hls_report_js"
    if "var quartusJSON" in head:
        return "intel_hls_quartus_js"
    if head.startswith("{"):
        if '"compileInfo"' in top:
            product = re.search(r'"product"\s*:\s*"([^"]*)"', top)
            return "oneapi_json_info" if product and product.group(1).upper() in ("SYCL", "DPC++", "ONEAPI") else "intel_hls_json_info"
        if '"summary_type"' in top:
            return "oneapi_ndjson_summary"
        if '"loop_attributes"' in top:
            return "oneapi_ndjson_loop_attr"
        if head.startswith('{"quartusFitClockSummary"') or '"quartusFitClockSummary"' in top[:200]:
            return "oneapi_ndjson_quartus"
        if '"estimatedResources"' in top or '"performanceSummary"' in top:
            return "intel_hls_json_summary" if '"functionNameMapping"' in top else "oneapi_json_summary"
        return None
    if "INFO: [HLS " in top or "***** C/RTL SYNTHESIS" in top:
        return "hls_log"
    return None


TextParser = Callable[[Path, str], ParsedReport]
BytesParser = Callable[[Path, bytes], ParsedReport]

TEXT_PARSERS: dict[str, TextParser] = {
    "csynth_design_size": csynth.parse_design_size,
    "cosim": cosim.parse_cosim_rpt,
    "cosim_transaction": cosim.parse_cosim_transactions,
    "export_syn_rpt": export.parse_export_rpt,
    "export_impl_rpt": export.parse_export_rpt,
    "export_rpt": export.parse_legacy_export_rpt,
    "utilization": vivado.parse_utilization,
    "utilization_hier": vivado.parse_utilization,
    "timing_summary": vivado.parse_timing_summary,
    "power": vivado.parse_power,
    "hls_log": logs.parse_hls_log,
    "catapult_rtl": catapult.parse_catapult_rtl,
    "intel_hls_report_js": intel.parse_intel_report_js,
    "intel_hls_quartus_js": intel.parse_intel_quartus_js,
    "intel_hls_json_info": intel.parse_compile_info,
    "oneapi_json_info": intel.parse_compile_info,
    "oneapi_json_summary": intel.parse_summary_json,
    "intel_hls_json_summary": intel.parse_summary_json,
    "oneapi_ndjson_summary": intel.parse_oneapi_summary_ndjson,
    "oneapi_ndjson_loop_attr": intel.parse_oneapi_loop_attr,
    "oneapi_ndjson_quartus": intel.parse_oneapi_quartus,
    "quartus_fit_summary": intel.parse_quartus_fit_summary,
    "quartus_map_summary": intel.parse_quartus_map_summary,
    "quartus_sta_summary": intel.parse_quartus_sta_summary,
}
BYTES_PARSERS: dict[str, BytesParser] = {
    "export_syn": export.parse_export_xml,
    "export_impl": export.parse_export_xml,
}
KINDS = tuple(sorted({"csynth", "csynth_summary", "hls_compile", *TEXT_PARSERS, *BYTES_PARSERS}))


def parse_data(path: Path, data: bytes) -> ParsedReport:
    """Parse the bytes of the report file ``path``; only ReportParseError escapes."""
    text = decode(data)
    kind = detect_kind(path.name, text)
    if kind is None:
        raise ReportParseError(path, "not a vendor report this reads (csynth, cosim, export, utilization, timing, "
                                     "power, HLS log, Intel HLS/oneAPI/Quartus, Catapult)")
    if kind in ("csynth", "csynth_summary", "hls_compile"):
        if text.lstrip().startswith("<"):
            return csynth.parse_csynth_xml(path, data, kind)
        return csynth.parse_csynth_rpt(path, text, kind)
    if kind in BYTES_PARSERS:
        return BYTES_PARSERS[kind](path, data)
    return TEXT_PARSERS[kind](path, text)


def parse_report(path: str | Path) -> ParsedReport:
    """Parse one report file, its kind detected from its content (and name)."""
    path = Path(path)
    return parse_data(path, read_bytes(path))


def _sniff(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return None
    return detect_kind(path.name, decode(head))


def find_reports(path: str | Path) -> list[Path]:
    """Report files at ``path``: the file itself, or every report in the folder tree
    (an hls4ml project, or a tree of them), sorted. A file is listed when its content is
    a report, or when it has a name only HLS reports have (so that a damaged one shows
    as unreadable rather than vanishing)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UserInputError(f"{path}: no such file or folder: give a report file or a folder holding reports")
    found = []
    for folder, subfolders, files in os.walk(path):
        subfolders.sort()
        for name in sorted(files):
            candidate = Path(folder) / name
            if HLS_REPORT_NAMES.fullmatch(name) or (candidate.suffix.lower() not in NEVER_REPORTS
                                                   and _sniff(candidate) is not None):
                found.append(candidate)
    return found
