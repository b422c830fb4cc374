"""``summary.json``'s ``precision`` records: what the ``closure`` policy tried and chose
(:class:`ClosureRecord`, with how its candidates were computed and the layers hls4ml
cannot represent), the Keras values outside each layer's type (:class:`OverflowRecord`),
and the precision stage's result (:class:`PrecisionChoice`). Filled by
:mod:`fpga_flow.precision` and :mod:`fpga_flow.emulate`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RealizationRecord(BaseModel):
    """How the closure computed its candidates (a section of the closure record)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    emulated_iterations: int = Field(description="candidates computed by the bit-exact emulator, without g++")
    compiled_iterations: int = Field(description="candidates compiled with g++ (a layer the emulator does not cover)")
    fallback_reason: str | None = Field(description="the first layer the emulator did not cover, if any")


class LimitRecord(BaseModel):
    """One layer whose remaining error no hls4ml configuration removes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layer: str
    reason: str
    agreement: float = Field(description="argmax agreement with Keras of the chosen design (calibration split)")
    agreement_if_exact: float = Field(description="the same with this layer's arithmetic exact")
    layer_error: float = Field(description="the layer's relative error against Keras, as built")
    layer_error_if_exact: float = Field(description="the layer's relative error with its arithmetic exact")


class ClosureIteration(BaseModel):
    """One configuration the closure compiled and measured on the calibration split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iteration: int
    layer: str | None = Field(description="the layer widened (None: a whole configuration)")
    change: str
    agreement: float
    max_abs_error: float


class RejectedChange(BaseModel):
    """A configuration the closure measured and dropped because its C++ did not compile or run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layer: str | None = Field(description="the layer widened (None: a whole configuration, default or inferred)")
    change: str
    reason: str


class ClosureRecord(BaseModel):
    """What the ``closure`` policy tried and chose. The chosen types themselves are the
    run's ``precision.layer_precisions`` (what hls4ml made of the chosen configuration)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_agreement: float
    calibration_size: int
    default_agreement_calibration: float | None = Field(
        description="agreement of hls4ml's default configuration on the calibration split")
    stopped_because: str
    chosen_iteration: int | None
    rejected_changes: list[RejectedChange]
    iterations: list[ClosureIteration]
    layer_error_before: dict[str, float] = Field(description="relative error per layer, hls4ml's default configuration")
    layer_error_after: dict[str, float] = Field(description="relative error per layer, the chosen configuration")
    realization: RealizationRecord | None = Field(
        default=None, description="how the candidates were computed (emulated or compiled); None before the emulator")
    hls4ml_limits: list[LimitRecord] = Field(
        default_factory=list, description="layers whose remaining error no hls4ml configuration removes (with evidence)")


class OverflowRecord(BaseModel):
    """Keras values of one layer that fall outside its C++ result type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    values: int
    overflowed: int
    fraction: float


class PrecisionChoice(BaseModel):
    """The precision stage's result: the hls4ml configuration the policy chose and, for
    ``closure``, the record of how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str
    hls_config: dict[str, Any]
    closure: ClosureRecord | None = None
