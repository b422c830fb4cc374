"""``summary.json``'s ``synthesis`` section: what the vendor synthesis stage
(:mod:`fpga_flow.synth`) did."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SynthesisResult(BaseModel):
    """What the synthesis stage did: ran (``ok``), ran and failed, or was skipped and why."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "failed", "skipped"]
    reason: str | None = Field(default=None, description="why it was skipped, or how it failed")
    tool: str | None = Field(default=None, description="the vendor program the backend needs")
    seconds: float = 0.0
    failed_stage: str | None = Field(default=None, description="the tool's stage that failed, from its log")
    log: str | None = Field(default=None, description="path of the tool's output")
    report: dict[str, Any] | None = Field(
        default=None, description="the merged vendor report: fpga_flow.reports.BuildReport.to_dict()")
