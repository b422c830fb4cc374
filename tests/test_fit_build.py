"""The fit (the build's default) end to end, with real g++ compiles: the default build of
the digits CNN fits the PYNQ-Z2 by estimate and passes, its project carries the planned
reuse factors, and it computes what the --no-fit design computes, bit for bit, which is
over the budget and says so (exit 1, or 0 with --allow-over-budget); the accumulation
order that would change bits (under a saturating accumulator) is shown to change them;
a design no plan fits stops before compiling with one line, a missed target latency
ends the build with one line and exit 1; a sweep drops the points that cannot fit
before building them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import CNN_EPOCHS, run_cli, session_objects
from fpga_flow.summary import read_summary

pytestmark = pytest.mark.slow

RESOURCES = ("LUT", "FF", "DSP", "BRAM_18K")


@pytest.fixture(scope="module")
def cnn_pair(reports_root, tmp_path_factory) -> Path:
    """The digits CNN built for the PYNQ-Z2 with hls4ml's defaults (--no-fit, accepted
    over the budget), and by default (fitted), with the same precision policy: the fit
    changes no type."""
    folder = tmp_path_factory.mktemp("fit")
    common = ("cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS), "--reports-dir", str(reports_root),
              "--precision-policy", "auto", "--max-samples", "200", "--json")
    for name, extra in (("unfitted", ("--no-fit", "--allow-over-budget")), ("fitted", ())):
        result = run_cli("build", *common, *extra, "--out", str(folder / name))
        assert result.returncode == 0, result.stderr[-2000:]
    return folder


def test_the_fitted_cnn_fits_the_pynq_z2_by_estimate_and_the_unfitted_does_not(cnn_pair):
    fitted, unfitted = read_summary(cnn_pair / "fitted"), read_summary(cnn_pair / "unfitted")
    board = fitted.board.resources
    # The build's estimate, priced from the design.json of the written project, not by the fit.
    assert all(fitted.estimate.resources[key] <= 0.8 * getattr(board, key) for key in RESOURCES)
    assert unfitted.estimate.resources["LUT"] > board.LUT
    fit = fitted.fit
    assert fit.fits and fitted.checks.fit_budget.passed and fitted.checks.fit_budget.value <= 0.8
    assert (fitted.status, fitted.verdict) == ("passed", "PASSED")
    # Without the fit the same budget check fails, and the status says so, in one line.
    budget = unfitted.checks.fit_budget
    assert unfitted.fit is None and not budget.passed and budget.resource == "LUT" and budget.value > 1
    assert unfitted.status == "does_not_fit"
    assert unfitted.verdict == (f"DOES NOT FIT: LUT {100 * budget.value:.0f}% of pynq-z2 (budget 80%), estimate "
                                f"+/-{100 * unfitted.estimate.error_of('LUT'):.0f}%")
    assert {key: fitted.estimate.resources[key] for key in RESOURCES} == {key: getattr(fit.chosen, key) for key in RESOURCES}
    assert fitted.estimate.latency_cycles == fit.chosen.latency_cycles
    assert fit.unfitted.LUT == unfitted.estimate.resources["LUT"]
    assert fitted.hls.io_type == fit.io_type
    # The plan changes the design (else the bit-for-bit test below would prove nothing).
    assert fit.io_type != unfitted.hls.io_type or fit.chosen.plan != fit.unfitted.plan
    assert any(setting.strategy == "Resource" or setting.reuse_factor > 1 for setting in fit.chosen.plan.values())


def _written_settings(project: Path) -> dict[str, tuple[set[str], set[int]]]:
    """Per layer, the strategies and reuse factors its config structs in the written
    parameters.h declare (a convolution has two: its own and its multiplication's);
    each layer's structs follow a comment naming it."""
    sections = re.split(r"^// (\w+)\n", (project / "firmware" / "parameters.h").read_text(), flags=re.M)
    found = {}
    for name, body in zip(sections[1::2], sections[2::2]):
        strategies = set(re.findall(r"strategy = nnet::(\w+);", body))
        if strategies:
            found[name] = (strategies, {int(value) for value in re.findall(r"reuse_factor = (\d+);", body)})
    return found


def test_the_written_project_has_every_planned_strategy_and_reuse_factor(cnn_pair):
    summary = read_summary(cnn_pair / "fitted")
    project = cnn_pair / "fitted" / "hls_project"
    written = _written_settings(project)
    plan = summary.fit.chosen.plan
    assert set(plan) == {"conv1", "fc1", "logits"} <= set(written)
    for layer, setting in plan.items():
        assert written[layer] == ({setting.strategy.lower()}, {setting.reuse_factor}), layer
    streams = "hls::stream" in (project / "firmware" / "myproject.h").read_text()
    assert streams == (summary.fit.io_type == "io_stream")
    config = json.loads((cnn_pair / "fitted" / "hls_config.json").read_text())["LayerName"]
    assert {layer: (config[layer]["Strategy"], config[layer]["ReuseFactor"]) for layer in plan} == {
        layer: (setting.strategy, setting.reuse_factor) for layer, setting in plan.items()}


def test_the_fitted_design_computes_what_the_unfitted_one_does_bit_for_bit(cnn_pair, reports_root):
    from fpga_flow.csim import Bridge, CompiledProject

    X = np.load(reports_root / "zoo" / "cnn_digits" / "data.npz")["X"]  # the whole test split
    outputs = {name: Bridge.load(CompiledProject.open(cnn_pair / name / "hls_project")).predict(X)
               for name in ("unfitted", "fitted")}
    assert outputs["fitted"].shape == outputs["unfitted"].shape == (len(X), 10)
    assert np.array_equal(outputs["fitted"], outputs["unfitted"])
    fitted, unfitted = read_summary(cnn_pair / "fitted"), read_summary(cnn_pair / "unfitted")
    assert fitted.fidelity.csim_agreement == unfitted.fidelity.csim_agreement
    assert fitted.fidelity.testbench_agreement == unfitted.fidelity.testbench_agreement
    assert fitted.fidelity.max_abs_error == unfitted.fidelity.max_abs_error


# --------------------------------------------------------------------------- why saturation is excluded


def _adder(accum: str):
    """A one-neuron layer summing x0 + x1 - x2 - x3 in ``accum``: the model, the board,
    and the hls4ml configuration (as the Latency strategy at reuse factor 1)."""
    import tensorflow as tf

    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config

    model = tf.keras.Sequential([tf.keras.layers.Input((4,), name="x"),
                                 tf.keras.layers.Dense(1, use_bias=False, name="fc")])
    model.layers[0].set_weights([np.array([[1.0], [1.0], [-1.0], [-1.0]])])
    board, settings = get_board("pynq-z2"), HLSSettings()
    config = base_hls_config(model, settings, board.backend)
    config["LayerName"]["fc"]["Precision"].update(accum=accum, result="ap_fixed<16,6>")
    return model, board, settings, config


def test_a_saturating_accumulator_sums_in_another_order_under_resource_so_the_fit_keeps_latency(tmp_path):
    """3 + 3 - 3 - 3 in ap_fixed<8,3> (at most 3.97): the Latency kernel adds x0, x1, x2,
    x3 and saturates at x1; the Resource kernel at reuse factor 2 adds x0, x2, x1, x3 and
    never does. (With wrap-around sums the order does not matter: the fitted digits CNN
    above takes the Resource strategy and computes the same bits.)"""
    from fpga_flow.convert import convert
    from fpga_flow.csim import Bridge, compile_project
    from fpga_flow.fit import FitRequest, LayerSetting, fit_design, with_plan

    model, board, settings, config = _adder("ap_fixed<8,3,AP_RND,AP_SAT>")
    x = np.array([[3.0, 3.0, 3.0, 3.0]])
    out = {}
    for setting in (LayerSetting(strategy="Latency", reuse_factor=1), LayerSetting(strategy="Resource", reuse_factor=2)):
        project = convert(model, board, settings, tmp_path / setting.strategy, with_plan(config, {"fc": setting}))
        out[setting.strategy] = Bridge.load(compile_project(project.output_dir, objects=session_objects())).predict(x)[0, 0]
    assert (out["Latency"], out["Resource"]) == (pytest.approx(-2.03125), 0.0)
    fit = fit_design(model, board, settings, config, FitRequest(budget=0.8))
    assert fit.layers[0].strategies == ["Latency"] and "saturating" in fit.layers[0].note
    model, board, settings, config = _adder("ap_fixed<8,3,AP_RND,AP_WRAP>")
    assert fit_design(model, board, settings, config, FitRequest(budget=0.8)).layers[0].strategies == ["Latency", "Resource"]


# --------------------------------------------------------------------------- failures of the fit


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory) -> Path:
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("mlp")
    model = tf.keras.Sequential([tf.keras.layers.Input((16,), name="x"), tf.keras.layers.Dense(8, name="fc1"),
                                 tf.keras.layers.Activation("relu", name="relu"), tf.keras.layers.Dense(4, name="fc2"),
                                 tf.keras.layers.Activation("softmax", name="softmax")])
    model.save(folder / "mlp.h5")
    return folder / "mlp.h5"


def _speck_board(folder: Path) -> Path:
    """A board with 100 LUTs: nothing fits it."""
    folder.mkdir(exist_ok=True)
    (folder / "speck.yaml").write_text(
        "name: speck\nvendor: AMD\npart: xc7z020clg400-1\nfamily: zynq\nclock_period_ns: 10\nbackend: Vivado\n"
        "resources: {LUT: 100, FF: 100000, DSP: 200, BRAM_18K: 200, URAM: 0}\n")
    return folder


def test_a_design_no_plan_fits_stops_before_compiling_with_one_line_unless_allowed(mlp_file, tmp_path):
    boards, out = _speck_board(tmp_path / "boards"), tmp_path / "run"
    common = ("build", str(mlp_file), "--board", "speck", "--boards-dir", str(boards), "--precision-policy", "default",
              "--max-samples", "50", "--min-agreement", "0", "--no-cache")
    result = run_cli(*common, "--out", str(out))
    assert result.returncode == 1, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(
        "error: DOES NOT FIT: no plan fits speck within 80% by estimate: the smallest share reached is LUT ")
    assert lines[0].endswith("use a larger board, a smaller model or a larger --budget, or add --allow-over-budget "
                             "to build that plan anyway")
    # Stopped at the fit: nothing converted or compiled, the run marked unfinished.
    assert (out / "INCOMPLETE").read_text().split(":", 1)[1].strip() == "fit"
    assert not (out / "hls_project").exists() and not (out / "summary.json").exists()
    assert "Traceback" not in result.stderr

    allowed = run_cli(*common, "--allow-over-budget", "--out", str(tmp_path / "allowed"))
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    summary = read_summary(tmp_path / "allowed")
    fit = summary.fit
    assert not fit.fits and summary.status == "does_not_fit" and not summary.checks.fit_budget.passed
    assert fit.chosen.binding == "LUT" and fit.chosen.peak_pct > 100
    assert fit.chosen.peak_pct <= min(point.peak_pct for point in [fit.unfitted, *fit.alternatives])
    assert summary.verdict.startswith("DOES NOT FIT: LUT ") and "of speck (budget 80%)" in summary.verdict


def test_no_fit_over_the_budget_completes_its_checks_and_exits_one_with_its_line(mlp_file, tmp_path):
    out = tmp_path / "run"
    result = run_cli("build", str(mlp_file), "--board", "speck", "--boards-dir", str(_speck_board(tmp_path / "boards")),
                     "--no-fit", "--precision-policy", "default", "--max-samples", "50", "--min-agreement", "0", "--no-cache",
                     "--out", str(out))
    assert result.returncode == 1, result.stderr[-2000:]
    summary = read_summary(out)  # complete: every check ran
    assert not (out / "INCOMPLETE").exists() and summary.fidelity.csim_agreement is not None
    assert summary.fit is None and summary.status == "does_not_fit" and summary.checks.csim_agreement.passed
    budget = summary.checks.fit_budget
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [f"error: DOES NOT FIT: {budget.resource} {100 * budget.value:.0f}% of speck (budget 80%), estimate "
                     f"+/-{100 * budget.estimate_error:.0f}%: drop --no-fit: the fit chooses a plan that fits, or add "
                     "--allow-over-budget to accept it"]
    assert summary.verdict in lines[0] and "Traceback" not in result.stderr


def test_a_missed_target_latency_exits_one_saying_by_how_much_also_from_the_cache(mlp_file, tmp_path):
    def build(target: str, out: str) -> tuple[str, ...]:
        return ("build", str(mlp_file), "--board", "pynq-z2", "--fit", "--target-latency", target, "--precision-policy",
                "default", "--max-samples", "50", "--min-agreement", "0", "--cache-dir", str(tmp_path / "cache"),
                "--out", str(tmp_path / out))

    first = run_cli(*build("1", "run"))
    assert first.returncode == 1, first.stderr[-2000:]
    summary = read_summary(tmp_path / "run")
    latency = summary.fit.chosen.latency_ns
    assert summary.fit.fits and summary.checks.target_latency.value == latency
    assert not summary.checks.target_latency.passed and summary.checks.target_latency.threshold == 1
    assert f"error: --target-latency 1 ns is missed by {latency - 1:g} ns: the fastest plan within 80% takes " \
           f"{latency:g} ns" in first.stderr.replace("\n", " ")
    again = run_cli(*build("1", "run"), "--force")  # the same build: its fit comes from the cache entry
    assert again.returncode == 1 and read_summary(tmp_path / "run").cache.hit
    assert read_summary(tmp_path / "run").fit == summary.fit
    other_target = run_cli(*build("100000", "met"))  # another request: another entry
    assert other_target.returncode == 0, other_target.stderr[-2000:]
    met = read_summary(tmp_path / "met")
    assert not met.cache.hit and met.fit.target_met and met.checks.target_latency.passed


def test_sweep_with_fit_drops_the_points_that_cannot_fit_before_building_them(mlp_file, tmp_path):
    """Four points: on a 100-LUT board nothing fits; reuse factor 5 is one hls4ml would
    change in both layers; only the PYNQ-Z2 at reuse factor 1 is built."""
    boards, out = _speck_board(tmp_path / "boards"), tmp_path / "sweep"
    common = ("sweep", str(mlp_file), "--boards-dir", str(boards), "--fit", "--precision-policy", "default",
              "--max-samples", "50", "--min-agreement", "0", "--workers", "1", "--cache-dir", str(tmp_path / "cache"))
    result = run_cli(*common, "--board", "pynq-z2,speck", "--reuse-factor", "1,5", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the fit dropped 3 of 4 points before building them" in result.stderr.replace("\n", " ")
    rows = {(row["board"], row["reuse_factor"]): row for row in json.loads((out / "sweep.json").read_text())["points"]}
    assert {key: row["status"] for key, row in rows.items()} == {
        ("pynq-z2", 1): "passed", ("pynq-z2", 5): "dropped", ("speck", 1): "dropped", ("speck", 5): "dropped"}
    assert rows[("speck", 1)]["error"].startswith("DOES NOT FIT: no plan fits speck within 80% by estimate: the "
                                                  "smallest share reached is LUT ")
    for board in ("pynq-z2", "speck"):
        assert rows[(board, 5)]["error"].startswith("--reuse-factor 5: layer fc1 (Dense) takes only 1, 2, 4, 8, 16, 32, 64, 128")
    for key, row in rows.items():
        assert Path(row["run_dir"]).exists() == (key == ("pynq-z2", 1))  # dropped points were never built
    built = read_summary(rows[("pynq-z2", 1)]["run_dir"])
    assert built.fit.fits and {setting.reuse_factor for setting in built.fit.chosen.plan.values()} == {1}

    everything_dropped = run_cli(*common, "--board", "speck", "--out", str(tmp_path / "none"))
    assert everything_dropped.returncode == 1
    assert "error: no point was built: the fit dropped all 1" in everything_dropped.stderr.replace("\n", " ")


# The realistic recipe built as users build it (tiny_resnet for the PYNQ-Z2, trained, the fit on:
# PASSED, agreement >= 0.99) is benchmarks/realistic.py's first row; notebook 05 builds it fitted
# in the suite (tests/test_notebooks.py checks that build's fit).
