"""``fpga-flow build``: one model, one board, the steps of :data:`BUILD_STEPS` over one
:class:`BuildContext`.

:data:`BUILD_STEPS` is the one map of the build. A step is a function
``step_x(ctx) -> result``: it reads what earlier steps left in the context, writes its
files into the run directory, and returns its own typed result, which the driver
(:func:`run_steps`) stores in the context field the step names (``Step.writes``). The
driver marks the run ``INCOMPLETE`` with the running step's name, reports progress and
times each step. ``summary.json`` is written last and atomically (:mod:`fpga_flow.rundir`),
from the context, by :func:`make_summary`.

The steps from ``fit`` to ``estimate`` turn the loaded model into a compiled, estimated
design; one build-cache wrapper (:class:`fpga_flow.cache.CachedSteps`) runs them, or
restores their results from the cache entry an identical earlier build left. The fit
comes first (unless --no-fit), so no step compiles a design the estimate says cannot fit
the board: the closure measures the fitted design, ``refit`` checks it again for the
chosen precisions, and convert writes it (:mod:`fpga_flow.fit`, ``docs/fit.md``).

Adding a step ``x``:

1. write ``def step_x(ctx: BuildContext) -> XResult`` with a docstring saying what it
   reads and writes; define ``XResult`` in the stage's module (a pydantic model when it
   goes into the summary, see :mod:`fpga_flow.summary`);
2. add ``x: XResult | None = None`` to :class:`BuildContext`, under the step that writes it;
3. add ``Step("x", "Doing x", step_x, writes="x")`` to :data:`BUILD_STEPS` where it runs;
   a step that only runs on request (``--rtl``) reads its flag from ``ctx.config`` and
   returns None when not asked;
4. record it in :class:`fpga_flow.summary.RunSummary` and :func:`make_summary`.

Steps after C-simulation read the run directory's files and the context's results
(``loaded``, ``project``, ``compiled``, ``csim``). The RTL steps (``--rtl``) call
:mod:`fpga_flow.rtl`'s stage functions with them; ``fpga-flow rtl RUN_DIR`` calls the same
functions on what :mod:`fpga_flow.rtl.from_run` reads back from a finished run (the
C-simulation outputs recomputed from a copy of the project: an accelerator board's
testbench log holds its AXI wrapper's words, not the model's) and rewrites its summary.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fpga_flow import rundir
from fpga_flow.boards import Board, get_board
from fpga_flow.cache import CachedSteps, CacheUse
from fpga_flow.config import BuildConfig
from fpga_flow.convert import HLSProject, HLSSettings, base_hls_config, convert, model_graph, validated_hls_settings
from fpga_flow.csim import Bridge, CompiledProject, TestbenchResult, compile_project, current_toolchain, gxx, run_testbench
from fpga_flow.errors import UserInputError
from fpga_flow.estimate import Estimate
from fpga_flow.estimate.estimator import RESOURCES
from fpga_flow.fidelity import Fidelity, compare, confusion
from fpga_flow.fit import (
    DoesNotFitError,
    FitRequest,
    FitResult,
    budget_share,
    check_plan_kept,
    fit_design,
    fitted_config,
    recheck,
    with_plan,
)
from fpga_flow.model_io import is_model_file
from fpga_flow.precision import OverflowRecord, PrecisionChoice
from fpga_flow.rtl import check_pnr_board
from fpga_flow.rtl.fit_ecp5 import rtl_budget, unchecked_note
from fpga_flow.rtl.records import REQUIRED_WORD_AGREEMENT, RTL_DIR, GateRecord, PnRRecord, RTLRecord, RTLSimRecord, SkippedStage
from fpga_flow.summary import (
    BudgetCheck,
    Check,
    Checks,
    ConfusionMatrix,
    DataSection,
    FidelitySection,
    ModelSection,
    PrecisionSection,
    RunSummary,
    run_status,
    verdict,
)
from fpga_flow.synth import SynthesisResult

SYNTHETIC_SAMPLES = 1000
CLOSURE_PLOT_NAME = "precision_closure.svg"
CLOSURE_SCRATCH = "closure_work"

Progress = Callable[[str, str], None]  # (step name, "start" | "done" | "skipped[: why]" | a message)
SKIPPED = "skipped"


def _silent(step: str, state: str) -> None:
    pass


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LoadedModel:
    """The load step's result: the Keras model, its data split, and the HLS settings."""

    model: Any  # a tf.keras model
    name: str
    source: str  # absolute: later commands (deploy) load the model again from any folder
    weights: str | None  # absolute, for a .json architecture
    data_origin: str
    X_eval: np.ndarray  # the figures reported are measured on these ...
    y_eval: np.ndarray | None
    X_calib: np.ndarray  # ... and precisions are tuned on these, never on the evaluation split
    settings: HLSSettings

    @cached_property
    def keras_eval(self) -> np.ndarray:
        """Keras's outputs on X_eval, computed on first use (the C-simulation checks): the
        estimate, which loads the model the same way, never needs them."""
        return np.asarray(self.model.predict(self.X_eval, verbose=0, batch_size=256))


@dataclass(frozen=True)
class CsimCheck:
    """The csim_bridge step's result: the compiled model's outputs on the evaluation split
    against Keras, and per layer the Keras values its C++ types cannot hold."""

    outputs: np.ndarray
    fidelity: Fidelity
    overflow: dict[str, OverflowRecord]


@dataclass(frozen=True)
class TestbenchCheck:
    """The testbench step's result: hls4ml's own testbench run on the evaluation split."""

    run: TestbenchResult
    fidelity: Fidelity
    vs_bridge_max_abs: float  # largest difference from the bridge's outputs


@dataclass
class BuildContext:
    """What a build knows so far: the inputs, then one typed result per step (each
    field is written by the one step named beside it, through :func:`run_steps`)."""

    config: BuildConfig
    board: Board
    run_dir: Path
    progress: Progress = _silent
    # Held until the build ends: the cache entry whose weights the compiled code reads.
    holds: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    # Where convert writes the project: the run's folder, or a cache entry being made.
    project_dir: Path | None = None
    loaded: LoadedModel | None = None  # load
    fit: FitResult | None = None  # fit, then refit (None with --no-fit)
    precision: PrecisionChoice | None = None  # precision
    project: HLSProject | None = None  # convert
    compiled: CompiledProject | None = None  # compile
    estimate: Estimate | None = None  # estimate
    csim: CsimCheck | None = None  # csim_bridge
    testbench: TestbenchCheck | None = None  # testbench
    rtl: RTLRecord | SkippedStage | None = None  # rtl (None without --rtl)
    rtl_sim: RTLSimRecord | SkippedStage | None = None  # rtl_sim
    gates: GateRecord | SkippedStage | None = None  # gates
    pnr: PnRRecord | SkippedStage | None = None  # pnr (None without --pnr)
    synthesis: SynthesisResult | None = None  # synthesis
    closure_plot: Path | None = None  # plots
    cache: CacheUse | None = None  # the build-cache wrapper (None with --no-cache)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.project_dir is None:
            self.project_dir = self.run_dir / rundir.PROJECT_DIR

    @property
    def settings(self) -> HLSSettings:
        """The HLS settings the design is converted with: the loaded ones, in the io
        type the fit chose."""
        if self.fit is None:
            return self.loaded.settings
        return self.loaded.settings.model_copy(update={"io_type": self.fit.io_type})

    @property
    def hls_config(self) -> dict[str, Any]:
        """The hls4ml configuration the design is converted with: the chosen precisions,
        with the fit's per-layer strategies and reuse factors."""
        return self.precision.hls_config if self.fit is None else fitted_config(self.precision.hls_config, self.fit)


# --------------------------------------------------------------------------- steps


def step_load(ctx: BuildContext) -> LoadedModel:
    """The model and its evaluation/calibration data (a zoo recipe, trained on demand,
    or a user's model file with its test data or seeded synthetic inputs), the HLS
    settings (the user's, else the recipe's, else HLSSettings' defaults). Keras's outputs
    on the evaluation split are computed when first used (``LoadedModel.keras_eval``)."""
    from fpga_flow.model_io import load_keras_model, load_test_data, model_input_shape

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
        from fpga_flow.train import trained_or_train
        from model_zoo import get_recipe

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
    """The HLS settings of a build: the user's, else the zoo recipe's, else
    HLSSettings' defaults; the clock is the board's unless given."""
    recipe_settings: dict[str, Any] = {}
    if not is_model_file(cfg.model):
        from model_zoo import get_recipe

        recipe = get_recipe(cfg.model)
        recipe_settings = {key: getattr(recipe.hls, key)
                           for key in ("io_type", "strategy", "reuse_factor", "default_precision")}
    chosen = {"io_type": cfg.io_type, "strategy": cfg.strategy, "reuse_factor": cfg.reuse_factor,
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
    from fpga_flow.compat import check_convertible

    check_convertible(ctx.loaded.model)


def starting_config(ctx: BuildContext) -> dict[str, Any]:
    """The precisions the policy starts from, in the loaded settings: hls4ml's defaults
    (``default``), or the inferred ones (``auto``, and ``closure``, which widens from them)."""
    from fpga_flow.precision import infer_precisions

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
    # On ECP5 the estimate does not apply: the RTL's yosys counts decide (fit_check).
    if not fit.fits and not ctx.config.allow_over_budget and ctx.board.hls_vendor_flow:
        raise DoesNotFitError(fit.no_plan(ctx.board.name))
    return fit


def step_precision(ctx: BuildContext) -> PrecisionChoice:
    """The hls4ml configuration the precision policy chooses for the fitted design (the
    fit's io type and plan), tuned on the calibration split. ``closure`` emulates each
    candidate (compiling it in a scratch folder of the run directory only when the
    emulator does not cover a layer) and reports each iteration through ``ctx.progress``."""
    from fpga_flow.precision import close_precisions, infer_precisions

    loaded, policy, settings = ctx.loaded, ctx.config.precision_policy, ctx.settings
    config = base_hls_config(loaded.model, settings, ctx.board.backend)
    if ctx.fit is not None:
        config = with_plan(config, ctx.fit.chosen.plan)
    if policy == "default":
        return PrecisionChoice(policy=policy, hls_config=config)
    if policy == "auto":
        return PrecisionChoice(policy=policy, hls_config=infer_precisions(loaded.model, config, loaded.X_calib))
    from fpga_flow.emulate.realize import EmulatingRealizer

    scratch = ctx.run_dir / CLOSURE_SCRATCH

    def compile_design(hls_config: dict) -> Bridge:
        shutil.rmtree(scratch, ignore_errors=True)
        project = convert(loaded.model, ctx.board, settings, scratch, hls_config)
        return Bridge.load(compile_project(project.output_dir, objects=_object_store(ctx.config)))

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
    from fpga_flow.emulate.diagnose import hls4ml_limits
    from fpga_flow.precision import keras_layer_outputs

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
    if ctx.fit is not None:
        check_plan_kept(project.graph, ctx.fit.chosen.plan)
    return project


def step_compile(ctx: BuildContext) -> CompiledProject:
    """The project's firmware, bridge and testbench compiled with g++ (in parallel; with
    the build cache on, objects whose preprocessed source is unchanged are reused from
    it), the bridge library linked."""
    return compile_project(ctx.project.output_dir, objects=_object_store(ctx.config))


def _object_store(cfg: BuildConfig):
    """The build cache as a store of compiled objects; None with the cache off."""
    from fpga_flow.cache import BuildCache, default_cache_dir

    return BuildCache(cfg.cache_dir or default_cache_dir(cfg.reports_dir)) if cfg.use_cache else None


def step_estimate(ctx: BuildContext) -> Estimate:
    """Resources and latency without vendor tools, priced from the project's
    ``design.json`` (written by convert, so a project from the cache needs no graph)."""
    from fpga_flow.estimate import estimate_project
    from fpga_flow.rtl import open_fpga_scope

    return open_fpga_scope(estimate_project(ctx.project.output_dir, ctx.board), ctx.board)


def step_csim_bridge(ctx: BuildContext) -> CsimCheck:
    """The compiled model called on the evaluation split through its bridge library,
    compared with Keras; per layer, the Keras values outside the layer's C++ type."""
    from fpga_flow.precision import keras_layer_outputs, overflow_report

    loaded = ctx.loaded
    outputs, _ = Bridge.load(ctx.compiled).trace(loaded.X_eval)
    overflow = overflow_report(keras_layer_outputs(loaded.model, loaded.X_eval),
                               ctx.project.bridge_spec["layer_precisions"])
    return CsimCheck(outputs, compare(loaded.keras_eval, outputs, loaded.y_eval), overflow)


def step_testbench(ctx: BuildContext) -> TestbenchCheck:
    """hls4ml's testbench built against the compiled firmware and run on the evaluation split."""
    loaded = ctx.loaded
    run = run_testbench(ctx.compiled, loaded.X_eval, loaded.keras_eval)
    return TestbenchCheck(run, compare(loaded.keras_eval, run.predictions, loaded.y_eval),
                          float(np.abs(run.predictions - ctx.csim.outputs).max()))


def step_rtl(ctx: BuildContext) -> RTLRecord | SkippedStage | None:
    """With ``--rtl``: the Verilog of the model as the converted project computes it,
    pipelined for the clock, in ``rtl/`` (:mod:`fpga_flow.rtl`); skipped with the reason
    for a model it does not mirror."""
    from fpga_flow.rtl import rtl_stage

    if not ctx.config.rtl:
        return None
    return rtl_stage(ctx.loaded.model, ctx.board, ctx.settings, ctx.hls_config, ctx.project.output_dir,
                     ctx.run_dir / RTL_DIR, ctx.config.stage_levels)


def step_rtl_sim(ctx: BuildContext) -> RTLSimRecord | SkippedStage | None:
    """The RTL simulated by Verilator on the evaluation split, against the bridge's outputs
    word for word and against Keras by argmax; skipped without verilator."""
    from fpga_flow.rtl import rtl_sim_stage

    if ctx.rtl is None:
        return None
    return rtl_sim_stage(ctx.rtl, ctx.loaded.X_eval, ctx.csim.outputs, ctx.loaded.keras_eval, ctx.run_dir / RTL_DIR)


def step_gates(ctx: BuildContext) -> GateRecord | SkippedStage | None:
    """The RTL synthesized by yosys for the board's family; skipped without yosys."""
    from fpga_flow.cache import default_cache_dir
    from fpga_flow.rtl import gates_stage

    if ctx.rtl is None:
        return None
    cfg = ctx.config
    # yosys' counts per pipeline stage, kept by content beside the build cache's entries.
    modules = Path(cfg.cache_dir or default_cache_dir(cfg.reports_dir)) / "gates" if cfg.use_cache else None
    return gates_stage(ctx.rtl, ctx.board, ctx.run_dir / RTL_DIR, cache_dir=modules)


def step_pnr(ctx: BuildContext) -> PnRRecord | SkippedStage | None:
    """With ``--pnr`` (ECP5 boards): the board top level simulated bytes in, bytes out
    against the bridge's outputs, placed and routed by nextpnr-ecp5, packed by ecppack."""
    from fpga_flow.rtl import pnr_stage

    if not ctx.config.pnr:
        return None
    return pnr_stage(ctx.rtl, ctx.gates, ctx.board, ctx.loaded.X_eval, ctx.csim.outputs, ctx.run_dir / RTL_DIR,
                     budget=1.0 if ctx.config.allow_over_budget else ctx.config.fit_budget)


def step_synthesis(ctx: BuildContext) -> SynthesisResult:
    """Vendor synthesis when asked and the backend's tool is on PATH, else why not."""
    from fpga_flow.synth import SynthesisFailed, run_synthesis, skipped

    if not ctx.board.hls_vendor_flow:
        return SynthesisResult(status="skipped", reason=f"no vendor synthesis for {ctx.board.name} ({ctx.board.vendor}): "
                                                        "--rtl --pnr runs the open tools")
    result = skipped(ctx.board.backend, ctx.config.synth)
    if result is not None:
        return result
    try:
        return run_synthesis(ctx.project.output_dir, ctx.board.backend)
    except SynthesisFailed as exc:
        return SynthesisResult(status="failed", reason=str(exc), failed_stage=exc.stage, log=str(exc.log))


def step_plots(ctx: BuildContext) -> Path | None:
    """The closure's per-layer errors and iterations as an SVG (closure policy only)."""
    from fpga_flow.precision import plot_closure

    if ctx.precision.closure is None:
        return None
    path = ctx.run_dir / CLOSURE_PLOT_NAME
    plot_closure(ctx.precision.closure, path)
    return path


@dataclass(frozen=True)
class Step:
    """One named step of the build; ``writes`` is the BuildContext field its result goes to."""

    name: str
    title: str
    run: Callable[[BuildContext], Any]
    writes: str | None = None

    @property
    def steps(self) -> tuple["Step", ...]:
        return (self,)

    def run_in(self, ctx: BuildContext) -> None:
        rundir.mark_incomplete(ctx.run_dir, self.name)
        ctx.progress(self.name, "start")
        start = time.perf_counter()
        result = self.run(ctx)
        if self.writes is not None:
            setattr(ctx, self.writes, result)
        ctx.timings[self.name] = round(time.perf_counter() - start, 3)
        ctx.progress(self.name, skip_note(result) if self.writes is not None else "done")


def skip_note(result: Any) -> str:
    """The progress state a step ends in: "done", or "skipped" (with the reason when the
    result gives one) for a step that did not run: it returned None (not asked: --rtl,
    --no-fit, no closure to plot) or a record whose status is "skipped"."""
    if result is None:
        return SKIPPED
    if getattr(result, "status", None) == "skipped":
        reason = getattr(result, "reason", None)
        return f"{SKIPPED}: {reason}" if reason else SKIPPED
    return "done"


BUILD_STEPS: tuple[Step | CachedSteps, ...] = (
    Step("load", "Loading model and data", step_load, writes="loaded"),
    Step("check", "Checking layers against hls4ml", step_check),
    CachedSteps(
        Step("fit", "Fitting the design to the board", step_fit, writes="fit"),
        Step("precision", "Choosing precisions", step_precision, writes="precision"),
        Step("refit", "Checking the fit for the chosen precisions", step_refit, writes="fit"),
        Step("convert", "Converting with hls4ml", step_convert, writes="project"),
        Step("compile", "Compiling C-simulation (g++)", step_compile, writes="compiled"),
        Step("estimate", "Estimating resources and latency", step_estimate, writes="estimate"),
    ),
    Step("csim_bridge", "C-simulation through the bridge", step_csim_bridge, writes="csim"),
    Step("testbench", "C-simulation through the testbench", step_testbench, writes="testbench"),
    Step("rtl", "Writing the RTL (da4ml)", step_rtl, writes="rtl"),
    Step("rtl_sim", "Simulating the RTL (Verilator)", step_rtl_sim, writes="rtl_sim"),
    Step("gates", "Synthesizing the RTL (yosys)", step_gates, writes="gates"),
    Step("pnr", "Placing and routing (nextpnr-ecp5)", step_pnr, writes="pnr"),
    Step("synthesis", "Vendor synthesis", step_synthesis, writes="synthesis"),
    Step("plots", "Plotting", step_plots, writes="closure_plot"),
)


def step_titles(steps=BUILD_STEPS) -> dict[str, str]:
    """Every step's title by name, the cached ones included."""
    return {step.name: step.title for item in steps for step in item.steps}


# --------------------------------------------------------------------------- driver


def check_model_reference(cfg: BuildConfig) -> None:
    """A zoo name or an existing model file, checked before a run directory is made."""
    from model_zoo import get_recipe

    path = Path(cfg.model)
    if is_model_file(path):
        if not path.is_file():
            raise UserInputError(f"model file {path} not found: give a .h5, .keras or .json (with --weights) file")
    else:
        get_recipe(cfg.model)


def default_run_dir(cfg: BuildConfig) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return cfg.reports_dir / "runs" / f"{Path(cfg.model).stem}_{cfg.board}_{stamp}"


def prepare_run_dir(cfg: BuildConfig) -> Path:
    run_dir = cfg.out if cfg.out is not None else default_run_dir(cfg)
    if run_dir.exists() and any(run_dir.iterdir()):
        if not cfg.force:
            raise UserInputError(f"output directory {run_dir} already exists: choose another --out or add --force to replace it")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Compilers and tools run inside the project, so every path handed on is absolute.
    return run_dir.resolve()


def run_steps(ctx: BuildContext, steps=BUILD_STEPS) -> None:
    """Run ``steps`` in order over ``ctx``."""
    for item in steps:
        item.run_in(ctx)


def run_build(cfg: BuildConfig, progress: Progress = _silent) -> RunSummary:
    """Run every step; return the summary (also written to ``summary.json``)."""
    board = get_board(cfg.board, cfg.boards_dir)
    check_pnr_board(cfg, board)
    gxx()  # fail before any work when C-simulation cannot run
    check_model_reference(cfg)
    run_dir = prepare_run_dir(cfg)
    start = time.perf_counter()
    with contextlib.ExitStack() as holds:
        ctx = BuildContext(cfg, board, run_dir, progress, holds)
        run_steps(ctx)
        ctx.timings["total"] = round(time.perf_counter() - start, 3)
        summary = make_summary(ctx)
        (run_dir / rundir.HLS_CONFIG_NAME).write_text(json.dumps(ctx.hls_config, indent=2, default=str))
        rundir.write_json_atomic(run_dir / rundir.SUMMARY_NAME, summary.model_dump(mode="json"))
    write_page_and_history(cfg, run_dir, summary)
    rundir.clear_incomplete(run_dir)
    return summary


def write_page_and_history(cfg: BuildConfig, run_dir: Path, summary: RunSummary) -> None:
    from fpga_flow.dashboard import write_run_page
    from fpga_flow.history import RunHistory, default_db_path

    write_run_page(run_dir)
    if cfg.record_history:
        RunHistory(default_db_path(cfg.reports_dir)).record_run(summary, kind="build")


def make_summary(ctx: BuildContext) -> RunSummary:
    """The run's summary from the context's results."""
    cfg, loaded, bridge, testbench = ctx.config, ctx.loaded, ctx.csim.fidelity, ctx.testbench.fidelity
    checks = Checks(csim_agreement=_check(bridge.agreement, cfg.min_agreement),
                    testbench_agreement=_check(testbench.agreement, cfg.min_agreement),
                    fit_budget=fit_check(ctx),
                    target_latency=_target_check(ctx.fit), rtl_word_agreement=rtl_check(ctx.rtl_sim),
                    **pnr_checks(ctx.pnr))
    classes = loaded.keras_eval.reshape(len(loaded.keras_eval), -1).shape[1]
    return RunSummary(
        run_id=ctx.run_dir.name,
        status=run_status(checks, ctx.synthesis),
        verdict="; ".join(filter(None, (verdict(checks, ctx.board.name, ctx.synthesis),
                                        unchecked_note(ctx.board, ctx.gates)))),
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=ModelSection(name=loaded.name, source=loaded.source, weights=loaded.weights,
                           layer_families=sorted({type(layer).__name__ for layer in loaded.model.layers})),
        data=DataSection(origin=loaded.data_origin, n_eval=len(loaded.X_eval), n_calibration=len(loaded.X_calib)),
        board=ctx.board.record(),
        hls=ctx.settings,
        checks=checks,
        fidelity=FidelitySection(
            keras_accuracy=bridge.keras_accuracy, csim_accuracy=bridge.csim_accuracy,
            csim_agreement=bridge.agreement, testbench_agreement=testbench.agreement,
            testbench_vs_bridge_max_abs=ctx.testbench.vs_bridge_max_abs,
            max_abs_error=bridge.max_abs_error, mean_abs_error=bridge.mean_abs_error,
            confusion_matrix=ConfusionMatrix(labels=[str(i) for i in range(classes)],
                                             counts=confusion(loaded.keras_eval, ctx.csim.outputs)),
        ),
        precision=PrecisionSection(policy=ctx.precision.policy, closure=ctx.precision.closure,
                                   layer_precisions=ctx.project.bridge_spec["layer_precisions"],
                                   overflow=ctx.csim.overflow),
        estimate=ctx.estimate,
        fit=ctx.fit,
        synthesis=ctx.synthesis,
        rtl=ctx.rtl,
        rtl_sim=ctx.rtl_sim,
        gates=ctx.gates,
        pnr=ctx.pnr,
        cache=ctx.cache,
        artifacts=_artifacts(ctx),
        timings_s=ctx.timings,
        toolchain=current_toolchain(),
        config=cfg,
    )


def _artifacts(ctx: BuildContext) -> dict[str, str]:
    run_dir = ctx.run_dir
    found = {
        "run_dir": run_dir, "summary": run_dir / rundir.SUMMARY_NAME, "dashboard": run_dir / rundir.RUN_PAGE_NAME,
        "hls_config": run_dir / rundir.HLS_CONFIG_NAME, "hls_project": ctx.project.output_dir,
        "csim_library": ctx.compiled.library, "testbench_log": ctx.testbench.run.log,
        "testbench_results": ctx.testbench.run.results_file, "closure_plot": ctx.closure_plot,
        "rtl_dir": None if ctx.rtl is None else run_dir / RTL_DIR,
    }
    return {name: str(path) for name, path in found.items() if path is not None}


def _check(value: float, threshold: float) -> Check:
    return Check(value=value, threshold=threshold, passed=value >= threshold)


def budget_check(estimate: Estimate, board: Board, budget: float) -> BudgetCheck:
    """The build's estimate against the board (every build, fitted or not): its largest
    resource share within ``budget``, by the fit's own rule (:func:`fpga_flow.fit.budget_share`)."""
    used = {key: estimate.resources[key] for key in RESOURCES}
    binding, share, fits = budget_share(used, {key: getattr(board.resources, key) for key in RESOURCES}, budget)
    return BudgetCheck(value=round(share, 4), threshold=budget, passed=fits, resource=binding,
                       estimate_error=estimate.error_of(binding))


def fit_check(ctx: BuildContext) -> BudgetCheck | None:
    """The design against the board: the estimate's figures, or on a board without a vendor
    HLS flow (ECP5) the RTL's yosys counts (:mod:`fpga_flow.rtl.fit_ecp5`), None without them."""
    if ctx.board.hls_vendor_flow:
        return budget_check(ctx.estimate, ctx.board, ctx.config.fit_budget)
    fields = rtl_budget(ctx.gates, ctx.board, ctx.config.fit_budget)
    return None if fields is None else BudgetCheck(**fields)


def _target_check(fit: FitResult | None) -> Check | None:
    """With the fit's --target-latency: the chosen plan's latency (ns) within it."""
    target = None if fit is None else fit.request.target_latency_ns
    if target is None:
        return None
    return Check(value=fit.chosen.latency_ns, threshold=target, passed=bool(fit.target_met))


def rtl_check(rtl_sim: RTLSimRecord | SkippedStage | None) -> Check | None:
    """The RTL's word agreement with the C-simulation as a check, when the simulation ran."""
    if not isinstance(rtl_sim, RTLSimRecord):
        return None
    return _check(rtl_sim.word_agreement, REQUIRED_WORD_AGREEMENT)


def pnr_checks(pnr: PnRRecord | SkippedStage | None) -> dict[str, Check]:
    """Place and route's checks: the achieved Fmax at least the clock, and the board top
    level's words equal to the C-simulation's (each when it ran)."""
    if not isinstance(pnr, PnRRecord):
        return {}
    checks = {"pnr_fmax": Check(value=pnr.achieved_mhz or 0.0, threshold=pnr.target_mhz, passed=pnr.timing_met)}
    if pnr.top_sim.word_agreement is not None:
        checks["top_word_agreement"] = _check(pnr.top_sim.word_agreement, REQUIRED_WORD_AGREEMENT)
    return checks
