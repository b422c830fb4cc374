"""``fpga-flow build``: one model, one board, a list of named steps over one context.

Each step reads what earlier steps left in :class:`BuildContext`, writes its own files
into the run directory, and is timed. ``summary.json`` is written last and atomically;
until then the run directory holds an ``INCOMPLETE`` marker naming the running step.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from fpga_flow import rundir
from fpga_flow.boards import Board, get_board
from fpga_flow.convert import IO_TYPES, STRATEGIES, HLSProject, HLSSettings, base_hls_config, convert, settings_dict
from fpga_flow.csim import BUILD_SUBDIR, COMPILE_LOG, Bridge, CompiledProject, compile_project, gxx, gxx_version, run_testbench
from fpga_flow.errors import StageFailedError, UserInputError
from fpga_flow.fidelity import compare, confusion
from fpga_flow.precision import POLICIES, close_precisions, infer_precisions, keras_layer_outputs, overflow_report

DEFAULT_REPORTS_DIR = Path("reports")
INPUT_DISTRIBUTIONS = ("normal", "uniform")
SYNTHETIC_SAMPLES = 1000
SCHEMA_VERSION = 1
PROJECT_DIR = "hls_project"


class BuildConfig(BaseModel):
    """Everything a build depends on, as the user gave it."""

    model_config = ConfigDict(extra="forbid")

    model: str
    board: str
    out: Path | None = None
    io_type: str | None = None
    strategy: str | None = None
    reuse_factor: int | None = Field(default=None, ge=1)
    clock_period_ns: float | None = Field(default=None, gt=0, le=100)
    synth: bool = False
    min_agreement: float = Field(default=0.99, ge=0, le=1)
    precision_policy: str = "closure"
    target_agreement: float = Field(default=0.999, ge=0, le=1)
    test_data: Path | None = None
    weights: Path | None = None
    input_dist: str = "normal"
    epochs: int | None = Field(default=None, ge=1)
    boards_dir: Path | None = None
    reports_dir: Path = DEFAULT_REPORTS_DIR
    force: bool = False
    max_samples: int | None = Field(default=None, ge=2)
    cache_dir: Path | None = None
    use_cache: bool = True
    record_history: bool = True

    @field_validator("io_type")
    @classmethod
    def _io(cls, v):
        if v is not None and v not in IO_TYPES:
            raise ValueError(f"must be one of {', '.join(IO_TYPES)}")
        return v

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v):
        if v is not None and v.capitalize() not in STRATEGIES:
            raise ValueError(f"must be one of {', '.join(STRATEGIES)}")
        return None if v is None else v.capitalize()

    @field_validator("precision_policy")
    @classmethod
    def _policy(cls, v):
        if v not in POLICIES:
            raise ValueError(f"must be one of {', '.join(POLICIES)}")
        return v

    @field_validator("input_dist")
    @classmethod
    def _dist(cls, v):
        if v not in INPUT_DISTRIBUTIONS:
            raise ValueError(f"must be one of {', '.join(INPUT_DISTRIBUTIONS)}")
        return v


@dataclass
class BuildContext:
    config: BuildConfig
    board: Board
    run_dir: Path
    settings: HLSSettings | None = None
    model: Any = None
    model_name: str = ""
    model_source: str = ""
    X_eval: np.ndarray | None = None
    y_eval: np.ndarray | None = None
    X_calib: np.ndarray | None = None
    data_origin: str = ""
    keras_eval: np.ndarray | None = None
    hls_config: dict | None = None
    closure: dict | None = None
    project: HLSProject | None = None
    compiled: CompiledProject | None = None
    bridge: Bridge | None = None
    cache: Any = None  # fpga_flow.cache.BuildCacheUse once a step has used the build cache
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


Step = Callable[[BuildContext], None]
Progress = Callable[[str, str], None]  # (step name, "start" | "done" | message)


def _silent(step: str, state: str) -> None:
    pass


# --------------------------------------------------------------------------- steps


def step_load(ctx: BuildContext) -> None:
    """The model and its evaluation/calibration data: a zoo recipe (trained on demand)
    or a user's model file with its test data (or seeded synthetic inputs)."""
    from fpga_flow.model_io import load_keras_model, load_test_data, model_input_shape

    cfg = ctx.config
    path = Path(cfg.model)
    if path.suffix in (".h5", ".keras", ".json") or path.exists():
        ctx.model = load_keras_model(path, cfg.weights)
        ctx.model_name = path.stem
        ctx.model_source = str(path)
        shape = model_input_shape(ctx.model)
        if cfg.test_data is not None:
            X, y = load_test_data(cfg.test_data, shape)
            ctx.data_origin = f"test data {cfg.test_data}"
        else:
            X, y = _synthetic_inputs(shape, cfg.input_dist), None
            ctx.data_origin = f"{SYNTHETIC_SAMPLES} synthetic inputs, {cfg.input_dist} distribution, seed 0"
        # User data: the first half tunes precisions, the second half is the unseen evaluation.
        half = len(X) // 2
        if half == 0:
            raise UserInputError(f"{cfg.test_data}: at least 2 samples are needed (one to tune, one to evaluate)")
        ctx.X_calib, ctx.X_eval = X[:half], X[half:]
        ctx.y_eval = None if y is None else y[half:]
        recipe_hls = None
    else:
        from model_zoo import get_recipe
        from fpga_flow.train import trained_or_train

        recipe = get_recipe(cfg.model)
        trained = trained_or_train(recipe, cfg.reports_dir / "zoo", cfg.epochs)
        ctx.model = trained.load_model()
        ctx.model_name = recipe.name
        ctx.model_source = str(trained.model_path)
        data = trained.load_data()
        ctx.X_eval, ctx.y_eval, ctx.X_calib = data["X"], data["y"], data["X_calib"]
        ctx.data_origin = f"zoo test split ({len(data['X'])}) and training calibration slice ({len(data['X_calib'])})"
        recipe_hls = recipe.hls
    if cfg.max_samples is not None:
        ctx.X_eval = ctx.X_eval[: cfg.max_samples]
        ctx.y_eval = None if ctx.y_eval is None else ctx.y_eval[: cfg.max_samples]
        ctx.X_calib = ctx.X_calib[: cfg.max_samples]
    ctx.settings = HLSSettings(
        io_type=cfg.io_type or (recipe_hls.io_type if recipe_hls else "io_parallel"),
        strategy=cfg.strategy or (recipe_hls.strategy if recipe_hls else "Latency"),
        reuse_factor=cfg.reuse_factor or (recipe_hls.reuse_factor if recipe_hls else 1),
        clock_period_ns=cfg.clock_period_ns or ctx.board.clock_period_ns,
        default_precision=recipe_hls.default_precision if recipe_hls else "ap_fixed<16,6>",
    )
    ctx.keras_eval = np.asarray(ctx.model.predict(ctx.X_eval, verbose=0, batch_size=256))


def _synthetic_inputs(shape: tuple[int, ...], dist: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    size = (SYNTHETIC_SAMPLES, *shape)
    if dist == "uniform":
        return rng.uniform(-1.0, 1.0, size=size).astype(np.float32)
    return rng.standard_normal(size=size).astype(np.float32)


def step_check(ctx: BuildContext) -> None:
    """Refuse what hls4ml 1.3.0 cannot convert before conversion starts, naming the layer."""
    from fpga_flow.compat import check_convertible

    check_convertible(ctx.model)


def _build_cache(ctx: BuildContext):
    """The build cache as this build uses it, opened on first use; None with ``use_cache`` off."""
    if not ctx.config.use_cache:
        return None
    if ctx.cache is None:
        from fpga_flow.cache import BuildCache, BuildCacheUse, default_cache_dir, model_digest

        folder = ctx.config.cache_dir or default_cache_dir(ctx.config.reports_dir)
        ctx.cache = BuildCacheUse(BuildCache(folder), model_digest(ctx.model), ctx.board.model_dump(mode="json"),
                                  settings_dict(ctx.settings))
    return ctx.cache


def step_precision(ctx: BuildContext, progress: Progress = _silent) -> None:
    cfg = ctx.config
    config = base_hls_config(ctx.model, ctx.settings, ctx.board.backend)
    cache = _build_cache(ctx)
    if cache is None:
        ctx.hls_config, ctx.closure = _choose_precisions(ctx, config, progress)
        return
    from fpga_flow.cache import array_digest, precision_key

    policy = cfg.precision_policy
    key = precision_key(cache.model_id, cache.board, cache.settings, config, policy,
                        None if policy == "default" else array_digest(ctx.X_calib),
                        cfg.target_agreement if policy == "closure" else None)

    def create(_payload: Path) -> dict[str, Any]:
        hls_config, closure = _choose_precisions(ctx, config, progress)
        return {"hls_config": hls_config, "closure": closure}

    # Hit or miss, the configuration is the one read back from the entry, so both paths
    # convert exactly the same (JSON) configuration.
    with cache.store.get_or_create(key, "precision", create) as entry:
        ctx.hls_config, ctx.closure = entry.meta["hls_config"], entry.meta["closure"]
    cache.record("precision", key, entry.hit)


def _choose_precisions(ctx: BuildContext, config: dict, progress: Progress) -> tuple[dict, dict | None]:
    """The hls4ml configuration the precision policy chooses, and the closure record."""
    cfg = ctx.config
    if cfg.precision_policy == "default":
        return config, None
    if cfg.precision_policy == "auto":
        return infer_precisions(ctx.model, config, ctx.X_calib), None
    scratch = ctx.run_dir / "closure_work"

    def realize(hls_config: dict) -> Bridge:
        shutil.rmtree(scratch, ignore_errors=True)
        project = convert(ctx.model, ctx.board, ctx.settings, scratch, hls_config)
        return Bridge.load(compile_project(project.output_dir))

    def on_step(step) -> None:
        progress("precision", f"iteration {step.iteration}: agreement {step.agreement:.4f} ({step.change[:60]})")

    result = close_precisions(ctx.model, config, ctx.X_calib, realize, cfg.target_agreement, on_step=on_step)
    shutil.rmtree(scratch, ignore_errors=True)
    return result.hls_config, result.to_dict()


def step_convert(ctx: BuildContext) -> None:
    project_dir = ctx.run_dir / PROJECT_DIR
    cache = _build_cache(ctx)
    if cache is not None:
        from fpga_flow.cache import project_key

        key = project_key(cache.model_id, cache.board, cache.settings, ctx.hls_config)
        with cache.store.read(key) as entry:
            if entry is not None:
                shutil.copytree(entry.payload / PROJECT_DIR, project_dir)
                cache.project, cache.project_source = entry.meta, entry.payload
        cache.record("convert", key, entry is not None)
    if cache is not None and cache.project is not None:
        ctx.project = HLSProject(project_dir, ctx.board.backend, ctx.board.part, ctx.hls_config)
    else:
        ctx.project = convert(ctx.model, ctx.board, ctx.settings, project_dir, ctx.hls_config)
    ctx.artifacts["hls_project"] = str(ctx.project.output_dir)
    (ctx.run_dir / "hls_config.json").write_text(json.dumps(ctx.hls_config, indent=2, default=str))
    ctx.artifacts["hls_config"] = str(ctx.run_dir / "hls_config.json")


def step_compile(ctx: BuildContext) -> None:
    cache = _build_cache(ctx)
    if cache is None:
        ctx.compiled = compile_project(ctx.project.output_dir)
        ctx.bridge = Bridge.load(ctx.compiled)
    else:
        _compile_through_cache(ctx, cache)
    ctx.artifacts["csim_library"] = str(ctx.compiled.library)
    ctx.results["compile_flags"] = " ".join(ctx.compiled.flags)


def _compile_through_cache(ctx: BuildContext, cache) -> None:
    """Compile the project inside its cache entry, or find it compiled there, and use a
    copy of the objects. The compiled code reads its weights from the folder it was
    compiled in, so the entry's folder is where compiling happens."""
    from fpga_flow.estimate import estimate

    key = cache.stages["convert"]["key"]
    project_dir = ctx.project.output_dir

    def create(payload: Path) -> dict[str, Any]:
        target = payload / PROJECT_DIR
        if ctx.project.graph is not None:
            shutil.copytree(project_dir, target)
            graph = ctx.project.graph
        else:  # the entry this conversion was copied from was evicted since: convert again
            graph = convert(ctx.model, ctx.board, ctx.settings, target, ctx.hls_config).graph
        compiled = compile_project(target)
        return {"library": compiled.library.name, "objects": [obj.name for obj in compiled.firmware_objects],
                "flags": list(compiled.flags), "compile_seconds": round(compiled.seconds, 3),
                "estimate": estimate(graph, ctx.settings, ctx.board).to_dict()}

    with cache.store.get_or_create(key, "project", create) as entry:
        if entry.payload != cache.project_source:
            source = entry.payload / PROJECT_DIR
            shutil.rmtree(project_dir / BUILD_SUBDIR, ignore_errors=True)
            shutil.copytree(source / BUILD_SUBDIR, project_dir / BUILD_SUBDIR)
            shutil.copy2(source / COMPILE_LOG, project_dir / COMPILE_LOG)
        meta = entry.meta
        build = project_dir / BUILD_SUBDIR
        ctx.compiled = CompiledProject(project_dir, build / meta["library"],
                                       tuple(build / name for name in meta["objects"]), tuple(meta["flags"]),
                                       meta["compile_seconds"])
        ctx.bridge = Bridge.load(ctx.compiled)
        # The first call reads the weights files (then never again): do it while the
        # entry is held, so eviction cannot pull them from under this process.
        ctx.bridge.predict(ctx.X_eval[:1])
    cache.project = meta
    cache.record("compile", key, entry.hit)


def step_csim_bridge(ctx: BuildContext) -> None:
    out, traces = ctx.bridge.trace(ctx.X_eval)
    ctx.results["csim_out"] = out
    fid = compare(ctx.keras_eval, out, ctx.y_eval)
    ctx.results["fidelity"] = fid
    keras_layers = keras_layer_outputs(ctx.model, ctx.X_eval)
    ctx.results["overflow"] = overflow_report(keras_layers, ctx.project.bridge_spec["layer_precisions"])


def step_testbench(ctx: BuildContext) -> None:
    tb = run_testbench(ctx.compiled, ctx.X_eval, ctx.keras_eval)
    ctx.results["testbench"] = compare(ctx.keras_eval, tb.predictions, ctx.y_eval)
    ctx.results["testbench_vs_bridge_max_abs"] = float(np.abs(tb.predictions - ctx.results["csim_out"]).max())
    ctx.artifacts["testbench_log"] = str(tb.log)
    ctx.artifacts["testbench_results"] = str(tb.results_file)


def step_estimate(ctx: BuildContext) -> None:
    from fpga_flow.estimate import estimate

    if ctx.cache is not None and ctx.cache.project is not None:
        # A cached project has no hls4ml graph: its estimate was stored beside it.
        ctx.results["estimate"] = ctx.cache.project["estimate"]
    else:
        ctx.results["estimate"] = estimate(ctx.project.graph, ctx.settings, ctx.board).to_dict()


def step_synthesis(ctx: BuildContext) -> None:
    from fpga_flow.synth import SynthesisFailed, SynthesisResult, run_synthesis, skipped

    result = skipped(ctx.board.backend, ctx.config.synth)
    if result is None:
        try:
            result = run_synthesis(ctx.project.output_dir, ctx.board.backend)
        except SynthesisFailed as exc:
            result = SynthesisResult("failed", str(exc), failed_stage=exc.stage, log=str(exc.log))
    ctx.results["synthesis"] = result.to_dict()


def step_plots(ctx: BuildContext) -> None:
    from fpga_flow.precision import plot_closure

    if ctx.closure:
        path = ctx.run_dir / "precision_closure.svg"
        plot_closure(ctx.closure, path)
        ctx.artifacts["closure_plot"] = str(path)


BUILD_STEPS: tuple[tuple[str, str, Step], ...] = (
    ("load", "Loading model and data", step_load),
    ("check", "Checking layers against hls4ml", step_check),
    ("precision", "Choosing precisions", step_precision),
    ("convert", "Converting with hls4ml", step_convert),
    ("compile", "Compiling C-simulation (g++)", step_compile),
    ("csim_bridge", "C-simulation through the bridge", step_csim_bridge),
    ("testbench", "C-simulation through the testbench", step_testbench),
    ("estimate", "Estimating resources and latency", step_estimate),
    ("synthesis", "Vendor synthesis", step_synthesis),
    ("plots", "Plotting", step_plots),
)


# --------------------------------------------------------------------------- driver


def _check_model_reference(cfg: BuildConfig) -> None:
    """A zoo name or an existing model file, checked before a run directory is made."""
    from fpga_flow.model_io import MODEL_SUFFIXES
    from model_zoo import get_recipe

    path = Path(cfg.model)
    if path.suffix in MODEL_SUFFIXES or path.exists():
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


def run_build(cfg: BuildConfig, progress: Progress = _silent) -> dict[str, Any]:
    """Run every step; return the summary (also written to ``summary.json``)."""
    board = get_board(cfg.board, cfg.boards_dir)
    gxx()  # fail before any work when C-simulation cannot run
    _check_model_reference(cfg)
    run_dir = prepare_run_dir(cfg)
    ctx = BuildContext(cfg, board, run_dir)
    total = time.perf_counter()
    for name, title, step in BUILD_STEPS:
        rundir.mark_incomplete(run_dir, name)
        progress(name, "start")
        start = time.perf_counter()
        if step is step_precision:
            step(ctx, progress)
        else:
            step(ctx)
        ctx.timings[name] = round(time.perf_counter() - start, 3)
        progress(name, "done")
    ctx.timings["total"] = round(time.perf_counter() - total, 3)
    summary = make_summary(ctx)
    summary["artifacts"]["dashboard"] = str(run_dir / "dashboard.html")
    rundir.write_json_atomic(run_dir / rundir.SUMMARY_NAME, summary)
    _write_page_and_history(cfg, run_dir, summary)
    rundir.clear_incomplete(run_dir)
    return summary


def _write_page_and_history(cfg: BuildConfig, run_dir: Path, summary: dict[str, Any]) -> None:
    from fpga_flow.dashboard import write_run_page
    from fpga_flow.history import RunHistory, default_db_path

    write_run_page(run_dir)
    if cfg.record_history:
        RunHistory(default_db_path(cfg.reports_dir)).record_run(summary, kind="build")


def make_summary(ctx: BuildContext) -> dict[str, Any]:
    cfg, s = ctx.config, ctx.settings
    fid = ctx.results["fidelity"]
    tb = ctx.results.get("testbench")
    checks = {
        "csim_agreement": _check(fid.agreement, cfg.min_agreement),
        "testbench_agreement": _check(tb.agreement if tb else None, cfg.min_agreement),
    }
    synthesis = ctx.results["synthesis"]
    passed = all(c["passed"] for c in checks.values())
    status = "synthesis_failed" if synthesis["status"] == "failed" else "passed" if passed else "check_failed"
    ctx.artifacts.update(run_dir=str(ctx.run_dir), summary=str(ctx.run_dir / rundir.SUMMARY_NAME))
    labels = [str(i) for i in range(ctx.keras_eval.reshape(len(ctx.keras_eval), -1).shape[1])]
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": ctx.run_dir.name,
        "status": status,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": ctx.model_name,
        "model_source": ctx.model_source,
        "layer_families": sorted({type(layer).__name__ for layer in ctx.model.layers}),
        "board": ctx.board.name,
        "part": ctx.board.part,
        "family": ctx.board.family,
        "backend": ctx.board.backend,
        "io_type": s.io_type,
        "strategy": s.strategy,
        "reuse_factor": s.reuse_factor,
        "clock_period_ns": s.clock_period_ns,
        "precision_policy": cfg.precision_policy,
        "data": ctx.data_origin,
        "n_test": int(len(ctx.X_eval)),
        "n_calibration": int(len(ctx.X_calib)),
        "keras_accuracy": fid.keras_accuracy,
        "csim_accuracy": fid.csim_accuracy,
        "csim_agreement": fid.agreement,
        "testbench_agreement": tb.agreement if tb else None,
        "testbench_vs_bridge_max_abs": ctx.results.get("testbench_vs_bridge_max_abs"),
        "max_abs_error": fid.max_abs_error,
        "mean_abs_error": fid.mean_abs_error,
        "min_agreement": cfg.min_agreement,
        "checks": checks,
        "confusion_matrix": {
            "labels": labels,
            "rows": "keras argmax",
            "cols": "csim argmax",
            "counts": confusion(ctx.keras_eval, ctx.results["csim_out"]),
        },
        "precision_closure": ctx.closure,
        "overflow": ctx.results.get("overflow"),
        "layer_precisions": ctx.project.bridge_spec["layer_precisions"],
        "estimate": ctx.results.get("estimate"),
        "board_resources": ctx.board.resources.model_dump(),
        "synthesis": synthesis,
        "artifacts": ctx.artifacts,
        "timings_s": ctx.timings,
        "versions": versions(),
        "compile_flags": ctx.results.get("compile_flags"),
        "cache": ctx.cache.to_dict() if ctx.cache is not None else None,
        "config": json.loads(cfg.model_dump_json()),
    }


def _check(value: float | None, threshold: float) -> dict[str, Any]:
    return {"value": value, "threshold": threshold, "passed": value is not None and value >= threshold}


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {"python": platform.python_version(), "gxx": gxx_version()}
    for package in ("fpga-flow", "hls4ml", "tensorflow", "qkeras", "numpy"):
        try:
            found[package.replace("-", "_")] = version(package)
        except PackageNotFoundError:
            found[package.replace("-", "_")] = None
    return found
