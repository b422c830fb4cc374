"""Design-space sweeps: every combination of boards and HLS settings, one Dask task each.

A point is :func:`fpga_flow.pipeline.run.run_build` in a worker process, writing its own run
directory under the sweep folder; the directory is finished only when its
``summary.json`` lands, and a point that runs again (its worker died) replaces what
the earlier attempt left. The scheduler reruns a point whose worker died, up to
``distributed.scheduler.allowed-failures`` times (3 by default); a point whose build
fails is a row with its error, and the sweep goes on.

The client, one process wherever the workers run, records each finished point in the
run history (kind ``sweep_point``) and rewrites ``sweep.json`` and ``sweep.csv`` as
points finish, so an interrupted sweep keeps every point it finished. At the end it
writes ``dashboard/index.html`` comparing the points.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

from pydantic import BaseModel, ConfigDict

from fpga_flow import rundir
from fpga_flow.boards import get_board
from fpga_flow.config import BuildConfig, build_config, cli_flag
from fpga_flow.csim import gxx
from fpga_flow.dashboard import write_dashboard
from fpga_flow.errors import FlowError, UserInputError
from fpga_flow.fit import DoesNotFitError
from fpga_flow.history import RunHistory, default_db_path
from fpga_flow.layers import ESTIMATED_RESOURCE_KEYS
from fpga_flow.model_io import is_model_file
from fpga_flow.pipeline.context import BuildContext
from fpga_flow.pipeline.driver import run_steps
from fpga_flow.pipeline.flows import FIT_PROBE_STEPS
from fpga_flow.pipeline.run import check_model_reference, run_build
from fpga_flow.pipeline.steps import hls_settings
from fpga_flow.summary import RunStatus, RunSummary, read_summary
from fpga_flow.train import trained_or_train
from model_zoo import get_recipe

SWEEP_JSON = "sweep.json"
SWEEP_CSV = "sweep.csv"
POINTS_DIR = "runs"
DASHBOARD_DIR = "dashboard"
DEFAULT_WORKERS = 2
SCHEDULER_TIMEOUT_S = 10
ONE_CORE_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
# The per-point options a sweep varies; every other BuildConfig field is shared.
AXES = ("board", "reuse_factor", "strategy", "io_type", "precision_policy")


class SweepRow(BaseModel):
    """One point of the sweep: a row of ``sweep.csv`` and an entry of ``sweep.json``'s
    ``points``. Figures are None for a point without a summary (``error``, ``cancelled``)."""

    model_config = ConfigDict(extra="forbid")

    point: str
    board: str
    reuse_factor: int | None
    strategy: str | None
    io_type: str | None
    precision_policy: str
    status: RunStatus | Literal["error", "cancelled", "dropped"]
    error: str | None = None
    failed_stage: str | None = None
    keras_accuracy: float | None = None
    csim_accuracy: float | None = None
    csim_agreement: float | None = None
    testbench_agreement: float | None = None
    max_abs_error: float | None = None
    est_LUT: int | None = None
    est_FF: int | None = None
    est_DSP: int | None = None
    est_BRAM_18K: int | None = None
    est_latency_cycles: int | None = None
    est_latency_ns: float | None = None
    est_interval_cycles: int | None = None
    cache_hit: bool | None = None
    seconds: float | None = None
    run_id: str | None = None
    run_dir: str


class SweepTable(BaseModel):
    """``sweep.json``: the sweep as planned and every point finished so far."""

    model_config = ConfigDict(extra="forbid")

    sweep_id: str
    model: str
    started_utc: str
    complete: bool
    axes: dict[str, list[Any]]
    points_planned: int
    counts: dict[str, int]
    wall_s: float
    dashboard: str | None
    points: list[SweepRow]


CSV_COLUMNS = tuple(SweepRow.model_fields)


@dataclass(frozen=True)
class SweepPoint:
    index: int
    board: str
    reuse_factor: int | None
    strategy: str | None
    io_type: str | None
    precision_policy: str

    @property
    def name(self) -> str:
        parts = (self.board, self.reuse_factor and f"rf{self.reuse_factor}", self.strategy, self.io_type,
                 self.precision_policy)
        return f"{self.index:03d}-" + "-".join(str(part) for part in parts if part)

    def axes(self) -> dict[str, Any]:
        return {axis: getattr(self, axis) for axis in AXES}


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: its folder, and each point with the build it runs."""

    sweep_id: str
    folder: Path
    model: str
    points: tuple[SweepPoint, ...]
    configs: tuple[BuildConfig, ...]
    axes: dict[str, list[Any]]


@dataclass(frozen=True)
class PointOutcome:
    """What became of a point: its build's summary, or the error that stopped it."""

    summary: RunSummary | None
    error: str | None = None
    failed_stage: str | None = None
    seconds: float | None = None
    status: Literal["error", "cancelled", "dropped"] = "error"  # for a point without a summary


@dataclass
class SweepResult:
    sweep: Sweep
    rows: list[SweepRow]
    summaries: list[RunSummary] = field(default_factory=list)
    wall_s: float = 0.0
    dashboard: Path | None = None
    complete: bool = False

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        return counts


def plan_sweep(
    model: str,
    boards: list[str],
    reuse_factors: list[int | None] = (None,),
    strategies: list[str | None] = (None,),
    io_types: list[str | None] = (None,),
    precision_policies: list[str] = ("closure",),
    out: Path | None = None,
    **build_options: Any,
) -> Sweep:
    """Every combination of the axes as a validated build; ``build_options`` are
    BuildConfig fields shared by all points (``reports_dir``, ``max_samples``, ...).
    Nothing is written yet."""
    axes = {"board": list(boards), "reuse_factor": list(reuse_factors), "strategy": list(strategies),
            "io_type": list(io_types), "precision_policy": list(precision_policies)}
    for axis, values in axes.items():
        if not values:
            raise UserInputError(f"{cli_flag(axis)}: give at least one value")
    forbidden = set(build_options) & {*AXES, "out", "force", "model", "record_history"}
    if forbidden:
        raise UserInputError(f"a sweep sets {', '.join(sorted(forbidden))} per point: give them as sweep axes")
    reports_dir = Path(build_options.pop("reports_dir", "reports")).resolve()
    for board in boards:
        get_board(board, build_options.get("boards_dir"))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = (Path(out) if out is not None else reports_dir / "sweeps" / f"{Path(model).stem}_{stamp}").resolve()
    sweep_id = folder.name
    # Absolute paths: a worker may run elsewhere than the client's current folder.
    shared = {key: Path(value).resolve() if isinstance(value, Path) else value for key, value in build_options.items()}
    model_ref = str(Path(model).resolve()) if is_model_file(model) else model
    points, configs = [], []
    for index, values in enumerate(itertools.product(*axes.values())):
        # Validated first: BuildConfig normalizes ("latency" -> "Latency") what names the point.
        checked = build_config(model=model_ref, reports_dir=reports_dir, **shared, **dict(zip(AXES, values)))
        point = SweepPoint(index, *(getattr(checked, axis) for axis in AXES))
        if any(earlier.axes() == point.axes() for earlier in points):
            raise UserInputError(f"the point {point.name[4:]} comes twice: a value is repeated in one of the options")
        points.append(point)
        # force: a point that runs again after its worker died replaces what it left.
        configs.append(checked.model_copy(update={"out": folder / POINTS_DIR / f"{sweep_id}-{point.name}",
                                                  "force": True, "record_history": False}))
    check_model_reference(configs[0])
    return Sweep(sweep_id, folder, model, tuple(points), tuple(configs), axes)


def unfit_points(sweep: Sweep) -> dict[str, str]:
    """Before any point is built: the points the fit refuses (no plan within the budget,
    or a given reuse factor hls4ml would change), each with the one line that says why.
    Nothing is compiled: each fitted point runs its build's own fit step
    (:data:`fpga_flow.pipeline.flows.FIT_PROBE_STEPS`, the model loaded once); a point
    built with --no-fit is never dropped (its budget check fails after its build instead)."""
    dropped: dict[str, str] = {}
    loaded = None
    with tempfile.TemporaryDirectory(prefix="fpga-flow-fit-") as scratch:
        for point, config in zip(sweep.points, sweep.configs):
            if not config.fit:
                continue
            board = get_board(config.board, config.boards_dir)
            context = BuildContext(config, board, Path(scratch))
            if loaded is None:
                run_steps(context, FIT_PROBE_STEPS, stop_after="check")
                loaded = context.loaded
            context.loaded = replace(loaded, settings=hls_settings(config, board))
            try:
                run_steps(context, FIT_PROBE_STEPS, start_at="fit")
            except (UserInputError, DoesNotFitError) as exc:
                dropped[point.name] = str(exc)
    return dropped


def check_folder(sweep: Sweep, force: bool) -> None:
    """Refuse to run over an earlier sweep's folder unless told to replace it."""
    gxx()
    if not force and sweep.folder.exists() and any(sweep.folder.iterdir()):
        raise UserInputError(f"sweep folder {sweep.folder} already exists: choose another --out or add --force to replace it")


def prepare(sweep: Sweep, force: bool) -> None:
    """Make the sweep folder and train a zoo model once, before any worker would."""
    check_folder(sweep, force)
    if sweep.folder.exists():
        shutil.rmtree(sweep.folder)
    sweep.folder.mkdir(parents=True)
    config = sweep.configs[0]
    if not is_model_file(config.model):
        trained_or_train(get_recipe(config.model), config.reports_dir / "zoo", config.epochs)


def run_point(config: BuildConfig) -> PointOutcome:
    """One point, in a worker: the build's summary, or the error that stopped it."""
    start = time.perf_counter()
    try:
        # Keras and hls4ml warn on every model load; the terminal is the sweep's progress.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            summary = run_build(config)
    except Exception as exc:  # a point that fails is a result of the sweep, not its end
        return PointOutcome(None, _one_line(exc), _failed_stage(config.out), round(time.perf_counter() - start, 3))
    return PointOutcome(summary, seconds=round(time.perf_counter() - start, 3))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, FlowError) else f"{type(exc).__name__}: {text}".rstrip(": ")


def _failed_stage(run_dir: Path | None) -> str | None:
    try:
        return (Path(run_dir) / rundir.INCOMPLETE_NAME).read_text(encoding="utf-8").split(":", 1)[1].strip()
    except (OSError, IndexError, TypeError):
        return None


def point_row(point: SweepPoint, config: BuildConfig, outcome: PointOutcome) -> SweepRow:
    """The sweep table's row for a point."""
    common = {"point": point.name, "run_dir": str(config.out), "seconds": outcome.seconds}
    summary = outcome.summary
    if summary is None:
        return SweepRow(**common, **point.axes(), status=outcome.status, error=outcome.error,
                        failed_stage=outcome.failed_stage)
    fidelity, estimate, hls = summary.fidelity, summary.estimate, summary.hls
    return SweepRow(
        **common,
        # The recipe's settings fill the axes left at their default.
        board=summary.board.name, reuse_factor=hls.reuse_factor, strategy=hls.strategy, io_type=hls.io_type,
        precision_policy=summary.precision.policy, status=summary.status, run_id=summary.run_id,
        keras_accuracy=fidelity.keras_accuracy, csim_accuracy=fidelity.csim_accuracy,
        csim_agreement=fidelity.csim_agreement, testbench_agreement=fidelity.testbench_agreement,
        max_abs_error=fidelity.max_abs_error,
        **{f"est_{key}": estimate.resources.get(key) for key in ESTIMATED_RESOURCE_KEYS},
        est_latency_cycles=estimate.latency_cycles, est_latency_ns=estimate.latency_ns,
        est_interval_cycles=estimate.interval_cycles,
        cache_hit=None if summary.cache is None else summary.cache.hit,
    )


def write_tables(result: SweepResult, started_utc: str) -> None:
    """``sweep.json`` and ``sweep.csv``, each replaced atomically."""
    sweep = result.sweep
    rows = sorted(result.rows, key=lambda row: row.point)
    table = SweepTable(sweep_id=sweep.sweep_id, model=sweep.model, started_utc=started_utc, complete=result.complete,
                       axes=sweep.axes, points_planned=len(sweep.points), counts=result.counts,
                       wall_s=round(result.wall_s, 3), dashboard=str(result.dashboard) if result.dashboard else None,
                       points=rows)
    rundir.write_json_atomic(sweep.folder / SWEEP_JSON, table.model_dump(mode="json"))
    fd, tmp = tempfile.mkstemp(prefix=f".{SWEEP_CSV}.", suffix=".tmp", dir=sweep.folder)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(row.model_dump(mode="json") for row in rows)
        os.replace(tmp, sweep.folder / SWEEP_CSV)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A client of the given scheduler, or of a LocalCluster that lives as long as the block."""
    from distributed import Client, LocalCluster  # deferred: Dask is heavy and only a sweep needs it

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserInputError(f"cannot reach the Dask scheduler at {scheduler} ({exc}): start one with "
                                 "'dask scheduler' and workers with 'dask worker ADDRESS', or leave out --scheduler") from None
        with client:
            yield client
        return
    # A process per point at a time, one core each (TensorFlow's thread pools included;
    # Dask already limits OpenMP/MKL/OpenBLAS): a build runs Python most of the time and
    # loads its own compiled C-simulation library. Worker warnings (a task cancelled, a
    # worker restarted) would interleave with the sweep's progress; the table has their effects.
    with LocalCluster(n_workers=workers or DEFAULT_WORKERS, threads_per_worker=1, processes=True,
                      env=ONE_CORE_ENV, dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def run_sweep(
    sweep: Sweep,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    on_point: Callable[[dict[str, Any], int, int], None] | None = None,
) -> SweepResult:
    """Run every point on Dask; ``on_point(row, finished, total)`` after each point."""
    from distributed import as_completed  # deferred: Dask is heavy and only a sweep needs it

    if workers is not None and scheduler is not None:
        raise UserInputError("--workers sizes a local cluster: give --workers or --scheduler, not both")
    if workers is not None and workers < 1:
        raise UserInputError(f"--workers must be at least 1, got {workers}")
    check_folder(sweep, force)
    history = RunHistory(default_db_path(sweep.configs[0].reports_dir))
    started_utc = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result = SweepResult(sweep, rows=[])
    start = time.perf_counter()
    interrupted: BaseException | None = None

    def finish(point: SweepPoint, config: BuildConfig, outcome: PointOutcome) -> None:
        if outcome.summary is not None:
            history.record_run(outcome.summary, kind="sweep_point")
            result.summaries.append(outcome.summary)
        result.rows.append(point_row(point, config, outcome))
        result.wall_s = time.perf_counter() - start
        write_tables(result, started_utc)

    with dask_client(workers, scheduler) as client:
        prepare(sweep, force)
        dropped = unfit_points(sweep)
        for point, config in zip(sweep.points, sweep.configs):
            if point.name in dropped:
                finish(point, config, PointOutcome(None, dropped[point.name], status="dropped"))
                if on_point is not None:
                    on_point(result.rows[-1], len(result.rows), len(sweep.points))
        write_tables(result, started_utc)
        futures = {client.submit(run_point, config, key=f"{sweep.sweep_id}-{point.name}", pure=False): (point, config)
                   for point, config in zip(sweep.points, sweep.configs) if point.name not in dropped}
        try:
            for future in as_completed(futures):
                point, config = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # the scheduler gave up on the point: its workers kept dying
                    outcome = PointOutcome(None, _one_line(exc), _failed_stage(config.out))
                finish(point, config, outcome)
                if on_point is not None:
                    on_point(result.rows[-1], len(result.rows), len(sweep.points))
        except BaseException as exc:  # Ctrl-C above all
            client.cancel(list(futures))
            interrupted = exc
    if interrupted is not None:
        # The local cluster is closed now: a point that finished its run directory
        # while the workers were being stopped is kept like any other finished point.
        finished = {row.point for row in result.rows}
        for point, config in zip(sweep.points, sweep.configs):
            if point.name in finished:
                continue
            if rundir.is_complete(config.out):
                finish(point, config, PointOutcome(read_summary(config.out)))
            else:
                finish(point, config, PointOutcome(None, "sweep interrupted", _failed_stage(config.out),
                                                   status="cancelled"))
        raise interrupted
    result.wall_s = time.perf_counter() - start
    title = f"sweep {sweep.sweep_id}: {len(result.summaries)} of {len(sweep.points)} points built"
    result.dashboard = write_dashboard(result.summaries, sweep.folder / DASHBOARD_DIR, title=title)
    result.complete = True
    write_tables(result, started_utc)
    return result
