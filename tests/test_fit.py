"""The fit (on by default) without compiling: the plans the search prices are the designs hls4ml makes of
them, the reuse factors offered are the ones hls4ml keeps, the search finds what an
exhaustive enumeration finds, and the fit meets its budget and target (or says why not)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from conftest import SHARED, recipe_model

PEERS = SHARED / "peer_models"


def _recipe_model(name: str):
    return recipe_model(name)[0]


def _peer_model(name: str):
    from fpga_flow.model_io import load_keras_model

    folder = PEERS / name
    if not folder.is_dir():
        pytest.skip(f"{folder} missing: the shared peer models are beside the clone in CI")
    return load_keras_model(folder / f"{name}.json", folder / f"{name}_weights.h5")


def _setup(model, board_name: str = "pynq-z2", io_type: str = "io_parallel", boards_dir=None):
    from fpga_flow.boards import get_board
    from fpga_flow.convert import HLSSettings, base_hls_config

    board = get_board(board_name, boards_dir)
    settings = HLSSettings(io_type=io_type, clock_period_ns=board.clock_period_ns)
    return board, settings, base_hls_config(model, settings, board.backend)


def _graph(model, board, settings, config, plan=None, io_type=None):
    from fpga_flow.convert import model_graph
    from fpga_flow.fit import with_plan

    settings = settings.model_copy(update={"io_type": io_type or settings.io_type})
    graph = model_graph(model, board, settings, "unwritten", with_plan(config, plan or {}))
    return graph


def _tuned(graph) -> list:
    from fpga_flow.fit import TUNED_CLASSES

    return [layer for layer in graph.get_layers() if layer.class_name in TUNED_CLASSES]


# --------------------------------------------------------------------------- plans are what hls4ml makes


@pytest.mark.parametrize("recipe", ["cnn_digits", "lstm_digits", "gru_digits"])
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_a_planned_design_prices_like_the_design_hls4ml_makes_of_the_plan(recipe, io_type):
    """The search prices plans on one description; each must cost what the description
    of hls4ml's own graph of that plan costs (the recurrent gates, which hls4ml unrolls
    whatever the reuse factor, once did not)."""
    import hls4ml

    from fpga_flow.estimate import price
    from fpga_flow.estimate.from_graph import describe_graph
    from fpga_flow.fit import LayerSetting, layer_plan, valid_reuse_factors

    model = _recipe_model(recipe)
    board, settings, config = _setup(model, io_type=io_type)
    base_graph = _graph(model, board, settings, config)
    base = describe_graph(base_graph, board, settings.clock_period_ns)
    backend = hls4ml.backends.get_backend(board.backend)
    choices = {layer.name: valid_reuse_factors(backend, layer) for layer in _tuned(base_graph)}
    for strategy in ("Latency", "Resource"):
        plan = {name: LayerSetting(strategy=strategy, reuse_factor=values[len(values) // 3])
                for name, values in choices.items()}
        assert any(setting.reuse_factor > 1 for setting in plan.values())
        made = describe_graph(_graph(model, board, settings, config, plan), board, settings.clock_period_ns)
        planned = price(base, {name: layer_plan(setting) for name, setting in plan.items()})
        assert planned.csynth == price(made).csynth, plan
        assert planned.per_layer == price(made).per_layer, plan


# --------------------------------------------------------------------------- what the search may offer


def _tiny_dense(n_in: int = 12, n_out: int = 8):
    import tensorflow as tf

    return tf.keras.Sequential([tf.keras.layers.Input((n_in,), name="x"), tf.keras.layers.Dense(n_out, name="fc")])


def test_the_reuse_factors_offered_are_exactly_those_hls4ml_keeps_under_resource():
    """Converted under the Resource strategy, every offered value survives and a value off
    the list is replaced by hls4ml (so offering it would be a silent change)."""
    import hls4ml

    from fpga_flow.fit import LayerSetting, valid_reuse_factors

    model = _tiny_dense()
    board, settings, config = _setup(model)
    backend = hls4ml.backends.get_backend(board.backend)
    offered = valid_reuse_factors(backend, _tuned(_graph(model, board, settings, config))[0])
    assert offered[0] == 1 and offered[-1] == 12 * 8 and 5 not in offered
    for reuse in [*offered, 5]:
        graph = _graph(model, board, settings, config, {"fc": LayerSetting(strategy="Resource", reuse_factor=reuse)})
        kept = _tuned(graph)[0].get_attr("reuse_factor")
        assert (kept == reuse) == (reuse in offered), (reuse, kept)


def test_a_saturating_accumulator_keeps_its_strategy_and_a_reuse_factor_off_the_list_is_refused():
    from fpga_flow.errors import UserInputError
    from fpga_flow.fit import FitRequest, LayerSetting, layer_choices

    request = FitRequest(budget=0.8)
    latency, resource = LayerSetting(strategy="Latency", reuse_factor=1), LayerSetting(strategy="Resource", reuse_factor=4)
    free = layer_choices("fc", "Dense", [1, 2, 4], latency, False, request)
    assert (free.strategies, free.reuse_factors, free.note) == (["Latency", "Resource"], [1, 2, 4], None)
    saturating = layer_choices("fc", "Dense", [1, 2, 4], latency, True, request)
    assert (saturating.strategies, saturating.reuse_factors) == (["Latency"], [1, 2, 4]) and "saturating" in saturating.note
    pinned = layer_choices("fc", "Dense", [1, 2, 4], resource, True, request)
    assert (pinned.strategies, pinned.reuse_factors) == (["Resource"], [4])
    given = layer_choices("fc", "Dense", [1, 2, 4], latency, False, FitRequest(budget=0.8, strategy="Resource", reuse_factor=2))
    assert (given.strategies, given.reuse_factors) == (["Resource"], [2])
    with pytest.raises(UserInputError, match=r"--reuse-factor 3: layer fc \(Dense\) takes only 1, 2, 4"):
        layer_choices("fc", "Dense", [1, 2, 4], latency, False, FitRequest(budget=0.8, reuse_factor=3))


def test_io_stream_is_searched_only_where_it_computes_what_io_parallel_does():
    import tensorflow as tf

    from fpga_flow.estimate.from_graph import describe_graph
    from fpga_flow.fit import FitRequest, fit_design, stream_keeps_arithmetic

    cnn = _recipe_model("cnn_digits")
    board, settings, config = _setup(cnn)
    graph = _graph(cnn, board, settings, config)
    assert stream_keeps_arithmetic(graph, describe_graph(graph, board, settings.clock_period_ns)) is None
    averaging = tf.keras.Sequential([tf.keras.layers.Input((6, 6, 2), name="img"),
                                     tf.keras.layers.Conv2D(4, 3, name="conv"),
                                     tf.keras.layers.AveragePooling2D(2, name="avg"),
                                     tf.keras.layers.Flatten(name="flat"), tf.keras.layers.Dense(3, name="fc")])
    board, settings, config = _setup(averaging)
    fit = fit_design(averaging, board, settings, config, FitRequest(budget=0.8))
    assert fit.io_types == {"io_parallel": "searched",
                            "io_stream": "not searched: avg: average pooling adds its window in another order in io_stream"}
    assert all(point.io_type == "io_parallel" for point in [fit.chosen, *fit.alternatives])
    lstm = _recipe_model("lstm_digits")
    board, settings, config = _setup(lstm)
    assert "lstm layers compute differently" in fit_design(lstm, board, settings, config,
                                                           FitRequest(budget=0.8)).io_types["io_stream"]


# --------------------------------------------------------------------------- the fit


def _fit(model, board_name: str = "pynq-z2", unfitted_io: str = "io_parallel", boards_dir=None, **request):
    from fpga_flow.fit import FitRequest, fit_design

    board, settings, config = _setup(model, board_name, unfitted_io, boards_dir)
    return fit_design(model, board, settings, config, FitRequest(**{"budget": 0.8, **request})), board, settings, config


def test_a_model_that_does_not_fit_the_pynq_z2_at_reuse_factor_1_gets_a_plan_that_fits():
    """qkeras_mnist_dense (784 inputs) needs twice the PYNQ-Z2's LUTs fully parallel; the
    fitted design, converted again here from the fitted configuration, is within 80% of
    every resource, and hls4ml keeps every reuse factor the fit chose."""
    import hls4ml

    from fpga_flow.estimate import price
    from fpga_flow.estimate.from_graph import describe_graph
    from fpga_flow.fit import fitted_config

    model = _peer_model("qkeras_mnist_dense")
    fit, board, settings, config = _fit(model)
    assert {str(setting) for setting in fit.unfitted.plan.values()} == {"Latency/1"} and fit.unfitted.peak_pct > 100
    assert fit.fits and fit.failure() is None
    graph = _graph(model, board, settings, fitted_config(config, fit), io_type=fit.io_type)
    made = price(describe_graph(graph, board, settings.clock_period_ns)).csynth
    for key in ("LUT", "FF", "DSP", "BRAM_18K"):
        assert getattr(made, key) <= 0.8 * getattr(board.resources, key), key
    assert (made.LUT, made.latency_cycles) == (fit.chosen.LUT, fit.chosen.latency_cycles)
    backend = hls4ml.backends.get_backend(board.backend)
    layers = _tuned(graph)
    assert {layer.name for layer in layers} == set(fit.chosen.plan) and any(
        setting.reuse_factor > 1 for setting in fit.chosen.plan.values())
    for layer in layers:
        setting = fit.chosen.plan[layer.name]
        assert layer.get_attr("reuse_factor") == setting.reuse_factor
        assert setting.reuse_factor in backend.get_valid_reuse_factors(layer.get_attr("n_in"), layer.get_attr("n_out"))
        assert layer.get_attr("strategy").lower() == setting.strategy.lower()


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_the_fit_finds_the_fastest_plan_an_exhaustive_enumeration_finds(io_type):
    """All 1,254 Latency-strategy plans of the digits CNN on the ZCU102 priced one by one;
    the budget is set at their median peak share, so it binds. The fastest plan within
    it is as fast as the fit's choice, which is no larger."""
    from fpga_flow.estimate import price
    from fpga_flow.estimate.from_graph import describe_graph
    from fpga_flow.fit import LayerSetting, layer_plan

    model = _recipe_model("cnn_digits")
    layers, board, settings, config = _fit(model, "zcu102", io_type, io_type=io_type, strategy="Latency", budget=1.0)
    graph = _graph(model, board, settings, config)
    design = describe_graph(graph, board, settings.clock_period_ns)
    capacity = board.resources
    choices = {layer.name: [LayerSetting(strategy="Latency", reuse_factor=r) for r in fit_layer.reuse_factors]
               for layer, fit_layer in zip(_tuned(graph), layers.layers)}
    plans = []  # (latency, peak share) of every plan
    for combination in itertools.product(*choices.values()):
        figures = price(design, {name: layer_plan(s) for name, s in zip(choices, combination)}).csynth
        plans.append((figures.latency_cycles,
                      max(getattr(figures, key) / getattr(capacity, key) for key in ("LUT", "FF", "DSP", "BRAM_18K"))))
    # Halfway between the two distinct peak shares around the median: no plan sits on the
    # budget, where a last-digit difference in summing a plan's cost would decide it (a run
    # in random order once had the fastest plan's share as the median, and the fit refused it).
    peaks = sorted({peak for _, peak in plans})
    budget = (peaks[len(peaks) // 2 - 1] + peaks[len(peaks) // 2]) / 2
    feasible = [plan for plan in plans if plan[1] <= budget]
    assert len(plans) == 6 * 19 * 11 and 0 < len(feasible) < len(plans)  # the budget binds
    fit = _fit(model, "zcu102", io_type, io_type=io_type, strategy="Latency", budget=budget)[0]
    best = min(feasible)
    assert fit.chosen.latency_cycles == best[0]
    assert fit.chosen.peak_pct <= round(100 * best[1], 2)


def test_a_target_latency_is_met_with_less_or_missed_by_what_the_build_says():
    model = _recipe_model("cnn_digits")
    fastest, *_ = _fit(model, "arty-a7-100t")
    assert fastest.fits and fastest.target_met is None
    relaxed, *_ = _fit(model, "arty-a7-100t", target_latency_ns=4 * fastest.chosen.latency_ns)
    assert relaxed.target_met and relaxed.failure() is None
    assert fastest.chosen.latency_ns < relaxed.chosen.latency_ns <= 4 * fastest.chosen.latency_ns
    assert relaxed.chosen.peak_pct < fastest.chosen.peak_pct
    impossible, *_ = _fit(model, "arty-a7-100t", target_latency_ns=1.0)
    assert impossible.target_met is False and impossible.fits
    assert impossible.chosen.latency_ns == fastest.chosen.latency_ns  # the fastest within budget
    assert impossible.target_missed_by_ns == pytest.approx(fastest.chosen.latency_ns - 1.0)
    assert impossible.failure() == (f"--target-latency 1 ns is missed by {fastest.chosen.latency_ns - 1:g} ns: the "
                                    f"fastest plan within 80% takes {fastest.chosen.latency_ns:g} ns "
                                    f"({fastest.chosen.io_type})")


def test_when_nothing_fits_the_least_peak_plan_is_kept_and_the_binding_resource_named(tmp_path):
    (tmp_path / "tiny.yaml").write_text("name: tiny-board\nvendor: AMD\npart: xc7z020clg400-1\nfamily: zynq\n"
                                        "clock_period_ns: 10\nbackend: Vivado\n"
                                        "resources: {LUT: 3000, FF: 100000, DSP: 200, BRAM_18K: 200, URAM: 0}\n")
    fit, *_ = _fit(_recipe_model("cnn_digits"), "tiny-board", boards_dir=tmp_path)
    assert not fit.fits and fit.chosen.binding == "LUT"
    peaks = [point.peak_pct for point in [fit.unfitted, *fit.alternatives]]
    assert fit.chosen.peak_pct <= min(peaks) and fit.chosen.peak_pct > 80
    assert fit.failure() is None  # the build refuses it before compiling (no_plan), not after
    assert fit.no_plan("tiny-board") == (
        f"DOES NOT FIT: no plan fits tiny-board within 80% by estimate: the smallest share reached is LUT "
        f"{fit.chosen.peak_pct:.1f}% ({fit.chosen.io_type}): use a larger board, a smaller model or a larger --budget, "
        "or add --allow-over-budget to build that plan anyway")
    constrained, *_ = _fit(_recipe_model("cnn_digits"), "tiny-board", boards_dir=tmp_path, reuse_factor=1)
    assert constrained.chosen.peak_pct > fit.chosen.peak_pct  # the constraint costs: it is named with the fix
    assert (f"the smallest share reached is LUT {constrained.chosen.peak_pct:.1f}% ({constrained.chosen.io_type}; "
            "--reuse-factor 1 given): drop a constraint, ") in constrained.no_plan("tiny-board")


def test_bad_fit_options_are_one_line_and_exit_two(tmp_path):
    from conftest import run_cli
    from test_build_errors import assert_user_error

    for options, needles in (
            (["--fit", "--budget", "0"], ["--budget", "greater than 0"]),
            (["--fit", "--budget", "1.5"], ["--budget", "less than or equal to 1"]),
            (["--fit", "--target-latency", "-5"], ["--target-latency", "greater than 0"]),
            (["--no-fit", "--target-latency", "100"], ["--target-latency", "drop --no-fit"])):
        assert_user_error(run_cli("build", "cnn_digits", "--board", "pynq-z2", "--out", str(tmp_path / "r"), *options),
                          *needles)
    assert_user_error(run_cli("build", "cnn_digits", "--board", "pynq-z9", "--fit", "--out", str(tmp_path / "r")),
                      "unknown board 'pynq-z9'")
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- the fit is the build's default

# Each recipe's board: the one its notebook, README example or end-to-end test builds it for.
ZOO_BOARDS = {"cnn_digits": "pynq-z2", "lstm_digits": "alveo-u250", "gru_digits": "alveo-u250",
              "lstm_signals": "alveo-u250", "conv1d_pulses": "alveo-u250", "jet_mlp": "pynq-z2",
              "mlp_tiny": "ulx3s-85f", "tiny_resnet": "pynq-z2", "attention_digits": "alveo-u250"}
# Recipes whose default build does not fit the board, with the measured reason.
NOT_FITTING: dict[str, str] = {}


def test_every_zoo_recipe_has_a_fit_test():
    from model_zoo import RECIPE_MODULES

    assert set(RECIPE_MODULES) == set(ZOO_BOARDS) | set(NOT_FITTING)


def _fit_context(recipe: str, board_name: str, tmp_path: Path, **options):
    """A build's context up to its fit step, on the recipe's (untrained) model and a slice
    of its test split: what ``fpga-flow build RECIPE --board BOARD`` fits, nothing trained
    or compiled."""
    from fpga_flow.boards import get_board
    from fpga_flow.config import build_config
    from fpga_flow.pipeline.context import BuildContext, LoadedModel
    from fpga_flow.pipeline.steps import hls_settings
    from model_zoo import get_recipe

    chosen = get_recipe(recipe)
    data = chosen.dataset(chosen.training.seed)
    model = _recipe_model(recipe)
    config, board = build_config(model=recipe, board=board_name, **options), get_board(board_name)
    ctx = BuildContext(config, board, tmp_path)
    X = data.X_test[:64]
    ctx.loaded = LoadedModel(model, recipe, recipe, None, "test slice", X, None, X, hls_settings(config, board))
    return ctx


@pytest.mark.parametrize("recipe", sorted(ZOO_BOARDS))
def test_the_default_build_of_each_zoo_recipe_fits_its_board_before_compiling(recipe, tmp_path):
    from fpga_flow.pipeline.steps import step_fit

    ctx = _fit_context(recipe, ZOO_BOARDS[recipe], tmp_path)
    assert ctx.config.fit  # the default
    fit = step_fit(ctx)
    assert fit.fits and fit.chosen.peak_pct <= 80
    assert fit.kind == "csynth"
    assert not any(tmp_path.iterdir())  # nothing written, nothing compiled


def test_the_digits_cnn_fits_the_pynq_z2_where_hls4ml_defaults_do_not(tmp_path):
    """``make demo``'s design: hls4ml's defaults take 140% of the PYNQ-Z2's LUTs by
    estimate; the default build's plan is within 80% of every resource."""
    from fpga_flow.pipeline.steps import step_fit

    fit = step_fit(_fit_context("cnn_digits", "pynq-z2", tmp_path))
    assert fit.unfitted.binding == "LUT" and fit.unfitted.peak_pct > 100 and not fit.unfitted.fits
    assert all(pct <= 80 for pct in fit.chosen.utilization_pct.values() if pct is not None)


def test_the_attention_recipe_fits_the_u250_in_io_stream_where_io_parallel_does_not(tmp_path):
    """In io_parallel the attention kernel unrolls its Q/K/V and output projections for
    each of the 8 tokens, each sum a chain of saturating 24-bit additions (its accum_t),
    which no reuse factor shares: over the U250's LUTs at every reuse factor, with
    --io-type io_parallel the build stops at the fit. In io_stream one token's projection
    hardware serves all 8 (nnet_qmhsa.h's stream kernel): the default build fits."""
    from fpga_flow.fit import DoesNotFitError
    from fpga_flow.pipeline.steps import step_fit

    fit = step_fit(_fit_context("attention_digits", "alveo-u250", tmp_path))
    assert fit.fits and fit.io_type == "io_stream"
    assert fit.io_types == {"io_parallel": "searched", "io_stream": "searched"}
    mhsa = next(layer for layer in fit.layers if layer.layer == "mhsa")
    assert mhsa.strategies == ["Latency"] and mhsa.reuse_factors == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    with pytest.raises(DoesNotFitError) as refused:
        step_fit(_fit_context("attention_digits", "alveo-u250", tmp_path, io_type="io_parallel"))
    assert str(refused.value).startswith("DOES NOT FIT: no plan fits alveo-u250 within 80% by estimate: the smallest "
                                         "share reached is LUT ")
    allowed = step_fit(_fit_context("attention_digits", "alveo-u250", tmp_path, io_type="io_parallel",
                                    allow_over_budget=True))
    parallel = next(layer for layer in allowed.layers if layer.layer == "mhsa")
    assert parallel.setting.reuse_factor == 256 and parallel.LUT > 0.8 * allowed.board_resources["LUT"]


def test_a_constraint_that_leaves_no_plan_stops_the_build_naming_the_smallest_share(tmp_path):
    """The digits CNN fits the PYNQ-Z2 (above), but not in io_parallel at reuse factor 1
    everywhere: the build stops at the fit, naming the smallest share reached and the
    constraints given."""
    from fpga_flow.fit import DoesNotFitError
    from fpga_flow.pipeline.steps import step_fit

    with pytest.raises(DoesNotFitError) as refused:
        step_fit(_fit_context("cnn_digits", "pynq-z2", tmp_path, io_type="io_parallel", reuse_factor=1))
    message = str(refused.value)
    assert message.startswith("DOES NOT FIT: no plan fits pynq-z2 within 80% by estimate: the smallest share reached "
                              "is LUT ")
    share = float(message.split("is LUT ")[1].split("%")[0])
    assert share > 80 and "(io_parallel; --io-type io_parallel, --reuse-factor 1 given): drop a constraint, " in message
    assert DoesNotFitError.exit_code == 1


def test_distributed_arithmetic_turns_the_default_fit_off_and_fit_with_it_is_refused():
    from fpga_flow.config import build_config
    from fpga_flow.errors import UserInputError

    assert build_config(model="m.h5", board="zcu104", strategy="distributed_arithmetic").fit is False
    assert build_config(model="m.h5", board="zcu104").fit is True
    assert build_config(model="m.h5", board="zcu104", fit=False, budget=0.5).fit_budget == 0.5  # the budget check's
    with pytest.raises(UserInputError, match="drop --strategy distributed_arithmetic or --fit"):
        build_config(model="m.h5", board="zcu104", strategy="distributed_arithmetic", fit=True)


def test_precisions_that_cost_more_are_fitted_again_and_a_plan_that_still_fits_is_kept():
    """recheck: the same precisions keep the plan (priced again); weights and
    activations widened to 16 bits take the first plan over a 50% budget (LUT 45% ->
    DSP 59%), and the fit runs again from it."""
    from fpga_flow.fit import fitted_config, recheck

    model = _recipe_model("cnn_digits")
    fit, board, settings, config = _fit(model, budget=0.5)
    same = recheck(fit, model, board, settings, fitted_config(config, fit))
    assert same.chosen.plan == fit.chosen.plan and same.chosen.LUT == fit.chosen.LUT
    assert same.notes[-1].startswith("priced again with the chosen precisions")
    wide = fitted_config(config, fit)
    for layer in wide["LayerName"].values():  # 16-bit weights and activations where the quantizers set 6 and 8
        precision = layer.get("Precision", {})
        for key, value in precision.items():
            if key == "weight" or (key == "result" and str(value).startswith("ufixed")):
                precision[key] = str(value).split("<")[0] + "<16,6,TRN,WRAP,0>"
    again = recheck(fit, model, board, settings, wide)
    assert again.fits and again.chosen.peak_pct <= 50 and again.chosen.plan != fit.chosen.plan
    assert again.notes[-1].startswith("fitted again after the precision closure")
    assert again.unfitted == fit.unfitted
