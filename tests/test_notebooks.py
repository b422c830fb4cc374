"""The notebooks run top to bottom with small parameters, on this interpreter, and are
committed without outputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, SHARED

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
SMALL = {
    "01_cnn_train_export.ipynb": {"EPOCHS": 6, "MAX_SAMPLES": 120},
    "02_lstm_train_export.ipynb": {"EPOCHS": 6, "MAX_SAMPLES": 120},
    "03_attention_train_export.ipynb": {"EPOCHS": 6, "MAX_SAMPLES": 120},
    "04_reports_and_dashboard.ipynb": {"EPOCHS": 6, "MAX_SAMPLES": 120, "VENDOR_REPORTS": str(SHARED / "vendor_reports")},
}


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernelspec for this very interpreter (the venv), found through JUPYTER_PATH."""
    import os

    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "fpga-flow-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fpga-flow test", "language": "python",
    }))
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(root)
    yield "fpga-flow-test"
    if previous is None:
        os.environ.pop("JUPYTER_PATH")
    else:
        os.environ["JUPYTER_PATH"] = previous


def test_every_issue_notebook_is_here():
    names = {path.name for path in NOTEBOOKS}
    assert {"01_cnn_train_export.ipynb", "02_lstm_train_export.ipynb", "03_attention_train_export.ipynb",
            "04_reports_and_dashboard.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_with_a_parameters_cell(path: Path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"
    assert any("parameters" in cell.metadata.get("tags", []) for cell in book.cells)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_end_to_end(path: Path, kernel, tmp_path):
    import papermill

    parameters = {**SMALL.get(path.name, {}), "REPORTS_DIR": str(tmp_path / "reports")}
    executed = tmp_path / path.name
    papermill.execute_notebook(str(path), str(executed), parameters=parameters, kernel_name=kernel,
                               cwd=str(path.parent), progress_bar=False)
    book = nbformat.read(executed, as_version=4)
    text = "\n".join(output.get("text", "") for cell in book.cells if cell.cell_type == "code"
                     for output in cell.outputs)
    assert "dashboard" in text
    assert list((tmp_path / "reports").rglob("summary.json")), "the notebook built nothing"
