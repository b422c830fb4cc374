"""The ``deploy`` section of a run's summary.json (:class:`DeployRecord`): the bundle
``fpga-flow deploy`` wrote from the run and, once ``fpga-flow deploy --record`` brought
them back, ``check_on_board.py``'s results.

The results keep the one definition ``check_on_board.py`` writes them with
(:class:`fpga_flow.deploy.board.driver.CheckResults`, a stdlib dataclass because the
board's Python has no pydantic); pydantic validates that same definition here, unknown
fields refused, so the results file, its check on the way in and the summary section
cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from fpga_flow.deploy.board import driver
from fpga_flow.errors import UserInputError

CHECK_RESULTS = TypeAdapter(driver.CheckResults)


class BoardCheck(BaseModel):
    """``check_on_board.py``'s results brought back to the run."""

    model_config = ConfigDict(extra="forbid")

    results_file: str = Field(description="the results file brought back (absolute path)")
    recorded_utc: str
    results: driver.CheckResults = Field(description="the results as check_on_board.py wrote them")


class DeployRecord(BaseModel):
    """The last bundle deployed from the run, and its check on the board."""

    model_config = ConfigDict(extra="forbid")

    bundle_dir: str = Field(description="the bundle folder (absolute path)")
    bundle_id: str = Field(description="the bundle's id (bundle.json); results of its check carry it")
    created_utc: str
    accelerator_board: str = Field(description="hls4ml's accelerator design the bundle targets")
    kind: str = Field(description="'zynq' (AXI DMA) or 'alveo' (RTL kernel)")
    input_word: str = Field(description="C++ type of one input word on the AXI stream")
    output_word: str = Field(description="C++ type of one output word on the AXI stream")
    n_samples: int = Field(description="evaluation samples the bundle carries, with their C-simulation words")
    csim_values_matched: int = Field(
        description="output values on which deploy found the bundle's C-simulation equal to the run's")
    board_check: BoardCheck | None = Field(
        default=None, description="None until 'fpga-flow deploy --record' brings check_on_board.py's results back")

    @classmethod
    def of(cls, manifest: driver.BundleManifest, bundle_dir: Path) -> "DeployRecord":
        return cls(bundle_dir=str(Path(bundle_dir).resolve()), bundle_id=manifest.bundle_id,
                   created_utc=manifest.created_utc, accelerator_board=manifest.accelerator_board, kind=manifest.kind,
                   input_word=manifest.input.word_type.cpp(), output_word=manifest.output.word_type.cpp(),
                   n_samples=manifest.n_samples, csim_values_matched=manifest.provenance.csim_values_matched)


def read_check_results(path: Path) -> driver.CheckResults:
    """The results ``check_on_board.py`` wrote; any other file is a one-line UserInputError."""
    path = Path(path)
    fix = f"give the {driver.RESULTS_FILE} that check_on_board.py wrote"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError(f"{path} not found: {fix}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path} is unreadable ({exc}): {fix}") from None
    try:
        results = CHECK_RESULTS.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise UserInputError(f"{path} is not check_on_board.py results: field '{where}': {first['msg']} "
                             f"({exc.error_count()} problem(s)); {fix}") from None
    if results.schema_version != driver.RESULTS_SCHEMA_VERSION:
        raise UserInputError(f"{path} has results schema {results.schema_version}, this fpga-flow reads "
                             f"{driver.RESULTS_SCHEMA_VERSION}: check again with this fpga-flow's bundle")
    return results


def refuse_foreign(results: driver.CheckResults, run_id: str, deployed: DeployRecord, path: Path) -> None:
    """Results of another run, or of another bundle of this run (one written before the
    bundle deployed last), are not this run's board check."""
    if results.bundle_id == deployed.bundle_id:
        return
    if results.run_id != run_id:
        raise UserInputError(f"{path} holds the check of run {results.run_id}, not of run {run_id}: give the "
                             f"{driver.RESULTS_FILE} of this run's bundle ({deployed.bundle_dir})")
    raise UserInputError(f"{path} comes from another bundle of run {run_id} (id {results.bundle_id}) than the one "
                         f"deployed last (id {deployed.bundle_id}, {deployed.bundle_dir}): run check_on_board.py "
                         "with that bundle and record its results")
