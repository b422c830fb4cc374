"""Hypothesis fuzzing of every report parser with mutated and truncated real reports:
the only exception that may escape is ReportParseError (naming the file and the reason).
The pytest timeout is there to turn a hang into a failure. Also: XML with a DTD,
external entities or entity expansion is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpga_flow.reports import (
    ParsedReport,
    ReportParseError,
    catapult,
    cosim,
    csynth,
    export,
    intel,
    logs,
    parse_data,
    parse_report,
    vivado,
)
from fpga_flow.reports.text import decode

FIXTURES = Path(__file__).resolve().parent / "data" / "vendor_reports"
# Byte-level mutations start from the first 32 KB of each real file: every table the
# parsers read starts there, and it keeps each case fast.
SEED_BYTES = 32 * 1024
# Cases per parser: 300 in the suite (the same ones every run: derandomized), about 1 s of
# CPU per parser; FUZZ_EXAMPLES=2000 fuzzes deeper (several seconds per parser, 26 parsers).
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ_PATH = Path("fuzzed-report")

# Parsers that take the file's bytes (XML, and the dispatcher); the others take its text.
BYTES_FUNCTIONS = {csynth.parse_csynth_xml, export.parse_export_xml, parse_data}

PARSERS: dict[str, tuple[Callable[[Path, Any], ParsedReport], tuple[str, ...]]] = {
    "csynth_xml": (csynth.parse_csynth_xml, (
        "vivado_hls/therwig_hls4ml_2017/reuse1/myproject_csynth.xml", "vitis_hls/nrp_nautilus_hls4ml/myproject_csynth.xml",
        "vivado_hls/achilisnard_fibonacci/fibonacci_csynth.xml", "vitis_hls/francescoratti_faultdetector/csynth.xml")),
    "csynth_rpt": (csynth.parse_csynth_rpt, (
        "vivado_hls/therwig_hls4ml_2017/reuse1/myproject_csynth.rpt", "vivado_hls/yanlunhuang_hls4ml_layer/myproject_csynth.rpt",
        "vitis_hls/seanlipps_ece226_hls4ml/myproject_csynth.rpt", "vitis_hls/etabeta1_spmv/SpMV_csynth.rpt")),
    "csynth_summary_rpt": (csynth.parse_csynth_rpt, (
        "vitis_hls/farhan_zynq_cnn/csynth.rpt", "vitis_hls/francescoratti_faultdetector/csynth.rpt",
        "vitis_hls/bojanfaletic_ma_hls/csynth.rpt", "vitis_hls/etabeta1_spmv/hls_compile.rpt")),
    "design_size": (csynth.parse_design_size, ("vitis_hls/hgdream_pulse_hls4ml/csynth_design_size.rpt",)),
    "cosim_rpt": (cosim.parse_cosim_rpt, (
        "vitis_hls/bojanfaletic_ma_hls/ma_cosim.rpt", "vivado_hls/yanlunhuang_hls4ml_layer/myproject_cosim.rpt",
        "vitis_hls/hgdream_pulse_hls4ml/myproject_cosim.rpt")),
    "cosim_transactions": (cosim.parse_cosim_transactions,
                           ("vitis_hls/bojanfaletic_ma_hls/ma.performance.result.transaction.xml",)),
    "export_xml": (export.parse_export_xml, (
        "vitis_hls/boyiwei_sort/export_syn.xml", "vitis_hls/fjrdev_dsp_recon_versal/export_impl.xml")),
    "export_rpt": (export.parse_export_rpt, (
        "vitis_hls/boyiwei_sort/export_syn.rpt", "vitis_hls/asandeep1_ece8893_2026_lab1/export_impl.rpt")),
    "legacy_export_rpt": (export.parse_legacy_export_rpt, ("vitis_hls/boyiwei_sort/single_heap_sort_export.rpt",)),
    "utilization": (vivado.parse_utilization, (
        "vivado/uwacme_toptag_gru/vivado_synth.rpt", "vivado/fjrdev_dsp_recon_versal/bd_0_wrapper_utilization_placed.rpt",
        "vivado/farhan_zynq_cnn/system_wrapper_utilization_placed.rpt")),
    "utilization_hier": (vivado.parse_utilization, ("vivado/hector_plata_tutorial/util.rpt",)),
    "timing_summary": (vivado.parse_timing_summary, (
        "vivado/zakkh_partition_accel/MPSQ_timing_summary_routed.rpt",
        "vivado/achilisnard_fibonacci/design_1_wrapper_timing_summary_routed.rpt")),
    "power": (vivado.parse_power, ("vivado/seanlipps_ece226_hls4ml/vivado_power.rpt",)),
    "hls_log": (logs.parse_hls_log, (
        "vitis_hls/asandeep1_ece8893_2022/flat_failed/vitis_hls.log", "vitis_hls/danielalencar_lhc_anomaly/vitis_hls.log",
        "vivado_hls/yanlunhuang_hls4ml_layer/firmware_failed_run/vivado_hls.log")),
    "intel_report_js": (intel.parse_intel_report_js, ("intel_hls/therwig_testquartushls/report_data.js",)),
    "intel_quartus_js": (intel.parse_intel_quartus_js, ("intel_hls/boostedx_vexriscv_hls4ml/quartus_data.js",)),
    "compile_info": (intel.parse_compile_info, (
        "intel_hls/boostedx_vexriscv_hls4ml/info.json", "oneapi/arusi_oneapi_graph/fpga_report.prj/info.json")),
    "summary_json": (intel.parse_summary_json, ("oneapi/arusi_oneapi_graph/fpga_report.prj/summary.json",
                                                "intel_hls/boostedx_vexriscv_hls4ml/summary.json")),
    "oneapi_summary_ndjson": (intel.parse_oneapi_summary_ndjson, ("oneapi/hls4ml_test_fixtures/summary.ndjson",)),
    "oneapi_loop_attr": (intel.parse_oneapi_loop_attr, ("oneapi/hls4ml_test_fixtures/loop_attr.ndjson",)),
    "oneapi_quartus": (intel.parse_oneapi_quartus, ("oneapi/hls4ml_test_fixtures/quartus.ndjson",)),
    "quartus_fit": (intel.parse_quartus_fit_summary, ("quartus/boostedx_vexriscv_litex/terasic_de1soc.fit.summary",)),
    "quartus_map": (intel.parse_quartus_map_summary, ("quartus/boostedx_vexriscv_litex/terasic_de1soc.map.summary",)),
    "quartus_sta": (intel.parse_quartus_sta_summary, ("quartus/boostedx_vexriscv_litex/terasic_de1soc.sta.summary",)),
    "catapult": (catapult.parse_catapult_rtl, ("catapult/therwig_hls4ml_catapult/rtl.vivado.rpt",)),
    # Kind detection and dispatch, over seeds of every kind.
    "detect_and_parse": (parse_data, (
        "vitis_hls/nrp_nautilus_hls4ml/myproject_csynth.xml", "vitis_hls/seanlipps_ece226_hls4ml/myproject_csynth.rpt",
        "vitis_hls/bojanfaletic_ma_hls/ma.performance.result.transaction.xml", "vivado/uwacme_toptag_gru/vivado_synth.rpt",
        "vitis_hls/boyiwei_sort/export_syn.xml", "oneapi/hls4ml_test_fixtures/quartus.ndjson",
        "intel_hls/boostedx_vexriscv_hls4ml/info.json", "quartus/boostedx_vexriscv_litex/terasic_de1soc.sta.summary",
        "quartus/boostedx_vexriscv_litex/terasic_de1soc.map.summary", "intel_hls/boostedx_vexriscv_hls4ml/summary.json")),
}

SEEDS = {name: [(FIXTURES / relative).read_bytes() for relative in files] for name, (_, files) in PARSERS.items()}

# Bytes that matter to the parsers: table borders, unknown markers, XML/JSON syntax,
# huge and non-finite numbers, stage markers, encodings.
TOKENS = [b"|", b"+", b"-", b"=", b"\n", b"\r\n", b"\r", b" ", b"?", b"undef", b"NA", b"~0", b"-1", b"TBD", b"<", b"</",
          b">", b"&", b"&amp;", b"<!DOCTYPE x>", b"]]>", b"\x00", b"\xff\xfe", b"\xc3", b'"', b"'", b"\\", b"\\'", b"{",
          b"}", b"[", b"]", b":", b",", b";", b"*****", b"***** C/RTL SYNTHESIS *****", b"ERROR: ", b"while executing",
          b"9" * 400, b"1e999", b"nan", b"-2147483648", "\ud55c\uad6d\uc5b4".encode(), b"var areaJSON=", b"(~0%)",
          b"(12%)", b"|Total", b"|Available", b"Block RAM Tile", b"transaction 1 2 3"]
# Values put into well-formed XML elements and JSON fields, so the mutations reach
# the code that reads values and not only the syntax errors.
TEXT_VALUES = ["", "undef", "?", "-", "NA", "~0", "-1", "0", "12", "1e999", "9" * 400, "nan", "TRUE", "x", " 5.00 ns",
               "-2147483648", "1.975 us", "\ud55c\uad6d\uc5b4", "impl", "Pass"]
JSON_VALUES = [None, True, 0, -1, 1.5, 10**30, "", "TBD", "12", [], {}, [1, "a", None], {"name": "Total"}, "\u0000"]


def _mutate_xml(draw: st.DrawFn, seed: bytes) -> bytes:
    from xml.etree import ElementTree  # the seeds are the repository's own fixtures

    root = ElementTree.fromstring(seed)
    elements = list(root.iter())
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        element = draw(st.sampled_from(elements))
        action = draw(st.sampled_from(("text", "drop_children", "attributes")))
        if action == "text":
            element.text = draw(st.sampled_from(TEXT_VALUES) | st.text(max_size=12))
        elif action == "drop_children":
            for child in list(element)[:draw(st.integers(min_value=1, max_value=4))]:
                element.remove(child)
        else:
            for key in list(element.attrib):
                element.set(key, draw(st.sampled_from(TEXT_VALUES)))
    return ElementTree.tostring(root)


def _json_slots(document: object) -> list[tuple[object, object]]:
    slots, stack = [], [document]
    while stack and len(slots) < 5000:
        node = stack.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in pairs:
            slots.append((node, key))
            stack.append(value)
    return slots


def _mutate_json(draw: st.DrawFn, seed: bytes) -> bytes:
    lines = seed.decode().splitlines() if b"\n{" in seed else [seed.decode()]
    documents = [json.loads(line) if line.strip() else None for line in lines]
    slots = [slot for document in documents for slot in _json_slots(document)]
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        if slots:
            container, key = draw(st.sampled_from(slots))
            container[key] = draw(st.sampled_from(JSON_VALUES))
    return "\n".join(json.dumps(document) for document in documents).encode()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    seed = draw(st.sampled_from(seeds))
    structured = seed.lstrip()[:1] in (b"<", b"{") and draw(st.booleans())
    if structured:
        data = bytearray(_mutate_xml(draw, seed) if seed.lstrip().startswith(b"<") else _mutate_json(draw, seed))
    else:
        data = bytearray(seed[:SEED_BYTES])
    # Well-formed mutants mostly stay well-formed, so the value-reading code gets its share.
    operations = draw(st.sampled_from((0, 0, 0, 1, 2)) if structured else st.integers(min_value=1, max_value=6))
    for _ in range(operations):
        operation = draw(st.sampled_from(("truncate", "flip", "insert", "delete", "duplicate")))
        position = draw(st.integers(min_value=0, max_value=len(data)))
        if operation == "truncate":
            del data[position:]
        elif operation == "flip" and position < len(data):
            data[position] = draw(st.integers(min_value=0, max_value=255))
        elif operation == "insert":
            data[position:position] = draw(st.sampled_from(TOKENS) | st.binary(max_size=24))
        elif operation == "delete":
            del data[position:position + draw(st.integers(min_value=1, max_value=512))]
        elif operation == "duplicate":
            size = draw(st.integers(min_value=1, max_value=2048))
            data[position:position] = data[position:position + size]
    return bytes(data)


@pytest.mark.slow  # seconds of CPU per parser, 26 parsers: not in make test-fast
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_only_report_parse_error_escapes(name: str, data: st.DataObject) -> None:
    parser = PARSERS[name][0]
    blob = data.draw(mutated(SEEDS[name]))
    try:
        report = parser(FUZZ_PATH, blob if parser in BYTES_FUNCTIONS else decode(blob))
    except ReportParseError as exc:
        assert exc.file == str(FUZZ_PATH) and exc.reason
        return
    record = report.to_dict()
    assert all(value is None or isinstance(value, int) for value in record["resources"].values())


def test_every_parser_is_fuzzed() -> None:
    from fpga_flow.reports.detect import BYTES_PARSERS, TEXT_PARSERS

    fuzzed = {parser for parser, _ in PARSERS.values()}
    assert set(TEXT_PARSERS.values()) | set(BYTES_PARSERS.values()) | {csynth.parse_csynth_rpt} <= fuzzed


# --------------------------------------------------------------------------- unsafe XML

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE profile [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<profile><UserAssignments><Part>&secret;</Part></UserAssignments></profile>
"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<profile><UserAssignments><TopModelName>&lol9;</TopModelName></UserAssignments></profile>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE profile SYSTEM "http://example.invalid/profile.dtd">
<profile><RunData><RUN_TYPE>impl</RUN_TYPE></RunData></profile>
"""


@pytest.mark.parametrize("name, document", [("myproject_csynth.xml", XXE), ("myproject_csynth.xml", BILLION_LAUGHS),
                                            ("export_impl.xml", EXTERNAL_DTD)])
def test_unsafe_xml_is_refused(tmp_path: Path, name: str, document: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(document)
    with pytest.raises(ReportParseError) as err:
        parse_report(path)
    assert err.value.file == str(path)
    assert "refused unsafe XML" in err.value.reason


def test_defusedxml_is_what_refuses_them() -> None:
    import defusedxml.ElementTree as safe_tree
    from defusedxml import DTDForbidden, EntitiesForbidden

    with pytest.raises(EntitiesForbidden):
        safe_tree.fromstring(BILLION_LAUGHS, forbid_dtd=False)
    with pytest.raises(EntitiesForbidden):
        safe_tree.fromstring(XXE, forbid_dtd=False)
    with pytest.raises(DTDForbidden):
        safe_tree.fromstring(EXTERNAL_DTD, forbid_dtd=True)


# --------------------------------------------------------------------------- pathological input

PATHOLOGICAL = {
    "long blank line": b"|" + b" " * 400_000 + b"|\n",
    "separators": b"|+" * 200_000,
    "table rows": b"+--+--+\n|a |b |\n+--+--+\n" + b"|" * 40 + b"\n" * 1 + b"| 1| 2|\n" * 40_000,
    "wide header": b"+" + b"-+" * 20_000 + b"\n|" + b"a|" * 20_000 + b"\n+" + b"-+" * 20_000 + b"\n" + b"|x|\n" * 20_000,
    "deep brackets": b"var areaJSON=" + b"[" * 200_000,
    "deep json": b'{"compileInfo":' + b"[" * 200_000,
    "deep xml": b"<profile>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"<UserAssignments/></profile>",
    "spaces before quote": b"Timing Analyzer Summary\nType  : Slow" + b" " * 200_000 + b"x\nSlack : 1\nTNS : 0\n",
    "many stage markers": (b"****** Vitis HLS - High-Level Synthesis v2023.1\n"
                           + b"***** C/RTL SYNTHESIS *****\nERROR: x\n" * 50_000),
}


# What each parser makes of each pathological input: a ReportParseError naming the file,
# except for these, which are reports of the parser's kind with these values.
HLS_LOG_OF_MARKERS = {"kind": "hls_log", "tool_version": "2023.1", "log.failed_stage": "csynth",
                      "log.first_error": "ERROR: x", "log.stages_completed": []}
PATHOLOGICAL_REPORTS: dict[tuple[str, str], dict[str, Any]] = {
    # An empty <UserAssignments/> under 100,000 nested elements: a csynth report with no figures.
    ("csynth_xml", "deep xml"): {"kind": "csynth", "top": None, "part": None,
                                 "resources": dict.fromkeys(("LUT", "FF", "DSP", "BRAM_18K", "URAM"))},
    ("hls_log", "many stage markers"): HLS_LOG_OF_MARKERS,
    ("detect_and_parse", "many stage markers"): HLS_LOG_OF_MARKERS,
}


def _get(record: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        record = record[key]
    return record


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(PARSERS))
def test_pathological_input_is_handled(name: str) -> None:
    parser = PARSERS[name][0]
    for label, blob in PATHOLOGICAL.items():
        expected = PATHOLOGICAL_REPORTS.get((name, label))
        try:
            record = parser(FUZZ_PATH, blob if parser in BYTES_FUNCTIONS else decode(blob)).to_dict()
        except ReportParseError as exc:
            assert expected is None, f"{label}: refused ({exc.reason}), expected a report"
            assert exc.file == str(FUZZ_PATH) and exc.reason.strip(), label
            continue
        assert expected is not None, f"{label}: read as a {record['kind']} report"
        for key, value in expected.items():
            assert _get(record, key) == value, f"{label}: {key}"
        json.dumps(record)  # plain JSON, however deep the input
