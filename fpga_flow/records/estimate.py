"""``summary.json``'s ``estimate`` section: the calibrated estimate of one design
(:mod:`fpga_flow.estimate` prices it), both kinds of figures, per layer, and how far to
trust them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fpga_flow.layers import ESTIMATED_RESOURCE_KEYS

MODEL_NAME = "fpga-flow calibrated estimate"
RESOURCES = ESTIMATED_RESOURCE_KEYS
CSYNTH, VIVADO_SYNTH, FIRST_ORDER = "csynth", "vivado_synth", "first_order"
KIND_MEANING = {
    CSYNTH: "what Vivado/Vitis HLS C-synthesis (csynth) would report",
    VIVADO_SYNTH: "what Vivado synthesis would report (post-synthesis utilization)",
    FIRST_ORDER: "fpga-flow 0.1's first-order estimate, checked against no report (older runs only)",
}


class Figures(BaseModel):
    """Resources and cycles of one kind of truth."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["csynth", "vivado_synth", "first_order"] = Field(description="Which report these figures predict.")
    LUT: int
    FF: int
    DSP: int
    BRAM_18K: int
    latency_cycles: int | None = Field(default=None, description="Worst-case latency (csynth only).")
    interval_cycles: int | None = Field(default=None, description="Initiation interval (csynth only).")


class LayerEstimate(BaseModel):
    """One layer's csynth figures."""

    model_config = ConfigDict(extra="forbid")

    layer: str
    kind: str
    priced: bool = Field(description="False for a layer the estimator cannot price (its figures are absent, not 0).")
    multipliers: int | None
    reuse_factor: int
    strategy: str | None = Field(description="latency or resource; None in records of the first-order estimator")
    LUT: int | None
    FF: int | None
    DSP: int | None
    BRAM_18K: int | None
    latency_cycles: int | None
    notes: list[str] = Field(default_factory=list)


class Estimate(BaseModel):
    """The estimate of one design (``summary.json``'s ``estimate``): both kinds of figures,
    per layer, and how far to trust them."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Estimator and calibration version.")
    design: str = Field(description="Name and origin of the priced description.")
    family: str
    clock_period_ns: float
    csynth: Figures | None = Field(description="The C-synthesis prediction; None in records of the first-order estimator.")
    vivado_synth: Figures | None = Field(description="The post-synthesis prediction; None where no calibration gives one.")
    first_order: Figures | None = Field(default=None, description="Figures of fpga-flow 0.1's uncalibrated estimator, "
                                                                  "in records upgraded from it; None otherwise.")
    latency_ns: float
    per_layer: list[LayerEstimate]
    unpriced_layers: list[str] = Field(description="Layers left out of every figure, by name.")
    utilization_pct: dict[str, dict[str, float | None]] | None = Field(
        default=None, description="Per kind, each resource against the board (None when the board has none).")
    error: dict[str, dict[str, float | None]] = Field(
        description="Cross-validated median error (fraction) per kind and figure, as measured on the calibration "
                    "pairs; empty for the first-order estimator, which was measured on none.")
    in_scope: bool = Field(description="Every layer kind, strategy, io type and family was covered by the calibration.")
    scope_notes: list[str] = Field(description="What lies outside the validated scope, in words.")
    kinds: dict[str, str] = Field(default=dict(KIND_MEANING), description="What each kind of figure predicts.")

    @property
    def headline(self) -> Figures:
        """The figures a run shows first: the csynth prediction (first-order in old records)."""
        return self.csynth or self.first_order

    @property
    def resources(self) -> dict[str, int]:
        """The headline resources; hls4ml binds no URAM, so URAM is 0."""
        return {**{key: getattr(self.headline, key) for key in RESOURCES}, "URAM": 0}

    @property
    def latency_cycles(self) -> int:
        return self.headline.latency_cycles

    @property
    def interval_cycles(self) -> int:
        return self.headline.interval_cycles

    def error_of(self, figure: str) -> float | None:
        """The measured median error (fraction) of a headline figure, None when unmeasured."""
        return self.error.get(self.headline.kind, {}).get(figure)
