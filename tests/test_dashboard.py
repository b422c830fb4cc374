"""The dashboard page, read back from its HTML: runs collected (and skipped), the figures
each run shows, comparisons across runs, pages with and without vendor reports, an
empty selection, and no network access."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fpga_flow.dashboard import collect_runs, render, weight_bits, write_dashboard, write_run_page
from fpga_flow.summary import RunSummary, read_summary

RUNS = Path(__file__).resolve().parent / "data" / "runs"
VENDOR_RUNS = {"cnn_digits_zcu104_rf1_vendor", "nautilus_mlp_alveo-u250_vendor"}
VOID = {"meta", "link", "br", "hr", "img", "input", "area", "base", "col", "source", "wbr"}


class Dom(HTMLParser):
    """Just enough of a DOM to find elements by attribute and read their text."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "ancestors": list(self._open)}
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append({"tag": tag, "attrs": dict(attrs), "text": "", "ancestors": list(self._open)})

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i]["tag"] == tag:
                del self._open[i:]
                return

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def find(self, tag: str | None = None, within: dict | None = None, **attrs) -> list[dict]:
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [e for e in self.elements
                if (tag is None or e["tag"] == tag)
                and all(e["attrs"].get(name) == value for name, value in wanted.items())
                and (within is None or any(a is within for a in e["ancestors"]))]

    def one(self, tag: str | None = None, within: dict | None = None, **attrs) -> dict:
        found = self.find(tag, within, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


def text(element: dict) -> str:
    return " ".join(element["text"].split())


def load(name: str) -> RunSummary:
    return read_summary(RUNS / name)


@pytest.fixture(scope="module")
def all_runs() -> list[RunSummary]:
    summaries, warnings = collect_runs([RUNS])
    assert warnings == []
    return summaries


@pytest.fixture(scope="module")
def page(all_runs, tmp_path_factory) -> Dom:
    path = write_dashboard(all_runs, tmp_path_factory.mktemp("dashboard"))
    assert path.name == "index.html"
    return Dom(path.read_text(encoding="utf-8"))


def run_row(page: Dom, run_id: str) -> dict:
    return page.one("tr", data_run_id=run_id)


def run_section(page: Dom, run_id: str) -> dict:
    return page.one("section", data_run_id=run_id)


# --------------------------------------------------------------------------- collecting runs


def test_collect_walks_trees_and_reads_every_finished_run(all_runs):
    assert sorted(s.run_id for s in all_runs) == sorted(p.name for p in RUNS.iterdir() if p.is_dir())


def test_collect_skips_what_is_not_a_finished_run_and_names_it(tmp_path):
    tree = tmp_path / "reports"
    shutil.copytree(RUNS / "cnn_digits_pynq-z2_rf1", tree / "runs" / "good")
    (tree / "runs" / "crashed").mkdir()
    (tree / "runs" / "crashed" / "INCOMPLETE").write_text("stage: compile\n")
    (tree / "runs" / "crashed" / "summary.json").write_text("{}")
    (tree / "runs" / "no_summary" / "hls_project").mkdir(parents=True)
    (tree / "runs" / "garbled").mkdir()
    (tree / "runs" / "garbled" / "summary.json").write_text('{"run_id": "x", ')
    (tree / "runs" / "foreign").mkdir()
    (tree / "runs" / "foreign" / "summary.json").write_text('["not", "a", "summary"]')
    (tree / "runs" / "future").mkdir()
    (tree / "runs" / "future" / "summary.json").write_text('{"schema_version": 99, "run_id": "x"}')
    (tree / "zoo" / "cnn_digits").mkdir(parents=True)  # exports, not runs: passed over silently
    given_empty = tmp_path / "given_without_summary"
    given_empty.mkdir()
    summaries, warnings = collect_runs([tree, given_empty, tmp_path / "missing", tree / "runs" / "good" / "summary.json"])
    assert [s.run_id for s in summaries] == ["cnn_digits_pynq-z2_rf1"]
    by_path = {w.split(": ")[0]: w for w in warnings}
    assert "incomplete run (stage: compile)" in by_path[str(tree / "runs" / "crashed")]
    assert "no summary.json" in by_path[str(tree / "runs" / "no_summary")]
    assert "is unreadable" in by_path[str(tree / "runs" / "garbled")]
    assert "not an fpga-flow run summary" in by_path[str(tree / "runs" / "foreign")]
    assert "schema version 99" in by_path[str(tree / "runs" / "future")]
    assert "no run directory" in by_path[str(given_empty)]
    assert "no such run directory" in by_path[str(tmp_path / "missing")]
    assert len(warnings) == 7


# --------------------------------------------------------------------------- runs table and run sections


def test_every_run_has_a_row_and_a_section(page, all_runs):
    for summary in all_runs:
        row = run_row(page, summary.run_id)
        assert row["attrs"]["data-model"] == summary.model.name
        assert row["attrs"]["data-board"] == summary.board.name
        section = run_section(page, summary.run_id)
        assert summary.model.name in text(page.one("h2", within=section))


def test_agreement_and_accuracy_figures(page):
    row = run_row(page, "cnn_digits_pynq-z2_rf1")
    cell = page.one("td", within=row, data_metric="csim_agreement")
    assert (text(cell), cell["attrs"]["data-value"]) == ("99.78%", "0.9978")
    assert text(page.one(within=row, data_metric="keras_accuracy")) == "96.20%"
    assert text(page.one(within=row, data_metric="csim_accuracy")) == "96.00%"
    section = run_section(page, "cnn_digits_pynq-z2_rf4_default")
    assert text(page.one(within=section, data_metric="csim_agreement")) == "95.11%"
    assert text(page.one(within=section, data_metric="testbench_agreement")) == "95.11%"
    assert text(page.one(within=run_row(page, "nautilus_mlp_alveo-u250_vendor"), data_metric="keras_accuracy")) == "n/a"


def test_resource_bars_against_the_board_with_the_full_line(page):
    section = run_section(page, "cnn_digits_pynq-z2_rf1")
    groups = {g["attrs"]["data-resource"]: g for g in page.find("g", within=section, data_metric="resource")}
    assert list(groups) == ["LUT", "FF", "DSP", "BRAM_18K", "URAM"]
    lut = groups["LUT"]["attrs"]
    assert (lut["data-used"], lut["data-capacity"], lut["data-pct"]) == ("12000", "53200", "22.56")
    assert text(groups["LUT"]) == "LUT12,000 of 53,200 (22.6%)"
    assert "the board has none" in text(groups["URAM"])
    bars = page.one("svg", within=section, **{"class": "bars", "aria-label": "resource use against board capacity"})
    assert "100% of the board" in text(bars)
    assert len(page.find("line", within=bars, **{"class": "full"})) == 1


def test_a_design_over_capacity_is_marked(tmp_path):
    summary = load("cnn_digits_pynq-z2_rf1")
    summary.estimate.resources["LUT"] = 66993
    dom = Dom(render([summary], "over"))
    lut = dom.one("g", data_metric="resource", data_resource="LUT")
    assert lut["attrs"]["data-pct"] == "125.93"
    assert "does not fit" in text(lut)
    assert dom.find("rect", within=lut, **{"class": "bar over"})


def test_figures_say_whether_they_come_from_a_vendor_report_or_the_estimate(page, all_runs):
    for summary in all_runs:
        section = run_section(page, summary.run_id)
        tag = page.one("span", within=section, data_metric="figures_source")
        expected = "vendor report" if summary.run_id in VENDOR_RUNS else "estimate"
        assert tag["attrs"]["data-value"] == expected
        assert text(tag) == expected.upper()
    vendor = run_section(page, "cnn_digits_zcu104_rf1_vendor")
    assert "vitis_hls 2023.1 synthesis report" in text(vendor)
    lut = page.one("g", within=vendor, data_metric="resource", data_resource="LUT")
    assert (lut["attrs"]["data-used"], lut["attrs"]["data-capacity"]) == ("14873", "230400")
    comparison = text(page.one("table", within=vendor, data_metric="estimate_vs_vendor"))
    assert "14,873" in comparison and "12,000" in comparison and "0.81×" in comparison
    estimate = run_section(page, "cnn_digits_pynq-z2_rf2")
    assert "first-order estimate" in text(estimate) and "not a synthesis result" in text(estimate)
    assert not page.find("table", within=estimate, data_metric="estimate_vs_vendor")


def test_latency_in_cycles_and_ns_and_the_interval(page):
    vendor = run_section(page, "cnn_digits_zcu104_rf1_vendor")
    assert page.one(within=vendor, data_metric="latency_cycles")["attrs"]["data-value"] == "38"
    assert text(page.one(within=vendor, data_metric="latency_ns")) == "190 ns"
    estimate = run_section(page, "cnn_digits_pynq-z2_rf4_default")
    assert text(page.one(within=estimate, data_metric="latency_cycles")) == "118 cycles"
    assert text(page.one(within=estimate, data_metric="latency_ns")) == "1,180 ns"
    assert text(page.one(within=estimate, data_metric="interval_cycles")) == "4 cycles"


def test_confusion_matrix_of_csim_against_keras(page):
    section = run_section(page, "cnn_digits_pynq-z2_rf4_default")
    matrix = page.one("table", within=section, data_metric="confusion_matrix")
    assert (matrix["attrs"]["data-disagreements"], matrix["attrs"]["data-total"]) == ("22", "450")
    assert len(page.find("tr", within=matrix)) == 11  # header + one row per class
    assert "22 of 450 samples off the diagonal" in text(section)


def test_per_layer_error_before_and_after_closure(page):
    section = run_section(page, "cnn_digits_pynq-z2_rf1")
    before = {g["attrs"]["data-layer"]: float(g["attrs"]["data-value"])
              for g in page.find("g", within=section, data_metric="layer_error_before")}
    after = {g["attrs"]["data-layer"]: float(g["attrs"]["data-value"])
             for g in page.find("g", within=section, data_metric="layer_error_after")}
    assert before == {"conv1": 0.12, "dense": 0.2}
    assert after == {"conv1": 0.01, "dense": 0.03}
    assert "94.70%" in text(section) and "99.90%" in text(section)
    without = run_section(page, "cnn_digits_pynq-z2_rf4_default")
    assert page.one(within=without, data_metric="closure")["attrs"]["data-value"] == "none"
    assert not page.find(within=without, data_metric="layer_error_before")
    assert "conv1 37 of 115,200 values outside" in text(without)


# --------------------------------------------------------------------------- comparisons


def chart_points(page: Dom, chart_id: str) -> dict[str, dict]:
    figure = page.one("figure", id=chart_id)
    points = [e for e in page.find(within=figure) if "pt" in e["attrs"].get("class", "").split()]
    assert int(figure["attrs"]["data-points"]) == len(points)
    return {f'{p["attrs"]["data-run-id"]}@{p["attrs"]["data-x"]}': p for p in points}


def test_resources_against_reuse_factor(page):
    points = chart_points(page, "chart-lut-vs-reuse")
    assert set(points) == {"cnn_digits_pynq-z2_rf1@1", "cnn_digits_pynq-z2_rf2@2", "cnn_digits_pynq-z2_rf4_default@4",
                           "cnn_digits_zcu104_rf1_vendor@1", "nautilus_mlp_alveo-u250_vendor@1"}
    assert float(points["cnn_digits_pynq-z2_rf2@2"]["attrs"]["data-y"]) == pytest.approx(100 * 7400 / 53200, abs=1e-3)
    assert points["cnn_digits_zcu104_rf1_vendor@1"]["tag"] == "rect"  # vendor figures are squares
    assert points["cnn_digits_pynq-z2_rf1@1"]["tag"] == "circle"
    for key in ("ff", "dsp", "bram_18k"):
        assert len(chart_points(page, f"chart-{key}-vs-reuse")) == 5


def test_accuracy_against_bit_width(page):
    points = page.find(within=page.one("figure", id="chart-accuracy-vs-bits"), data_run_id="cnn_digits_pynq-z2_rf2")
    assert {(p["attrs"]["data-x"], p["attrs"]["data-y"], p["attrs"]["fill"] == "#fff") for p in points} == {
        ("6", "94.89", False), ("6", "95.1", True)}
    # the MLP has no labels (synthetic inputs), so no accuracy to plot
    assert not page.find(within=page.one("figure", id="chart-accuracy-vs-bits"), data_run_id="nautilus_mlp_alveo-u250_vendor")


def test_pareto_views_mark_dominated_runs(page):
    lut = chart_points(page, "chart-pareto-lut")
    assert not any("faded" in p["attrs"]["class"] for p in lut.values())  # every cnn_digits run trades LUT for latency
    dsp = chart_points(page, "chart-pareto-dsp")
    # rf1 on pynq-z2 (64 DSP, 420 ns) is beaten by the zcu104 run (58 DSP, 190 ns)
    assert "faded" in dsp["cnn_digits_pynq-z2_rf1@64"]["attrs"]["class"]
    assert "faded" not in dsp["cnn_digits_zcu104_rf1_vendor@58"]["attrs"]["class"]
    assert page.find("polyline", within=page.one("figure", id="chart-pareto-dsp"))


def test_filters_list_every_model_and_board(page):
    models = [text(o) for o in page.find("option", within=page.one("select", id="filter-model"))]
    boards = [text(o) for o in page.find("option", within=page.one("select", id="filter-board"))]
    assert models == ["all models", "cnn_digits", "nautilus_mlp"]
    assert boards == ["all boards", "alveo-u250", "pynq-z2", "zcu104"]


# --------------------------------------------------------------------------- pages of other selections


def test_a_page_without_vendor_reports(all_runs):
    estimates = [s for s in all_runs if s.run_id not in VENDOR_RUNS]
    dom = Dom(render(estimates, "estimates only"))
    sources = {e["attrs"]["data-value"] for e in dom.find("span", data_metric="figures_source")}
    assert sources == {"estimate"}
    assert not dom.find(data_metric="estimate_vs_vendor")
    assert len(chart_points(dom, "chart-lut-vs-reuse")) == 3


def test_a_page_with_only_vendor_reports(all_runs):
    vendor = [s for s in all_runs if s.run_id in VENDOR_RUNS]
    dom = Dom(render(vendor, "vendor only"))
    assert {e["attrs"]["data-value"] for e in dom.find("span", data_metric="figures_source")} == {"vendor report"}
    assert len(dom.find("table", data_metric="estimate_vs_vendor")) == 2


def test_an_empty_selection_gives_a_page_that_says_so(tmp_path):
    path = write_dashboard([], tmp_path / "out", warnings=["reports/runs/x: incomplete run (stage: compile), skipped"])
    dom = Dom(path.read_text())
    assert "the selection is empty" in text(dom.one("p", id="empty"))
    assert not dom.find("table", id="runs-table")
    assert "reports/runs/x: incomplete run" in text(dom.one("details", id="skipped"))


def test_the_run_page_is_written_beside_the_summary(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(RUNS / "cnn_digits_pynq-z2_rf1", run_dir)
    path = write_run_page(run_dir)
    assert path == run_dir / "dashboard.html"
    dom = Dom(path.read_text())
    assert text(dom.one("h1")) == "cnn_digits on pynq-z2"
    assert len(dom.find("section", **{"class": "run"})) == 1
    assert not dom.find("select") and not dom.find("script") and not dom.find(id="comparisons")
    assert not dom.find("table", id="runs-table")
    assert dom.one("td", data_metric="csim_agreement")["attrs"]["data-value"] == "0.9978"


def test_a_configuration_the_closure_rejected_is_named_with_its_reason(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(RUNS / "cnn_digits_pynq-z2_rf1", run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["precision"]["closure"]["rejected_changes"] = [
        {"layer": None, "change": "inferred precisions", "reason": "g++ failed to compile the firmware"}]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    note = Dom(write_run_page(run_dir).read_text()).one(data_metric="closure_rejected")
    assert note["attrs"]["data-value"] == "1"
    assert "inferred precisions: g++ failed to compile the firmware" in text(note)
    plain = Dom(write_run_page(shutil.copytree(RUNS / "cnn_digits_pynq-z2_rf1", tmp_path / "plain")).read_text())
    assert not plain.find(data_metric="closure_rejected")


def test_the_page_needs_no_network(page, all_runs, tmp_path):
    html = write_dashboard(all_runs, tmp_path).read_text()
    csp = page.one("meta", http_equiv="Content-Security-Policy")["attrs"]["content"]
    assert "default-src 'none'" in csp
    for element in page.elements:
        for name in ("src", "href", "xlink:href", "action"):
            value = element["attrs"].get(name) or ""
            assert not re.match(r"^(https?:)?//", value), (element["tag"], name, value)
    assert not page.find("link", rel="stylesheet") and not [e for e in page.find("script") if "src" in e["attrs"]]
    assert "@import" not in html and "url(" not in html


def test_weight_bits_are_the_widest_chosen_weight_type():
    assert weight_bits(load("cnn_digits_pynq-z2_rf1")) == 8
    assert weight_bits(load("cnn_digits_pynq-z2_rf2")) == 6
    assert weight_bits(load("cnn_digits_pynq-z2_rf4_default")) == 16
    summary = load("nautilus_mlp_alveo-u250_vendor")
    summary.precision.layer_precisions = {"d": {"weight": "ac_fixed<12,4,true>", "result": "ac_fixed<30,10,true>"}}
    assert weight_bits(summary) == 12
    summary.precision.layer_precisions = {"relu": {"result": "ap_ufixed<8,3>"}}
    assert weight_bits(summary) is None


def test_a_report_without_resource_figures_leaves_the_estimate_in_charge():
    summary = load("cnn_digits_zcu104_rf1_vendor")
    report = summary.synthesis.report
    report["resources"] = {key: None for key in report["resources"]}
    dom = Dom(render([summary], "empty report"))
    assert {e["attrs"]["data-value"] for e in dom.find("span", data_metric="figures_source")} == {"estimate"}
    assert dom.one("g", data_metric="resource", data_resource="LUT")["attrs"]["data-used"] == "12000"


def test_vendor_figures_fill_unknown_capacity_from_the_board_and_say_why_latency_is_unknown():
    summary = load("cnn_digits_zcu104_rf1_vendor")
    report = summary.synthesis.report
    report["available"] = {key: None for key in report["available"]}
    report["latency_cycles"] = {"best": None, "avg": None, "worst": None}
    report["latency_ns"] = {"best": None, "avg": None, "worst": None}
    report["latency_unknown_reason"] = "data-dependent loop bounds"
    dom = Dom(render([summary], "partial report"))
    lut = dom.one("g", data_metric="resource", data_resource="LUT")["attrs"]
    assert (lut["data-used"], lut["data-capacity"]) == ("14873", "230400")
    assert text(dom.one("td", data_metric="latency_cycles")) == "unknown (data-dependent loop bounds)"
