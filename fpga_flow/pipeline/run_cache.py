"""The whole-run cache: an unchanged rebuild answers from the record of the identical
earlier run, without importing TensorFlow, hls4ml's converter or g++.

:func:`run_key` hashes, from file digests and nothing heavier, everything a build's
results follow from: the model file (and ``--weights``, ``--test-data``) or the zoo
recipe's export (``model.h5``, ``data.npz``, ``metadata.json``) with the zoo's own source,
every build option but where the run goes (``out``, ``force``, the cache and history
switches), the whole board declaration, the toolchain (package versions, g++ version and
flags) and every file of the fpga_flow package (the build cache's
:func:`~fpga_flow.pipeline.design_cache.installed_source_digest`). A build of the same key computes the
same words: the C-simulations of the same library on the same inputs.

An entry of kind ``run`` in the build cache (its store and locking,
:class:`~fpga_flow.cache.BuildCache`) holds the finished run folder (summary, run page,
hls4ml project with its compiled library and testbench results, plots) and, as its meta,
the summary and the design entry its library reads weights from. On a full hit the
folder is copied into the new run folder; its summary is the recorded one with this run's
id, time, configuration, paths, timings and ``cache.run_hit``; the run page is written
again and the run recorded in the history. A missing design entry (evicted) is a miss.

Outside the fast path (``run_key`` is None): ``--no-cache``; ``--synth`` and ``--rtl``,
whose results come from tools (vendor synthesis, Verilator, yosys) the key does not
cover; a zoo recipe not trained yet (the build trains it, then stores the run).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fpga_flow import rundir
from fpga_flow.boards import get_board
from fpga_flow.cache import BuildCache, config_cache_dir, digest
from fpga_flow.config import BuildConfig
from fpga_flow.csim import current_toolchain, gxx
from fpga_flow.model_io import is_model_file
from fpga_flow.pipeline.context import Progress, silent
from fpga_flow.pipeline.design_cache import installed_source_digest, source_digest
from fpga_flow.pipeline.flows import step_titles
from fpga_flow.pipeline.publish import publish
from fpga_flow.pipeline.run import check_model_reference, prepare_run_dir, run_build
from fpga_flow.summary import RunSummary

RUN_KIND = "run"
RUN_KEY_SCHEME = 1
RESTORE_STEP = "run_cache"
RESTORE_TITLE = "Restoring the identical earlier run (run cache)"
ZOO_DIR = Path(__file__).resolve().parents[2] / "model_zoo"
ZOO_EXPORT_FILES = ("model.h5", "data.npz", "metadata.json")
# Where the run goes and whether it is cached or recorded: not what its results follow from.
# --pnr-timeout only stops a build: a finished one is the same with any limit.
NOT_IN_KEY = ("out", "force", "cache_dir", "use_cache", "record_history", "pnr_timeout")


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _optional_file(path: Path | None) -> str | None:
    return None if path is None else file_digest(path)


def run_key(cfg: BuildConfig) -> str | None:
    """The key of the whole run, from file digests; None outside the fast path (see the
    module docstring) or when an input file is missing (the build names it)."""
    if not cfg.use_cache or cfg.synth or cfg.rtl:
        return None
    try:
        if is_model_file(cfg.model):
            model = {"file": file_digest(Path(cfg.model)), "weights": _optional_file(cfg.weights),
                     "test_data": _optional_file(cfg.test_data)}
        else:
            export = Path(cfg.reports_dir) / "zoo" / cfg.model
            model = {"recipe": cfg.model, "zoo_source": _zoo_source_digest(),
                     "export": {name: file_digest(export / name) for name in ZOO_EXPORT_FILES}}
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    options = cfg.model_dump(mode="json", exclude=set(NOT_IN_KEY))
    board = get_board(cfg.board, cfg.boards_dir).model_dump(mode="json")
    return digest({"scheme": RUN_KEY_SCHEME, "kind": RUN_KIND, "model": model, "options": options, "board": board,
                   "toolchain": current_toolchain().model_dump(mode="json"), "source": installed_source_digest()})


def _zoo_source_digest() -> str:
    """The zoo's recipes and builders: an edited builder makes the build retrain."""
    return source_digest(ZOO_DIR)


def _store(cfg: BuildConfig) -> BuildCache:
    return BuildCache(config_cache_dir(cfg))


def titles() -> dict[str, str]:
    """Every step's title, the restore's included."""
    return {**step_titles(), RESTORE_STEP: RESTORE_TITLE}


def run_build_cached(cfg: BuildConfig, progress: Progress | None = None) -> RunSummary:
    """The run restored from the run cache on a full hit, else :func:`run_build`, whose
    finished run is then stored under the key its inputs had before it started."""
    progress = progress or silent
    key = run_key(cfg)
    if key is not None:
        summary = restore_run(cfg, key, progress)
        if summary is not None:
            return summary
    summary = run_build(cfg, progress)
    after = run_key(cfg)
    # A zoo recipe trained by this build had no key before; an input edited during the
    # build must not be stored under the key of what was built.
    if after is not None and key in (None, after):
        store_run(cfg, after, summary)
    return summary


def store_run(cfg: BuildConfig, key: str, summary: RunSummary) -> None:
    """Keep the finished run folder under ``key`` (unless an identical run already did)."""
    if summary.cache is None:
        return
    run_dir = Path(summary.artifacts["run_dir"])

    def create(payload: Path) -> dict[str, Any]:
        shutil.copytree(run_dir, payload / "run", symlinks=True,
                        ignore=shutil.ignore_patterns(rundir.INCOMPLETE_NAME))
        return {"summary": summary.model_dump(mode="json"), "design_key": summary.cache.key}

    with _store(cfg).get_or_create(key, RUN_KIND, create):
        pass


def restore_run(cfg: BuildConfig, key: str, progress: Progress | None = None) -> RunSummary | None:
    """The run of ``key`` copied into a new run folder, or None (no entry, or its design
    entry, which the library reads weights from, was evicted)."""
    progress = progress or silent
    start = time.perf_counter()
    store = _store(cfg)
    with store.read(key) as entry:
        if entry is None:
            return None
        with store.read(entry.meta["design_key"]) as design:
            if design is None:
                return None
            gxx()  # the run's testbench and later commands need it, as a fresh build does
            check_model_reference(cfg)
            progress(RESTORE_STEP, "start")
            run_dir = prepare_run_dir(cfg)
            rundir.mark_incomplete(run_dir, RESTORE_STEP)
            shutil.copytree(entry.payload / "run", run_dir, symlinks=True, dirs_exist_ok=True)
            rundir.mark_incomplete(run_dir, RESTORE_STEP)
            summary = restored_summary(entry.meta["summary"], cfg, run_dir, key, time.perf_counter() - start)
    publish(run_dir, summary, kind="build")
    rundir.clear_incomplete(run_dir)
    progress(RESTORE_STEP, "done")
    return summary


def restored_summary(recorded: dict[str, Any], cfg: BuildConfig, run_dir: Path, key: str,
                     seconds: float) -> RunSummary:
    """The recorded summary as this run's: its id, time, configuration, paths (moved from
    the recorded run folder to ``run_dir``), timings and the run cache's hit."""
    old_dir = recorded["artifacts"]["run_dir"]
    artifacts = {role: str(run_dir) + path[len(old_dir):] if path.startswith(old_dir) else path
                 for role, path in recorded["artifacts"].items()}
    seconds = round(seconds, 3)
    cache = {**recorded["cache"], "hit": True, "run_key": key, "run_hit": True, "restored_from": recorded["run_id"]}
    return RunSummary.model_validate({
        **recorded, "run_id": run_dir.name, "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": json.loads(cfg.model_dump_json()), "artifacts": artifacts, "cache": cache,
        "timings_s": {RESTORE_STEP: seconds, "total": seconds},
    })
