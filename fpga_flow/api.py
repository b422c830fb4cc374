"""The public Python API: what the notebooks and scripts call, one function per CLI door.

    from fpga_flow import api
    trained = api.train("cnn_digits")                       # fpga-flow train
    summary = api.build("cnn_digits", board="pynq-z2")      # fpga-flow build
    builds = api.parse_reports("vendor_reports/")           # fpga-flow report
    page = api.dashboard(["reports/runs"], "reports/dashboard")   # fpga-flow dashboard

``recipes()`` and ``boards()`` are ``fpga-flow zoo`` and ``fpga-flow boards``;
``estimate`` and ``rtl`` are ``fpga-flow estimate`` and ``fpga-flow rtl RUN_DIR``;
``train_float_baseline`` and ``run_history`` have no CLI twin. The notebooks in
``notebooks/`` walk through all of them. The command line calls these functions: what a
command runs is orchestrated once, in :mod:`fpga_flow.pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from fpga_flow.boards import get_board, load_boards
from fpga_flow.config import BuildConfig, build_config
from fpga_flow.dashboard import collect_runs, write_dashboard
from fpga_flow.estimate import Design, Estimate
from fpga_flow.history import RunHistory, default_db_path
from fpga_flow.layers import QKERAS_TO_KERAS
from fpga_flow.model_io import custom_objects
from fpga_flow.pipeline.context import Progress, silent
from fpga_flow.pipeline.estimate_only import estimate_model
from fpga_flow.pipeline.rtl_on_run import rtl_on_run
from fpga_flow.pipeline.run_cache import run_build_cached
from fpga_flow.reports import collect, utilization_against
from fpga_flow.summary import RunSummary
from fpga_flow.sweep import Sweep, SweepResult, plan_sweep, run_sweep
from fpga_flow.train import TrainedModel, _seed_everything, train_recipe
from model_zoo import get_recipe
from model_zoo import recipes as zoo_recipes


def recipes() -> dict:
    """Zoo recipes by name."""
    return zoo_recipes()


def boards(boards_dir: str | Path | None = None) -> dict:
    """The board catalogue by name."""
    return load_boards(boards_dir)


def train(recipe: str, epochs: int | None = None, reports_dir: str | Path = "reports",
          on_epoch: Callable[[int, int, dict], None] | None = None) -> TrainedModel:
    """Quantization-aware training of a zoo recipe (``epochs`` None: the recipe's own),
    exported to ``reports_dir/zoo/<recipe>`` where ``build(recipe, reports_dir=...)`` finds
    it. ``on_epoch(epoch, epochs, logs)`` is called after each epoch. The returned
    TrainedModel knows its test accuracy, export folder and ``history()`` (the curves)."""
    chosen = get_recipe(recipe)
    return train_recipe(chosen, Path(reports_dir) / "zoo" / chosen.name, epochs=epochs, on_epoch=on_epoch)


def train_float_baseline(recipe: str, epochs: int | None = None):
    """The recipe's architecture with every QKeras quantizer removed, trained the same
    way: returns ``(model, history, test_accuracy)`` to compare QAT against."""
    import tensorflow as tf  # deferred: TensorFlow is heavy and only training needs it here

    chosen = get_recipe(recipe)
    settings = chosen.training
    _seed_everything(settings.seed)
    data = chosen.dataset(settings.seed)
    quantized = chosen.builder(data.input_shape, data.n_classes)
    model = _dequantized(quantized)
    model.compile(optimizer=tf.keras.optimizers.Adam(settings.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit = model.fit(data.X_train, data.y_train, epochs=epochs or settings.epochs, batch_size=settings.batch_size,
                    validation_split=settings.validation_fraction, verbose=0)
    _, accuracy = model.evaluate(data.X_test, data.y_test, verbose=0)
    return model, {k: [float(v) for v in vals] for k, vals in fit.history.items()}, float(accuracy)


def _float_activation(spec: Any) -> Any:
    """The float function a (possibly quantized) activation approximates."""
    name = spec.get("class_name", "") if isinstance(spec, dict) else str(spec)
    if not name.startswith("quantized_"):
        return spec
    for function in ("relu", "tanh", "sigmoid"):
        if function in name:
            return function
    return "linear"  # quantized_bits and friends: a quantized identity


def _dequantized(model):
    """A float copy of a QKeras model: Q-layers become their Keras parents with the
    quantizers, QKeras's initializer wrappers and range clipping removed; quantized
    activations become the float function they approximate; fpga-flow's attention keeps
    its class with every quantizer off."""
    import tensorflow as tf  # deferred: TensorFlow is heavy and only this baseline needs it here

    config = model.get_config()
    for layer in config["layers"]:
        cls, cfg = layer["class_name"], layer["config"]
        if cls in QKERAS_TO_KERAS:
            # Keras resolves a layer by its registered name before its class name.
            layer.update(class_name=QKERAS_TO_KERAS[cls], module="keras.layers", registered_name=None)
            for key in [k for k in cfg if k.endswith(("_quantizer", "_range"))]:
                cfg.pop(key)
            for key in [k for k in cfg if k.endswith("_initializer") and isinstance(cfg[k], dict)]:
                if cfg[key].get("class_name") == "QInitializer":
                    cfg[key] = cfg[key]["config"]["initializer"]
            for key in [k for k in cfg if k.endswith("_constraint") and isinstance(cfg[k], dict)]:
                if cfg[key].get("class_name") == "Clip":
                    cfg[key] = None
            for key in ("activation", "recurrent_activation"):
                if key in cfg:
                    cfg[key] = _float_activation(cfg[key])
        elif cls == "QMultiHeadSelfAttention":
            for key in [k for k in cfg if k.endswith("_quantizer")]:
                cfg[key] = None
    with tf.keras.utils.custom_object_scope(custom_objects()):
        if isinstance(model, tf.keras.Sequential):
            return tf.keras.Sequential.from_config(config)
        return tf.keras.Model.from_config(config)


def build(model: str | Path, board: str, progress: Progress | None = None, **options: Any) -> RunSummary:
    """``fpga-flow build`` from Python. ``model`` is a zoo recipe name (trained first
    unless ``reports_dir/zoo/<recipe>`` already holds it with the same epochs), a Keras
    ``.h5`` file, or a ``.json`` architecture with ``weights=``. Options are
    :class:`fpga_flow.config.BuildConfig` fields: io_type, strategy, reuse_factor,
    clock_period_ns, precision_policy, min_agreement, epochs, max_samples, test_data,
    reports_dir, out, force, synth, fit, budget, allow_over_budget, ... As on the command
    line, the design is fitted to the board by estimate before anything is compiled
    (``fit=False`` keeps hls4ml's defaults or the given io_type, strategy and
    reuse_factor); when no plan fits within ``budget`` the build raises
    :class:`fpga_flow.fit.DoesNotFitError` (a FlowError) naming the smallest share
    reached, unless ``allow_over_budget=True``. Returns the run's summary
    (:class:`fpga_flow.summary.RunSummary`, also in ``<run dir>/summary.json``):
    ``fidelity`` (``csim_agreement``, ``testbench_agreement``, ``confusion_matrix``),
    ``precision``, ``estimate``, ``fit``, ``synthesis``, ``board``, ``artifacts``. A check
    that fails is a ``status`` (``check_failed``, ``does_not_fit``: the estimate over the
    budget, ``synthesis_failed``) with ``headline()`` saying what failed in one line, not
    an exception. An unchanged rebuild is restored from the run cache (``use_cache=False``
    builds afresh). ``progress(step, state)`` hears each step start and end."""
    return build_from_config(build_config(model=str(model), board=board, **options), progress)


def build_from_config(config: BuildConfig, progress: Progress | None = None) -> RunSummary:
    """:func:`build` with its configuration already validated (``fpga-flow build``): the
    run restored from the run cache on a full hit, else built and then stored there."""
    return run_build_cached(config, progress)


def estimate(model: str | Path, board: str, **options: Any) -> tuple[Estimate, Design]:
    """``fpga-flow estimate`` from Python: the model loaded and given its precisions as
    the build does (``precision_policy`` "auto" or "default"), converted to an hls4ml graph
    for ``board`` and priced; nothing compiled or written, nothing cached or recorded.
    Returns the estimate and the design description it priced."""
    config = build_config(model=str(model), board=board, **{"use_cache": False, "record_history": False, **options})
    return estimate_model(config)


def rtl(run_dir: str | Path, progress: Progress | None = None) -> RunSummary:
    """``fpga-flow rtl RUN_DIR`` from Python: the RTL stages on a finished run, recorded in
    its summary, page and run history; returns the updated summary."""
    return rtl_on_run(Path(run_dir), progress or silent)





def sweep(model: str | Path, boards: list[str], reuse_factors: list[int | None] = (None,),
          strategies: list[str | None] = (None,), io_types: list[str | None] = (None,),
          precision_policies: list[str] = ("closure",), *, workers: int | None = None, scheduler: str | None = None,
          force: bool = False, on_plan: Callable[[Sweep], None] | None = None,
          on_point: Callable[[Any, int, int], None] | None = None, **options: Any) -> SweepResult:
    """Build ``model`` for every combination of the axes, each point a Dask task (a local
    cluster of ``workers``, or the ``scheduler`` given), every point fitted like a build
    (the fit drops a point it cannot fit before building it). ``options`` are the BuildConfig
    fields the points share; ``on_plan(sweep)`` hears the validated plan before anything
    runs, ``on_point(row, finished, total)`` each finished point. ``fpga-flow sweep`` is this."""
    plan = plan_sweep(str(model), list(boards), list(reuse_factors), list(strategies), list(io_types),
                      list(precision_policies), **options)
    if on_plan is not None:
        on_plan(plan)
    return run_sweep(plan, workers=workers, scheduler=scheduler, force=force, on_point=on_point)

def run_history(reports_dir: str | Path = "reports"):
    """The run history (a :class:`fpga_flow.history.RunHistory`) builds in ``reports_dir``
    record themselves in: ``$FPGA_FLOW_DB`` if set, else ``reports_dir/fpga_flow.db``."""
    return RunHistory(default_db_path(reports_dir))


def dashboard(paths: Iterable[str | Path] = (), out_dir: str | Path = "reports/dashboard",
              history_db: str | Path | None = None, title: str = "fpga-flow runs",
              on_warning: Callable[[str], None] | None = None) -> Path:
    """One self-contained HTML page over the runs found under ``paths`` (run directories
    or trees of them) and, with ``history_db``, every build recorded in that run history
    that ``paths`` did not already hold (``fpga-flow dashboard``). Returns the page's path.
    ``on_warning(message)`` hears each run folder that could not be read (the page lists
    them too) and an empty selection."""
    summaries, warnings = collect_runs([Path(p) for p in paths])
    if history_db is not None:
        known = {summary.run_id for summary in summaries}
        summaries += [summary for summary in RunHistory(history_db, create=False).summaries()
                      if summary.run_id not in known]
    tell = on_warning or (lambda message: None)
    for warning in warnings:
        tell(warning)
    page = write_dashboard(summaries, out_dir, title=title, warnings=warnings)
    if not summaries:
        tell("no runs found: the page says the selection is empty")
    return page


@dataclass
class ReportRead:
    """What ``fpga-flow report`` read: each report file as a dictionary (with
    ``board_utilization_pct`` against the board asked), each file that could not be parsed
    (``path``, ``error``), and each project folder's merged build (``project`` plus the
    build's figures)."""

    reports: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    builds: list[dict[str, Any]]
    parse_errors: list[Exception] = field(default_factory=list)
    merged: list[tuple[Path, Any]] = field(default_factory=list)  # (project folder, merged report)
    board: str | None = None  # the catalogue board utilization is given against

    def record(self, history_db: str | Path) -> None:
        """Each merged build into the run history ``history_db`` (kind ``report``)."""
        if self.merged:
            store = RunHistory(history_db)
            for root, build in self.merged:
                store.record_report(build.to_dict(), root)


def read_reports(paths: str | Path | Iterable[str | Path], board: str | None = None,
                 boards_dir: str | Path | None = None) -> ReportRead:
    """Every vendor report under ``paths`` and the builds they merge into per project folder
    (``fpga-flow report``), going on past a file that cannot be parsed (listed in
    ``errors``). An absent figure is ``None``, never 0. With ``board``, utilization against
    that catalogue board too. Nothing is recorded (:meth:`ReportRead.record`)."""
    found = collect([Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths])
    chosen = get_board(board, boards_dir) if board is not None else None
    totals = chosen.resources.model_dump() if chosen is not None else None
    records = [report.to_dict() for report in found.reports]
    builds = []
    for root, build in found.builds:
        record = {"project": str(root), **build.to_dict()}
        if totals is not None:
            record["board"] = chosen.name
            record["board_utilization_pct"] = utilization_against(build.resources, totals)
        builds.append(record)
    if totals is not None:
        for record in records:
            record["board_utilization_pct"] = utilization_against(record["resources"], totals)
    errors = [{"path": error.file, "kind": None, "error": error.reason} for error in found.errors]
    return ReportRead(records, errors, builds, list(found.errors), list(found.builds),
                      chosen.name if chosen is not None else None)


def parse_reports(paths: str | Path | Iterable[str | Path], board: str | None = None,
                  history_db: str | Path | None = None, boards_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """The merged builds of :func:`read_reports` (one dictionary per project folder, with its
    latency, resources against the report's own part and the file each figure came from);
    with ``history_db`` each is recorded in that run history. A file that cannot be parsed
    raises its ReportParseError, and nothing is recorded."""
    found = read_reports(paths, board, boards_dir)
    if found.parse_errors:
        raise found.parse_errors[0]
    if history_db is not None:
        found.record(history_db)
    return found.builds
