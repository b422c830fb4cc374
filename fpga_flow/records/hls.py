"""``summary.json``'s ``hls`` section: the HLS options a user chooses (io type,
strategy, reuse factor, clock, default type), validated as hls4ml would build them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fpga_flow.errors import UserInputError
from fpga_flow.layers import DISTRIBUTED_ARITHMETIC, IO_TYPES, LATENCY, STRATEGIES, is_distributed_arithmetic


class HLSSettings(BaseModel):
    """Everything about the HLS project that the user chooses, besides precisions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    io_type: Literal[IO_TYPES] = "io_parallel"
    strategy: Literal[STRATEGIES] = LATENCY
    reuse_factor: int = Field(default=1, ge=1)
    clock_period_ns: float = Field(default=10.0, gt=0, le=100)
    default_precision: str = Field(default="ap_fixed<16,6>", description="hls4ml's model-wide default type")

    @model_validator(mode="after")
    def _one_cycle_for_distributed_arithmetic(self) -> "HLSSettings":
        if is_distributed_arithmetic(self.strategy) and self.reuse_factor != 1:
            # hls4ml refuses it layer by layer ("rf != 1, but has strategy = distributed_arithmetic").
            raise ValueError(f"strategy {DISTRIBUTED_ARITHMETIC} computes every product in one cycle: "
                             f"use --reuse-factor 1 (got {self.reuse_factor})")
        return self


def validated_hls_settings(**fields: Any) -> HLSSettings:
    """Validated HLSSettings; a combination hls4ml cannot build is a one-line UserInputError."""
    try:
        return HLSSettings(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = first.get("ctx", {}).get("error", first["msg"])
        raise UserInputError(f"{'.'.join(map(str, first['loc'])) or 'HLS settings'}: {reason}".removeprefix(": ")) from None
