"""Reports are recognised by what they hold, whatever their file names; files that only
talk about reports are not reports; Quartus Analysis & Synthesis summaries of both
device generations are read; and ``fpga-flow report`` stays readable in an 80-column
terminal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fpga_flow.cli import app
from fpga_flow.reports import build_report, find_reports, parse_data, parse_report

FIXTURES = Path(__file__).resolve().parent / "data" / "vendor_reports"
runner = CliRunner()

# Real reports saved under names no tool writes: (fixture, new name, kind it must read as).
RENAMED = [
    ("vitis_hls/nrp_nautilus_hls4ml/myproject_csynth.rpt", "myproject_csynth_3Layers.rpt", "csynth"),
    ("vitis_hls/nrp_nautilus_hls4ml/myproject_csynth.xml", "myproject_csynth_3Layers.xml", "csynth"),
    ("vivado/seanlipps_ece226_hls4ml/vivado_synth.rpt", "synth_after_opt.txt", "utilization"),
    ("vivado/achilisnard_fibonacci/design_1_wrapper_timing_summary_routed.rpt", "timing.log", "timing_summary"),
    ("vitis_hls/bojanfaletic_ma_hls/ma_cosim.rpt", "cosim-run2.rpt", "cosim"),
    ("quartus/boostedx_vexriscv_litex/terasic_de1soc.map.summary", "quartus synthesis.txt", "quartus_map_summary"),
    ("intel_hls/boostedx_vexriscv_hls4ml/info.json", "compile_info.json", "intel_hls_json_info"),
]


@pytest.mark.parametrize("fixture, name, kind", RENAMED, ids=[name for _, name, _ in RENAMED])
def test_a_renamed_report_is_found_and_read_by_its_content(tmp_path, fixture, name, kind):
    shutil.copy2(FIXTURES / fixture, tmp_path / name)
    assert find_reports(tmp_path) == [tmp_path / name]
    assert parse_report(tmp_path / name).kind == kind


def test_a_csynth_report_saved_under_another_name_makes_a_build(tmp_path):
    """The case that was skipped as 'no vendor report': a Vitis csynth text report kept
    as <top>_csynth_<n>Layers.rpt."""
    shutil.copy2(FIXTURES / "vitis_hls/nrp_nautilus_hls4ml/myproject_csynth.rpt", tmp_path / "myproject_csynth_3Layers.rpt")
    result = runner.invoke(app, ["report", str(tmp_path), "--json", "--no-history"])
    assert result.exit_code == 0, result.output
    [build] = json.loads(result.stdout)["builds"]
    # line 71: |Total | 8| 2557| 24233| 116694| 0| (BRAM_18K, DSP, FF, LUT, URAM)
    assert build["top"] == "myproject"
    assert build["resources"] == {"LUT": 116694, "FF": 24233, "DSP": 2557, "BRAM_18K": 8, "URAM": 0}


def test_files_that_only_mention_reports_are_not_reports(tmp_path):
    # A table describing reports (as ../shared/vendor_reports/MANIFEST.tsv does), notes, weights, sources.
    (tmp_path / "MANIFEST.tsv").write_text(
        "local_path\trepo\ttool\tkind\tnotes\n"
        "catapult/x/rtl.vivado.rpt\tx/y\tcatapult\tcatapult_rtl\tCatapult report; Simulation tool: none\n")
    (tmp_path / "NOTES.md").write_text("Report time: Monday. Status of the RTL: the cosim is next.\n"
                                       "Timing Analyzer Summary and Fitter Status come later.\n")
    (tmp_path / "w2.txt").write_text("0.234676495194, -0.187852725387, 0.033068928868\n")
    (tmp_path / "parser.cpp").write_text('const char* title = "== Vivado HLS Report for";\n')
    assert find_reports(tmp_path) == []


def test_sources_and_binaries_are_not_read(tmp_path, monkeypatch):
    import fpga_flow.reports.detect as detect

    for name in ("myproject.cpp", "nnet_dense.h", "myproject-1a2b.so", "model.h5", "build_prj.tcl"):
        (tmp_path / name).write_text("== Vivado HLS Report for 'myproject'\n")
    sniffed = []
    monkeypatch.setattr(detect, "_sniff", lambda path: sniffed.append(path.name))
    assert find_reports(tmp_path) == [] and sniffed == []


# A Quartus Prime 17.1 Analysis & Synthesis summary of a Cyclone IV E design, as the
# pyhacores repository's FFT test logged it (the 'INFO:sim:' prefix removed): the logic
# element generation counts combinational functions and 9-bit multipliers.
CYCLONE_IV_MAP_SUMMARY = """Analysis & Synthesis Status : Successful - Tue Jun 19 10:24:46 2018
Quartus Prime Version : 17.1.0 Build 590 10/25/2017 SJ Lite Edition
Revision Name : quartus_project
Top-level Entity Name : top
Family : Cyclone IV E
Total logic elements : 9,112
    Total combinational functions : 9,038
    Dedicated logic registers : 790
Total registers : 790
Total pins : 140
Total virtual pins : 0
Total memory bits : 293,976
Embedded Multiplier 9-bit elements : 96
Total PLLs : 0
"""


def test_a_cyclone_iv_map_summary_counts_logic_elements():
    record = parse_data(Path("top.map.summary"), CYCLONE_IV_MAP_SUMMARY.encode()).to_dict()
    assert record["kind"] == "quartus_map_summary" and record["tool_version"] == "17.1.0"  # line 2
    assert record["top"] == "top" and record["family"] == "Cyclone IV E"  # lines 4, 5
    assert record["resources"] == {"LUT": 9038, "FF": 790, "DSP": None, "BRAM_18K": None, "URAM": None}  # lines 7, 9
    assert record["extra_resources"] == {"logic_elements": 9112, "memory_bits": 293976, "multiplier_9bit": 96,
                                         "PLL": 0}  # lines 6, 12, 13, 14


def test_a_failed_map_keeps_its_status():
    text = CYCLONE_IV_MAP_SUMMARY.replace("Successful - Tue Jun 19 10:24:46 2018", "Failed - Tue Jun 19 10:24:46 2018")
    assert parse_data(Path("top.map.summary"), text.encode()).design_state == "Failed - Tue Jun 19 10:24:46 2018"


def test_the_fitter_counts_win_over_synthesis_in_one_quartus_build(tmp_path):
    for name in ("terasic_de1soc.map.summary", "terasic_de1soc.fit.summary", "terasic_de1soc.sta.summary"):
        shutil.copy2(FIXTURES / "quartus/boostedx_vexriscv_litex" / name, tmp_path / name)
    both = build_report(tmp_path).to_dict()
    assert both["post_synthesis"]["kind"] == "quartus_fit_summary"
    assert both["post_synthesis"]["resources"]["FF"] == 31257  # the fit summary's (the map's says 38894)
    (tmp_path / "terasic_de1soc.fit.summary").unlink()
    synthesis_only = build_report(tmp_path).to_dict()
    assert synthesis_only["post_synthesis"]["kind"] == "quartus_map_summary"
    assert synthesis_only["post_synthesis"]["stage"] == "synthesized"
    assert synthesis_only["post_synthesis"]["resources"]["FF"] == 38894


def test_an_intel_hls_project_folder_is_an_intel_hls_build():
    """i++'s reports/lib/json (info.json beside summary.json and quartus.json): the tool
    is Intel HLS, not oneAPI, and the estimate is the summary's."""
    build = build_report(FIXTURES / "intel_hls/boostedx_vexriscv_hls4ml").to_dict()
    assert build["tool"] == "intel_hls" and build["tool_version"] == "24.1.0 Build 115.1"
    assert (build["top"], build["part"], build["family"]) == ("myproject", "5CGXFC7C7F23C8", "CycloneV")
    assert build["resources"] == {"LUT": 6270, "FF": 17932, "DSP": 21, "BRAM_18K": None, "URAM": None}
    assert build["unreadable"] == []


# --------------------------------------------------------------------------- terminal width


def report_output(columns: int, *paths: Path) -> str:
    result = runner.invoke(app, ["report", *map(str, paths), "--no-history", "--board", "alveo-u250"],
                           env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


TWO_BUILDS = (FIXTURES / "vitis_hls/nrp_nautilus_hls4ml", FIXTURES / "quartus")


def test_at_80_columns_each_build_is_a_block_with_whole_values():
    output = report_output(80, *TWO_BUILDS)
    lines = output.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert any(line.rstrip().endswith("vitis_hls/nrp_nautilus_hls4ml") for line in lines)  # the project, whole
    assert any(line.split() == ["LUT", "116,694", "(6.8%,", "board", "6.8%)"] for line in lines)
    assert any(line.split() == ["timing", "WNS", "7.338", "met"] for line in lines)
    assert "┃" not in output  # no table squeezed into slivers


def test_a_wide_terminal_gets_the_table_without_broken_words():
    output = report_output(300, *TWO_BUILDS)
    lines = output.splitlines()
    assert any("┃ project" in line and "┃ LUT" in line and "┃ cosim / failure" in line for line in lines)
    assert any("116,694 (6.8%, board 6.8%)" in line for line in lines)
    assert max(len(line.rstrip()) for line in lines) <= 300


def test_a_middling_terminal_wraps_between_words_only():
    output = report_output(180, *TWO_BUILDS)
    assert "┃ project" in output and max(len(line.rstrip()) for line in output.splitlines()) <= 180
    cells = [cell.strip() for line in output.splitlines() for cell in line.split("│")]
    assert "xcu250-figd2104-2L-e" in cells and "116,694" in cells  # wrapped, but whole
