"""Every real report in ../shared/vendor_reports parses, with the kind its MANIFEST.tsv
gives; the XML and text reports of one build agree; ``fpga-flow report --json`` over the
whole corpus returns a record for every file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import SHARED, run_cli
from fpga_flow.reports import find_reports, parse_report

CORPUS = SHARED / "vendor_reports"
FIXTURES = Path(__file__).resolve().parent / "data" / "vendor_reports"
needs_corpus = pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(), reason="../shared/vendor_reports is not here")


def _manifest() -> list[dict[str, str]]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


MANIFEST = _manifest()


@needs_corpus
@pytest.mark.parametrize("entry", MANIFEST, ids=[row["local_path"] for row in MANIFEST])
def test_every_corpus_file_parses_with_its_kind(entry: dict[str, str]) -> None:
    report = parse_report(CORPUS / entry["local_path"])
    assert report.kind == entry["kind"]
    record = report.to_dict()
    json.dumps(record)  # the record is plain JSON
    for key in ("resources", "available", "utilization_pct"):
        assert set(record[key]) == {"LUT", "FF", "DSP", "BRAM_18K", "URAM"}
    assert all(value is None or value >= 0 for value in record["resources"].values())


@needs_corpus
def test_find_reports_finds_every_manifest_file_and_nothing_else() -> None:
    found = {path.relative_to(CORPUS).as_posix() for path in find_reports(CORPUS)}
    assert found == {row["local_path"] for row in MANIFEST}
    assert len(found) == 100


@needs_corpus
def test_manifest_tool_versions_are_read() -> None:
    """Where the manifest's version comes from the file itself, the parser reads the same."""
    checked = 0
    for row in MANIFEST:
        version = row["tool_version"]
        if "(" in version or row["kind"] in ("csynth_design_size", "intel_hls_quartus_js", "oneapi_ndjson_quartus",
                                              "oneapi_ndjson_summary", "oneapi_ndjson_loop_attr", "oneapi_json_summary",
                                              "quartus_sta_summary", "cosim", "cosim_transaction"):
            continue
        report = parse_report(CORPUS / row["local_path"])
        if row["kind"] == "export_impl_rpt":
            version = version.split()[0]
        assert report.tool_version is not None and version.startswith(report.tool_version), row["local_path"]
        checked += 1
    assert checked >= 60


def _pairs(root: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for xml in sorted(root.rglob("*_csynth.xml")):
        rpt = xml.with_suffix(".rpt")
        if rpt.is_file():
            pairs.append((xml, rpt))
    return pairs


AGREEING = ("tool", "tool_version", "top", "part", "target_clock_ns", "clock_uncertainty_ns", "estimated_clock_ns",
            "interval_cycles", "resources", "available", "pipeline_type")


def _assert_agree(xml: Path, rpt: Path) -> None:
    from_xml, from_rpt = parse_report(xml).to_dict(), parse_report(rpt).to_dict()
    for key in AGREEING:
        assert from_xml[key] == from_rpt[key], f"{xml.name} vs {rpt.name}: {key}"
    for bound in ("best", "worst"):
        assert from_xml["latency_cycles"][bound] == from_rpt["latency_cycles"][bound], f"{xml.name}: latency {bound}"
        xml_ns, rpt_ns = from_xml["latency_ns"][bound], from_rpt["latency_ns"][bound]
        # Both print the absolute latency rounded to 3-4 significant digits in their own unit.
        assert (xml_ns is None) == (rpt_ns is None)
        if xml_ns is not None:
            assert xml_ns == pytest.approx(rpt_ns, rel=1e-3), f"{xml.name}: latency_ns {bound}"
    assert (from_xml["latency_unknown_reason"] is None) == (from_rpt["latency_unknown_reason"] is None)


@pytest.mark.parametrize("xml, rpt", _pairs(FIXTURES), ids=lambda path: path.parent.name)
def test_xml_and_text_report_of_one_build_agree(xml: Path, rpt: Path) -> None:
    _assert_agree(xml, rpt)


@needs_corpus
def test_every_xml_and_text_pair_in_the_corpus_agrees() -> None:
    pairs = _pairs(CORPUS)
    assert len(pairs) >= 15
    for xml, rpt in pairs:
        _assert_agree(xml, rpt)


# Vitis HLS 2025.2 itself disagrees: csynth.rpt line 20 prints 10236 LUTs for conv2d,
# conv2d_csynth.xml line 102 says <LUT>10228</LUT>.
VENDOR_DISAGREEMENTS = {("farhan_zynq_cnn", "LUT"): (10236, 10228)}


@needs_corpus
def test_summary_report_agrees_with_the_xml_of_its_top() -> None:
    """The Vitis 'Synthesis Summary' csynth.rpt gives the worst latency and the largest interval."""
    checked = 0
    for summary in sorted(CORPUS.rglob("csynth.rpt")):
        report = parse_report(summary)
        xml = summary.parent / f"{report.top}_csynth.xml"
        if not xml.is_file():
            continue
        detailed = parse_report(xml)
        assert report.latency.worst == detailed.latency.worst, summary
        assert report.interval.max == detailed.interval.max, summary
        for key, value in report.resources.items():
            expected = VENDOR_DISAGREEMENTS.get((summary.parent.name, key))
            if expected is not None:
                assert (value, detailed.resources[key]) == expected
            else:
                assert value is None or value == detailed.resources[key], (summary, key)
        checked += 1
    assert checked >= 5


@needs_corpus
def test_a_merge_says_when_the_reports_of_one_build_disagree() -> None:
    from fpga_flow.reports import build_report

    build = build_report(CORPUS / "vitis_hls/farhan_zynq_cnn")
    assert build.resources["LUT"] == 10228 and build.sources["resources"] == "conv2d_csynth.xml"
    assert any("LUT" in warning and "10236" in warning and "10228" in warning for warning in build.warnings)


@needs_corpus
def test_cli_json_over_the_whole_corpus() -> None:
    result = run_cli("report", str(CORPUS), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    records = {Path(record["path"]).relative_to(CORPUS).as_posix(): record for record in document["reports"]}
    assert set(records) == {row["local_path"] for row in MANIFEST}
    assert not [record for record in records.values() if record.get("error")]
    for row in MANIFEST:
        assert records[row["local_path"]]["kind"] == row["kind"]
    builds = {Path(build["project"]).relative_to(CORPUS).as_posix(): build for build in document["builds"]}
    nautilus = builds["vitis_hls/nrp_nautilus_hls4ml"]
    assert nautilus["latency_cycles"]["worst"] == 15 and nautilus["resources"]["DSP"] == 2557
    assert nautilus["failed_stage"] is None
    assert builds["vitis_hls/asandeep1_ece8893_2022/flat_failed"]["failed_stage"].startswith("csynth: ERROR: [HLS 207-1398]")
