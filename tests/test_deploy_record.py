"""The ``deploy`` section of a run's summary without a build: check_on_board.py's results
file read back through its one definition (refused when malformed or foreign), the
section through the summary schema, the run page showing the board beside the
C-simulation and the estimate, and the run history's record brought up to date.

The end-to-end path (a real build, deploy, ``check_on_board.py --simulate``,
``deploy --record``) is in test_deploy_cnn.py."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from fpga_flow.dashboard import write_run_page
from fpga_flow.deploy.board import driver
from fpga_flow.errors import UserInputError
from fpga_flow.history import RunHistory
from fpga_flow.records.deploy import BoardCheck, DeployRecord, read_check_results, refuse_foreign
from fpga_flow.summary import parse_summary, read_summary
from test_dashboard import Dom

RUN = Path(__file__).resolve().parent / "data" / "runs" / "cnn_digits_pynq-z2_rf1"


def results(**changes) -> driver.CheckResults:
    """A check of 3 samples of 10 output words, one word differing."""
    check = driver.CheckResults(
        schema_version=driver.RESULTS_SCHEMA_VERSION, simulated=False, model="cnn_digits", board="pynq-z2",
        run_id="cnn_digits_pynq-z2_rf1", bundle_id="b1", created_utc="2025-01-02T03:04:05+00:00", n_samples=3,
        output_words=30, output_words_equal=29, samples_equal=2, input_words_equal=192, input_words=192,
        batch_size=3, throughput_samples_per_s=2500.0, latency_samples=3, latency_median_us=310.5,
        latency_p90_us=402.0, mismatches=[driver.Mismatch(1, 7, 0x100, 0x180, 0.125, 0.1875)])
    return replace(check, **changes)


def deployed(check: driver.CheckResults | None = None, bundle_id: str = "b1") -> DeployRecord:
    record = DeployRecord(bundle_dir="/boards/bundle", bundle_id=bundle_id, created_utc="2025-01-02T00:00:00+00:00",
                          accelerator_board="pynq-z2", kind="zynq", input_word="ap_ufixed<32,1,AP_RND,AP_SAT,0>",
                          output_word="ap_ufixed<32,1,AP_RND,AP_SAT,0>", n_samples=3, csim_values_matched=30)
    if check is not None:
        record.board_check = BoardCheck(results_file="/boards/bundle/check_results.json",
                                        recorded_utc="2025-01-03T00:00:00+00:00", results=check)
    return record


def write(path: Path, document) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_results_written_by_the_board_read_back_equal(tmp_path):
    check = results()
    path = write(tmp_path / "check_results.json", check.to_json())
    assert read_check_results(path) == check


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("latency_median_us"), "latency_median_us"),
    (lambda d: d.update(board_seconds=1.0), "board_seconds"),
    (lambda d: d.update(output_words_equal=31), "(top level)"),  # more equal words than words
    (lambda d: d["mismatches"][0].update(sample="one"), "mismatches.0.sample"),
    (lambda d: d["mismatches"][0].update(colour="red"), "mismatches.0.colour"),
])
def test_a_malformed_results_file_is_refused_naming_the_field(tmp_path, change, field):
    document = asdict(results())
    change(document)
    path = write(tmp_path / "check_results.json", document)
    with pytest.raises(UserInputError) as err:
        read_check_results(path)
    message = str(err.value)
    assert f"field '{field}'" in message and "check_on_board.py" in message and "\n" not in message


def test_what_is_not_a_results_file_is_refused(tmp_path):
    for name, text, fragment in (("nothing.json", None, "not found"), ("truncated.json", '{"schema_version": 1',
                                                                         "Invalid JSON"),
                                 ("summary.json", (RUN / "summary.json").read_text(), "field '")):
        path = tmp_path / name if text is None else write(tmp_path / name, text)
        with pytest.raises(UserInputError, match=fragment):
            read_check_results(path)
    path = write(tmp_path / "future.json", asdict(results(schema_version=driver.RESULTS_SCHEMA_VERSION + 1)))
    with pytest.raises(UserInputError, match="results schema"):
        read_check_results(path)


def test_results_of_another_run_or_bundle_are_refused():
    ours = deployed(bundle_id="b1")
    refuse_foreign(results(bundle_id="b1"), "cnn_digits_pynq-z2_rf1", ours, Path("r.json"))
    with pytest.raises(UserInputError, match="holds the check of run other_run, not of run cnn_digits_pynq-z2_rf1"):
        refuse_foreign(results(run_id="other_run", bundle_id="b9"), "cnn_digits_pynq-z2_rf1", ours, Path("r.json"))
    with pytest.raises(UserInputError, match=r"another bundle of run cnn_digits_pynq-z2_rf1 \(id b0\)"):
        refuse_foreign(results(bundle_id="b0"), "cnn_digits_pynq-z2_rf1", ours, Path("r.json"))


def test_the_section_round_trips_through_the_summary_schema():
    summary = read_summary(RUN).model_copy(update={"deploy": deployed(results())})
    document = json.loads(json.dumps(summary.model_dump(mode="json")))
    assert parse_summary(document, "x") == summary
    document["deploy"]["board_check"]["results"]["latency_us"] = 1.0
    with pytest.raises(UserInputError, match="deploy.board_check.results.latency_us"):
        parse_summary(document, "x")
    # A summary written before deploy existed reads as "no bundle".
    assert read_summary(RUN).deploy is None


def run_page(tmp_path: Path, deploy: DeployRecord | None) -> Dom:
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    summary = read_summary(run).model_copy(update={"deploy": deploy})
    (run / "summary.json").write_text(json.dumps(summary.model_dump(mode="json")))
    return Dom(write_run_page(run).read_text())


def test_the_run_page_shows_the_board_beside_the_csimulation_and_the_estimate(tmp_path):
    summary = read_summary(RUN)
    dom = run_page(tmp_path, deployed(results()))
    assert dom.one(data_metric="bundle")["attrs"]["data-value"] == "b1"
    agreement = dom.one(data_metric="board_word_agreement")
    assert agreement["attrs"]["data-value"] == str(29 / 30) and "96.667% (29 of 30" in agreement["text"]
    assert "bad" in agreement["attrs"]["class"]
    assert dom.one(data_metric="board_latency_median_us")["attrs"]["data-value"] == "310.5"
    assert dom.one(data_metric="board_throughput")["attrs"]["data-value"] == "2500.0"
    # Beside them: the estimate's latency, and one sample per initiation interval at the clock.
    estimate = summary.estimate
    assert dom.one(data_metric="design_latency_ns")["attrs"]["data-value"] == str(estimate.latency_ns)
    expected = 1e9 / (estimate.interval_cycles * summary.hls.clock_period_ns)
    assert float(dom.one(data_metric="design_throughput")["attrs"]["data-value"]) == pytest.approx(expected)
    assert "sample 1 output 7: C-simulation 0.125, accelerator 0.1875" in dom.one(data_metric="board_mismatches")["text"]
    assert [e["text"] for e in dom.find("span", **{"class": "tag vendor"}) if e["text"] == "MEASURED"] == ["MEASURED"]


def test_the_run_page_says_simulated_and_not_yet_checked(tmp_path):
    dom = run_page(tmp_path / "sim", deployed(results(simulated=True, output_words_equal=30, samples_equal=3,
                                                      mismatches=[])))
    assert "ok" in dom.one(data_metric="board_word_agreement")["attrs"]["class"]
    assert any(e["text"] == "SIMULATED" for e in dom.find("span", **{"class": "tag estimate"}))
    assert not dom.find(data_metric="board_mismatches")
    dom = run_page(tmp_path / "unchecked", deployed())
    assert dom.one("p", data_metric="board_check")["attrs"]["data-value"] == "none"
    assert "--record" in dom.one("p", data_metric="board_check")["text"]
    dom = run_page(tmp_path / "none", None)
    assert dom.one(data_metric="bundle")["attrs"]["data-value"] == "none"


def test_the_history_record_is_brought_up_to_date_keeping_kind_and_time(tmp_path):
    history = RunHistory(tmp_path / "history.db")
    summary = read_summary(RUN)
    history.record_run(summary, kind="sweep_point")
    before = history.get(summary.run_id)
    assert history.update_run(summary.model_copy(update={"deploy": deployed(results())}))
    after = history.get(summary.run_id)
    assert (after["kind"], after["recorded_utc"]) == (before["kind"], before["recorded_utc"])
    assert after["summary"]["deploy"]["board_check"]["results"]["output_words_equal"] == 29
    [read] = history.summaries()
    assert read.deploy.board_check.results == results()
    other = summary.model_copy(update={"run_id": "never_recorded"})
    assert not history.update_run(other)
    assert [r["run_id"] for r in history.runs()] == [summary.run_id]
