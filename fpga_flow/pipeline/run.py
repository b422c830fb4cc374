"""``fpga-flow build``: one model, one board, :data:`~fpga_flow.pipeline.flows.BUILD_STEPS`
over one :class:`~fpga_flow.pipeline.context.BuildContext`, then the run published.

The run directory is checked and made before any work; the steps mark it ``INCOMPLETE``
with the running step's name (:mod:`fpga_flow.pipeline.driver`); ``summary.json`` is
written last and atomically, from the context, by :func:`~fpga_flow.pipeline.publish.publish`,
and only then is the marker cleared.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from fpga_flow import rundir
from fpga_flow.boards import get_board
from fpga_flow.config import BuildConfig
from fpga_flow.csim import gxx
from fpga_flow.errors import UserInputError
from fpga_flow.model_io import is_model_file
from fpga_flow.pipeline.context import BuildContext, Progress, silent
from fpga_flow.pipeline.driver import run_steps
from fpga_flow.pipeline.flows import BUILD_STEPS
from fpga_flow.pipeline.publish import publish
from fpga_flow.pipeline.summarize import make_summary
from fpga_flow.rtl import check_pnr_board
from fpga_flow.summary import RunSummary
from model_zoo import get_recipe


def check_model_reference(cfg: BuildConfig) -> None:
    """A zoo name or an existing model file, checked before a run directory is made."""
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


def run_build(cfg: BuildConfig, progress: Progress = silent) -> RunSummary:
    """Run every step; return the summary (also written to ``summary.json``)."""
    board = get_board(cfg.board, cfg.boards_dir)
    check_pnr_board(cfg, board)
    gxx()  # fail before any work when C-simulation cannot run
    check_model_reference(cfg)
    run_dir = prepare_run_dir(cfg)
    start = time.perf_counter()
    with contextlib.ExitStack() as holds:
        ctx = BuildContext(cfg, board, run_dir, progress, holds)
        run_steps(ctx, BUILD_STEPS)
        ctx.timings["total"] = round(time.perf_counter() - start, 3)
        summary = make_summary(ctx)
        (run_dir / rundir.HLS_CONFIG_NAME).write_text(json.dumps(ctx.hls_config, indent=2, default=str))
    publish(run_dir, summary, kind="build")
    rundir.clear_incomplete(run_dir)
    return summary
