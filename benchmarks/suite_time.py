"""Time of the test suite by file and by test: wall time and CPU time (the test process's
and its subprocesses': builds, g++, Verilator), so a run on a busy machine still says what
each file costs. The suite's target is ``make test`` in at most 15 minutes on 2 cores;
with ``--dist loadfile`` a file runs on one worker, so the largest file bounds the wall time.

    python benchmarks/suite_time.py [--json] [--log FILE] [-- PYTEST ARGS]   # default: the whole suite as make test runs it
    python benchmarks/suite_time.py --from-basetemp /tmp/pytest-of-USER/pytest-N --wall S [--json]  # a finished run
    python benchmarks/suite_time.py --from-log FILE   # an earlier run's --log: only tests/file_costs.json

Runs pytest with this file as a plugin (``-p suite_time``), which writes one JSON line per
test (setup, call and teardown together: a module's fixtures count in its first test, a
session's in the first test that asks for them) to a log, then prints the files by CPU
time, the slowest tests and the totals. ``--json`` writes the figures to
``benchmarks/results/suite_time.json``, the table to ``docs/measured/suite_time.md`` and each
file's CPU seconds to ``tests/file_costs.json``, the order in which the suite hands files to
its workers (largest first: tests/conftest.py, ``--file-order``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOG_ENV = "SUITE_TIME_LOG"
FILE_COSTS = REPO / "tests" / "file_costs.json"


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# --------------------------------------------------------------------------- the plugin


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    path = os.environ.get(LOG_ENV)
    start, cpu = time.perf_counter(), _cpu()
    yield
    if path:
        record = {"test": item.nodeid, "file": item.nodeid.split("::")[0], "wall_s": time.perf_counter() - start,
                  "cpu_s": _cpu() - cpu, "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
                  "slow": item.get_closest_marker("slow") is not None}
        with open(path, "a") as log:
            log.write(json.dumps(record) + "\n")


# --------------------------------------------------------------------------- the script


def summarize(records: list[dict], wall_s: float, returncode: int) -> dict:
    files: dict[str, dict] = defaultdict(lambda: {"tests": 0, "wall_s": 0.0, "cpu_s": 0.0, "slow_cpu_s": 0.0})
    workers: dict[str, float] = defaultdict(float)
    for r in records:
        f = files[r["file"]]
        f["tests"] += 1
        f["wall_s"] += r["wall_s"]
        f["cpu_s"] += r["cpu_s"]
        f["slow_cpu_s"] += r["cpu_s"] if r["slow"] else 0.0
        workers[r["worker"]] += r["wall_s"]
    return {
        "pytest_exit": returncode, "wall_s": round(wall_s, 1), "tests": len(records),
        "cpu_s": round(sum(r["cpu_s"] for r in records), 1),
        "fast_cpu_s": round(sum(r["cpu_s"] for r in records if not r["slow"]), 1),
        "busy_s_by_worker": {w: round(s, 1) for w, s in sorted(workers.items())},
        "files": {name: {k: round(v, 1) if isinstance(v, float) else v for k, v in f.items()}
                  for name, f in sorted(files.items(), key=lambda kv: -kv[1]["cpu_s"])},
        "slowest_tests": sorted(({"test": r["test"], "cpu_s": round(r["cpu_s"], 1), "wall_s": round(r["wall_s"], 1)}
                                 for r in records), key=lambda r: -r["cpu_s"])[:25],
    }


def from_basetemp(basetemp: Path, wall_s: float) -> dict:
    """Per-file wall seconds of a finished xdist run, from its pytest folder (no log needed):
    every test file opens with its own run history (conftest's autouse module fixture makes
    ``history<N>`` in the worker's folder), so on each worker a file runs from its
    ``history`` folder's creation to the next one's (the last to ``wall_s`` after the
    session folder's). The file is named from the first test folder made inside that span
    (``?`` for a file whose tests make none)."""
    tests = {match.group(1): path.name for path in (REPO / "tests").glob("test_*.py")
             for match in re.finditer(r"^\s*def (test_\w+)\(", path.read_text(encoding="utf-8"), re.MULTILINE)}
    end = _birth(basetemp) + wall_s
    files: dict[str, float] = defaultdict(float)
    workers: dict[str, float] = {}
    for worker in sorted(p for p in basetemp.glob("popen-gw*") if p.is_dir()):
        made = sorted((_birth(path), path.name) for path in worker.iterdir())
        starts = [i for i, (_, name) in enumerate(made) if re.fullmatch(r"history\d+", name)]
        for k, i in enumerate(starts):
            stop = made[starts[k + 1]][0] if k + 1 < len(starts) else end
            inside = [name for _, name in made[i + 1:starts[k + 1] if k + 1 < len(starts) else None]]
            name = next((tests[t] for n in inside for t in tests if t.startswith(re.sub(r"(\d+|current)$", "", n))), "?")
            files[name] += stop - made[i][0]
        workers[worker.name] = round(end - made[0][0], 1) if made else 0.0
    return {"wall_s": wall_s, "busy_s_by_worker": workers,
            "files": {n: round(s, 1) for n, s in sorted(files.items(), key=lambda kv: -kv[1])}}


def _birth(path: Path) -> float:
    """When ``path`` was made (statx birth time, through stat(1): Python 3.11 has no st_birthtime on Linux)."""
    return float(subprocess.run(["stat", "-c", "%W", str(path)], capture_output=True, text=True, check=True).stdout)


def markdown(result: dict) -> str:
    lines = ["<!-- generated by benchmarks/suite_time.py; do not edit -->", "",
             f"Suite: {result['tests']} tests, pytest exit {result['pytest_exit']}, {result['wall_s']:.0f} s wall, "
             f"{result['cpu_s']:.0f} s CPU (tests and their subprocesses; {result['fast_cpu_s']:.0f} s in tests "
             "not marked slow).", "",
             "| file | tests | CPU s | of which slow-marked | wall s |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, f in result["files"].items():
        lines.append(f"| {name} | {f['tests']} | {f['cpu_s']:.0f} | {f['slow_cpu_s']:.0f} | {f['wall_s']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true",
                        help="write benchmarks/results/suite_time.json and docs/measured/suite_time.md")
    parser.add_argument("--log", type=Path, help="keep the per-test log (JSON lines, in the order each worker ran them) here")
    parser.add_argument("--from-basetemp", type=Path, metavar="DIR",
                        help="no run: per-file wall seconds of a finished run from its pytest folder "
                             "(e.g. /tmp/pytest-of-USER/pytest-N), with --wall S its pytest wall time")
    parser.add_argument("--wall", type=float, default=0.0)
    parser.add_argument("--from-log", type=Path, metavar="FILE", help="no run: the figures of the log --log kept")
    parser.add_argument("pytest_args", nargs="*", help="after --: pytest's arguments (default: -q -n 2 --dist loadfile)")
    args = parser.parse_args()
    if args.from_basetemp is not None:
        result = from_basetemp(args.from_basetemp, args.wall)
        lines = ["<!-- generated by benchmarks/suite_time.py; do not edit -->", "",
                 f"Wall seconds per test file of a finished run ({args.wall:.0f} s of pytest), read from its "
                 "pytest folder (`--from-basetemp`): a file runs from its run history's folder to the next "
                 "file's on the same worker. `?`: files whose tests make no folder.", "",
                 "| file | wall s |", "| --- | ---: |"] + [f"| {n} | {s:.0f} |" for n, s in result["files"].items()]
        print("\n".join(lines))
        if args.json:
            (REPO / "docs" / "measured" / "suite_time.md").write_text("\n".join(lines) + "\n")
        return 0
    if args.from_log is not None:
        result = summarize([json.loads(line) for line in args.from_log.read_text().splitlines()], 0.0, 0)
        write_costs(result)
        print(f"{FILE_COSTS.relative_to(REPO)}: {len(result['files'])} files, {result['cpu_s']:.0f} s CPU")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "tests.jsonl"
        env = {**os.environ, LOG_ENV: str(log), "PYTHONPATH": os.pathsep.join(filter(None, [
            str(REPO / "benchmarks"), os.environ.get("PYTHONPATH")]))}
        start = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", "pytest", "-p", "suite_time",
                                *(args.pytest_args or ["-q", "-n", "2", "--dist", "loadfile"])], cwd=REPO, env=env)
        wall = time.perf_counter() - start
        records = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
        if args.log is not None and log.is_file():
            args.log.write_text(log.read_text())
    report(summarize(records, wall, code), args.json)
    return code


def report(result: dict, write: bool) -> None:
    print(markdown(result))
    print("slowest tests (CPU s, wall s):")
    for r in result["slowest_tests"]:
        print(f"  {r['cpu_s']:8.1f} {r['wall_s']:8.1f}  {r['test']}")
    print(f"busy time by worker (s): {result['busy_s_by_worker']}")
    if write:
        out = REPO / "benchmarks" / "results" / "suite_time.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        page = REPO / "docs" / "measured" / "suite_time.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(markdown(result))
        write_costs(result)


def write_costs(result: dict) -> None:
    FILE_COSTS.write_text(json.dumps({
        "about": "CPU seconds per test file (its tests, their fixtures and subprocesses) written by "
                 "benchmarks/suite_time.py: the suite hands the largest to its workers first",
        "cpu_s": {name: f["cpu_s"] for name, f in result["files"].items()}}, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
