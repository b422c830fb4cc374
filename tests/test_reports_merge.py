"""One record per build from an hls4ml project folder, the failed stage of a vendor run,
part-name normalization, and the ``fpga-flow report`` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fpga_flow.boards import load_boards
from fpga_flow.cli import app
from fpga_flow.reports import build_report, failed_stage, normalize_part, parse_report, same_part

FIXTURES = Path(__file__).resolve().parent / "data" / "vendor_reports"
REQUIRED_KEYS = ("tool", "tool_version", "top", "part", "target_clock_ns", "estimated_clock_ns", "latency_cycles",
                 "latency_ns", "interval_cycles", "resources", "available", "utilization_pct", "modules", "timing",
                 "cosim", "warnings", "sources")


def _copy(relative: str, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / relative, destination)
    return destination


@pytest.fixture
def seanlipps_project(tmp_path: Path) -> Path:
    """The reports of one real hls4ml build (ECE226, Vitis HLS 2024.1, Alveo U250) laid out as hls4ml leaves them."""
    project = tmp_path / "hls4ml_prj"
    report_dir = project / "myproject_prj" / "solution1" / "syn" / "report"
    _copy("vitis_hls/seanlipps_ece226_hls4ml/myproject_csynth.xml", report_dir / "myproject_csynth.xml")
    _copy("vitis_hls/seanlipps_ece226_hls4ml/myproject_csynth.rpt", report_dir / "myproject_csynth.rpt")
    _copy("vivado/seanlipps_ece226_hls4ml/vivado_synth.rpt", project / "vivado_synth.rpt")
    _copy("vivado/seanlipps_ece226_hls4ml/vivado_power.rpt", project / "vivado_power.rpt")
    (project / "project.tcl").write_text('variable project_name\nset project_name "myproject"\n', encoding="utf-8")
    return project


def test_build_report_merges_an_hls4ml_project(seanlipps_project: Path) -> None:
    record = build_report(seanlipps_project).to_dict()
    assert set(REQUIRED_KEYS) <= set(record)
    assert record["tool"] == "vitis_hls" and record["tool_version"] == "2024.1" and record["top"] == "myproject"
    assert record["part"] == "xcu250-figd2104-2L-e" and record["target_clock_ns"] == 5.0
    # The XML is preferred: it alone has the average latency.
    assert record["latency_cycles"] == {"best": 395, "avg": 395, "worst": 395}
    assert record["sources"]["latency_cycles"] == "myproject_prj/solution1/syn/report/myproject_csynth.xml"
    assert record["interval_cycles"] == {"min": 390, "max": 390}
    assert record["resources"] == {"BRAM_18K": 29, "DSP": 467, "FF": 7123, "LUT": 17966, "URAM": 0}
    assert record["resources_stage"] == "csynth"
    # The XML lists no instances: the per-layer breakdown comes from the text report.
    assert len(record["modules"]) == 6
    assert record["sources"]["modules"] == "myproject_prj/solution1/syn/report/myproject_csynth.rpt"
    post = record["post_synthesis"]
    assert post["stage"] == "optimized" and post["source"] == "vivado_synth.rpt"
    # vivado_synth.rpt lines 38, 41, 95, 79 (12 tiles of 36Kb), 84.
    assert post["resources"] == {"LUT": 8565, "FF": 4864, "DSP": 467, "BRAM_18K": 24, "URAM": 0}
    assert post["bram_36k_tiles"] == {"used": 12.0, "available": 2688.0}
    assert record["power"]["total_w"] == 3.566
    assert record["timing"] == {key: None for key in record["timing"]}
    assert record["cosim"] is None and record["failed_stage"] is None and record["unreadable"] == []
    json.dumps(record)


def test_build_report_lists_an_unreadable_file_instead_of_failing(seanlipps_project: Path) -> None:
    (seanlipps_project / "vitis_hls.log").write_text("not a log at all\n", encoding="utf-8")
    broken = seanlipps_project / "myproject_prj" / "solution1" / "sim" / "report" / "myproject_cosim.rpt"
    broken.parent.mkdir(parents=True)
    broken.write_text("Report time : today\n|no table here|\n", encoding="utf-8")
    (seanlipps_project / "summary.json").write_text('{"run_id": "not a vendor report"}', encoding="utf-8")
    build = build_report(seanlipps_project)
    assert build.latency.worst == 395
    # HLS report names are listed even when unreadable; a generic name only when it reads as a report.
    cosim_error, log_error = sorted(build.unreadable)
    assert cosim_error.startswith("myproject_prj/solution1/sim/report/myproject_cosim.rpt: ")
    assert log_error.startswith("vitis_hls.log: not a vendor report")


def test_top_comes_from_project_tcl_among_several_csynth_reports(tmp_path: Path) -> None:
    report_dir = tmp_path / "myproject_prj" / "solution1" / "syn" / "report"
    _copy("vitis_hls/nrp_nautilus_hls4ml/myproject_csynth.xml", report_dir / "myproject_csynth.xml")
    _copy("vivado_hls/achilisnard_fibonacci/fibonacci_csynth.xml", report_dir / "fibonacci_csynth.xml")
    (tmp_path / "project.tcl").write_text('set project_name "fibonacci"\n', encoding="utf-8")
    assert build_report(tmp_path).top == "fibonacci"
    (tmp_path / "project.tcl").write_text('set project_name "myproject"\n', encoding="utf-8")
    build = build_report(tmp_path)
    assert build.top == "myproject" and build.latency.worst == 15
    # The other csynth XML in the folder becomes the per-module breakdown.
    assert [module.name for module in build.modules] == ["fibonacci"]


# --------------------------------------------------------------------------- failed stage


def _log(relative: str) -> str:
    return (FIXTURES / relative).read_text(encoding="utf-8")


def test_failed_stage_names_the_stage_and_first_real_error(tmp_path: Path) -> None:
    (tmp_path / "build_stdout.log").write_text(_log("vitis_hls/asandeep1_ece8893_2022/flat_failed/vitis_hls.log"))
    (tmp_path / "vitis_hls.log").write_text(_log("vitis_hls/nrp_nautilus_hls4ml/vitis_hls.log"))
    assert failed_stage(tmp_path) == "csynth: ERROR: [HLS 207-1398] unexpected ';' before ')': flat.cpp:48:97"


def test_the_harmless_hls4ml_error_line_is_not_a_failure(tmp_path: Path) -> None:
    text = _log("vitis_hls/nrp_nautilus_hls4ml/vitis_hls.log")
    assert "ERROR: [HLS 200-642]" in text
    (tmp_path / "vitis_hls.log").write_text(text)
    assert failed_stage(tmp_path) is None


def test_a_log_that_stops_inside_a_stage_is_a_failure(tmp_path: Path) -> None:
    lines = _log("vitis_hls/nrp_nautilus_hls4ml/vitis_hls.log").splitlines()
    cut = next(index for index, line in enumerate(lines) if "Finished Command csynth_design" in line)
    (tmp_path / "build_stdout.log").write_text("\n".join(lines[:cut]) + "\n")
    assert failed_stage(tmp_path).startswith("csynth: the log ends inside 'csynth'")


def test_errors_before_any_stage_fail_setup() -> None:
    log = FIXTURES / "vivado_hls/yanlunhuang_hls4ml_layer/firmware_failed_run/vivado_hls.log"
    assert failed_stage(log) == "setup: ERROR [AP-1] Could not read script 'build_prj.tcl'."


@pytest.mark.parametrize("tail, expected", [
    ("***** C/RTL VALIDATION *****\nERROR: Test failed\nERROR: - csim log:      ./tb_data/csim_results.log\n",
     "validation: ERROR: Test failed"),
    ("***** VIVADO SYNTHESIS *****\nERROR: [Synth 8-439] module 'myproject' not found\nchild process exited abnormally\n"
     "    while executing\n\"exec vivado -mode batch -source vivado_synth.tcl >@ stdout\"\n",
     "vsynth: ERROR: [Synth 8-439] module 'myproject' not found"),
    ("***** EXPORT IP *****\ninvalid command name \"export_desing\"\n    while executing\n\"export_desing -format ip_catalog\"\n",
     'export: invalid command name "export_desing"'),
])
def test_later_stage_failures(tmp_path: Path, tail: str, expected: str) -> None:
    lines = _log("vitis_hls/nrp_nautilus_hls4ml/vitis_hls.log").splitlines()
    exit_line = next(index for index, line in enumerate(lines) if "Exiting vitis_hls" in line)
    (tmp_path / "build_stdout.log").write_text("\n".join(lines[:exit_line]) + "\n" + tail + lines[exit_line] + "\n")
    assert failed_stage(tmp_path) == expected


def test_no_log_no_failure(tmp_path: Path) -> None:
    assert failed_stage(tmp_path) is None


# --------------------------------------------------------------------------- part names


@pytest.mark.parametrize("written, normalized", [
    ("xcu250figd2104-2L", "xcu250-figd2104-2L-e"),     # vivado_synth.rpt Device of the hls4ml tutorial
    ("XCU250-FIGD2104-2L-E", "xcu250-figd2104-2L-e"),  # hls4ml's set_part
    ("xcu250-figd2104-2L-e", "xcu250-figd2104-2L-e"),
    ("7z020clg400-1", "xc7z020-clg400-1"),             # report_utilization drops the 'xc'
    ("xc7z020clg484-1", "xc7z020-clg484-1"),
    ("xc7a50tcsg324-1", "xc7a50t-csg324-1"),
    ("xcvu9pflga2104-2L", "xcvu9p-flga2104-2L-e"),
    ("xcvu13pflga2577-2", "xcvu13p-flga2577-2"),       # -2 comes as -e and -i: not guessed
    ("xcvc1902-vsva2197-2MP-e-S", "xcvc1902-vsva2197-2MP-e-S"),
    ("xcvu440_CIV-flgb2377-1-i", "xcvu440_CIV-flgb2377-1-i"),
    ("xck26-sfvc784-2LV-c", "xck26-sfvc784-2LV-c"),
    ("xczu3eg-sbva484", "xczu3eg-sbva484"),
    ("5CSEMA5F31C6", "5CSEMA5F31C6"),
])
def test_normalize_part(written: str, normalized: str) -> None:
    assert normalize_part(written) == normalized
    assert normalize_part(normalized) == normalized


def test_same_part_ignores_missing_grades_only() -> None:
    assert same_part("xcvu13pflga2577-2", "xcvu13p-flga2577-2-e")
    assert same_part("xczu3eg-sbva484", "xczu3eg-sbva484-1-e")
    assert same_part("7z020clg400-1", "xc7z020-clg400-1")
    assert not same_part("xcu250-figd2104-2L-e", "xcu280-fsvh2892-2L-e")
    assert not same_part("xczu9eg-ffvb1156-2-e", "xczu9eg-ffvb1156-2-i")
    assert not same_part("xc7z020-clg400-1", "xc7z020-clg400-2")


def test_board_parts_match_the_csynth_reports_of_the_same_part() -> None:
    parts = {normalize_part(board.part) for board in load_boards().values()}
    reported = {parse_report(path).part for path in FIXTURES.rglob("*_csynth.xml")}
    assert {"xc7z020-clg400-1", "xcu250-figd2104-2L-e"} <= parts & reported


# --------------------------------------------------------------------------- CLI

runner = CliRunner()


def test_cli_table_for_a_project_folder(seanlipps_project: Path) -> None:
    result = runner.invoke(app, ["report", str(seanlipps_project)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "myproject" in result.output and "17,966" in result.output and "vitis_hls 2024.1" in result.output


def test_cli_json_with_board_utilization(seanlipps_project: Path) -> None:
    result = runner.invoke(app, ["report", str(seanlipps_project), "--json", "--board", "alveo-u250"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["reports"]) == 4 and len(document["builds"]) == 1
    build = document["builds"][0]
    u250 = load_boards()["alveo-u250"].resources
    assert build["board"] == "alveo-u250"
    assert build["board_utilization_pct"]["DSP"] == round(100 * 467 / u250.DSP, 2)
    assert build["utilization_pct"]["DSP"] == round(100 * 467 / 12288, 2)


def test_cli_csv_has_a_row_per_report(seanlipps_project: Path) -> None:
    result = runner.invoke(app, ["report", str(seanlipps_project), "--csv"])
    assert result.exit_code == 0, result.output
    rows = result.stdout.strip().splitlines()
    assert rows[0].startswith("path,kind,tool") and len(rows) == 5
    assert any(",utilization," in row and ",8565," in row for row in rows[1:])


def test_cli_unreadable_report_exits_1_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "myproject_csynth.xml"
    bad.write_text("<profile><UserAssignments>", encoding="utf-8")
    result = runner.invoke(app, ["report", str(bad), "--json"])
    assert result.exit_code == 1
    record = json.loads(result.stdout)["reports"][0]
    assert record["path"] == str(bad) and "not well-formed XML" in record["error"]


def test_cli_user_mistakes_exit_2_with_one_line(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    unknown = runner.invoke(app, ["report", str(tmp_path), "--board", "pynq-z3"])
    assert unknown.exit_code == 2 and "unknown board 'pynq-z3'" in unknown.output
    assert "Traceback" not in missing.output + unknown.output


def test_a_log_of_another_tool_fails_in_build_at_its_first_error(tmp_path: Path) -> None:
    (tmp_path / "build_stdout.log").write_text(
        "i++ -march=CycloneV myproject_test.cpp firmware/myproject.cpp -o myproject-fpga\n"
        "Compiler Warning: 0 errors\n"
        "firmware/myproject.cpp:12:3: error: use of undeclared identifier 'layer2_out'\n"
        "make: *** [Makefile:12: myproject-fpga] Error 1\n", encoding="utf-8")
    assert failed_stage(tmp_path) == "build: firmware/myproject.cpp:12:3: error: use of undeclared identifier 'layer2_out'"


def test_cli_records_each_merged_build_in_the_history(seanlipps_project: Path, tmp_path: Path) -> None:
    from fpga_flow.history import RunHistory

    db = tmp_path / "history.db"
    result = runner.invoke(app, ["report", str(seanlipps_project), "--db", str(db)])
    assert result.exit_code == 0, result.output
    rows = RunHistory(db).runs(kind="report")
    assert len(rows) == 1
    again = runner.invoke(app, ["report", str(seanlipps_project), "--db", str(db)])
    assert again.exit_code == 0 and len(RunHistory(db).runs(kind="report")) == 1  # same report, same row
    runner.invoke(app, ["report", str(seanlipps_project), "--db", str(tmp_path / "none.db"), "--no-history"])
    assert not (tmp_path / "none.db").exists()
