"""The package as a user installs it: a wheel built from the repository's tracked files
carries every data file under fpga_flow/, and installed (not editable) into a fresh
virtual environment it lists the board catalogue and builds an attention model from
another folder.

The fresh environment gets its dependencies (TensorFlow, hls4ml, ...) through a ``.pth``
line naming the running interpreter's site-packages: a ``.pth`` path is added to
``sys.path`` after the environment's own site-packages and its own ``.pth`` files are
not run, so the editable fpga_flow installed there stays out of sight (checked below).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from fpga_flow.summary import read_summary

pytestmark = pytest.mark.slow
BOARDS_IN_CATALOGUE = 14  # 11 Xilinx boards and 3 ECP5 boards (open tools)


def outside_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout on PYTHONPATH (tests run with it there):
    pip would take an ``fpga_flow.egg-info`` in the checkout for an installed fpga-flow."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "FPGA_FLOW_BOARDS_DIR")}
    return {**env, **extra}


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [name for name in out.split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built, as from a fresh clone, from a copy of the tracked files (a stale
    ``build/`` folder in the working tree cannot leak into it)."""
    source = tmp_path_factory.mktemp("clone")
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    # No build isolation: an isolated build would fetch setuptools from the network.
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                             "-w", str(dist)], capture_output=True, text=True, env=outside_env())
    assert result.returncode == 0, result.stderr[-3000:]
    [built] = dist.glob("fpga_flow-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A fresh virtual environment with the wheel installed, and the environment to run it in."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", str(wheel)],
                            capture_output=True, text=True, env=outside_env())
    assert result.returncode == 0, result.stderr[-3000:]
    own = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip())
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (own / "fpga_flow_test_dependencies.pth").write_text("\n".join(sorted(dependencies)) + "\n")
    env = outside_env(TF_CPP_MIN_LOG_LEVEL="3", PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    return {"venv": venv, "python": python, "site": own, "env": env, "cwd": tmp_path_factory.mktemp("elsewhere")}


def run_installed(installed: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed["venv"] / "bin" / "fpga-flow"), *args], cwd=installed["cwd"],
                          env=installed["env"], capture_output=True, text=True, timeout=900)


def test_the_wheel_holds_every_tracked_file_of_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    package_files = [name for name in tracked_files() if name.startswith(("fpga_flow/", "model_zoo/"))]
    missing = [name for name in package_files if name not in names]
    assert not missing, f"tracked package files missing from the wheel: {missing}"
    assert "fpga_flow/attention/nnet_qmhsa.h" in names
    assert len([n for n in names if n.startswith("fpga_flow/board_configs/") and n.endswith(".yaml")]) \
        == BOARDS_IN_CATALOGUE
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_installed_package_is_the_wheels_not_the_checkout(installed):
    result = subprocess.run([str(installed["python"]), "-c", "import fpga_flow, model_zoo; "
                             "print(fpga_flow.__file__); print(model_zoo.__file__)"],
                            cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    for line in result.stdout.split():
        assert Path(line).is_relative_to(installed["site"]), line


def test_installed_boards_lists_the_catalogue_from_another_folder(installed, tmp_path):
    result = run_installed(installed, "boards", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    names = [board["name"] for board in json.loads(result.stdout)]
    assert len(names) == BOARDS_IN_CATALOGUE and "pynq-z2" in names
    table = run_installed(installed, "boards")
    assert f"{BOARDS_IN_CATALOGUE} boards" in table.stdout
    # A user's folder still adds boards to the shipped catalogue.
    shipped = json.loads(result.stdout)[names.index("pynq-z2")]
    (tmp_path / "mine.json").write_text("")  # not a board file: ignored
    (tmp_path / "mine.yaml").write_text(json.dumps({**shipped, "name": "my-board"}))
    extra = run_installed(installed, "boards", "--json", "--boards-dir", str(tmp_path))
    assert extra.returncode == 0, extra.stderr[-2000:]
    assert len(json.loads(extra.stdout)) == BOARDS_IN_CATALOGUE + 1


def test_installed_package_builds_an_attention_model(installed, tmp_path):
    """The attention kernel (nnet_qmhsa.h) is package data: the build compiles it."""
    from test_attention import small_model

    small_model().save(tmp_path / "attention.h5")
    out = tmp_path / "run"
    result = run_installed(installed, "build", str(tmp_path / "attention.h5"), "--board", "pynq-z2", "--out", str(out),
                           "--precision-policy", "default", "--min-agreement", "0", "--max-samples", "20",
                           "--reports-dir", str(tmp_path / "reports"), "--no-cache", "--allow-over-budget", "--json")
    # The attention layer alone is over the PYNQ-Z2's DSPs by estimate: the build is made
    # anyway (--allow-over-budget), since what is tested is that the kernel compiles.
    assert result.returncode == 0, result.stderr[-3000:]
    summary = read_summary(out)
    assert "QMultiHeadSelfAttention" in summary.model.layer_families
    assert (out / "hls_project" / "firmware" / "nnet_utils" / "nnet_qmhsa.h").is_file()
    assert Path(summary.artifacts["csim_library"]).is_file()
    assert np.isfinite(summary.fidelity.max_abs_error)
    # The output is 6 x 8 per sample: the testbench's flattened values match the bridge's
    # (up to the 6 significant digits the testbench prints).
    assert summary.fidelity.testbench_agreement == summary.fidelity.csim_agreement
    assert summary.fidelity.testbench_vs_bridge_max_abs < 1e-4
