"""``summary.json``'s ``fit`` section: what the user asked of ``--fit``
(:class:`FitRequest`), and the search's record (:class:`FitResult`: the chosen plan, the
unfitted design, the other plans priced, what the search took). :mod:`fpga_flow.fit`
searches and fills them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from fpga_flow.boards import get_board
from fpga_flow.layers import FIT_STRATEGIES, IO_TYPES, LATENCY

Objective = Literal["least latency", "least resources"]


class FitRequest(BaseModel):
    """What the user asked of the fit: the budget, an optional target latency, and the
    HLS options given explicitly, which the fit keeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    budget: float = Field(gt=0, le=1, description="Share of each board resource the design may use.")
    target_latency_ns: float | None = Field(default=None, gt=0, description="Latency to meet; None: least latency.")
    io_type: Literal[IO_TYPES] | None = Field(default=None, description="io type the user fixed (None: chosen).")
    strategy: Literal[FIT_STRATEGIES] | None = Field(
        default=None, description="Strategy the user fixed for every tuned layer (None: chosen per layer).")
    reuse_factor: int | None = Field(
        default=None, ge=1, description="Reuse factor the user fixed for every tuned layer (None: chosen per layer).")

    @property
    def objective(self) -> Objective:
        return "least latency" if self.target_latency_ns is None else "least resources"

    @classmethod
    def of(cls, config) -> "FitRequest":
        """The request of a build configuration (``fpga_flow.config.BuildConfig``)."""
        io_type, strategy = held_design(config)
        return cls(budget=config.fit_budget, target_latency_ns=config.target_latency_ns, io_type=io_type,
                   strategy=strategy, reuse_factor=config.reuse_factor)


def held_design(config) -> tuple[str | None, str | None]:
    """The io type and strategy a build (``fpga_flow.config.BuildConfig``) is held to, None
    where it is free: the user's; the build's HLS settings and the fit both take them.

    Invariant enforced here: on a board with no vendor flow (ECP5: the design goes through
    the RTL and the open tools) a build with ``--rtl`` is io_parallel with the Latency
    strategy, the only design the RTL mirrors (``fpga_flow/rtl/trace.py`` refuses io_stream
    and Resource), unless the user fixed the io type or strategy: a zoo recipe's own io_stream
    (tiny_resnet's) gave way to it in the fit only, and the RTL was then skipped."""
    io_type, strategy = config.io_type, config.strategy
    if config.rtl and not get_board(config.board, config.boards_dir).hls_vendor_flow:
        io_type, strategy = io_type or "io_parallel", strategy or LATENCY
    return io_type, strategy


class LayerSetting(BaseModel):
    """A tuned layer's strategy, reuse factor and, for an io_parallel convolution, its
    ParallelizationFactor (None: the layer has none to choose; records written before the
    fit chose it have none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Literal[FIT_STRATEGIES]
    reuse_factor: int = Field(ge=1)
    parallelization_factor: int | None = Field(default=None, ge=1,
                                               description="io_parallel convolutions: output pixels computed "
                                               "side by side (hls4ml's ParallelizationFactor).")

    @model_serializer(mode="wrap")
    def _without_absent_factor(self, handler):
        # A setting without a factor is written as before the field existed (a plan repeats
        # it for every layer of every alternative the summary keeps).
        data = handler(self)
        if self.parallelization_factor is None:
            data.pop("parallelization_factor", None)
        return data

    def __str__(self) -> str:
        factor = "" if self.parallelization_factor is None else f" PF {self.parallelization_factor}"
        return f"{self.strategy}/{self.reuse_factor}{factor}"


class LayerChoice(BaseModel):
    """One tuned layer of the chosen plan, what the search could give it, and its
    estimated cost under the plan."""

    model_config = ConfigDict(extra="forbid")

    layer: str
    hls_class: str = Field(description="hls4ml layer class")
    setting: LayerSetting
    strategies: list[Literal[FIT_STRATEGIES]] = Field(description="Strategies the search could give the layer.")
    reuse_factors: list[int] = Field(description="Reuse factors hls4ml keeps for the layer (the search's choices).")
    parallelization_factors: list[int] | None = Field(
        default=None, description="io_parallel convolutions: the ParallelizationFactors hls4ml keeps (the search's choices).")
    note: str | None = Field(default=None, description="Why the choices were restricted, when they were.")
    LUT: int | None
    FF: int | None
    DSP: int | None
    BRAM_18K: int | None
    latency_cycles: int | None


class FitPoint(BaseModel):
    """One whole plan, priced: its io type, its tuned layers' settings, its csynth
    estimate against the board."""

    model_config = ConfigDict(extra="forbid")

    io_type: Literal[IO_TYPES]
    plan: dict[str, LayerSetting] = Field(description="Per tuned layer, its setting.")
    LUT: int
    FF: int
    DSP: int
    BRAM_18K: int
    latency_cycles: int
    interval_cycles: int
    latency_ns: float
    utilization_pct: dict[str, float | None] = Field(description="Each resource against the board's.")
    peak_pct: float = Field(description="The largest share of the board any resource uses, in percent.")
    binding: str = Field(description="The resource with that share.")
    fits: bool = Field(description="Every resource within the budget.")
    stream_fifos: Literal["fitted", "hls4ml"] | None = Field(
        default=None, description="io_stream: the FIFO depths (fpga_flow.stream_depths' or hls4ml's); None otherwise.")


class FitResult(BaseModel):
    """The fit's record (``summary.json``'s ``fit``): the request, the chosen plan, the
    unfitted design and the other plans priced, and what the search took."""

    model_config = ConfigDict(extra="forbid")

    request: FitRequest
    kind: Literal["csynth"] = Field(default="csynth", description="The estimate figures the budget is checked on.")
    board_resources: dict[str, int] = Field(description="The board's LUT, FF, DSP, BRAM_18K.")
    io_types: dict[str, str] = Field(description="Per io type: 'searched', or why it was not.")
    layers: list[LayerChoice] = Field(description="The chosen plan, per tuned layer.")
    chosen: FitPoint = Field(description="The chosen plan, priced from hls4ml's graph of it.")
    unfitted: FitPoint = Field(description="The design as the build would make it without --fit.")
    alternatives: list[FitPoint] = Field(description="The other plans kept: the best few of each goal and io type.")
    layer_options_priced: int = Field(description="Single-layer changes priced to build the search space.")
    plans_priced: int = Field(description="Whole plans priced.")
    search_nodes: int = Field(description="Partial plans the branch and bound visited.")
    search_complete: bool = Field(description="False when a branch and bound stopped at its node limit.")
    search_s: float = Field(description="Seconds the fit took: conversions to graphs, pricing, search.")
    notes: list[str] = Field(default_factory=list)

    @property
    def objective(self) -> Objective:
        return self.request.objective

    @property
    def io_type(self) -> str:
        return self.chosen.io_type

    @property
    def fits(self) -> bool:
        return self.chosen.fits

    @property
    def target_met(self) -> bool | None:
        """Whether the chosen plan fits and meets --target-latency; None without one."""
        target = self.request.target_latency_ns
        return None if target is None else self.fits and self.chosen.latency_ns <= target

    @property
    def target_missed_by_ns(self) -> float | None:
        target = self.request.target_latency_ns
        return None if target is None or self.chosen.latency_ns <= target else round(self.chosen.latency_ns - target, 3)

    def constraints(self) -> str:
        """The options the user fixed, as given on the command line ('' for none)."""
        given = [f"--{name.replace('_', '-')} {value}" for name, value in
                 (("io_type", self.request.io_type), ("strategy", self.request.strategy),
                  ("reuse_factor", self.request.reuse_factor)) if value is not None]
        return ", ".join(given)

    def no_plan(self, board: str) -> str:
        """One line when no plan fits: the smallest peak share reached, and what to change."""
        point, given = self.chosen, self.constraints()
        where = point.io_type + (f"; {given} given" if given else "")
        change = "drop a constraint, " if given else ""
        return (f"DOES NOT FIT: no plan fits {board} within {100 * self.request.budget:g}% by estimate: the smallest "
                f"share reached is {point.binding} {point.peak_pct:.1f}% ({where}): {change}use a larger board, a "
                "smaller model or a larger --budget, or add --allow-over-budget to build that plan anyway")

    def failure(self) -> str | None:
        """One line when the chosen plan fits but misses --target-latency, else None."""
        if self.fits and self.target_met is False:
            return (f"--target-latency {self.request.target_latency_ns:g} ns is missed by "
                    f"{self.target_missed_by_ns:g} ns: the fastest plan within {100 * self.request.budget:g}% takes "
                    f"{self.chosen.latency_ns:g} ns ({self.chosen.io_type})")
        return None
