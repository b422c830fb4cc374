"""``fpga-flow sweep`` on a real Dask LocalCluster of 2 worker processes: points in the
history and on the dashboard, a failing point recorded while the others finish, a worker
killed in the middle of a point, and Ctrl-C.

The points are builds of the zoo's smallest model, mlp_tiny (a build of it costs about a
third of the digits CNN's): what is tested is the sweep around the builds, which the
build tests cover; benchmarks/sweep.py sweeps the CNN."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, interruptible, reports_folder, run_cli
from fpga_flow import sweep
from fpga_flow.summary import read_summary

pytestmark = pytest.mark.slow

MODEL = "mlp_tiny"
EPOCHS = 4  # what is built matters here, not how well it learned


@pytest.fixture(scope="module")
def sweep_reports(session_store, tmp_path_factory) -> Path:
    """This file's reports folder, holding the session's mlp_tiny export."""
    return reports_folder(session_store, tmp_path_factory.mktemp("reports"), (MODEL, EPOCHS))

# A board hls4ml cannot target: its accelerator overlay is not one hls4ml knows, so
# every point on it fails in conversion, after the points before it started.
UNKNOWN_OVERLAY_BOARD = """\
name: no-overlay
vendor: AMD
description: a Zynq part with an accelerator overlay hls4ml does not know
part: xc7z020clg400-1
family: zynq
clock_period_ns: 10.0
resources: {LUT: 53200, FF: 106400, DSP: 220, BRAM_18K: 280, URAM: 0}
backend: VivadoAccelerator
accelerator_board: no-such-overlay
"""


def _history_rows(run_ids: set[str]) -> list[dict]:
    from fpga_flow.history import RunHistory

    return [row for row in RunHistory(os.environ["FPGA_FLOW_DB"]).runs() if row["run_id"] in run_ids]


def test_sweep_on_two_workers_records_every_point_and_goes_on_past_a_failing_one(sweep_reports, tmp_path):
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "no-overlay.yaml").write_text(UNKNOWN_OVERLAY_BOARD)
    out = tmp_path / "sweep"
    result = run_cli("sweep", MODEL, "--board", "pynq-z2,no-overlay", "--boards-dir", str(boards),
                     "--reuse-factor", "1,4", "--precision-policy", "default", "--max-samples", "40",
                     # the reuse factors as given: each point's status says whether it fits
                     "--no-fit", "--allow-over-budget",
                     "--min-agreement", "0.5", "--epochs", str(EPOCHS), "--workers", "2",
                     "--reports-dir", str(sweep_reports), "--cache-dir", str(tmp_path / "cache"), "--out", str(out))
    assert result.returncode == 1, result.stderr[-3000:]  # some points failed
    assert "Traceback" not in result.stderr

    table = json.loads((out / "sweep.json").read_text())
    assert table["complete"] is True and table["points_planned"] == 4
    rows = {(row["board"], row["reuse_factor"]): row for row in table["points"]}
    assert set(rows) == {("pynq-z2", 1), ("pynq-z2", 4), ("no-overlay", 1), ("no-overlay", 4)}
    for rf in (1, 4):
        failed = rows[("no-overlay", rf)]
        assert failed["status"] == "error" and "supported_boards.json" in failed["error"]
        assert failed["failed_stage"] == "convert"
        assert (Path(failed["run_dir"]) / "INCOMPLETE").exists() and not (Path(failed["run_dir"]) / "summary.json").exists()
        done = rows[("pynq-z2", rf)]
        summary = read_summary(done["run_dir"])
        assert done["status"] == ("passed" if summary.checks.fit_budget.passed else "does_not_fit")
        assert done["csim_agreement"] >= 0.5 and done["est_LUT"] > 0 and summary.checks.csim_agreement.passed
        assert summary.hls.reuse_factor == rf and summary.run_id == done["run_id"]
    assert rows[("pynq-z2", 1)]["status"] == "passed"  # LUT about 21% of the PYNQ-Z2 by estimate

    with (out / "sweep.csv").open() as fh:
        csv_rows = list(csv.DictReader(fh))
    assert sorted(row["status"] for row in csv_rows) == sorted(row["status"] for row in table["points"])
    assert sorted(row["status"] for row in csv_rows).count("error") == 2

    done_ids = {rows[("pynq-z2", rf)]["run_id"] for rf in (1, 4)}
    history = _history_rows(done_ids)
    assert {row["run_id"] for row in history} == done_ids
    assert {row["kind"] for row in history} == {"sweep_point"}
    page = (out / "dashboard" / "index.html").read_text()
    assert all(f'data-run-id="{run_id}"' in page for run_id in done_ids)


def _kill_the_worker_running(cluster_address: str, key: str, run_dir: Path, stage: str, killed: dict) -> None:
    """When ``run_dir``'s build reaches ``stage``, SIGKILL the worker process running ``key``."""
    from distributed import Client

    with Client(cluster_address) as client:
        deadline = time.time() + 600
        while time.time() < deadline:
            try:
                marker = (run_dir / "INCOMPLETE").read_text()
            except FileNotFoundError:
                marker = ""
            if marker.strip() == f"stage: {stage}":
                executing = client.run(lambda dask_worker: [ts.key for ts in dask_worker.state.executing])
                pids = client.run(os.getpid)
                address = next((a for a, keys in executing.items() if key in keys), None)
                if address is not None:
                    os.kill(pids[address], signal.SIGKILL)
                    killed["pid"] = pids[address]
                    return
            time.sleep(0.05)


def test_a_worker_killed_during_a_point_is_retried_and_leaves_nothing_corrupt(sweep_reports, tmp_path, no_shared_objects):
    from distributed import Client, LocalCluster

    from fpga_flow.cache import BuildCache
    from fpga_flow.sweep import plan_sweep, run_sweep

    plan = plan_sweep(MODEL, ["pynq-z2"], [1, 4], precision_policies=["default"], out=tmp_path / "sweep",
                      reports_dir=sweep_reports, epochs=EPOCHS, max_samples=40, min_agreement=0.5,
                      cache_dir=tmp_path / "cache", fit=False, allow_over_budget=True)
    victim = plan.points[0]
    victim_dir = plan.configs[0].out
    killed: dict = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        # Killed while it compiles: the run directory and the cache entry are both half-written.
        killer = threading.Thread(target=_kill_the_worker_running, daemon=True,
                                  args=(cluster.scheduler_address, f"{plan.sweep_id}-{victim.name}", victim_dir,
                                        "compile", killed))
        killer.start()
        result = run_sweep(plan, scheduler=cluster.scheduler_address)
        killer.join(timeout=5)
        with Client(cluster) as client:
            worker_pids = set(client.run(os.getpid).values())

    assert killed.get("pid"), "the point finished before its worker could be killed"
    assert killed["pid"] not in worker_pids and len(worker_pids) == 2  # the nanny started a new worker
    # Built to the end, both points.
    statuses = [row.status for row in sorted(result.rows, key=lambda r: r.point)]
    assert statuses == ["passed", "passed"]
    summary = read_summary(victim_dir)
    assert not (victim_dir / "INCOMPLETE").exists()
    assert summary.cache.hit is False  # the killed attempt left no entry to reuse
    assert Path(summary.artifacts["csim_library"]).is_file()

    cache = BuildCache(tmp_path / "cache")
    info = cache.info()
    assert info.unfinished == 0
    # One design entry per point; the compiled objects are kept apart (kind "object"), beside
    # the headers they share, precompiled once (kind "prelude": the points differ in reuse only).
    assert set(info.by_kind) == {"design", "object", "prelude"} and info.by_kind["design"]["entries"] == 2
    assert info.by_kind["prelude"]["entries"] == 1
    for manifest in cache.entries():
        folder = cache.folder / "entries" / manifest["key"]
        expected = ["entry.json"] + ([manifest["payload"]] if manifest["payload"] else [])
        assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
    run_ids = {row.run_id for row in result.rows}
    assert len(_history_rows(run_ids)) == 2


def test_ctrl_c_stops_the_sweep_and_keeps_finished_points(sweep_reports, tmp_path):
    out = tmp_path / "sweep"
    process = interruptible(
        sys.executable, "-m", "fpga_flow", "sweep", MODEL, "--board", "pynq-z2", "--reuse-factor", "1,2,4,8,16",
         "--precision-policy", "default", "--max-samples", "40", "--min-agreement", "0.5", "--epochs", str(EPOCHS),
         "--no-fit", "--reports-dir", str(sweep_reports), "--cache-dir", str(tmp_path / "cache"), "--out", str(out),
        cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        try:
            if json.loads((out / "sweep.json").read_text())["points"]:
                break
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.2)
    assert process.poll() is None, "the sweep ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr

    table = json.loads((out / "sweep.json").read_text())
    assert table["complete"] is False and len(table["points"]) == 5
    finished = [row for row in table["points"] if row["status"] in ("passed", "does_not_fit")]
    cancelled = [row for row in table["points"] if row["status"] == "cancelled"]
    assert finished and cancelled and len(finished) + len(cancelled) == 5
    for row in finished:
        assert (Path(row["run_dir"]) / "summary.json").is_file() and not (Path(row["run_dir"]) / "INCOMPLETE").exists()
    for row in cancelled:
        assert not (Path(row["run_dir"]) / "summary.json").exists()
    assert len(_history_rows({row["run_id"] for row in finished})) == len(finished)


def test_sweep_option_mistakes_are_one_line_errors(tmp_path, monkeypatch):
    # run_cli runs the command in this process: the unreachable scheduler is given up on
    # after 1 s instead of the 10 s a user's remote scheduler gets.
    monkeypatch.setattr(sweep, "SCHEDULER_TIMEOUT_S", 1)
    cases = [
        (("--board", "pynq-z2", "--reuse-factor", "1,x"), "--reuse-factor"),
        (("--board", "pynq-z2", "--strategy", "Latency,Fast"), "--strategy"),
        (("--board", "pynq-z2,pynq-z2"), "repeated"),
        (("--board", "pynq-z1"), "unknown board 'pynq-z1'"),
        (("--board", "pynq-z2", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"), "not both"),
        (("--board", "pynq-z2", "--scheduler", "tcp://127.0.0.1:1"), "cannot reach the Dask scheduler"),
    ]
    for options, message in cases:
        result = run_cli("sweep", MODEL, *options, "--reports-dir", str(tmp_path), "--out", str(tmp_path / "s"))
        assert result.returncode == 2, (options, result.stderr[-2000:])
        assert message in result.stderr and "Traceback" not in result.stderr, (options, result.stderr[-2000:])
