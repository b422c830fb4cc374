"""The fit offers a convolution only the Resource reuse factors hls4ml 1.3.0's kernels
accept: its io_parallel convolution kernels (nnet_conv1d_resource.h,
nnet_conv2d_resource.h) assert ``reuse_factor <= filt_width * n_chan`` (times
filt_height in 2-D), although the backend's list of valid reuse factors goes up to
n_in*n_out; a plan above that bound aborts the C simulation (the attention recipe's did,
clean-clone run of 2026-12-07)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import recipe_model, run_cli


def _conv1d_model():
    """Conv1D of 8 filters, kernel 3, on 32x4 (n_in 12, n_out 8), then a dense layer."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)
    return tf.keras.Sequential([
        tf.keras.layers.Input((32, 4), name="x"),
        tf.keras.layers.Conv1D(8, 3, name="conv", activation="relu"),
        tf.keras.layers.Flatten(name="flat"),
        tf.keras.layers.Dense(5, name="fc"),
    ])


def _tiny_board(folder: Path) -> Path:
    """A board with 100 LUTs: nothing fits, so the fit keeps the plan of least peak share,
    the one with the largest reuse factors."""
    folder.mkdir(exist_ok=True)
    (folder / "speck.yaml").write_text(
        "name: speck\nvendor: AMD\npart: xc7z020clg400-1\nfamily: zynq\nclock_period_ns: 10\nbackend: Vivado\n"
        "resources: {LUT: 100, FF: 100000, DSP: 200, BRAM_18K: 200, URAM: 0}\n")
    return folder


def _fit(model, board_name: str, boards_dir=None, **request):
    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config
    from fpga_flow.fit import FitRequest, fit_design

    board = get_board(board_name, boards_dir)
    settings = HLSSettings(io_type="io_parallel", clock_period_ns=board.clock_period_ns)
    config = base_hls_config(model, settings, board.backend)
    return fit_design(model, board, settings, config, FitRequest(**{"budget": 0.8, **request}))


def test_a_resource_plan_for_an_io_parallel_conv1d_never_exceeds_filt_width_times_n_chan(tmp_path):
    fit = _fit(_conv1d_model(), "speck", _tiny_board(tmp_path), io_type="io_parallel", strategy="Resource")
    conv = next(layer for layer in fit.layers if layer.layer == "conv")
    # The backend's list runs to 96 (12 x 8); the kernel takes at most 12.
    assert max(conv.reuse_factors) == 96 and "Resource up to reuse factor 12" in conv.note
    assert not fit.fits and conv.setting.strategy == "Resource" and conv.setting.reuse_factor == 12
    every_plan = [fit.chosen, *fit.alternatives]
    assert all(point.plan["conv"].reuse_factor <= 12 for point in every_plan)


def test_the_attention_recipes_pointwise_embedding_keeps_within_its_kernels_bound():
    """The defect as first seen: attention_digits on the U250 in io_parallel (then the only
    io type searched for it) planned its 1-wide Conv1D embedding above n_chan."""
    fit = _fit(recipe_model("attention_digits")[0], "alveo-u250", io_type="io_parallel")
    convs = [layer for layer in fit.layers if "Conv" in layer.hls_class]
    assert convs and fit.io_type == "io_parallel"
    for layer in convs:
        limit = int(layer.note.split("Resource up to reuse factor ")[1].split()[0])
        assert max(layer.reuse_factors) > limit  # the bound removes something
        for point in [fit.chosen, *fit.alternatives]:
            setting = point.plan[layer.layer]
            assert setting.strategy != "Resource" or setting.reuse_factor <= limit, setting


def test_a_reuse_factor_above_the_bound_with_resource_is_refused_in_one_line():
    from fpga_flow.errors import UserInputError
    from fpga_flow.fit import FitRequest, LayerSetting, layer_choices

    unfitted = LayerSetting(strategy="Latency", reuse_factor=1)
    latency_only = layer_choices("conv", "Conv1D", [1, 12, 24], unfitted, False, FitRequest(budget=0.8, reuse_factor=24),
                                 resource_limit=12)
    assert latency_only.strategies == ["Latency"] and [str(s) for s in latency_only.settings()] == ["Latency/24"]
    with pytest.raises(UserInputError, match=r"--reuse-factor 24 with the Resource strategy: layer conv \(Conv1D\) "
                                             r"takes at most 12"):
        layer_choices("conv", "Conv1D", [1, 12, 24], unfitted, False,
                      FitRequest(budget=0.8, reuse_factor=24, strategy="Resource"), resource_limit=12)
    free = layer_choices("conv", "Conv1D", [1, 12, 24], unfitted, False, FitRequest(budget=0.8), resource_limit=12)
    assert [str(s) for s in free.settings()] == ["Latency/1", "Latency/12", "Latency/24", "Resource/1", "Resource/12"]


@pytest.mark.slow
def test_a_fitted_io_parallel_conv1d_resource_build_runs_its_c_simulation(tmp_path):
    """Built as fitted at its least peak share (Resource, the largest reuse factors the
    kernels take): g++ compiles it and both C simulations run to the end and agree."""
    from fpga_flow.summary import read_summary

    model_file = tmp_path / "conv1d.h5"
    _conv1d_model().save(model_file)
    out = tmp_path / "run"
    result = run_cli("build", str(model_file), "--board", "speck", "--boards-dir", str(_tiny_board(tmp_path / "boards")),
                     "--io-type", "io_parallel", "--strategy", "Resource", "--precision-policy", "default",
                     "--max-samples", "50", "--min-agreement", "0.9", "--allow-over-budget", "--no-cache",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    summary = read_summary(out)
    assert summary.fit.chosen.plan["conv"].reuse_factor == 12 and summary.fit.chosen.plan["conv"].strategy == "Resource"
    assert summary.fidelity.csim_agreement >= 0.9 and summary.fidelity.testbench_agreement >= 0.9
