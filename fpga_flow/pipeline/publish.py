"""The one way a run is written: :func:`publish` writes its ``summary.json``
(atomically: the run is finished exactly when it exists, :mod:`fpga_flow.rundir`), its run
page, and its record in the run history. A build, a run restored from the run cache,
``fpga-flow rtl`` on a finished run and deploy's notes on a run all publish through it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fpga_flow import rundir
from fpga_flow.dashboard import write_run_page
from fpga_flow.history import RunHistory, default_db_path
from fpga_flow.summary import RunSummary

History = Literal["record", "update"]


def publish(run_dir: Path, summary: RunSummary, history: History = "record", kind: str = "build") -> str:
    """Write ``summary`` as the run's ``summary.json``, then its run page, then its run
    history record; returns what happened to the history, in words.

    ``history="record"``: a new or replaced record of ``kind``, when the run's
    configuration records history (``--no-history`` does not). ``"update"``: a later
    command's section (deploy) added to the record the run already has, in the history
    the build recorded into (the same rule as the build's: ``FPGA_FLOW_DB``, else the
    reports folder, relative to the current folder when it was given relative); a run
    not recorded there is left so."""
    rundir.write_json_atomic(Path(run_dir) / rundir.SUMMARY_NAME, summary.model_dump(mode="json"))
    write_run_page(run_dir)
    path = default_db_path(summary.config.reports_dir)
    if history == "record":
        if not summary.config.record_history:
            return "run history: not recorded (the sweep records its points itself)"
        RunHistory(path).record_run(summary, kind=kind)
        return f"run history {path}: recorded"
    if not path.is_file():
        return f"no run history at {path}: not updated"
    if RunHistory(path, create=False).update_run(summary):
        return f"run history {path}: updated"
    return f"run history {path}: run {summary.run_id} is not recorded there, not updated"
