"""``fpga-flow build cnn_digits --board pynq-z2`` then ``fpga-flow deploy`` on its run
directory, ``check_on_board.py --simulate`` inside the bundle, and ``fpga-flow deploy
--record`` bringing its results back to the run page and the run history: real training,
real conversion, real g++ compiles, the driver's own transport code against the compiled
AXI wrapper. Also the refusals: a board without an accelerator design, an unpassed or
unfinished build, an existing bundle, --bitstream without Vivado, results of another run
or bundle.

One build serves the session (conftest.cnn_pynq_z2_build, shared with test_build_cnn),
one deploy of a copy of it serves this module; every check run writes its results to a
file of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter

from conftest import REPO, run_cli
from fpga_flow.deploy import standin
from fpga_flow.deploy.board import driver
from fpga_flow.history import RunHistory
from fpga_flow.summary import read_summary
from test_dashboard import Dom

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cnn_run(cnn_pynq_z2_build, isolated_history, tmp_path_factory) -> Path:
    """A copy of the session's run (same folder name, so the same run id): deploy writes
    into the run it deploys, and test_build_cnn reads the original as the build left it.
    The run is recorded into this file's run history, as the build recorded it into its own."""
    out, result = cnn_pynq_z2_build
    assert result.returncode == 0, result.stderr[-2000:]
    copy = tmp_path_factory.mktemp("deploy") / out.name
    shutil.copytree(out, copy)
    RunHistory(isolated_history).record_run(read_summary(copy))
    return copy


@dataclass(frozen=True)
class Deployed:
    path: Path
    printed: dict  # deploy --json
    summary_json: str  # the run's summary.json, page and history record just after deploy
    page: str
    history_summary: dict


@pytest.fixture(scope="module")
def deployed(cnn_run, isolated_history) -> Deployed:
    # From the repository: another folder than the one the build ran in.
    result = run_cli("deploy", str(cnn_run), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    return Deployed(cnn_run / "bundle", json.loads(result.stdout), (cnn_run / "summary.json").read_text(),
                    (cnn_run / "dashboard.html").read_text(),
                    RunHistory(isolated_history).get(cnn_run.name)["summary"])


@pytest.fixture(scope="module")
def bundle(deployed) -> Path:
    return deployed.path


@pytest.fixture(scope="module")
def simulated(bundle, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``python check_on_board.py --simulate`` in the bundle, as a user runs it."""
    path = tmp_path_factory.mktemp("check") / driver.RESULTS_FILE
    return check_on_board(bundle, "--simulate", "--results", str(path)), path


def check_on_board(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "check_on_board.py", *args], cwd=bundle, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=900)


def check_into(bundle: Path, folder: Path) -> tuple[subprocess.CompletedProcess, dict, Path]:
    """``check_on_board.py --simulate`` with its results in ``folder``."""
    path = folder / driver.RESULTS_FILE
    result = check_on_board(bundle, "--simulate", "--results", str(path))
    return result, json.loads(path.read_text()), path


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# --------------------------------------------------------------------------- the bundle


def test_deploy_writes_a_complete_bundle(bundle):
    for name in ("bundle.json", "README.md", "driver.py", "check_on_board.py", "build_bitstream.sh",
                 driver.INPUTS_FILE, driver.INPUT_WORDS_FILE, driver.EXPECTED_WORDS_FILE,
                 "hls_project/design.tcl", "hls_project/firmware/myproject_axi.cpp"):
        assert (bundle / name).is_file(), name
    assert not (bundle / driver.INCOMPLETE_FILE).exists()
    TypeAdapter(driver.BundleManifest).validate_json((bundle / driver.MANIFEST_FILE).read_text())
    assert (bundle / "driver.py").read_bytes() == Path(driver.__file__).read_bytes()
    assert subprocess.run(["bash", "-n", str(bundle / "build_bitstream.sh")]).returncode == 0
    readme = (bundle / "README.md").read_text()
    assert "python3 check_on_board.py" in readme and "bash build_bitstream.sh" in readme and "sudo -i" in readme


def test_deploy_runs_from_another_folder_than_the_build(cnn_pynq_z2_build, deployed):
    """The build ran beside its reports folder and named it relatively; deploy ran from the
    repository. The model file is recorded absolute, so deploy found it."""
    out, _ = cnn_pynq_z2_build
    reports_root = out.parent / "reports"
    summary = read_summary(out)
    assert not summary.config.reports_dir.is_absolute()  # the build was given a relative folder
    assert Path(summary.model.source) == reports_root / "zoo" / "cnn_digits" / "model.h5"
    assert Path(summary.model.source).is_file() and reports_root.parent != REPO
    assert deployed.printed["bundle_dir"] == str(deployed.path)


def test_word_types_are_the_types_the_run_recorded(cnn_run, bundle):
    summary = read_summary(cnn_run)
    manifest = driver.read_manifest(bundle)
    precisions = summary.precision.layer_precisions
    assert manifest.input.model_type.cpp() == precisions["image"]["result"]
    assert manifest.output.model_type.cpp() == precisions["softmax"]["result"]
    assert (manifest.input.values_per_sample, manifest.output.values_per_sample) == (64, 10)
    assert manifest.input.word_type.width == manifest.output.word_type.width == 32
    assert manifest.provenance.firmware_identical_to_run
    assert manifest.provenance.csim_values_matched == summary.data.n_eval * 10
    # Same network, weights, flags and g++: the run's library was linked, not compiled again.
    assert manifest.provenance.run_csim == "linked"


def test_expected_words_are_the_runs_csimulation(cnn_run, bundle):
    """Read back with the driver, the expected words are the outputs of the run's own
    compiled C-simulation library (through its float AXI wrapper, hence float32)."""
    from fpga_flow.csim import Bridge

    summary = read_summary(cnn_run)
    manifest = driver.read_manifest(bundle)
    X = np.load(bundle / driver.INPUTS_FILE)
    tb_inputs = np.loadtxt(cnn_run / "hls_project" / "tb_data" / "tb_input_features.dat", dtype=np.float32)
    assert X.shape == (summary.data.n_eval, 8, 8, 1) and np.array_equal(X.reshape(len(X), -1), tb_inputs)
    run_bridge = Bridge(summary.artifacts["csim_library"], json.loads((cnn_run / "hls_project" / "bridge.json").read_text()))
    expected = driver.unpack(np.load(bundle / driver.EXPECTED_WORDS_FILE), manifest.output)
    assert expected.astype(np.float32).tolist() == run_bridge.predict(X).tolist()


# --------------------------------------------------------------------------- the check


def test_check_on_board_simulate_agrees_word_for_word(cnn_run, simulated):
    result, path = simulated
    n_test = read_summary(cnn_run).data.n_eval
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(path.read_text())
    assert found["simulated"] is True
    assert found["output_words_equal"] == found["output_words"] == n_test * 10
    assert found["samples_equal"] == found["n_samples"] == n_test
    assert found["input_words_equal"] == found["input_words"] == n_test * 64
    assert found["throughput_samples_per_s"] > 0 and found["latency_median_us"] > 0 and found["mismatches"] == []
    assert "100.000%" in result.stdout and "SIMULATED" in result.stdout and "PASS" in result.stdout


def test_a_differing_word_fails_the_check_and_is_recorded_as_failed(cnn_run, bundle, tmp_path):
    path = bundle / driver.EXPECTED_WORDS_FILE
    original = path.read_bytes()
    words = np.load(path)
    words[37] ^= np.uint32(1)
    np.save(path, words)
    try:
        result, found, results_path = check_into(bundle, tmp_path)
    finally:
        path.write_bytes(original)
    assert result.returncode == 1, result.stdout + result.stderr
    assert found["output_words"] - found["output_words_equal"] == 1
    assert (found["mismatches"][0]["sample"], found["mismatches"][0]["index"]) == (3, 7)
    assert "differs: sample 3 output 7" in result.stdout and "FAIL" in result.stdout
    # Recorded, the failed check reaches the run page, and deploy --record says it failed.
    recorded = run_cli("deploy", str(cnn_run), "--record", str(results_path))
    assert recorded.returncode == 1, recorded.stderr[-2000:]
    dom = Dom((cnn_run / "dashboard.html").read_text())
    cell = dom.one(data_metric="board_word_agreement")
    assert "bad" in cell["attrs"]["class"]
    assert cell["attrs"]["data-value"] == str(found["output_words_equal"] / found["output_words"])
    assert "sample 3 output 7" in dom.one(data_metric="board_mismatches")["text"]


def test_a_driver_packing_other_words_fails_the_check(bundle, tmp_path):
    """With one integer bit too many in the input types, the driver's words are not the
    C-simulation's: the check sees it on the inputs and on the outputs."""
    path = bundle / driver.MANIFEST_FILE
    original = path.read_text()
    manifest = json.loads(original)
    for side in ("model_type", "word_type"):
        manifest["input"][side]["integer"] += 1
    path.write_text(json.dumps(manifest))
    try:
        result, found, _ = check_into(bundle, tmp_path)
    finally:
        path.write_text(original)
    assert result.returncode == 1
    assert found["input_words_equal"] < found["input_words"]
    assert found["output_words_equal"] < found["output_words"]


def test_a_manifest_whose_words_cannot_carry_its_types_is_refused(bundle, tmp_path):
    path = bundle / driver.MANIFEST_FILE
    original = path.read_text()
    manifest = json.loads(original)
    manifest["output"]["word_type"]["integer"] += 1
    path.write_text(json.dumps(manifest))
    try:
        result = check_on_board(bundle, "--simulate", "--results", str(tmp_path / "never.json"))
    finally:
        path.write_text(original)
    assert result.returncode == 2 and "cannot carry" in result.stderr, result.stderr
    assert not (tmp_path / "never.json").exists()


def test_the_stand_in_enforces_the_dma_rules(bundle):
    pynq = standin.simulated_pynq(bundle)
    dma = pynq.Overlay("overlay/myproject.bit").hier_0.axi_dma_0
    words = np.load(bundle / driver.INPUT_WORDS_FILE)
    send, recv = pynq.allocate(shape=(64 + 5,), dtype=np.uint32), pynq.allocate(shape=(10,), dtype=np.uint32)
    send[:] = words[:69]
    dma.sendchannel.transfer(send)
    with pytest.raises(RuntimeError, match="not whole samples of 64"):
        dma.recvchannel.transfer(recv)
    dma = pynq.Overlay("overlay/myproject.bit").hier_0.axi_dma_0
    send, short = pynq.allocate(shape=(128,), dtype=np.uint32), pynq.allocate(shape=(15,), dtype=np.uint32)
    send[:] = words[:128]
    dma.sendchannel.transfer(send)
    with pytest.raises(RuntimeError, match="do not fit"):
        dma.recvchannel.transfer(short)
    with pytest.raises(ValueError, match="exceeds the DMA's"):
        pynq.Overlay("x.bit").hier_0.axi_dma_0.sendchannel.transfer(np.zeros(2**24, np.uint32))


# --------------------------------------------------------------------------- the run notes the bundle


def test_the_run_notes_its_bundle_in_summary_page_and_history(cnn_run, deployed):
    manifest = driver.read_manifest(deployed.path)
    note = json.loads(deployed.summary_json)["deploy"]
    assert (note["bundle_id"], note["bundle_dir"]) == (manifest.bundle_id, str(deployed.path.resolve()))
    assert note["csim_values_matched"] == manifest.provenance.csim_values_matched and note["board_check"] is None
    assert deployed.history_summary["deploy"] == note
    dom = Dom(deployed.page)
    assert dom.one(data_metric="bundle")["attrs"]["data-value"] == manifest.bundle_id
    assert dom.one("p", data_metric="board_check")["attrs"]["data-value"] == "none"
    assert deployed.printed["history"].endswith(": updated")


def test_record_brings_the_check_beside_the_csimulation_and_the_estimate(cnn_run, simulated, isolated_history):
    _, path = simulated
    found = json.loads(path.read_text())
    result = run_cli("deploy", str(cnn_run), "--record", str(path), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = read_summary(cnn_run)
    check = summary.deploy.board_check
    assert check.results_file == str(path) and TypeAdapter(driver.CheckResults).dump_python(check.results) == found
    assert RunHistory(isolated_history).get(cnn_run.name)["summary"]["deploy"] == summary.deploy.model_dump(mode="json")
    dom = Dom((cnn_run / "dashboard.html").read_text())
    assert dom.one(data_metric="board_word_agreement")["attrs"]["data-value"] == "1.0"
    assert float(dom.one(data_metric="board_latency_median_us")["attrs"]["data-value"]) == found["latency_median_us"]
    assert float(dom.one(data_metric="board_throughput")["attrs"]["data-value"]) == found["throughput_samples_per_s"]
    assert float(dom.one(data_metric="design_latency_ns")["attrs"]["data-value"]) == summary.estimate.latency_ns
    assert dom.one(data_metric="csim_agreement", tag="td")["attrs"]["data-value"] == str(summary.checks.csim_agreement.value)
    assert any(e["text"] == "SIMULATED" for e in dom.find("span", **{"class": "tag estimate"}))


def test_results_of_another_run_or_bundle_or_malformed_are_refused(cnn_run, simulated, tmp_path):
    _, path = simulated
    found = json.loads(path.read_text())
    before = (cnn_run / "summary.json").read_bytes()
    cases = [({"run_id": "mlp_zcu102_0101", "bundle_id": "0" * 32}, "holds the check of run mlp_zcu102_0101"),
             ({"bundle_id": "0" * 32}, "another bundle of run"),
             ({"latency_median_us": None}, "field 'latency_median_us'")]
    for k, (changes, fragment) in enumerate(cases):
        foreign = tmp_path / f"results{k}.json"
        foreign.write_text(json.dumps({**found, **changes}))
        assert_one_line_error(run_cli("deploy", str(cnn_run), "--record", str(foreign)), 2, fragment)
    assert_one_line_error(run_cli("deploy", str(cnn_run), "--record", str(path), "--force"), 2,
                          "--record writes no bundle", "--force")
    assert (cnn_run / "summary.json").read_bytes() == before


def test_record_needs_a_deployed_bundle(cnn_run, simulated, tmp_path):
    run = copy_of_run(cnn_run, tmp_path / "never_deployed", deploy=None)
    assert_one_line_error(run_cli("deploy", str(run), "--record", str(simulated[1])), 2, "no bundle was deployed")


# --------------------------------------------------------------------------- refusals


def test_deploy_refuses_an_existing_bundle(cnn_run, bundle):
    assert_one_line_error(run_cli("deploy", str(cnn_run)), 2, "already exists", "--force")
    assert_one_line_error(run_cli("deploy", str(cnn_run), "--out", str(cnn_run.parent), "--force"), 2,
                          "would hold the run directory")
    assert (cnn_run / "summary.json").is_file()


def comparison(cnn_run: Path, bundle: Path, run_dir: Path | None = None):
    """Deploy's comparison step over the written bundle, for the run in ``run_dir``."""
    from fpga_flow.boards import get_board
    from fpga_flow.deploy.bundle import DeployConfig, DeployContext
    from fpga_flow.deploy.project import AcceleratorProject, accelerator_target
    from fpga_flow.deploy.run_record import read_run

    run_dir = run_dir or cnn_run
    manifest = driver.read_manifest(bundle)
    project = AcceleratorProject(bundle / "hls_project", manifest.input, manifest.output, "image", "softmax", "", "")
    return DeployContext(DeployConfig(run_dir=run_dir), read_run(run_dir), accelerator_target(get_board("pynq-z2")),
                         bundle, X=np.load(bundle / driver.INPUTS_FILE), project=project,
                         wrapper=standin.load_standin(bundle), input_words=np.load(bundle / driver.INPUT_WORDS_FILE),
                         expected_words=np.load(bundle / driver.EXPECTED_WORDS_FILE))


def test_the_comparison_with_the_run_can_fail(cnn_run, bundle):
    """Deploy's last check refuses a driver that packs other words, and words that are not
    what the run's C-simulation computes."""
    from fpga_flow.deploy.bundle import step_compare
    from fpga_flow.errors import StageFailedError

    ctx = comparison(cnn_run, bundle)
    ctx.input_words[5] ^= np.uint32(1 << 31)
    with pytest.raises(StageFailedError, match="packs 1 of .* input words differently"):
        step_compare(ctx)
    ctx.input_words[5] ^= np.uint32(1 << 31)
    ctx.expected_words[37] ^= np.uint32(1 << 31)
    with pytest.raises(StageFailedError, match="computes differently from the run's C-simulation: 1 of"):
        step_compare(ctx)
    ctx.expected_words[37] ^= np.uint32(1 << 31)
    step_compare(ctx)
    assert ctx.provenance.run_csim == "linked"


def test_a_run_whose_network_differs_is_compiled_again_and_refused(cnn_run, bundle, tmp_path):
    """A run whose logits bias differs in one value is not the bundle's network: its
    project is compiled again (not linked with the bundle's network) and computes otherwise."""
    from fpga_flow.deploy.bundle import differs_from_run, step_compare
    from fpga_flow.deploy.run_record import read_run
    from fpga_flow.errors import StageFailedError

    run_copy = tmp_path / "run"
    shutil.copytree(cnn_run, run_copy, ignore=shutil.ignore_patterns("bundle"))
    assert differs_from_run(read_run(run_copy), bundle / "hls_project") is None
    bias = run_copy / "hls_project" / "firmware" / "weights" / "b10.txt"
    values = bias.read_text().strip().split(",")
    values[0] = "0.5" if float(values[0]) != 0.5 else "-0.5"
    bias.write_text(",".join(values) + "\n")
    differs = differs_from_run(read_run(run_copy), bundle / "hls_project")
    assert differs == "the network's sources or weights differ from the run's"
    with pytest.raises(StageFailedError, match="computes differently from the run's C-simulation"):
        step_compare(comparison(cnn_run, bundle, run_copy))


def test_bitstream_without_vivado_is_refused_before_any_work(cnn_run, tmp_path):
    empty = tmp_path / "empty_path"
    empty.mkdir()
    out = tmp_path / "never_written"
    result = run_cli("deploy", str(cnn_run), "--out", str(out), "--bitstream", env={"PATH": str(empty)})
    assert_one_line_error(result, 2, "--bitstream needs vivado_hls, vivado on PATH", "without --bitstream")
    assert not out.exists()


def copy_of_run(cnn_run: Path, folder: Path, **changes) -> Path:
    """The run's record files with some summary fields changed (``board={"name": ...}``
    updates the board section)."""
    folder.mkdir()
    summary = json.loads((cnn_run / "summary.json").read_text())
    for key, value in changes.items():
        summary[key] = {**summary[key], **value} if isinstance(value, dict) else value
    (folder / "summary.json").write_text(json.dumps(summary))
    shutil.copy2(cnn_run / "hls_config.json", folder / "hls_config.json")
    return folder


def test_a_board_without_an_accelerator_design_is_refused(cnn_run, tmp_path):
    run = copy_of_run(cnn_run, tmp_path / "zcu104_run", board={"name": "zcu104", "backend": "Vivado"})
    assert_one_line_error(run_cli("deploy", str(run)), 2, "board zcu104", "pynq-z2", "zcu102", "alveo-u250")


def test_an_unpassed_build_is_refused(cnn_run, tmp_path):
    run = copy_of_run(cnn_run, tmp_path / "failed_run", status="check_failed")
    assert_one_line_error(run_cli("deploy", str(run)), 2, "did not pass", "check_failed")


def test_an_unfinished_build_is_refused(cnn_run, tmp_path):
    run = copy_of_run(cnn_run, tmp_path / "interrupted_run")
    (run / "INCOMPLETE").write_text("stage: testbench\n")
    assert_one_line_error(run_cli("deploy", str(run)), 2, "not a finished build")
    assert_one_line_error(run_cli("deploy", str(tmp_path / "nowhere")), 2, "not found")
