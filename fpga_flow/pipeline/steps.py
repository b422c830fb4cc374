"""The design steps of a build: from the model reference to a compiled, estimated design.

Each step is a function ``step_x(ctx: BuildContext) -> result``: it reads what earlier
steps left in the context, writes its files into the run directory (or the build-cache
entry being made, ``ctx.project_dir``) and returns its own typed result, which the driver
stores in the context (:mod:`fpga_flow.pipeline.driver`). The fit comes first (unless
--no-fit), so no step compiles a design the estimate says cannot fit the board: the
closure measures the fitted design, ``refit`` checks it again for the chosen precisions,
and convert writes it (:mod:`fpga_flow.fit`, ``docs/fit.md``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from fpga_flow.boards import Board
from fpga_flow.cache import object_store
from fpga_flow.compat import check_convertible
from fpga_flow.config import BuildConfig
from fpga_flow.convert import HLSProject, HLSSettings, base_hls_config, convert, model_graph, validated_hls_settings
from fpga_flow.csim import Bridge, CompiledProject, compile_project
from fpga_flow.emulate.diagnose import hls4ml_limits
from fpga_flow.emulate.realize import EmulatingRealizer
from fpga_flow.errors import UserInputError
from fpga_flow.estimate import Estimate, estimate_project, write_design
from fpga_flow.fit import DoesNotFitError, FitRequest, FitResult, check_plan_kept, fit_design, recheck, with_plan
from fpga_flow.model_io import is_model_file, load_keras_model, load_test_data, model_input_shape
from fpga_flow.pipeline.context import BuildContext, LoadedModel
from fpga_flow.precision import PrecisionChoice, close_precisions, infer_precisions, keras_layer_outputs
from fpga_flow.records.fit import held_design
from fpga_flow.rtl import open_fpga_scope
from fpga_flow.train import trained_or_train
from model_zoo import get_recipe

SYNTHETIC_SAMPLES = 1000
CLOSURE_SCRATCH = "closure_work"


def step_load(ctx: BuildContext) -> LoadedModel:
    """The model and its evaluation/calibration data (a zoo recipe, trained on demand,
    or a user's model file with its test data or seeded synthetic inputs), the HLS
    settings (the user's, else the recipe's, else HLSSettings' defaults). Keras's outputs
    on the evaluation split are computed when first used (``LoadedModel.keras_eval``)."""
    cfg = ctx.config
    if is_model_file(cfg.model):
        path = Path(cfg.model)
        model = load_keras_model(path, cfg.weights)
        name, source, weights = path.stem, path, cfg.weights
        shape = model_input_shape(model)
        if cfg.test_data is not None:
            X, y = load_test_data(cfg.test_data, shape)
            origin = f"test data {cfg.test_data}"
        else:
            X, y = _synthetic_inputs(shape, cfg.input_dist), None
            origin = f"{SYNTHETIC_SAMPLES} synthetic inputs, {cfg.input_dist} distribution, seed 0"
        # User data: the first half tunes precisions, the second half is the unseen evaluation.
        half = len(X) // 2
        if half == 0:
            raise UserInputError(f"{cfg.test_data}: at least 2 samples are needed (one to tune, one to evaluate)")
        X_calib, X_eval, y_eval = X[:half], X[half:], None if y is None else y[half:]
    else:
        recipe = get_recipe(cfg.model)
        trained = trained_or_train(recipe, cfg.reports_dir / "zoo", cfg.epochs)
        model = trained.load_model()
        name, source, weights = recipe.name, trained.model_path, None
        data = trained.load_data()
        X_eval, y_eval, X_calib = data["X"], data["y"], data["X_calib"]
        origin = f"zoo test split ({len(X_eval)}) and training calibration slice ({len(X_calib)})"
    if cfg.max_samples is not None:
        X_eval, X_calib = X_eval[: cfg.max_samples], X_calib[: cfg.max_samples]
        y_eval = None if y_eval is None else y_eval[: cfg.max_samples]
    # Recorded absolute: a relative path means something only in the folder the build ran in.
    return LoadedModel(model, name, str(Path(source).resolve()), None if weights is None else str(Path(weights).resolve()),
                       origin, X_eval, y_eval, X_calib, hls_settings(cfg, ctx.board))


def hls_settings(cfg: BuildConfig, board: Board) -> HLSSettings:
    """The HLS settings of a build: the user's (and what an open-tool build is held to,
    :func:`~fpga_flow.records.fit.held_design`), else the zoo recipe's, else HLSSettings'
    defaults; the clock is the board's unless given."""
    recipe_settings: dict[str, Any] = {}
    if not is_model_file(cfg.model):
        recipe = get_recipe(cfg.model)
        recipe_settings = {key: getattr(recipe.hls, key)
                           for key in ("io_type", "strategy", "reuse_factor", "default_precision")}
    io_type, strategy = held_design(cfg)
    chosen = {"io_type": io_type, "strategy": strategy, "reuse_factor": cfg.reuse_factor,
              "clock_period_ns": cfg.clock_period_ns or board.clock_period_ns}
    return validated_hls_settings(**{**recipe_settings, **{key: value for key, value in chosen.items()
                                                           if value is not None}})


def _synthetic_inputs(shape: tuple[int, ...], dist: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    size = (SYNTHETIC_SAMPLES, *shape)
    if dist == "uniform":
        return rng.uniform(-1.0, 1.0, size=size).astype(np.float32)
    return rng.standard_normal(size=size).astype(np.float32)


def step_check(ctx: BuildContext) -> None:
    """Refuse what hls4ml 1.3.0 cannot convert before conversion starts, naming the layer."""
    check_convertible(ctx.loaded.model)


def starting_config(ctx: BuildContext) -> dict[str, Any]:
    """The precisions the policy starts from, in the loaded settings: hls4ml's defaults
    (``default``), or the inferred ones (``auto``, and ``closure``, which widens from them)."""
    loaded = ctx.loaded
    config = base_hls_config(loaded.model, loaded.settings, ctx.board.backend)
    return config if ctx.config.precision_policy == "default" else infer_precisions(loaded.model, config, loaded.X_calib)


def step_fit(ctx: BuildContext) -> FitResult | None:
    """Unless --no-fit: the per-layer strategies and reuse factors, and the io type, that
    fit the board by estimate for the precisions the policy starts from
    (:func:`starting_config`, :mod:`fpga_flow.fit`); nothing is compiled. No plan
    within the budget stops the build here (DoesNotFitError), unless --allow-over-budget."""
    if not ctx.config.fit:
        return None
    loaded = ctx.loaded
    # Nothing is measured yet (the closure and C-simulation measure the fitted design), so
    # both io types are searched whatever they compute.
    fit = fit_design(loaded.model, ctx.board, loaded.settings, starting_config(ctx), FitRequest.of(ctx.config),
                     progress=lambda message: ctx.progress("fit", message), keep_arithmetic=False)
    return _refuse_unfit(ctx, fit)


def _refuse_unfit(ctx: BuildContext, fit: FitResult) -> FitResult:
    # On ECP5 the estimate does not apply: the RTL's yosys counts decide (summarize.fit_check).
    if not fit.fits and not ctx.config.allow_over_budget and ctx.board.hls_vendor_flow:
        raise DoesNotFitError(fit.no_plan(ctx.board.name))
    return fit


def step_precision(ctx: BuildContext) -> PrecisionChoice:
    """The hls4ml configuration the precision policy chooses for the fitted design (the
    fit's io type and plan), tuned on the calibration split. ``closure`` emulates each
    candidate (compiling it in a scratch folder of the run directory only when the
    emulator does not cover a layer) and reports each iteration through ``ctx.progress``."""
    loaded, policy, settings = ctx.loaded, ctx.config.precision_policy, ctx.settings
    config = base_hls_config(loaded.model, settings, ctx.board.backend)
    if ctx.fit is not None:
        config = with_plan(config, ctx.fit.chosen.plan)
    if policy == "default":
        return PrecisionChoice(policy=policy, hls_config=config)
    if policy == "auto":
        return PrecisionChoice(policy=policy, hls_config=infer_precisions(loaded.model, config, loaded.X_calib))
    scratch = ctx.run_dir / CLOSURE_SCRATCH

    def compile_design(hls_config: dict) -> Bridge:
        shutil.rmtree(scratch, ignore_errors=True)
        project = convert(loaded.model, ctx.board, settings, scratch, hls_config)
        return Bridge.load(compile_project(project.output_dir, objects=object_store(ctx.config)))

    # Candidates are emulated bit for bit (no g++); a design with a layer the emulator
    # does not cover is compiled: the fitted one, which the estimate says fits. The
    # chosen one is compiled by step_compile and proven.
    realize = EmulatingRealizer(loaded.model, ctx.board, settings, scratch, compile_design)

    def on_step(step) -> None:
        ctx.progress("precision", f"iteration {step.iteration} ({realize.last}): agreement {step.agreement:.4f} "
                                  f"({step.change[:60]})")

    result = close_precisions(loaded.model, config, loaded.X_calib, realize, ctx.config.target_agreement,
                              on_step=on_step)
    limits = _hls4ml_limits(ctx, result, scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    return PrecisionChoice(policy=policy, hls_config=result.hls_config,
                           closure=result.to_record(realize.record(), limits))


def step_refit(ctx: BuildContext) -> FitResult | None:
    """The fit checked again for the chosen precisions (wider types cost more): the same
    plan when it still fits, else a new one for them (:func:`fpga_flow.fit.recheck`);
    still nothing within the budget stops the build before convert. None with --no-fit."""
    if ctx.fit is None:
        return None
    loaded = ctx.loaded
    fit = recheck(ctx.fit, loaded.model, ctx.board, loaded.settings, ctx.precision.hls_config,
                  progress=lambda message: ctx.progress("refit", message))
    return _refuse_unfit(ctx, fit)


def _hls4ml_limits(ctx: BuildContext, result, scratch: Path) -> list:
    """When the closure stopped short of its target: the layers whose error hls4ml's own
    arithmetic leaves, named with the evidence (fpga_flow.emulate.diagnose)."""
    chosen = next(step for step in result.steps if step.iteration == result.chosen_iteration)
    if chosen.agreement >= ctx.config.target_agreement:
        return []
    loaded = ctx.loaded
    graph = model_graph(loaded.model, ctx.board, ctx.settings, scratch, result.hls_config)
    keras_final = np.asarray(loaded.model.predict(loaded.X_calib, verbose=0, batch_size=256))
    limits = hls4ml_limits(graph, loaded.X_calib, keras_final, keras_layer_outputs(loaded.model, loaded.X_calib))
    for limit in limits:
        ctx.progress("precision", f"hls4ml limit in {limit.layer}: agreement {limit.agreement:.4f} as built, "
                                  f"{limit.agreement_if_exact:.4f} with its arithmetic exact")
    return limits


def step_convert(ctx: BuildContext) -> HLSProject:
    """The hls4ml project of the chosen configuration (fitted, unless --no-fit), written
    to ``ctx.project_dir``."""
    project = convert(ctx.loaded.model, ctx.board, ctx.settings, ctx.project_dir, ctx.hls_config)
    # design.json, the description step_estimate prices (so a cached project needs no graph)
    write_design(project.graph, ctx.board, ctx.settings.clock_period_ns, project.output_dir)
    if ctx.fit is not None:
        check_plan_kept(project.graph, ctx.fit.chosen.plan)
    return project


def step_compile(ctx: BuildContext) -> CompiledProject:
    """The project's firmware, bridge and testbench compiled with g++ (in parallel; with
    the build cache on, objects whose preprocessed source is unchanged are reused from
    it), the bridge library linked."""
    return compile_project(ctx.project.output_dir, objects=object_store(ctx.config))


def step_estimate(ctx: BuildContext) -> Estimate:
    """Resources and latency without vendor tools, priced from the project's
    ``design.json`` (written by convert, so a project from the cache needs no graph)."""
    return open_fpga_scope(estimate_project(ctx.project.output_dir, ctx.board), ctx.board)


