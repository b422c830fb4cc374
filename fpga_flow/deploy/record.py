"""Deploy's marks on the run: the ``deploy`` section of its summary
(:class:`fpga_flow.records.deploy.DeployRecord`), written when deploy writes a bundle and
again when ``fpga-flow deploy --record`` brings the board's check back; each time the run
page is written again and the run's record in the run history brought up to date."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fpga_flow.deploy.board import driver
from fpga_flow.deploy.run_record import PassedRun, read_run
from fpga_flow.errors import UserInputError
from fpga_flow.pipeline.publish import publish
from fpga_flow.records.deploy import BoardCheck, DeployRecord, read_check_results, refuse_foreign
from fpga_flow.summary import RunSummary


def note_bundle(run: PassedRun, manifest: driver.BundleManifest, bundle_dir: Path) -> str:
    """Record a newly written bundle in the run (any earlier bundle's board check goes:
    it checked another bundle). Returns what happened to the run history, in words."""
    return save(run.run_dir, run.summary.model_copy(update={"deploy": DeployRecord.of(manifest, bundle_dir)}))


def record_check(run_dir: Path, results_path: Path) -> tuple[DeployRecord, str]:
    """Bring ``check_on_board.py``'s results back into the run that deployed their bundle.
    Returns the run's deploy section and what happened to the run history."""
    run = read_run(run_dir)
    deployed = run.summary.deploy
    if deployed is None:
        raise UserInputError(f"no bundle was deployed from {run.run_dir}: run 'fpga-flow deploy {run_dir}', "
                             "check the bundle on the board, then record its results")
    results = read_check_results(results_path)
    refuse_foreign(results, run.summary.run_id, deployed, results_path)
    check = BoardCheck(results_file=str(Path(results_path).resolve()),
                       recorded_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"), results=results)
    deployed = deployed.model_copy(update={"board_check": check})
    return deployed, save(run.run_dir, run.summary.model_copy(update={"deploy": deployed}))


def save(run_dir: Path, summary: RunSummary) -> str:
    """Write the summary (atomically), the run page and the run history's record (the
    record the build made, brought up to date)."""
    return publish(run_dir, summary, history="update")
