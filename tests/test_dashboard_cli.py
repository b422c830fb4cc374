"""``fpga-flow dashboard`` as a user runs it: from run directories, from the run history
(``--db`` or ``FPGA_FLOW_DB``), with skipped folders, an empty selection and a damaged
database."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from conftest import run_cli
from fpga_flow.history import DB_ENV, RunHistory
from fpga_flow.summary import read_summary

RUNS = Path(__file__).resolve().parent / "data" / "runs"


def page_run_ids(page: Path) -> set[str]:
    return set(re.findall(r'<section class="run" id="[^"]+" data-run-id="([^"]+)"', page.read_text()))


def fixture_ids() -> set[str]:
    return {p.name for p in RUNS.iterdir() if p.is_dir()}


def test_pages_over_a_tree_of_runs_print_the_page_path(tmp_path):
    tree = tmp_path / "reports"
    shutil.copytree(RUNS, tree / "runs")
    (tree / "runs" / "crashed").mkdir()
    (tree / "runs" / "crashed" / "INCOMPLETE").write_text("stage: compile\n")
    out = tmp_path / "site"
    result = run_cli("dashboard", str(tree), str(tmp_path / "nowhere"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out / "index.html")
    assert page_run_ids(out / "index.html") == fixture_ids()
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any(str(tree / "runs" / "crashed") in w and "incomplete run" in w for w in warnings)
    assert any(str(tmp_path / "nowhere") in w for w in warnings)
    assert "crashed: incomplete run" in (out / "index.html").read_text()


def test_runs_from_the_history_with_db_or_the_environment(tmp_path):
    db = tmp_path / "history.db"
    history = RunHistory(db)
    for path in sorted(RUNS.glob("*/summary.json")):
        history.record_run(read_summary(path))
    history.record_report({"tool": "vitis_hls", "resources": {"LUT": 1}}, tmp_path / "r.xml")
    result = run_cli("dashboard", "--db", str(db), "--out", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr
    assert page_run_ids(tmp_path / "a" / "index.html") == fixture_ids()
    result = run_cli("dashboard", "--out", str(tmp_path / "b"), cwd=tmp_path, env={DB_ENV: str(db)})
    assert result.returncode == 0, result.stderr
    assert page_run_ids(tmp_path / "b" / "index.html") == fixture_ids()


def test_run_dirs_and_db_together_show_each_run_once(tmp_path):
    db = tmp_path / "history.db"
    RunHistory(db).record_run(read_summary(RUNS / "cnn_digits_pynq-z2_rf1").model_copy(update={"run_id": "only-in-history"}))
    RunHistory(db).record_run(read_summary(RUNS / "cnn_digits_pynq-z2_rf2"))
    result = run_cli("dashboard", str(RUNS / "cnn_digits_pynq-z2_rf2"), "--db", str(db), "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "o" / "index.html").read_text()
    assert page_run_ids(tmp_path / "o" / "index.html") == {"only-in-history", "cnn_digits_pynq-z2_rf2"}
    assert html.count('<section class="run"') == 2


def test_an_empty_selection_writes_a_page_that_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("dashboard", str(tmp_path / "empty"), "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert "no runs found" in result.stderr
    assert 'id="empty"' in (tmp_path / "o" / "index.html").read_text()


def test_no_run_dirs_and_no_history_is_a_one_line_error(tmp_path):
    result = run_cli("dashboard", "--out", str(tmp_path / "o"), cwd=tmp_path, env={DB_ENV: ""})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: no run history at reports/fpga_flow.db")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "reports").exists()


def test_a_damaged_database_is_a_one_line_error_and_is_kept(tmp_path):
    db = tmp_path / "fpga_flow.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    before = db.read_bytes()
    result = run_cli("dashboard", "--db", str(db), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: run history") and "left untouched" in lines[0]
    assert db.read_bytes() == before
    assert not (tmp_path / "o").exists()


def test_the_build_cache_under_reports_is_not_mistaken_for_runs(tmp_path):
    from fpga_flow.cache import BuildCache
    from fpga_flow.dashboard import collect_runs

    cache = BuildCache(tmp_path / "reports" / "cache")
    payload = cache.folder / "entries" / "k" / "payload-1" / "hls_project"
    payload.mkdir(parents=True)
    summaries, warnings = collect_runs([tmp_path / "reports"])
    assert summaries == [] and not any("payload-1" in w for w in warnings)
