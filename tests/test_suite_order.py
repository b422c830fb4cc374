"""The order the suite hands its files to the workers: by measured cost, largest first
(so two workers finish together), tests within a file in pytest-randomly's order; or
pytest-randomly's file order with ``--file-order random``."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import FILE_COSTS, REPO

FILES = ["tests/test_docs.py", "tests/test_boards.py", "tests/test_summary.py", "tests/test_history.py"]


def collected(*options: str) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             *options, *FILES], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


def files_of(items: list[str]) -> list[str]:
    order = []
    for item in items:
        name = item.split("::")[0]
        if not order or order[-1] != name:
            order.append(name)
    return order


def test_files_run_largest_first_and_each_files_tests_stay_together():
    costs = json.loads(FILE_COSTS.read_text())["cpu_s"]
    assert set(FILES) <= set(costs), "the cost table lists the suite's files (benchmarks/suite_time.py)"
    runs = [collected(f"--randomly-seed={seed}") for seed in (1, 2)]
    for items in runs:
        order = files_of(items)
        assert sorted(order) == sorted(FILES), order  # each file once: its tests are contiguous
        assert [costs[name] for name in order] == sorted((costs[name] for name in FILES), reverse=True)
    assert runs[0] != runs[1]  # pytest-randomly still shuffles the tests inside a file


def test_random_file_order_is_pytest_randomlys():
    orders = {tuple(files_of(collected("--file-order", "random", f"--randomly-seed={seed}"))) for seed in range(1, 4)}
    assert len(orders) > 1 and all(sorted(order) == sorted(FILES) for order in orders)
