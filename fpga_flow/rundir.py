"""The run directory is the record of a build.

A run is complete exactly when its ``summary.json`` exists: it is written last and
atomically (temporary file, fsync, rename). While a stage runs, an ``INCOMPLETE``
marker names it; an interrupted or crashed run keeps that marker (and no summary),
so nothing half-written looks complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

SUMMARY_NAME = "summary.json"  # read it with fpga_flow.summary.read_summary
INCOMPLETE_NAME = "INCOMPLETE"
PROJECT_DIR = "hls_project"  # the hls4ml project of the run
HLS_CONFIG_NAME = "hls_config.json"  # the hls4ml configuration with the chosen precisions
RUN_PAGE_NAME = "dashboard.html"  # the run's own page


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write JSON so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False, default=_json_default)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays, paths and sets appear in stage results.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def mark_incomplete(run_dir: Path, stage: str) -> None:
    (Path(run_dir) / INCOMPLETE_NAME).write_text(f"stage: {stage}\n", encoding="utf-8")


def clear_incomplete(run_dir: Path) -> None:
    (Path(run_dir) / INCOMPLETE_NAME).unlink(missing_ok=True)


def is_complete(run_dir: Path) -> bool:
    run_dir = Path(run_dir)
    return (run_dir / SUMMARY_NAME).is_file() and not (run_dir / INCOMPLETE_NAME).exists()
