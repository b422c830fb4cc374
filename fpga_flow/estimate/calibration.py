"""The fitted constants the estimator reads (``calibration.json``, package data), and
what the fit measured about them. Written by :func:`fpga_flow.estimate.calibrate.write_calibration`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"
CALIBRATION_SCHEMA = "fpga-flow estimate calibration v1"


class FigureError(BaseModel):
    """Median absolute percentage error (as a fraction) of one figure over the pairs."""

    model_config = ConfigDict(extra="forbid")

    in_sample: float | None = Field(description="Fitted and judged on the same pairs.")
    cross_validated: float | None = Field(description="Each pair judged by a fit that left out its whole repository.")
    pairs: int = Field(description="Pairs whose report has this figure.")


class Scope(BaseModel):
    """What the calibration pairs covered: outside it the estimate answers and says so."""

    model_config = ConfigDict(extra="forbid")

    layer_kinds: list[str] = Field(description="Layer kinds with their io type, e.g. 'conv2d (io_stream)'.")
    strategies: list[str]
    io_types: list[str]
    families: list[str]


class Calibration(BaseModel):
    """Fitted constants of the cost model (:mod:`fpga_flow.estimate.cost` and the modules it uses) and their measured error."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str = Field(default=CALIBRATION_SCHEMA, alias="schema")
    version: str = Field(description="Estimator model version; changes whenever the constants are refitted.")
    fitted_on: str = Field(description="The pairs folder the constants were fitted on (its name).")
    pairs: int = Field(description="Pairs used by the fit.")
    repositories: int = Field(description="Distinct source repositories among them.")
    known_digits_ratio: float = Field(
        description="Trained weights with enough CSD digits for a DSP, over the share uniform values of their bits would have "
                    "(prices weights a description does not give).")
    lut: dict[str, float] = Field(description="csynth LUTs per unit of each counted quantity (counts.LUT_TERMS).")
    ff: dict[str, float] = Field(description="csynth FFs per unit of each counted quantity (counts.FF_TERMS).")
    ff_factors: dict[str, float] = Field(
        description="FF count of a design with each trait (counts.FF_FACTORS) over one without it.")
    timing: dict[str, float] = Field(description="Latency constants (timing.LATENCY_CONSTANTS).")
    synth_ratio: dict[str, float] = Field(
        description="Vivado post-synthesis figure over the csynth estimate, per resource (median over the pairs).")
    error: dict[str, dict[str, FigureError]] = Field(
        description="Measured error per kind of truth ('csynth', 'vivado_synth') and figure.")
    scope: Scope
    layer_error: dict[str, dict[str, float | None]] = Field(
        default_factory=dict,
        description="Cross-validated median error per layer kind (with its io type, as Scope.layer_kinds) and figure, "
                    "each layer against its per-module csynth report; 'layers' counts the layers measured.")

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=1) + "\n"


@lru_cache(maxsize=1)
def load_calibration(path: Path = CALIBRATION_FILE) -> Calibration:
    """The shipped calibration (read once)."""
    return Calibration.model_validate_json(path.read_text(encoding="utf-8"))
