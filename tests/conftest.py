"""Shared fixtures: the repository's paths, a CLI runner, and a CNN trained once per session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CNN_EPOCHS = 12


@pytest.fixture(scope="session", autouse=True)
def isolated_history(tmp_path_factory):
    """Builds and report parsing record into a run history; keep the tests' rows out of
    the repository's reports/fpga_flow.db."""
    path = tmp_path_factory.mktemp("history") / "fpga_flow.db"
    previous = os.environ.get("FPGA_FLOW_DB")
    os.environ["FPGA_FLOW_DB"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("FPGA_FLOW_DB", None)
    else:
        os.environ["FPGA_FLOW_DB"] = previous


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``fpga-flow`` as a user would, in a subprocess."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fpga_flow", *args],
        cwd=cwd or REPO, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="session")
def reports_root(tmp_path_factory) -> Path:
    """A reports folder holding a cnn_digits export trained once for the session."""
    root = tmp_path_factory.mktemp("reports")
    result = run_cli("train", "cnn_digits", "--epochs", str(CNN_EPOCHS), "--out", str(root / "zoo" / "cnn_digits"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["test_accuracy"] > 0.9
    return root


@pytest.fixture(scope="session")
def cnn_pynq_z2_build(reports_root) -> tuple[Path, subprocess.CompletedProcess]:
    """``fpga-flow build cnn_digits --board pynq-z2`` once for the session (test_build_cnn
    reads it; the deploy tests deploy a copy of it), and the finished process. It runs in
    the folder that holds the reports folder and names both folders relatively, as a user
    typing ``--reports-dir reports`` does: nothing the run records may depend on that folder."""
    out = reports_root.parent / "cnn_pynq-z2"
    # Cold (--no-cache): other tests build this design into the same reports folder's cache,
    # in an order the test workers decide, and a cached build times none of its steps.
    result = run_cli("build", "cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS),
                     "--reports-dir", reports_root.name, "--out", out.name, "--no-cache", "--json",
                     cwd=reports_root.parent)
    return out, result
