"""``summary.json``'s ``cache`` section: what a build took from (or gave to) the build
cache (:mod:`fpga_flow.cache`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CacheUse(BaseModel):
    """What a build took from (or gave to) the build cache."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dir: str
    key: str = Field(description="the entry holding the build's precisions, compiled project and estimate")
    hit: bool = Field(description="True when the entry was there before the build: its steps did not run")
    steps: list[str] = Field(description="the build steps the entry stands for")
    model_digest: str = Field(description="hash of the model's architecture and weights")
    source_digest: str = Field(description="hash of the fpga_flow package the entry was built with")
    run_key: str | None = Field(default=None, description="the run cache's key (fpga_flow.run_cache) on a full hit")
    run_hit: bool = Field(default=False, description="True when the whole run was restored from the identical "
                                                     "earlier run: no step ran, TensorFlow was not imported")
    restored_from: str | None = Field(default=None, description="on a full hit, the run id the results come from")
    rtl_key: str | None = Field(default=None, description="with --rtl, the entry holding the RTL steps' results "
                                                          "(fpga_flow.pipeline.rtl_cache); None with a tool missing")
    rtl_hit: bool | None = Field(default=None, description="True when the RTL, its simulation and its synthesis "
                                                          "came from that entry: da4ml, Verilator and yosys did not run")
