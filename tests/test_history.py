"""The SQLite run history: what it records, schema versions and migration, two writing
processes at once, and damaged or foreign files left untouched."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from fpga_flow.errors import UserInputError
from fpga_flow.figures import ESTIMATE, VENDOR, figures_of
from fpga_flow.history import DB_ENV, MIGRATIONS, SCHEMA_VERSION, RunHistory, default_db_path
from fpga_flow.summary import RunSummary, read_summary

DATA = Path(__file__).resolve().parent / "data"
RUNS = DATA / "runs"
FIXTURES = sorted(RUNS.glob("*/summary.json"))
# A summary.json as fpga-flow 0.1.0 wrote it (schema version 1), from a real build.
V1_SUMMARY = DATA / "summary_v1" / "tiny_mlp_closure" / "summary.json"


def load(name: str) -> RunSummary:
    return read_summary(RUNS / name)


def renamed(summary: RunSummary, run_id: str) -> RunSummary:
    return summary.model_copy(update={"run_id": run_id})


@pytest.fixture
def history(tmp_path) -> RunHistory:
    return RunHistory(tmp_path / "reports" / "fpga_flow.db")


def test_every_fixture_run_is_recorded_and_read_back_whole(history):
    assert len(FIXTURES) >= 5
    for path in FIXTURES:
        history.record_run(read_summary(path))
    records = history.runs()
    assert len(records) == len(FIXTURES)
    for path in FIXTURES:
        written = json.loads(path.read_text())
        record = history.get(written["run_id"])
        assert record["summary"] == written
        assert record["kind"] == "build"
        assert record["config"] == written["config"]
        assert record["artifacts"] == written["artifacts"]
        assert record["csim_agreement"] == written["fidelity"]["csim_agreement"]
        assert record["recorded_utc"]
    assert history.summaries() == [read_summary(path) for path in FIXTURES]


def test_figure_columns_come_from_the_vendor_report_when_there_is_one(history):
    history.record_run(load("cnn_digits_zcu104_rf1_vendor"))
    history.record_run(load("cnn_digits_pynq-z2_rf1"))
    vendor = history.get("cnn_digits_zcu104_rf1_vendor")
    assert (vendor["figures_source"], vendor["lut"], vendor["dsp"], vendor["latency_cycles"]) == (VENDOR, 14873, 58, 38)
    assert vendor["tool"] == "vitis_hls 2023.1"
    assert vendor["vendor"]["estimated_clock_ns"] == 4.12
    estimate = history.get("cnn_digits_pynq-z2_rf1")
    assert (estimate["figures_source"], estimate["lut"], estimate["dsp"], estimate["latency_ns"]) == (ESTIMATE, 12000, 64, 420.0)
    assert estimate["vendor"] is None
    assert estimate["estimate"]["csynth"]["interval_cycles"] == 1


def test_runs_filter_by_model_board_and_kind(history):
    for path in FIXTURES:
        history.record_run(read_summary(path))
    history.record_run(renamed(load("cnn_digits_pynq-z2_rf2"), "sweep-rf2"), kind="sweep_point")
    assert {r["run_id"] for r in history.runs(model="cnn_digits", board="pynq-z2")} == {
        "cnn_digits_pynq-z2_rf1", "cnn_digits_pynq-z2_rf2", "cnn_digits_pynq-z2_rf4_default", "sweep-rf2"}
    assert [r["run_id"] for r in history.runs(board="alveo-u250")] == ["nautilus_mlp_alveo-u250_vendor"]
    assert [r["run_id"] for r in history.runs(kind="sweep_point")] == ["sweep-rf2"]
    assert history.runs(model="no-such-model") == []


def test_recording_a_run_again_replaces_it(history):
    summary = load("cnn_digits_pynq-z2_rf1")
    history.record_run(summary)
    history.record_run(summary.model_copy(update={"status": "check_failed"}))
    assert [r["status"] for r in history.runs()] == ["check_failed"]


def test_parsed_reports_are_recorded_once_per_report_and_source(history, tmp_path):
    report = load("nautilus_mlp_alveo-u250_vendor").synthesis.report
    source = tmp_path / "myproject_csynth.xml"
    first = history.record_report(report, source)
    again = history.record_report(report, source)
    other = history.record_report(report, tmp_path / "elsewhere.xml")
    assert first == again != other
    history.record_run(load("cnn_digits_pynq-z2_rf1"))
    reports = history.runs(kind="report")
    assert len(reports) == 2
    record = history.get(first)
    assert (record["lut"], record["dsp"], record["part"], record["figures_source"]) == \
        (116694, 2557, "xcu250-figd2104-2L-e", VENDOR)
    assert record["source_path"] == str(source.resolve())
    assert record["summary"] == {"source_path": str(source.resolve()), "report": report}
    assert [s.run_id for s in history.summaries()] == ["cnn_digits_pynq-z2_rf1"]


def test_bad_records_and_unknown_ids_are_user_errors(history):
    with pytest.raises(UserInputError, match="unknown run kind 'report'"):
        history.record_run(load("cnn_digits_pynq-z2_rf1"), kind="report")
    with pytest.raises(UserInputError, match="no run 'missing'"):
        history.get("missing")


def test_default_path_is_under_reports_unless_the_environment_says_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv(DB_ENV, raising=False)
    assert default_db_path() == Path("reports") / "fpga_flow.db"
    assert default_db_path(tmp_path) == tmp_path / "fpga_flow.db"
    monkeypatch.setenv(DB_ENV, str(tmp_path / "elsewhere.db"))
    assert default_db_path(tmp_path) == tmp_path / "elsewhere.db"


def test_hardware_figures_without_estimate_or_report_say_so():
    figures = figures_of({"tool": "vitis_hls", "resources": {"LUT": None}}, None, {"LUT": 100}, 5.0)
    assert figures.source == "none"
    assert figures.latency_cycles is None and figures.utilization_pct("LUT") is None


# --------------------------------------------------------------------------- schema


def test_a_new_file_has_the_current_schema_and_its_migration_log(history):
    assert history.schema_version == SCHEMA_VERSION == MIGRATIONS[-1].version
    assert [m["version"] for m in history.migrations()] == [m.version for m in MIGRATIONS]
    with sqlite3.connect(history.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_version_1_file_is_migrated_with_its_rows_kept(tmp_path):
    path = tmp_path / "v1.db"
    summary = json.loads(V1_SUMMARY.read_text())  # as fpga-flow 0.1.0 wrote it into its history
    with sqlite3.connect(path) as db:  # what version 1 of fpga-flow wrote
        MIGRATIONS[0].apply(db)
        db.execute("INSERT INTO runs (run_id, kind, recorded_utc, model, board, status, summary_json) VALUES (?,?,?,?,?,?,?)",
                   (summary["run_id"], "build", "2026-11-24T06:00:00+00:00", summary["model"], summary["board"],
                    summary["status"], json.dumps(summary)))
        db.execute("PRAGMA user_version = 1")
    history = RunHistory(path)
    assert history.schema_version == SCHEMA_VERSION
    record = history.get(summary["run_id"])
    assert record["summary"] == summary
    # The migration filled the figure columns through the summary upgrade.
    assert (record["lut"], record["dsp"], record["figures_source"], record["reuse_factor"]) == (1128, 72, ESTIMATE, 1)
    assert (record["precision_policy"], record["part"]) == ("closure", "xc7z020clg400-1")
    assert [m["version"] for m in history.migrations()] == [m.version for m in MIGRATIONS if m.version > 1]
    history.record_run(load("cnn_digits_pynq-z2_rf1"))
    assert len(history.runs()) == 2
    assert [s.fidelity.csim_agreement for s in history.summaries()] == [1.0, 0.9978]


def test_a_file_from_a_newer_fpga_flow_is_refused_untouched(tmp_path):
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (run_id TEXT)")
        db.execute("PRAGMA user_version = 99")
    before = path.read_bytes()
    with pytest.raises(UserInputError, match="schema version 99.*upgrade fpga-flow"):
        RunHistory(path)
    assert path.read_bytes() == before


# --------------------------------------------------------------------------- damaged files


def _assert_refused_untouched(path: Path, match: str) -> None:
    before = path.read_bytes()
    with pytest.raises(UserInputError, match=match) as error:
        RunHistory(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-journal").exists()


def test_a_file_that_is_not_sqlite_is_refused_and_kept(tmp_path):
    path = tmp_path / "fpga_flow.db"
    path.write_text("these are my notes, not a database\n" * 200)
    _assert_refused_untouched(path, "not a readable SQLite database.*left untouched")


def test_a_corrupted_history_is_refused_and_kept(tmp_path):
    path = tmp_path / "fpga_flow.db"
    history = RunHistory(path)
    summary = load("cnn_digits_pynq-z2_rf1")
    for i in range(300):
        history.record_run(renamed(summary, f"run-{i}"))
    with sqlite3.connect(path) as db:  # fold the WAL into the file so the damage below hits live pages
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode = DELETE")
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[3 * page: 6 * page] = b"\xa5" * (3 * page)
    path.write_bytes(bytes(data))
    _assert_refused_untouched(path, "not a readable SQLite database")


def test_a_foreign_sqlite_database_is_refused_and_kept(tmp_path):
    path = tmp_path / "photos.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE photos (name TEXT)")
        db.execute("INSERT INTO photos VALUES ('cat.jpg')")
    _assert_refused_untouched(path, "not an fpga-flow run history")


def test_a_folder_or_a_missing_file_when_reading_are_user_errors(tmp_path):
    with pytest.raises(UserInputError, match="is a folder"):
        RunHistory(tmp_path)
    with pytest.raises(UserInputError, match="no run history at"):
        RunHistory(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


# --------------------------------------------------------------------------- concurrency

ROWS_PER_WRITER = 150


def _write_many(path: str, writer: int, start: multiprocessing.Barrier) -> None:
    summary = load("cnn_digits_pynq-z2_rf1")
    start.wait()  # both writers open the (not yet existing) file and write at the same moment
    history = RunHistory(path)
    for i in range(ROWS_PER_WRITER):
        history.record_run(renamed(summary, f"writer{writer}-{i}"), kind="sweep_point")
        if i % 10 == 0:
            history.record_report({"tool": "vitis_hls", "resources": {"LUT": i}}, f"/reports/w{writer}/{i}.xml")


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "shared.db")
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    writers = [context.Process(target=_write_many, args=(path, n, start)) for n in (1, 2)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=300)
    assert [p.exitcode for p in writers] == [0, 0]
    history = RunHistory(path)
    ids = {r["run_id"] for r in history.runs(kind="sweep_point")}
    assert ids == {f"writer{w}-{i}" for w in (1, 2) for i in range(ROWS_PER_WRITER)}
    assert len(history.runs(kind="report")) == 2 * len(range(0, ROWS_PER_WRITER, 10))
    assert [m["version"] for m in history.migrations()] == [m.version for m in MIGRATIONS]
