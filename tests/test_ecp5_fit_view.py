"""The fit on an ECP5 board as a user reads it (``fpga-flow build``'s tables and the run
page): the RTL's figures against the device in its units, each labelled with its source,
not the HLS estimate's shares; without the RTL, the line saying the fit was not checked.

``data/ecp5/summary_mlp_tiny_ecpix5-85f.json`` is the summary a real
``fpga-flow build mlp_tiny --board ecpix5-85f --rtl --pnr`` wrote (yosys 7,078 LUT4,
nextpnr 8,416 post-route); the no-RTL summary is made from it by the build's own rule
(:func:`fpga_flow.rtl.fit_ecp5.unchecked_note`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fpga_flow.boards import get_board
from fpga_flow.cli.build import render_summary
from fpga_flow.dashboard import render
from fpga_flow.pipeline.summarize import run_verdict
from fpga_flow.rtl.fit_ecp5 import SOURCE, unchecked_note
from fpga_flow.summary import RunSummary

DATA = Path(__file__).resolve().parent / "data"
ECP5_RUN = DATA / "ecp5" / "summary_mlp_tiny_ecpix5-85f.json"
VENDOR_RUN = DATA / "fit_runs" / "cnn_digits_pynq-z2_fit" / "summary.json"


def summary_at(path: Path) -> RunSummary:
    return RunSummary.model_validate(json.loads(path.read_text()))


def without_rtl(summary: RunSummary) -> RunSummary:
    """The same build without --rtl, its checks made by the build's rules."""
    checks = summary.checks.model_copy(update={
        "fit_budget": None, "rtl_word_agreement": None, "pnr_fmax": None, "top_word_agreement": None,
        "fit_not_checked": unchecked_note(get_board(summary.board.name), None, False) or None})
    return summary.model_copy(update={"rtl": None, "rtl_sim": None, "gates": None, "pnr": None, "checks": checks,
                                      "verdict": run_verdict(checks, summary.board.name, summary.synthesis)})


@pytest.fixture
def cli_text(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "220")  # one line per row: rich wraps at 80 columns without a terminal

    def show(summary: RunSummary) -> str:
        render_summary(summary)
        return capsys.readouterr().out
    return show


def test_the_cli_shows_the_rtls_figures_against_the_device_with_their_source(cli_text):
    summary = summary_at(ECP5_RUN)
    assert summary.checks.fit_budget.source == SOURCE and not summary.checks.fit_by_estimate()
    text = cli_text(summary)
    assert "fit on ecpix5-85f within 80% of the device, by yosys synth_ecp5 of the RTL: fits (LUT4 8.5%)" in text
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in text.splitlines() if line.startswith("│ ") and line.split("│")[1].strip() in
            ("LUT4", "FF", "MULT18", "EBR")}
    assert rows["LUT4"] == ["83,640", "7,078 (8.5%)", "8,416 (10.1%)"]
    assert rows["MULT18"] == ["156", "0 (0.0%)", "0 (0.0%)"] and rows["EBR"][0] == "208"
    assert "nextpnr post-route (um5g-85k CABGA554 speed 8)" in text
    # The estimate chose the HLS plan only: its shares of the board (LUT 12.5%) are not shown as the fit.
    assert "HLS plan, priced by the estimate (AMD/Xilinx units" in text
    assert "fitted:" not in text and "LUT 12.5%" not in text and "not checked" not in text


def test_without_the_rtl_the_cli_says_the_fit_was_not_checked_and_why(cli_text):
    summary = without_rtl(summary_at(ECP5_RUN))
    assert summary.device_fit() == [] and not summary.checks.fit_by_estimate()
    text = " ".join(cli_text(summary).split())
    assert ("fit not checked on ecpix5-85f: the HLS estimate is calibrated on AMD/Xilinx reports only; "
            "add --rtl: yosys counts of the RTL are the fit on ECP5") in text
    assert "fit on ecpix5-85f within" not in text and "fitted:" not in text and "LUT 12.5%" not in text
    assert summary.headline().startswith("PASSED; fit not checked on ecpix5-85f")


def test_on_a_vendor_board_the_fit_stays_the_estimates(cli_text):
    summary = summary_at(VENDOR_RUN)
    assert summary.checks.fit_by_estimate() and summary.device_fit() == []
    text = cli_text(summary)
    assert "fitted:" in text and "of the device, by" not in text and "not checked" not in text


def test_the_run_page_shows_the_same_figures_or_why_the_fit_was_not_checked():
    page = render([summary_at(ECP5_RUN)], "ecp5", single_run=True)
    assert 'data-metric="device_fit" data-value="true"' in page
    assert 'data-metric="device_fit_0_LUT4" data-value="7078">7,078 (8.5%)' in page
    assert 'data-metric="device_fit_1_LUT4" data-value="8416">8,416 (10.1%)' in page
    assert "<th>yosys synth_ecp5 of the RTL</th><th>nextpnr post-route (um5g-85k CABGA554 speed 8)</th>" in page
    assert 'data-metric="fit_plan_source"' in page and 'data-metric="fit" ' not in page
    unchecked = render([without_rtl(summary_at(ECP5_RUN))], "ecp5", single_run=True)
    assert 'data-metric="device_fit" data-value="not checked">fit not checked on ecpix5-85f' in unchecked
    assert "device_fit_table" not in unchecked
    vendor = render([summary_at(VENDOR_RUN)], "pynq", single_run=True)
    assert 'data-metric="fit" ' in vendor and "device_fit" not in vendor
