"""Stage ``fit``: choose, per layer, the reuse factor and strategy, and for the whole
model the io type, so that the design fits the board by estimate, with the least
latency (or, given a target latency, the least resources that meet it).

**What is chosen.** The layers whose reuse factor hls4ml 1.3.0's backend validates
(:data:`TUNED_CLASSES`: Dense, Conv1D, Conv2D, LSTM, GRU) get a strategy (Latency or
Resource) and a reuse factor each; every other layer keeps its configuration. Only
reuse factors hls4ml keeps are offered: those of the backend's own
``get_valid_reuse_factors(n_in, n_out)`` for the layer's multiplication
(``get_layer_mult_size``). Under the Resource strategy hls4ml replaces any other value
by the nearest valid one (``set_closest_reuse_factor``, with a printed warning);
under Latency it keeps any value, and the same list is offered, because a value off
the list leaves multipliers idle. A recurrent layer uses its reuse factor for the
input and the recurrent products (``recurrent_reuse_factor``), so it must be valid for
both. The io type (io_parallel or io_stream) is chosen for the whole model.

**No arithmetic changes.** The fitted design computes what the unfitted one does, bit
for bit, because the search only offers changes that keep every sum's order of
additions or that make the order irrelevant:

* In the Latency kernels (``dense_latency``, ``conv_1d/2d_latency_cl``, and the
  recurrent kernels' products) the reuse factor appears only in pragmas (``PIPELINE
  II``, ``ALLOCATION``): the C++ is the same for every reuse factor.
* The Resource kernels (``dense_resource_rf_leq_nin``, ``conv_2d_resource_cl``) add a
  neuron's products in another order (by ``w_index mod R`` first). Every kernel casts
  each product to ``accum_t`` before adding it, the same way, so the sums differ only
  when an addition overflows ``accum_t``: with wrap-around (AP_WRAP, hls4ml's default)
  addition is modular and the order does not matter; with a saturating ``accum_t``
  (AP_SAT*, which the precision closure chooses when it widens an accumulator) a
  saturated partial sum depends on the order. So a layer whose accumulator saturates
  keeps its unfitted strategy: under Latency it may take any reuse factor, under
  Resource it keeps its reuse factor too (:func:`layer_choices`).
* (For a refit after the closure; the build's first fit, before anything is measured,
  searches both io types: ``keep_arithmetic`` of :func:`fit_design`.) io_stream runs
  the same per-pixel arithmetic as io_parallel for the layer kinds of
  :data:`STREAM_SAME_ARITHMETIC` (a convolution's window is read in the order its
  weights are stored in both, softmax and activations are element-wise or the same
  slice code); a max pooling whose accumulator holds every input value exactly (the
  stream kernel converts the window to ``accum_t`` before taking the max, the parallel
  one after, which agree only then). Average and global pooling (a tree sum in
  io_stream, a running sum in io_parallel), recurrent and attention layers are not, so
  a model with any of them keeps its io type (:func:`stream_keeps_arithmetic`).

**The fit first, before any C++ is compiled.** The build fits the design on the
precisions its policy starts from (hls4ml's defaults, or the inferred ones for ``auto``
and ``closure``: the closure widens from those), so the precision closure measures, and
its compile fallback compiles, the fitted design, never one the estimate says cannot
fit. Widths decide cost, so once the closure has chosen its precisions the plan is
priced again (:func:`recheck`); when they no longer fit, the fit runs again on them
(starting from the plan: a saturating accumulator the closure chose keeps its strategy,
below), and the strategies and reuse factors it changes do not change those
precisions' arithmetic, so the closure's agreement holds for the refitted design.
When no plan fits, the build stops there with one line naming the smallest share
reached (:class:`DoesNotFitError`), unless ``--allow-over-budget``.

**Options given explicitly are constraints.** ``--io-type`` fixes the io type,
``--strategy`` every tuned layer's strategy, ``--reuse-factor`` every tuned layer's
reuse factor (it must be one hls4ml keeps for each of them, else the build stops with
the values it would keep). The recipe's defaults are not constraints: they describe
the unfitted design, the one the fit is compared with. ``--strategy
distributed_arithmetic`` turns the fit off (da4ml's adder graphs are not a strategy
the estimate is calibrated on): the design is built as given and only the budget
check applies.

**The objective.** With ``--budget B`` (default 0.8: the headroom routing needs) every
resource (LUT, FF, DSP, BRAM_18K) of the estimate's csynth figures must be at most B
of the board's; among those plans the fit takes the least latency (then the least
peak utilization). With ``--target-latency T`` it takes the least peak utilization
(the largest share of the board any resource uses) among the plans within budget
whose latency is at most T; when none meets T, the fastest plan within budget, and the
build says by how much T is missed. When no plan fits, the plan of least peak
utilization is kept and the build fails naming the resource.

**The search** (all pricing by :func:`fpga_flow.estimate.price`, nothing compiled):

1. For each io type, the model is converted to an hls4ml graph (not written) with the
   chosen precisions and described once. Each layer option is priced alone (a layer's
   figures do not depend on the other layers' plans); options another option of the
   same layer beats in every resource and in latency are dropped.
2. A depth-first branch and bound over the tuned layers (:func:`search`) bounds each
   partial plan by its layers' figures plus the cheapest and fastest options of the
   layers still open (a design's resources are the sum of its layers', its latency
   the sum in io_parallel and at least the slowest layer's in io_stream) and prices
   each whole plan it reaches. It keeps the :data:`PLANS_PRICED` best plans of each
   goal: the fastest within budget, the least peak share meeting the target, the
   least peak share at all (what is reported when nothing fits).
3. The choice is made on the whole-plan figures. The chosen plan is converted once
   more: hls4ml must keep every planned value (:func:`check_plan_kept`), and its own
   description gives the chosen figures. (They equal the planned ones, but for the
   interval: hls4ml makes an io_parallel design DATAFLOW when a layer takes the
   Resource strategy, which a plan does not say.) Only that plan is written and
   compiled (the build's next steps).
"""

from __future__ import annotations

import copy
import heapq
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from fpga_flow.boards import Board, get_board
from fpga_flow.convert import FIT_STRATEGIES, IO_TYPES, PROJECT_NAME, HLSSettings, model_graph
from fpga_flow.errors import FlowError, UnsupportedModelError, UserInputError
from fpga_flow.estimate import Design, Estimate, LayerDesign, LayerPlan, NumberType, price
from fpga_flow.estimate.design import parse_type
from fpga_flow.estimate.estimator import RESOURCES
from fpga_flow.estimate.from_graph import describe_graph
from fpga_flow.layers import RECURRENT_HLS_CLASSES, TUNED_CLASSES

# Plans priced whole per io type and goal (about a millisecond each), and the branch
# and bound's limit on partial plans per search.
PLANS_PRICED = 24
NODE_LIMIT = 300_000
# ... and on whole plans priced per search (a few ms each). In io_stream the latency bound
# (the slowest layer) is weak, so without it a model of five convolutions priced 204,186
# plans in 770 s (conv1d_pulses on the U250); the options are visited fastest (or
# smallest) first, so the best plans come early.
PRICE_LIMIT = 1_500
# Layer kinds whose io_stream kernel computes what the io_parallel one does, in the same
# order (module docstring); max pooling is checked apart (its accumulator must hold its input).
STREAM_SAME_ARITHMETIC = frozenset({"dense", "conv1d", "conv2d", "activation", "softmax", "batchnorm", "reshape",
                                    "zeropad1d", "zeropad2d"})
# Layer kinds with no io_stream kernel in fpga-flow's HLS (fpga_flow/attention: nnet_qmhsa.h
# takes arrays): a model with one is never fitted into io_stream, whatever the search may.
NO_STREAM_KERNEL = frozenset({"attention"})
Objective = Literal["least latency", "least resources"]


class FitError(FlowError):
    """hls4ml changed a value the fit planned: the fit's fault, a failed stage."""

    exit_code = 1


class DoesNotFitError(FlowError):
    """No plan fits the board within the budget: the build stops before compiling."""

    exit_code = 1


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
        """The request of a build configuration (``fpga_flow.config.BuildConfig``).

        Invariant enforced here: on a board with no vendor flow (ECP5: the design goes
        through the RTL and the open tools) a build with ``--rtl`` is fitted in io_parallel
        with the Latency strategy, the only design the RTL mirrors (``fpga_flow/rtl/trace.py``
        refuses io_stream and Resource), unless the user fixed the io type or strategy."""
        io_type, strategy = config.io_type, config.strategy
        if config.rtl and not get_board(config.board, config.boards_dir).hls_vendor_flow:
            io_type, strategy = io_type or "io_parallel", strategy or "Latency"
        return cls(budget=config.fit_budget, target_latency_ns=config.target_latency_ns, io_type=io_type,
                   strategy=strategy, reuse_factor=config.reuse_factor)


class LayerSetting(BaseModel):
    """A tuned layer's strategy and reuse factor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Literal[FIT_STRATEGIES]
    reuse_factor: int = Field(ge=1)

    def __str__(self) -> str:
        return f"{self.strategy}/{self.reuse_factor}"


class LayerChoice(BaseModel):
    """One tuned layer of the chosen plan, what the search could give it, and its
    estimated cost under the plan."""

    model_config = ConfigDict(extra="forbid")

    layer: str
    hls_class: str = Field(description="hls4ml layer class")
    setting: LayerSetting
    strategies: list[Literal[FIT_STRATEGIES]] = Field(description="Strategies the search could give the layer.")
    reuse_factors: list[int] = Field(description="Reuse factors hls4ml keeps for the layer (the search's choices).")
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


# --------------------------------------------------------------------------- what may change


@dataclass(frozen=True)
class Option:
    """One setting of one layer, with the layer's figures under it."""

    setting: LayerSetting
    cost: tuple[float, ...]  # RESOURCES, in order
    latency: int


def layer_plan(setting: LayerSetting) -> LayerPlan:
    """The estimator's plan for a layer setting."""
    return LayerPlan(reuse_factor=setting.reuse_factor, strategy=setting.strategy.lower())


@dataclass
class TunedLayer:
    """A layer the search tunes: what it may become, what it is unfitted, its options."""

    name: str
    hls_class: str
    strategies: list[str]
    reuse_factors: list[int]
    unfitted: LayerSetting
    note: str | None = None
    options: list[Option] = field(default_factory=list)
    resource_limit: int | None = None  # the largest reuse factor its Resource kernel takes (None: any offered)

    def settings(self) -> list[LayerSetting]:
        """Every (strategy, reuse factor) the search may give the layer."""
        return [LayerSetting(strategy=strategy, reuse_factor=reuse) for strategy in self.strategies
                for reuse in self.reuse_factors
                if not (strategy == "Resource" and self.resource_limit is not None and reuse > self.resource_limit)]


def valid_reuse_factors(backend, graph_layer) -> list[int]:
    """The reuse factors hls4ml keeps for a layer: its backend's valid list for the
    layer's multiplication (and, for LSTM/GRU, the recurrent one, which takes the same
    value)."""
    sizes = backend.get_layer_mult_size(graph_layer)
    valid = set(backend.get_valid_reuse_factors(sizes[0], sizes[1]))
    if graph_layer.class_name in RECURRENT_HLS_CLASSES:
        valid &= set(backend.get_valid_reuse_factors(sizes[2], sizes[3]))
    return sorted(valid)


# hls4ml 1.3.0 classes whose io_parallel Resource kernel is conv_1d_resource_cl /
# conv_2d_resource_cl (a pointwise layer too: convolution_templates.py gives it Conv1DResource,
# pointwise_conv_2d_cl calls conv_2d_resource_cl). Depthwise layers are not tuned: their
# io_parallel Resource kernel asserts whatever the reuse factor (nnet_sepconv2d.h).
PARALLEL_CONV_RESOURCE_CLASSES = frozenset({"Conv1D", "Conv2D", "Conv2DBatchnorm", "PointwiseConv1D",
                                            "PointwiseConv2D"})


def resource_reuse_limit(backend, graph_layer, io_type: str) -> int | None:
    """The largest reuse factor the layer's Resource kernel accepts, None when every valid
    one is. hls4ml 1.3.0's io_parallel convolution kernels (nnet_conv1d_resource.h,
    nnet_conv2d_resource.h) ``assert(reuse_factor <= filt_width * n_chan)`` (times
    filt_height in 2-D): the C simulation aborts above it, although the backend's
    ``get_valid_reuse_factors`` offers multiples of n_in up to n_in*n_out (those are
    right for io_stream, whose convolutions call ``DenseResource_rf_gt_nin_rem0``)."""
    if io_type != "io_parallel" or graph_layer.class_name not in PARALLEL_CONV_RESOURCE_CLASSES:
        return None
    return int(backend.get_layer_mult_size(graph_layer)[0])


def saturating_accumulator(layer: LayerDesign) -> bool:
    """Whether any of the layer's sums saturate (AP_SAT*) in its accumulator type."""
    return any(product.accum_type is not None and product.accum_type.saturates for product in layer.products)


def layer_choices(name: str, hls_class: str, reuse_factors: list[int], unfitted: LayerSetting, saturates: bool,
                  request: FitRequest, resource_limit: int | None = None) -> TunedLayer:
    """The strategies and reuse factors the search may give a layer: those hls4ml keeps,
    less what would change its arithmetic (a saturating accumulator keeps the unfitted
    strategy, and under Resource its reuse factor: module docstring), within the
    user's --strategy and --reuse-factor."""
    strategies, note = [request.strategy] if request.strategy else list(FIT_STRATEGIES), None
    if saturates:
        strategies = [unfitted.strategy]
        note = f"saturating accumulator: its additions keep their order, so it stays {unfitted.strategy}"
        if unfitted.strategy == "Resource":
            reuse_factors = [unfitted.reuse_factor]
            note += f" at reuse factor {unfitted.reuse_factor}"
    if request.reuse_factor is not None:
        if request.reuse_factor not in reuse_factors:
            allowed = ", ".join(map(str, reuse_factors))
            raise UserInputError(f"--reuse-factor {request.reuse_factor}: layer {name} ({hls_class}) takes only "
                                 f"{allowed} (hls4ml would change any other value): choose one of them, or leave "
                                 "--reuse-factor out and the fit chooses per layer")
        reuse_factors = [request.reuse_factor]
        if resource_limit is not None and request.reuse_factor > resource_limit:
            strategies = [strategy for strategy in strategies if strategy != "Resource"]
            if not strategies:
                raise UserInputError(f"--reuse-factor {request.reuse_factor} with the Resource strategy: layer {name} "
                                     f"({hls_class}) takes at most {resource_limit} (hls4ml's io_parallel Resource "
                                     "convolution asserts against more): choose a smaller one, or --strategy Latency")
    if resource_limit is not None and "Resource" in strategies and max(reuse_factors) > resource_limit:
        limit = f"Resource up to reuse factor {resource_limit} (hls4ml's io_parallel convolution asserts above)"
        note = f"{note}; {limit}" if note else limit
    return TunedLayer(name, hls_class, strategies, list(reuse_factors), unfitted, note, resource_limit=resource_limit)


def holds_exactly(wide: NumberType | None, narrow: NumberType | None) -> bool:
    """Whether every value of ``narrow`` is a value of ``wide``: no fewer fraction bits,
    and as many integer bits (one more when only ``wide`` is signed)."""
    if wide is None or narrow is None or (narrow.signed and not wide.signed):
        return False
    sign_bit = 1 if wide.signed and not narrow.signed else 0
    return wide.integer >= narrow.integer + sign_bit and wide.fraction >= narrow.fraction


def no_stream_kernel(design: Design) -> str | None:
    """The first layer with no io_stream kernel (:data:`NO_STREAM_KERNEL`), said why; None if none."""
    layer = next((layer for layer in design.layers if layer.kind in NO_STREAM_KERNEL), None)
    return None if layer is None else f"{layer.name}: {layer.kind} layers have no io_stream kernel"


def stream_keeps_arithmetic(graph, design: Design) -> str | None:
    """None when io_stream computes what io_parallel does for every layer of the model
    (module docstring), else the first reason it does not; ``graph`` and ``design`` are
    one converted graph of the model and its description."""
    graph_layers = {layer.name: layer for layer in graph.get_layers()}
    for layer in design.layers:
        if layer.kind in ("pooling1d", "pooling2d"):
            if (layer.function or "max") != "max":
                return f"{layer.name}: {layer.function} pooling adds its window in another order in io_stream"
            accum = graph_layers[layer.name].get_attr("accum_t")
            if not holds_exactly(parse_type(accum.precision.definition_cpp()) if accum else None, layer.input_type):
                return (f"{layer.name}: max pooling's accumulator does not hold its input exactly (io_stream converts "
                        "before taking the max, io_parallel after)")
        elif layer.kind not in STREAM_SAME_ARITHMETIC:
            return f"{layer.name}: {layer.kind} layers compute differently in io_stream"
        elif layer.kind.startswith("conv") and layer.strategy != "latency" and saturating_accumulator(layer):
            return f"{layer.name}: its saturating Resource-strategy sums are added in another order in io_stream"
    return None


# --------------------------------------------------------------------------- one io type's space


@dataclass
class Space:
    """The plans of one io type: the model's description, its tuned layers with their
    priced options, and what the other layers cost (the fixed part)."""

    io_type: str
    design: Design
    tuned: list[TunedLayer]
    fixed_cost: tuple[float, ...] = ()
    fixed_latency: float = 0.0  # io_parallel: the other layers' cycles; io_stream: the slowest other layer's
    priced: int = 0  # single-layer changes priced
    plans_priced: int = 0  # whole plans priced by the searches

    @property
    def stream(self) -> bool:
        return self.io_type == "io_stream"

    def plan(self, settings: dict[str, LayerSetting]) -> dict[str, LayerPlan]:
        return {name: layer_plan(setting) for name, setting in settings.items()}

    @property
    def unfitted(self) -> dict[str, LayerSetting]:
        return {layer.name: layer.unfitted for layer in self.tuned}

    def settings_of(self, indices: tuple[int, ...]) -> dict[str, LayerSetting]:
        """A plan of the search (an option index per tuned layer) as layer settings."""
        return {layer.name: layer.options[index].setting for layer, index in zip(self.tuned, indices)}


def _layer_figures(estimate: Estimate, name: str) -> tuple[tuple[float, ...], int]:
    layer = next(layer for layer in estimate.per_layer if layer.layer == name)
    return tuple(float(getattr(layer, key) or 0) for key in RESOURCES), int(layer.latency_cycles or 0)


def price_options(space: Space, available: dict[str, int]) -> None:
    """Price each option of each tuned layer alone (a layer's figures do not depend on
    the other layers' plans), keep those no other option of the layer beats in every
    resource and in latency, and fill in the fixed part."""
    reference = price(space.design, space.plan(space.unfitted), available=available)
    space.priced += 1
    tuned_cost, tuned_latency = [0.0] * len(RESOURCES), 0
    for layer in space.tuned:
        cost, latency = _layer_figures(reference, layer.name)
        tuned_cost = [a + b for a, b in zip(tuned_cost, cost)]
        tuned_latency += latency
        options = []
        for setting in layer.settings():
            estimate = price(space.design, {layer.name: layer_plan(setting)}, available=available)
            space.priced += 1
            options.append(Option(setting, *_layer_figures(estimate, layer.name)))
        # In io_stream a layer adds its fill, not its latency, unless it is the slowest:
        # an option slower and no cheaper than another may still fill faster, so all stay.
        layer.options = options if space.stream else _undominated(options, preferred=layer.unfitted)
    space.fixed_cost = tuple(getattr(reference.csynth, key) - tuned for key, tuned in zip(RESOURCES, tuned_cost))
    if space.stream:
        tuned_names = {layer.name for layer in space.tuned}
        space.fixed_latency = float(max((layer.latency_cycles or 0 for layer in reference.per_layer
                                         if layer.layer not in tuned_names), default=0))
    else:
        space.fixed_latency = float(reference.csynth.latency_cycles - tuned_latency)


def _undominated(options: list[Option], preferred: LayerSetting) -> list[Option]:
    """The options no other beats in every figure; of equal ones, the unfitted setting,
    else Latency, else the smaller reuse factor."""
    def figures(option: Option) -> tuple[float, ...]:
        return (*option.cost, option.latency)

    def covers(a: Option, b: Option) -> bool:  # a is at least as good as b everywhere
        return all(x <= y for x, y in zip(figures(a), figures(b)))

    kept: list[Option] = []
    for option in sorted(options, key=lambda o: (o.setting != preferred, o.setting.strategy != "Latency",
                                                 o.setting.reuse_factor)):
        if not any(covers(other, option) for other in kept):
            kept = [other for other in kept if not covers(option, other)] + [option]
    return kept


# --------------------------------------------------------------------------- branch and bound


@dataclass(frozen=True)
class Goal:
    """What one search ranks by and requires: ``rank`` 'latency' (then peak share) or
    'peak' (then latency); ``limits`` the most of each resource a plan may use;
    ``target_cycles`` the most latency it may take."""

    rank: Literal["latency", "peak"]
    limits: tuple[float, ...] | None = None
    target_cycles: float | None = None


def peak_share(resources, capacities) -> float:
    """The largest share of the board any resource uses; a resource the board lacks
    counts each unit used as a whole board."""
    return max((used / capacity if capacity else float(used) for used, capacity in zip(resources, capacities)),
               default=0.0)


def search(space: Space, capacities: tuple[int, ...], goal: Goal, evaluate: Callable[[tuple[int, ...]], FitPoint],
           keep: int = PLANS_PRICED, node_limit: int = NODE_LIMIT,
           price_limit: int = PRICE_LIMIT) -> tuple[list[FitPoint], int, bool]:
    """The ``keep`` best plans of ``space`` for ``goal``, priced whole by ``evaluate``
    (given an option index per tuned layer), best first; the partial plans visited;
    and whether the search ran to its end (else it stopped at ``node_limit`` partial
    plans or ``price_limit`` whole ones, keeping
    the best it found).

    A partial plan's bound adds, for each layer still open, its cheapest option in each
    resource and its fastest in latency: the design's resources are its layers' plus
    the fixed part, and its latency in io_parallel their sum (layers run in sequence),
    in io_stream at least the slowest layer's (layers overlap, each adding its fill).
    No completion does better than the bound, so a partial plan whose bound breaks a
    limit, or ranks behind the ``keep``-th whole plan found, is not explored; whole
    plans are ranked on their own figures."""
    layers, count, width = space.tuned, len(space.tuned), len(RESOURCES)
    least_cost = [[0.0] * width for _ in range(count + 1)]
    least_sum, least_slowest = [0.0] * (count + 1), [0.0] * (count + 1)
    for i in range(count - 1, -1, -1):
        options = layers[i].options
        least_cost[i] = [least_cost[i + 1][k] + min(o.cost[k] for o in options) for k in range(width)]
        fastest = min(o.latency for o in options)
        least_sum[i], least_slowest[i] = least_sum[i + 1] + fastest, max(least_slowest[i + 1], fastest)
    # Per-layer figures are rounded, the design's totals are not: allow that much.
    slack = 0.5 * (count + 1)

    def rank(resources, latency: float) -> tuple[float, float]:
        peak = peak_share(resources, capacities)
        return (latency, peak) if goal.rank == "latency" else (peak, latency)

    def allowed(resources, latency: float) -> bool:
        if goal.limits is not None and any(used > limit for used, limit in zip(resources, goal.limits)):
            return False
        return goal.target_cycles is None or latency <= goal.target_cycles

    def option_order(layer: TunedLayer) -> list[int]:
        if goal.rank == "latency":
            return sorted(range(len(layer.options)), key=lambda i: layer.options[i].latency)
        return sorted(range(len(layer.options)), key=lambda i: peak_share(layer.options[i].cost, capacities))

    orders = [option_order(layer) for layer in layers]
    best: list[tuple[tuple[float, float], int, FitPoint]] = []  # a max-heap: keys negated
    visited, leaves, complete = 0, 0, True

    def visit(depth: int, resources: list[float], total: float, slowest: float, chosen: tuple[int, ...]) -> None:
        nonlocal visited, leaves, complete
        visited += 1
        if visited > node_limit or leaves >= price_limit:
            complete = False
            return
        bound = [used + rest - slack for used, rest in zip(resources, least_cost[depth])]
        bound_latency = (max(space.fixed_latency, slowest, least_slowest[depth]) if space.stream
                         else space.fixed_latency + total + least_sum[depth])
        bound_rank = rank(bound, bound_latency)
        if not allowed(bound, bound_latency) or (len(best) == keep and bound_rank >= tuple(-x for x in best[0][0])):
            return
        if depth == count:
            leaves += 1
            point = evaluate(chosen)
            figures = [getattr(point, key) for key in RESOURCES]
            if allowed(figures, point.latency_cycles):
                entry = (tuple(-x for x in rank(figures, point.latency_cycles)), visited, point)
                (heapq.heappush if len(best) < keep else heapq.heappushpop)(best, entry)
            return
        for index in orders[depth]:
            option = layers[depth].options[index]
            visit(depth + 1, [used + cost for used, cost in zip(resources, option.cost)], total + option.latency,
                  max(slowest, option.latency), (*chosen, index))

    visit(0, list(space.fixed_cost), 0.0, 0.0, ())
    return [entry[2] for entry in sorted(best, key=lambda entry: tuple(-x for x in entry[0]))], visited, complete


# --------------------------------------------------------------------------- the fit


def _strategy_name(graph_layer) -> str | None:
    """'Latency' or 'Resource' as hls4ml set the layer, None for its other strategies."""
    text = str(graph_layer.get_attr("strategy", "") or "").lower()
    return {"latency": "Latency", "resource": "Resource"}.get(text)


def with_plan(hls_config: dict[str, Any], plan: dict[str, LayerSetting]) -> dict[str, Any]:
    """A copy of ``hls_config`` with each planned layer's strategy and reuse factor."""
    config = copy.deepcopy(hls_config)
    for name, setting in plan.items():
        layer = config["LayerName"].setdefault(name, {})
        layer["Strategy"], layer["ReuseFactor"] = setting.strategy, setting.reuse_factor
    return config


def fitted_config(hls_config: dict[str, Any], fit: FitResult) -> dict[str, Any]:
    """The configuration the fitted design is converted with."""
    return with_plan(hls_config, fit.chosen.plan)


def check_plan_kept(graph, plan: dict[str, LayerSetting]) -> None:
    """Refuse a graph in which hls4ml changed a planned strategy or reuse factor (the
    search offers only values hls4ml keeps, so this is the fit's fault, said so)."""
    layers = {layer.name: layer for layer in graph.get_layers()}
    for name, setting in plan.items():
        layer = layers[name]
        reuse = [layer.get_attr("reuse_factor")]
        if layer.class_name in RECURRENT_HLS_CLASSES:
            reuse.append(layer.get_attr("recurrent_reuse_factor"))
        if _strategy_name(layer) != setting.strategy or any(value != setting.reuse_factor for value in reuse):
            raise FitError(f"hls4ml made layer {name} {layer.get_attr('strategy')} with reuse factor "
                           f"{'/'.join(map(str, reuse))} where the fit planned {setting}: a fault of fpga-flow's fit, "
                           "please report it with this model")


class _Converter:
    """hls4ml graphs of the model for one board (nothing written), and their descriptions."""

    def __init__(self, model, board: Board, settings: HLSSettings):
        self.model, self.board, self.settings = model, board, settings

    def graph(self, io_type: str, hls_config: dict[str, Any]):
        settings = self.settings.model_copy(update={"io_type": io_type})
        return model_graph(self.model, self.board, settings, PROJECT_NAME, hls_config)

    def describe(self, graph) -> Design:
        return describe_graph(graph, self.board, self.settings.clock_period_ns)


def _space(converter: _Converter, backend, io_type: str, hls_config: dict[str, Any], request: FitRequest,
           notes: list[str]) -> tuple[Space, Any, Design]:
    """The search space of one io type, and the graph and description of the design as
    configured (the unfitted design, in this io type)."""
    graph = converter.graph(io_type, hls_config)
    design = converter.describe(graph)
    by_name = {layer.name: layer for layer in design.layers}
    tuned: list[TunedLayer] = []
    for graph_layer in graph.get_layers():
        if graph_layer.class_name not in TUNED_CLASSES:
            continue
        strategy = _strategy_name(graph_layer)
        if graph_layer.name not in hls_config["LayerName"] or strategy is None:
            notes.append(f"{graph_layer.name}: kept as configured ({graph_layer.get_attr('strategy')} strategy)")
            continue
        unfitted = LayerSetting(strategy=strategy, reuse_factor=int(graph_layer.get_attr("reuse_factor")))
        tuned.append(layer_choices(graph_layer.name, graph_layer.class_name, valid_reuse_factors(backend, graph_layer),
                                   unfitted, saturating_accumulator(by_name[graph_layer.name]), request,
                                   resource_reuse_limit(backend, graph_layer, io_type)))
    as_latency = {layer.name: LayerSetting(strategy="Latency", reuse_factor=layer.unfitted.reuse_factor)
                  for layer in tuned if layer.unfitted.strategy == "Resource" and "Latency" in layer.strategies}
    described = design
    if as_latency:
        # Describe the weights as the Latency strategy stores them (constants, with their
        # CSD digits), so one description prices both strategies.
        described = converter.describe(converter.graph(io_type, with_plan(hls_config, as_latency)))
    return Space(io_type, described, tuned), graph, design


def budget_share(used: dict[str, int], available: dict[str, int], budget: float) -> tuple[str, float, bool]:
    """The resource with the largest share of the board, that share (a fraction), and
    whether every resource is within ``budget``: the one budget rule of the fit and of
    every build's budget check (:mod:`fpga_flow.build`)."""
    shares = {key: peak_share([used[key]], [available[key]]) for key in RESOURCES}
    binding = max(RESOURCES, key=lambda key: shares[key])
    return binding, shares[binding], all(used[key] <= budget * available[key] for key in RESOURCES)


def _point(io_type: str, settings: dict[str, LayerSetting], estimate: Estimate, budget: float,
           available: dict[str, int]) -> FitPoint:
    figures = estimate.csynth
    used = {key: getattr(figures, key) for key in RESOURCES}
    binding, share, fits = budget_share(used, available, budget)
    return FitPoint(
        io_type=io_type, plan=settings, **used, latency_cycles=figures.latency_cycles,
        interval_cycles=figures.interval_cycles, latency_ns=estimate.latency_ns,
        utilization_pct=estimate.utilization_pct["csynth"], peak_pct=round(100 * share, 2),
        binding=binding, fits=fits,
    )


def _made(converter: "_Converter", io_type: str, hls_config: dict[str, Any], plan: dict[str, LayerSetting],
          available: dict[str, int]) -> Estimate:
    """A plan as hls4ml makes it: every planned value kept, figures from its own graph."""
    graph = converter.graph(io_type, with_plan(hls_config, plan))
    check_plan_kept(graph, plan)
    return price(converter.describe(graph), available=available)


def choose(points: list[FitPoint], request: FitRequest) -> FitPoint:
    """The point the request asks for: within budget, the fastest (least peak share on
    ties), or with a target latency the least peak share among those meeting it (else
    the fastest); when none is within budget, the least peak share."""
    within = [point for point in points if point.fits]
    if not within:
        return min(points, key=lambda p: (p.peak_pct, p.latency_cycles))
    target = request.target_latency_ns
    meeting = [point for point in within if target is not None and point.latency_ns <= target]
    if meeting:
        return min(meeting, key=lambda p: (p.peak_pct, p.latency_cycles))
    return min(within, key=lambda p: (p.latency_cycles, p.peak_pct))


def fit_design(model, board: Board, settings: HLSSettings, hls_config: dict[str, Any], request: FitRequest,
               progress: Callable[[str], None] = lambda message: None, keep_arithmetic: bool = True) -> FitResult:
    """The plan that fits ``board`` best for ``request`` (module docstring), for the
    precisions of ``hls_config``; ``settings`` describe the unfitted design. With
    ``keep_arithmetic`` the other io type is searched only when it computes what the
    unfitted one does (a refit after the closure measured that design); without it, as
    the build's first fit, before anything was measured, both are. Nothing is written
    or compiled."""
    import hls4ml

    start = time.perf_counter()
    backend = hls4ml.backends.get_backend(board.backend)
    available = {key: getattr(board.resources, key) for key in RESOURCES}
    capacities = tuple(available[key] for key in RESOURCES)
    limits = tuple(request.budget * capacity for capacity in capacities)
    converter = _Converter(model, board, settings)
    notes: list[str] = []
    searched: dict[str, str] = {}
    spaces: list[Space] = []
    unfitted = None
    for io_type in [settings.io_type, *(io for io in IO_TYPES if io != settings.io_type)]:
        if io_type != settings.io_type:
            reason = (f"--io-type {request.io_type} given" if request.io_type is not None
                      else no_stream_kernel(unfitted[1]) or (stream_keeps_arithmetic(*unfitted) if keep_arithmetic
                                                             else None))
            if reason is not None:
                searched[io_type] = f"not searched: {reason}"
                continue
        try:
            space, graph, design = _space(converter, backend, io_type, hls_config, request, notes)
        except UnsupportedModelError as exc:
            if io_type == settings.io_type:
                raise
            searched[io_type] = f"not searched: {exc}"
            continue
        unfitted = unfitted or (graph, design)
        price_options(space, available)
        spaces.append(space)
        searched[io_type] = "searched"
        progress(f"{io_type}: {sum(len(layer.options) for layer in space.tuned)} layer options")

    goals = [Goal("latency", limits), Goal("peak")]
    if request.target_latency_ns is not None:
        goals.append(Goal("peak", limits, request.target_latency_ns / settings.clock_period_ns))
    points: dict[tuple, FitPoint] = {}
    nodes, complete = 0, True
    for space in spaces:
        priced: dict[tuple[int, ...], FitPoint] = {}

        def evaluate(indices: tuple[int, ...], space=space, priced=priced) -> FitPoint:
            if indices not in priced:
                plan = space.settings_of(indices)
                estimate = price(space.design, space.plan(plan), available=available)
                priced[indices] = _point(space.io_type, plan, estimate, request.budget, available)
            return priced[indices]

        for goal in goals:
            found, visited, finished = search(space, capacities, goal, evaluate)
            nodes, complete = nodes + visited, complete and finished
            for point in found:
                points.setdefault((space.io_type, tuple(sorted((k, str(v)) for k, v in point.plan.items()))), point)
        space.plans_priced = len(priced)
    home = spaces[0]  # the unfitted io type's
    unfitted_point = _point(home.io_type, home.unfitted, price(unfitted[1], available=available), request.budget,
                            available)
    best = choose(list(points.values()), request)
    made = _made(converter, best.io_type, hls_config, best.plan, available)
    chosen = _point(best.io_type, best.plan, made, request.budget, available)
    space = next(space for space in spaces if space.io_type == chosen.io_type)
    layers = []
    for layer in space.tuned:
        layers.append(LayerChoice(layer=layer.name, hls_class=layer.hls_class, setting=chosen.plan[layer.name],
                                  strategies=layer.strategies, reuse_factors=layer.reuse_factors, note=layer.note,
                                  **_layer_figures_of(made, layer.name)))
    if not complete:
        notes.append(f"a search stopped after {NODE_LIMIT:,} partial plans or {PRICE_LIMIT:,} whole ones: the plan "
                     "is the best it found")
    progress(f"{sum(space.plans_priced for space in spaces)} plans priced; chosen {chosen.io_type}, "
             f"{chosen.binding} at {chosen.peak_pct:.1f}%")
    return FitResult(
        request=request, board_resources=available, io_types=searched, layers=layers, chosen=chosen,
        unfitted=unfitted_point, alternatives=[point for point in points.values() if point is not best],
        layer_options_priced=sum(space.priced for space in spaces),
        plans_priced=sum(space.plans_priced for space in spaces), search_nodes=nodes,
        search_complete=complete, search_s=round(time.perf_counter() - start, 3), notes=notes,
    )


def recheck(fit: FitResult, model, board: Board, settings: HLSSettings, hls_config: dict[str, Any],
            progress: Callable[[str], None] = lambda message: None) -> FitResult:
    """The fit for the precisions the closure chose (``hls_config``, which holds the
    plan): the same plan, priced again, when it still fits (and meets the target it met);
    else the fit run again from it (module docstring). ``settings`` are the unfitted
    design's; nothing is written or compiled."""
    available = dict(fit.board_resources)
    converter = _Converter(model, board, settings)
    made = _made(converter, fit.io_type, hls_config, fit.chosen.plan, available)
    point = _point(fit.io_type, fit.chosen.plan, made, fit.request.budget, available)
    target = fit.request.target_latency_ns
    if point.fits and (target is None or not fit.target_met or point.latency_ns <= target):
        note = (f"priced again with the chosen precisions: {point.binding} at {point.peak_pct:.1f}% "
                f"(was {fit.chosen.peak_pct:.1f}%)")
        progress(note)
        layers = [layer.model_copy(update=_layer_figures_of(made, layer.layer)) for layer in fit.layers]
        return fit.model_copy(update={"chosen": point, "layers": layers, "notes": [*fit.notes, note]})
    progress(f"the chosen precisions take {point.binding} to {point.peak_pct:.1f}%: fitting again")
    fitted_settings = settings.model_copy(update={"io_type": fit.io_type})
    refit = fit_design(model, board, fitted_settings, hls_config, fit.request, progress)
    note = (f"fitted again after the precision closure: the first plan ({fit.io_type}) took {point.binding} to "
            f"{point.peak_pct:.1f}% with the chosen precisions")
    return refit.model_copy(update={"unfitted": fit.unfitted, "notes": [*refit.notes, note],
                                    "search_s": round(fit.search_s + refit.search_s, 3)})


def _layer_figures_of(estimate: Estimate, name: str) -> dict[str, int | None]:
    figures = next(entry for entry in estimate.per_layer if entry.layer == name)
    return {key: getattr(figures, key) for key in (*RESOURCES, "latency_cycles")}
