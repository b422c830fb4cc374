"""The notebooks run top to bottom with small parameters, on this interpreter, and are
committed without outputs; the public API they are written against (fpga_flow.api and
the package's lazy names) does what its docstrings say."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
ISSUE_NOTEBOOKS = {"01_cnn_train_export.ipynb", "02_lstm_train_export.ipynb", "03_attention_train_export.ipynb",
                   "04_reports_and_dashboard.ipynb", "05_tiny_resnet_train_build.ipynb"}
SMALL_TRAINING = {"EPOCHS": 4, "MAX_SAMPLES": 120}
SMALL = {
    "01_cnn_train_export.ipynb": SMALL_TRAINING,
    "02_lstm_train_export.ipynb": SMALL_TRAINING,
    "03_attention_train_export.ipynb": SMALL_TRAINING,
    # 04 runs on its own defaults: what the repository holds, as a user has it.
    "04_reports_and_dashboard.ipynb": {"MAX_SAMPLES": 120},
    # a ResNet on two cores: two epochs, a short C-simulation
    "05_tiny_resnet_train_build.ipynb": {"EPOCHS": 2, "MAX_SAMPLES": 60},
}
# Training curves, float baseline, confusion matrix, resources; for 04: the vendor
# projects, and the estimate against the vendor figures.
PLOTS = {"04_reports_and_dashboard.ipynb": 2}
PLOTS_TRAINING = 4


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
    assert ISSUE_NOTEBOOKS <= {path.name for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_with_a_parameters_cell(path: Path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"
    assert any("parameters" in cell.metadata.get("tags", []) for cell in book.cells)
    assert book.metadata["kernelspec"]["name"] == "fpga-flow", "the kernel `make install` registers"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_reads_only_the_repository_and_the_users_own_builds(path: Path):
    """../shared exists beside this checkout only: a user has the repository and what
    their builds write, nothing else."""
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        assert "shared" not in cell.source, f"{path.name}: {cell.source[:200]}"
    relative = [value for cell in book.cells if cell.cell_type == "code"
                for value in re.findall(r'"((?:\.\./|data/)[^"]*)"', cell.source)]
    for value in relative:
        assert (path.parent / value).resolve().is_relative_to(REPO), value
        if not value.startswith("../reports"):  # written by the notebook's own builds
            assert (path.parent / value).exists(), f"{path.name} names {value}, which the repository does not hold"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_story_uses_the_python_api_not_the_cli(path: Path):
    source = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    assert "from fpga_flow import api" in source
    for shelling_out in ("!fpga-flow", "subprocess", "os.system", "%%bash"):
        assert shelling_out not in source


def _outputs(book) -> tuple[list[str], int]:
    texts, images = [], 0
    for cell in book.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("name") == "stdout":
                texts.append(output["text"])
            images += "image/png" in output.get("data", {})
    return texts, images


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_end_to_end(path: Path, kernel, tmp_path, monkeypatch):
    import papermill

    from fpga_flow.history import RunHistory

    # The kernel inherits the environment: its builds record into this test's history.
    history_db = tmp_path / "fpga_flow.db"
    monkeypatch.setenv("FPGA_FLOW_DB", str(history_db))
    reports = tmp_path / "reports"
    executed = tmp_path / path.name
    papermill.execute_notebook(str(path), str(executed), parameters={**SMALL.get(path.name, {}), "REPORTS_DIR": str(reports)},
                               kernel_name=kernel, cwd=str(path.parent), progress_bar=False)

    texts, images = _outputs(nbformat.read(executed, as_version=4))
    assert images >= PLOTS.get(path.name, PLOTS_TRAINING), f"{path.name} drew {images} plots"
    last_line = "".join(texts).strip().splitlines()[-1]
    assert last_line.startswith("dashboard: ")
    assert Path(last_line.removeprefix("dashboard: ")).is_file()
    # the run cache (reports/cache) keeps a copy of each run it stored: api.build uses it
    summaries = [path for path in reports.rglob("summary.json") if path.relative_to(reports).parts[0] != "cache"]
    assert summaries, "the notebook built nothing"
    recorded = RunHistory(history_db, create=False).runs()
    assert sum(record["kind"] == "build" for record in recorded) == len(summaries)
    if path.name == "05_tiny_resnet_train_build.ipynb":  # issue 20: the default build is fitted to the PYNQ-Z2
        built = [json.loads(s.read_text()) for s in summaries]
        chosen = [(b["board"]["name"], b["fit"]["chosen"]["fits"], b["fit"]["chosen"]["io_type"]) for b in built]
        assert chosen == [("pynq-z2", True, "io_stream")]
        assert built[0]["fit"]["chosen"]["peak_pct"] <= 80 and not built[0]["estimate"]["unpriced_layers"]
    if path.name == "04_reports_and_dashboard.ipynb":
        reported = [record for record in recorded if record["kind"] == "report"]
        assert len(reported) >= 30
        reference = REPO / "notebooks" / "data" / "example-hls4ml" / "my-hls-test"
        assert [record["part"] for record in reported if record["source_path"] == str(reference)] == ["xcvu9p-flga2104-2L-e"]
        agreements = sorted(json.loads(s.read_text())["fidelity"]["csim_agreement"] for s in summaries)
        assert agreements[-1] >= 0.99, "the closure run agrees with Keras"


# --------------------------------------------------------------------------- the API


def test_import_fpga_flow_stays_light_and_names_load_on_use():
    script = ("import sys, fpga_flow\n"
              "assert 'tensorflow' not in sys.modules and 'fpga_flow.api' not in sys.modules\n"
              "from fpga_flow import recipes, parse_reports, BuildConfig, TrainedModel, api\n"
              "assert 'tensorflow' not in sys.modules\n"
              "assert {'cnn_digits', 'lstm_digits', 'attention_digits'} <= set(recipes())\n"
              "assert BuildConfig(model='cnn_digits', board='pynq-z2').precision_policy == 'closure'\n"
              "assert fpga_flow.api.boards()['pynq-z2'].part.startswith('xc7z020')\n"
              "try:\n    fpga_flow.no_such_name\nexcept AttributeError as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "no attribute 'no_such_name'" in result.stdout


@pytest.mark.parametrize("recipe", ["cnn_digits", "lstm_digits", "attention_digits"])
def test_float_baseline_has_the_architecture_without_quantizers(recipe):
    from fpga_flow.api import _dequantized
    from model_zoo import get_recipe

    chosen = get_recipe(recipe)
    data = chosen.dataset(chosen.training.seed)
    quantized = chosen.builder(data.input_shape, data.n_classes)
    plain = _dequantized(quantized)
    assert not [layer for layer in plain.layers
                if type(layer).__name__.startswith("Q") and type(layer).__name__ != "QMultiHeadSelfAttention"]
    assert plain.count_params() == quantized.count_params()
    assert plain.output_shape == quantized.output_shape
    for layer in plain.layers:
        config = layer.get_config()
        assert all(config[key] is None for key in config if key.endswith("_quantizer")), layer.name


def test_parse_reports_against_a_board_and_into_the_history(tmp_path):
    from fpga_flow import api
    from fpga_flow.history import RunHistory

    db = tmp_path / "history.db"
    builds = api.parse_reports(REPO / "tests" / "data" / "vendor_reports", board="pynq-z2", history_db=db)
    assert builds and all(build["board"] == "pynq-z2" for build in builds)
    lut = next(b for b in builds if b["resources"]["LUT"])
    assert lut["board_utilization_pct"]["LUT"] == round(100 * lut["resources"]["LUT"] / 53200, 2)
    records = RunHistory(db, create=False).runs(kind="report")
    assert len(records) == len(builds)
    page = api.dashboard([REPO / "tests" / "data" / "runs"], tmp_path / "dashboard", history_db=db)
    assert page.is_file() and "cnn_digits" in page.read_text()


def test_float_activations_follow_the_quantized_ones():
    from fpga_flow.api import _float_activation

    assert _float_activation({"class_name": "quantized_relu", "config": {"bits": 8}}) == "relu"
    assert _float_activation("quantized_tanh(8, 1)") == "tanh"
    assert _float_activation({"class_name": "quantized_sigmoid", "config": {}}) == "sigmoid"
    assert _float_activation({"class_name": "quantized_bits", "config": {}}) == "linear"
    assert _float_activation("softmax") == "softmax"
