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
* io_stream runs the same per-pixel arithmetic as io_parallel for the layer kinds of
  :data:`STREAM_SAME_ARITHMETIC` (a convolution's window is read in the order its
  weights are stored in both, softmax and activations are element-wise or the same
  slice code); a max pooling whose accumulator holds every input value exactly (the
  stream kernel converts the window to ``accum_t`` before taking the max, the parallel
  one after, which agree only then). Average and global pooling (a tree sum in
  io_stream, a running sum in io_parallel), recurrent and attention layers are not, so
  a model with any of them keeps its io type (:func:`stream_keeps_arithmetic`).

**Closure first, then the fit.** Widths decide cost, so the fit prices the
precisions the precision policy chose; the reuse factors and strategies it changes do
not change those precisions' arithmetic (above), so the closure's agreement holds for
the fitted design.

**Options given explicitly are constraints.** ``--io-type`` fixes the io type,
``--strategy`` every tuned layer's strategy, ``--reuse-factor`` every tuned layer's
reuse factor (it must be one hls4ml keeps for each of them, else the build stops with
the values it would keep). The recipe's defaults are not constraints: they describe
the unfitted design, the one the fit is compared with.

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
   chosen precisions and described once. Each layer option is priced alone (its
   layer's figures do not depend on the other layers' plans); options another option
   of the same layer beats in every resource and in latency are dropped.
2. A design's resources are the sum of its layers' plus a fixed part, and its
   latency in io_parallel the sum of its layers' (layers run in sequence); in
   io_stream layers overlap, so the slowest layer's latency is a lower bound on the
   design's. A depth-first branch and bound over the layers, with the component-wise
   cheapest remaining options as its bound, finds the :data:`PLANS_PRICED` best plans
   by that sum for each objective: fastest within budget, least peak meeting the
   target, least peak at all.
3. Those plans are priced whole; the choice is made on the whole-plan figures. Only
   the chosen plan is converted, written and compiled (the build's next steps).
"""

from __future__ import annotations

import copy
import heapq
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from fpga_flow.boards import Board
from fpga_flow.convert import IO_TYPES, STRATEGIES, HLSSettings, convert_graph
from fpga_flow.errors import FlowError, UnsupportedModelError, UserInputError
from fpga_flow.estimate import Design, Estimate, LayerDesign, LayerPlan, price
from fpga_flow.estimate.estimator import RESOURCES
from fpga_flow.estimate.from_graph import describe_graph

# hls4ml 1.3 classes whose reuse factor the backend validates (get_layer_mult_size knows them).
TUNED_CLASSES = ("Dense", "Conv1D", "Conv2D", "LSTM", "GRU")
RECURRENT_CLASSES = ("LSTM", "GRU")
# Plans priced whole per io type and objective (each ~1 ms), and the branch and bound's node limit.
PLANS_PRICED = 24
NODE_LIMIT = 300_000
# Layer kinds whose io_stream kernel computes what the io_parallel one does, in the same order
# (module docstring); max pooling is checked apart (its accumulator must hold its input).
STREAM_SAME_ARITHMETIC = frozenset({"dense", "conv1d", "conv2d", "activation", "softmax", "batchnorm", "reshape",
                                    "zeropad1d", "zeropad2d"})
Objective = Literal["least latency", "least resources"]
Role = Literal["chosen", "unfitted", "considered"]


class FitError(FlowError):
    """The model cannot be fitted at all (no io type converts); a stage failure."""

    exit_code = 1


class FitRequest(BaseModel):
    """What the user asked of the fit: the budget, an optional target latency, and the
    HLS options given explicitly, which the fit keeps (constraints)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    budget: float = Field(gt=0, le=1, description="Share of each board resource the design may use.")
    target_latency_ns: float | None = Field(default=None, gt=0, description="Latency to meet; None: least latency.")
    io_type: Literal[IO_TYPES] | None = Field(default=None, description="io type fixed by the user (None: chosen).")
    strategy: Literal[STRATEGIES] | None = Field(default=None, description="Strategy fixed by the user (None: chosen per layer).")
    reuse_factor: int | None = Field(default=None, ge=1, description="Reuse factor fixed by the user (None: chosen per layer).")

    @property
    def objective(self) -> Objective:
        return "least latency" if self.target_latency_ns is None else "least resources"

    @classmethod
    def of(cls, config) -> "FitRequest":
        """The request of a build configuration (``fpga_flow.config.BuildConfig``)."""
        return cls(budget=config.fit_budget, target_latency_ns=config.target_latency_ns, io_type=config.io_type,
                   strategy=config.strategy, reuse_factor=config.reuse_factor)


class LayerChoice(BaseModel):
    """One tuned layer of the chosen plan, what it could have been, and its estimated cost."""

    model_config = ConfigDict(extra="forbid")

    layer: str
    hls_class: str = Field(description="hls4ml layer class")
    strategy: Literal[STRATEGIES]
    reuse_factor: int
    strategies: list[Literal[STRATEGIES]] = Field(description="Strategies the search could give this layer.")
    reuse_factors: list[int] = Field(description="Reuse factors hls4ml keeps for this layer (the search's choices).")
    note: str | None = Field(default=None, description="Why the choices were restricted, if they were.")
    LUT: int | None
    FF: int | None
    DSP: int | None
    BRAM_18K: int | None
    latency_cycles: int | None


class FitPoint(BaseModel):
    """One whole plan, priced: its io type, per tuned layer ``Strategy/R``, its csynth
    estimate against the board, and whether it fits."""

    model_config = ConfigDict(extra="forbid")

    io_type: Literal[IO_TYPES]
    plan: dict[str, str] = Field(description="Per tuned layer, 'Strategy/reuse factor'.")
    LUT: int
    FF: int
    DSP: int
    BRAM_18K: int
    latency_cycles: int
    interval_cycles: int
    latency_ns: float
    utilization_pct: dict[str, float | None] = Field(description="Each resource against the board's.")
    peak_pct: float = Field(description="The largest utilization of any resource.")
    binding: str = Field(description="The resource with the largest utilization.")
    fits: bool = Field(description="Every resource within the budget.")


class FitResult(BaseModel):
    """The fit's record (``summary.json``'s ``fit``): the request, the chosen plan, the
    unfitted design and the alternatives priced, and how long the search took."""

    model_config = ConfigDict(extra="forbid")

    request: FitRequest
    objective: Objective
    kind: str = Field(default="csynth", description="Which estimate figures the budget is checked against.")
    board_resources: dict[str, int] = Field(description="The board's LUT, FF, DSP, BRAM_18K.")
    io_types: dict[str, str] = Field(description="Per io type: 'searched', or why it was left out.")
    layers: list[LayerChoice] = Field(description="The chosen plan, per tuned layer.")
    chosen: FitPoint
    unfitted: FitPoint = Field(description="The design as it would be built without --fit.")
    alternatives: list[FitPoint] = Field(description="Other whole plans priced (the best of each objective).")
    fits: bool = Field(description="The chosen plan is within budget.")
    target_met: bool | None = Field(description="The chosen plan meets --target-latency (None without it).")
    target_missed_by_ns: float | None = Field(description="How far the chosen plan's latency is above the target.")
    layer_options_priced: int
    plans_priced: int
    search_nodes: int = Field(description="Partial plans the branch and bound visited.")
    search_complete: bool = Field(description="False when the branch and bound stopped at its node limit.")
    search_s: float = Field(description="Seconds the fit took (conversions to graphs, pricing, search).")
    notes: list[str] = Field(default_factory=list)

    @property
    def io_type(self) -> str:
        return self.chosen.io_type

    def failure(self) -> str | None:
        """One line when the fit failed its request (nothing fits, or the target is missed), else None."""
        budget = f"{100 * self.request.budget:g}%"
        if not self.fits:
            point = self.chosen
            return (f"the design does not fit the board within {budget} by estimate: at best {point.binding} is at "
                    f"{point.peak_pct:.1f}% ({point.io_type}, plan in summary.json 'fit'); use a larger board, "
                    "a smaller model, or a larger --budget")
        if self.target_met is False:
            return (f"--target-latency {self.request.target_latency_ns:g} ns is missed by "
                    f"{self.target_missed_by_ns:g} ns: the fastest plan within {budget} takes "
                    f"{self.chosen.latency_ns:g} ns ({self.chosen.io_type})")
        return None


# --------------------------------------------------------------------------- what may change


@dataclass(frozen=True)
class Option:
    """One (strategy, reuse factor) of one layer, with the layer's figures under it."""

    strategy: str
    reuse_factor: int
    cost: tuple[float, ...]  # RESOURCES, in order
    latency: int

    @property
    def plan(self) -> LayerPlan:
        return LayerPlan(reuse_factor=self.reuse_factor, strategy=self.strategy.lower())

    @property
    def label(self) -> str:
        return f"{self.strategy}/{self.reuse_factor}"


@dataclass
class TunedLayer:
    name: str
    hls_class: str
    strategies: list[str]
    reuse_factors: list[int]
    unfitted: tuple[str, int]
    note: str | None = None
    options: list[Option] = field(default_factory=list)


def valid_reuse_factors(backend, graph_layer) -> list[int]:
    """The reuse factors hls4ml keeps for a layer: its backend's valid list for the
    layer's multiplication (and, for LSTM/GRU, the recurrent one, which takes the same
    value)."""
    sizes = backend.get_layer_mult_size(graph_layer)
    valid = set(backend.get_valid_reuse_factors(sizes[0], sizes[1]))
    if graph_layer.class_name in RECURRENT_CLASSES:
        valid &= set(backend.get_valid_reuse_factors(sizes[2], sizes[3]))
    return sorted(valid)


def saturating_accumulator(layer: LayerDesign) -> bool:
    """Whether any of the layer's sums saturate (AP_SAT*) in its accumulator type."""
    return any(product.accum_type is not None and product.accum_type.saturates for product in layer.products)


def layer_choices(name: str, hls_class: str, reuse_factors: list[int], unfitted: tuple[str, int],
                  saturates: bool, request: FitRequest) -> TunedLayer:
    """The strategies and reuse factors the search may give a layer (module docstring:
    a saturating accumulator keeps the unfitted strategy, and under Resource its reuse
    factor); the user's --strategy and --reuse-factor are kept."""
    strategy, reuse = unfitted
    strategies, note = list(STRATEGIES), None
    if request.strategy is not None:
        strategies = [request.strategy]
    if saturates:
        strategies = [strategy]
        note = "saturating accumulator: the order of its additions must stay, so its strategy stays " + strategy
        if strategy == "Resource":
            reuse_factors = [reuse]
            note += f" at reuse factor {reuse}"
    if request.reuse_factor is not None:
        if request.reuse_factor not in reuse_factors:
            allowed = ", ".join(map(str, reuse_factors))
            raise UserInputError(f"--reuse-factor {request.reuse_factor}: layer {name} ({hls_class}) takes only {allowed} "
                                 "(hls4ml would change any other value): choose one of them, or leave --reuse-factor "
                                 "out and --fit chooses per layer")
        reuse_factors = [request.reuse_factor]
    return TunedLayer(name, hls_class, strategies, list(reuse_factors), unfitted, note)


def stream_keeps_arithmetic(graph, design: Design) -> str | None:
    """None when io_stream computes what io_parallel does for every layer of the
    model (module docstring), else the first reason it does not. ``graph`` and
    ``design`` are the model's io_parallel graph and its description."""
    from fpga_flow.estimate.design import parse_type

    kinds = {layer.name: layer for layer in design.layers}
    for graph_layer in graph.get_layers():
        layer = kinds.get(graph_layer.name)
        if layer is None:  # the input
            continue
        if layer.kind in ("pooling1d", "pooling2d"):
            if (layer.function or "max") != "max":
                return f"{layer.name}: {layer.function} pooling adds its window in another order in io_stream"
            accum = graph_layer.get_attr("accum_t")
            accum = parse_type(accum.precision.definition_cpp()) if accum is not None else None
            if not holds_exactly(accum, layer.input_type):
                return (f"{layer.name}: max pooling's accumulator does not hold its input exactly (io_stream "
                        "converts before taking the max, io_parallel after)")
            continue
        if layer.kind not in STREAM_SAME_ARITHMETIC:
            return f"{layer.name}: {layer.kind} layers compute differently in io_stream"
        if layer.kind.startswith("conv") and layer.strategy != "latency" and saturating_accumulator(layer):
            return f"{layer.name}: its saturating Resource-strategy sums are added in another order in io_stream"
    return None


def holds_exactly(wide, narrow) -> bool:
    """Whether every value of the NumberType ``narrow`` is a value of ``wide``: no fewer
    fraction bits, and enough integer bits (one more when only ``wide`` is signed)."""
    if wide is None or narrow is None:
        return False
    if narrow.signed and not wide.signed:
        return False
    sign_bit = 1 if wide.signed and not narrow.signed else 0
    return wide.integer >= narrow.integer + sign_bit and wide.fraction >= narrow.fraction


# --------------------------------------------------------------------------- one io type's space


@dataclass
class Space:
    """The plans of one io type: the model's description, its tuned layers with their
    priced options, and what the other layers cost (the fixed part)."""

    io_type: str
    design: Design
    tuned: list[TunedLayer]
    unfitted: dict[str, LayerPlan]
    fixed_cost: tuple[float, ...] = ()
    fixed_latency: float = 0.0  # io_parallel: the other layers' cycles; io_stream: the slowest other layer's
    priced: int = 0

    @property
    def stream(self) -> bool:
        return self.io_type == "io_stream"


def _figures(estimate: Estimate, name: str) -> tuple[tuple[float, ...], int]:
    layer = next(layer for layer in estimate.per_layer if layer.layer == name)
    return tuple(float(getattr(layer, key) or 0) for key in RESOURCES), int(layer.latency_cycles or 0)


def price_options(space: Space, available: dict[str, int]) -> None:
    """Price each layer option alone and keep the ones no other option of the layer
    beats in every resource and in latency; fill in the fixed part."""
    reference = price(space.design, space.unfitted, available=available)
    space.priced += 1
    totals = tuple(float(getattr(reference.csynth, key)) for key in RESOURCES)
    tuned_cost = [0.0] * len(RESOURCES)
    tuned_latency = 0
    for layer in space.tuned:
        cost, latency = _figures(reference, layer.name)
        tuned_cost = [a + b for a, b in zip(tuned_cost, cost)]
        tuned_latency += latency
        options = []
        for strategy in layer.strategies:
            for reuse in layer.reuse_factors:
                option = Option(strategy, reuse, (), 0)
                estimate = price(space.design, {layer.name: option.plan}, available=available)
                space.priced += 1
                cost, latency = _figures(estimate, layer.name)
                options.append(Option(strategy, reuse, cost, latency))
        layer.options = _undominated(options, preferred=layer.unfitted)
    space.fixed_cost = tuple(total - tuned for total, tuned in zip(totals, tuned_cost))
    if space.stream:
        others = [l.latency_cycles or 0 for l in reference.per_layer if l.layer not in {t.name for t in space.tuned}]
        space.fixed_latency = float(max(others, default=0))
    else:
        space.fixed_latency = float(reference.csynth.latency_cycles - tuned_latency)


def _undominated(options: list[Option], preferred: tuple[str, int]) -> list[Option]:
    """Options not beaten in every figure by another; of equal ones, the unfitted (or the
    first) is kept."""
    ordered = sorted(options, key=lambda o: ((o.strategy, o.reuse_factor) != preferred, o.strategy != "Latency",
                                             o.reuse_factor))
    kept: list[Option] = []
    for option in ordered:
        figures = (*option.cost, option.latency)
        if any(all(a <= b for a, b in zip((*other.cost, other.latency), figures)) for other in kept):
            continue
        kept = [other for other in kept
                if not all(a <= b for a, b in zip(figures, (*other.cost, other.latency)))]
        kept.append(option)
    return kept


# --------------------------------------------------------------------------- branch and bound


@dataclass(frozen=True)
class Goal:
    """What one search ranks by and what it requires: ``rank`` is 'latency' (then peak)
    or 'peak' (then latency); ``limits`` the most of each resource a plan may use;
    ``target_cycles`` the most latency a plan may take."""

    rank: Literal["latency", "peak"]
    limits: tuple[float, ...] | None = None
    target_cycles: float | None = None


def peak_share(resources, capacities) -> float:
    """The largest share of the board any resource uses (a resource the board lacks,
    used at all, counts as infinitely over)."""
    shares = [used / capacity if capacity else (math.inf if used > 0 else 0.0)
              for used, capacity in zip(resources, capacities)]
    return max(shares, default=0.0)


def search(space: Space, capacities: tuple[int, ...], goal: Goal, keep: int = PLANS_PRICED,
           node_limit: int = NODE_LIMIT) -> tuple[list[tuple[int, ...]], int, bool]:
    """The ``keep`` best plans of ``space`` for ``goal`` by the additive figures (option
    index per tuned layer, best first), the nodes visited, and whether the search ran
    to the end (else it stopped at ``node_limit`` with the best found so far)."""
    layers = space.tuned
    n = len(layers)
    width = len(RESOURCES)
    # Suffix bounds: what the layers from i on cost at least, component by component.
    min_cost = [[0.0] * width for _ in range(n + 1)]
    min_sum = [0.0] * (n + 1)
    max_of_min = [0.0] * (n + 1)
    for i in range(n - 1, -1, -1):
        options = layers[i].options
        min_cost[i] = [min_cost[i + 1][k] + min(o.cost[k] for o in options) for k in range(width)]
        least = min(o.latency for o in options)
        min_sum[i] = min_sum[i + 1] + least
        max_of_min[i] = max(max_of_min[i + 1], least)

    def latency_key(total: float, slowest: float) -> tuple[float, ...]:
        # io_parallel: layers in sequence (exact); io_stream: the slowest layer bounds the design, then the sum.
        return (max(space.fixed_latency, slowest), total) if space.stream else (space.fixed_latency + total,)

    def key(resources, total, slowest) -> tuple[float, ...]:
        latency = latency_key(total, slowest)
        peak = peak_share(resources, capacities)
        return (*latency, peak) if goal.rank == "latency" else (peak, *latency)

    def allowed(resources, total, slowest) -> bool:
        if goal.limits is not None and any(used > limit for used, limit in zip(resources, goal.limits)):
            return False
        return goal.target_cycles is None or latency_key(total, slowest)[0] <= goal.target_cycles

    best: list[tuple[tuple[float, ...], int, tuple[int, ...]]] = []  # max-heap on the key, by negation
    visited = 0
    complete = True
    order = [sorted(range(len(layer.options)), key=(lambda i, layer=layer: layer.options[i].latency)
                    if goal.rank == "latency" else (lambda i, layer=layer: peak_share(layer.options[i].cost, capacities)))
             for layer in layers]

    def visit(depth: int, resources: list[float], total: float, slowest: float, chosen: tuple[int, ...]) -> None:
        nonlocal visited, complete
        visited += 1
        if visited > node_limit:
            complete = False
            return
        bound = [used + rest for used, rest in zip(resources, min_cost[depth])]
        bound_total, bound_slowest = total + min_sum[depth], max(slowest, max_of_min[depth])
        if not allowed(bound, bound_total, bound_slowest):
            return
        bound_key = key(bound, bound_total, bound_slowest)
        if len(best) == keep and bound_key >= tuple(-x for x in best[0][0]):
            return
        if depth == n:
            entry = (tuple(-x for x in bound_key), visited, chosen)
            if len(best) < keep:
                heapq.heappush(best, entry)
            else:
                heapq.heappushpop(best, entry)
            return
        for index in order[depth]:
            option = layers[depth].options[index]
            visit(depth + 1, [used + cost for used, cost in zip(resources, option.cost)], total + option.latency,
                  max(slowest, option.latency), (*chosen, index))

    visit(0, list(space.fixed_cost), 0.0, 0.0, ())
    ranked = sorted(best, key=lambda entry: tuple(-x for x in entry[0]))
    return [entry[2] for entry in ranked], visited, complete


# --------------------------------------------------------------------------- the fit


def _strategy_name(graph_layer) -> str | None:
    """'Latency' or 'Resource' as hls4ml set the layer, None for its other strategies."""
    text = str(graph_layer.get_attr("strategy", "") or "").lower()
    return {"latency": "Latency", "resource": "Resource"}.get(text)


def with_plan(hls_config: dict[str, Any], plan: dict[str, tuple[str, int]]) -> dict[str, Any]:
    """A copy of ``hls_config`` with each planned layer's strategy and reuse factor."""
    config = copy.deepcopy(hls_config)
    for name, (strategy, reuse) in plan.items():
        layer = config["LayerName"].setdefault(name, {})
        layer["Strategy"], layer["ReuseFactor"] = strategy, reuse
    return config


def fitted_config(hls_config: dict[str, Any], fit: FitResult) -> dict[str, Any]:
    """The configuration the fitted design is converted with."""
    return with_plan(hls_config, {layer.layer: (layer.strategy, layer.reuse_factor) for layer in fit.layers})


def check_plan_kept(graph, plan: dict[str, tuple[str, int]]) -> None:
    """Refuse a graph in which hls4ml changed a planned strategy or reuse factor (the
    search offers only values it keeps, so this is fpga-flow's fault, reported as such)."""
    layers = {layer.name: layer for layer in graph.get_layers()}
    for name, (strategy, reuse) in plan.items():
        layer = layers[name]
        kept = [_strategy_name(layer), layer.get_attr("reuse_factor")]
        if layer.class_name in RECURRENT_CLASSES:
            kept.append(layer.get_attr("recurrent_reuse_factor"))
        if kept[0] != strategy or any(value != reuse for value in kept[1:]):
            raise FitError(f"hls4ml made layer {name} {kept[0]}/{'/'.join(map(str, kept[1:]))} where the fit planned "
                           f"{strategy}/{reuse}: a bug in fpga-flow's fit, please report it with this model")


class _Converter:
    """Graphs of the model for one board (nothing written), described for pricing."""

    def __init__(self, model, board: Board, settings: HLSSettings):
        self.model, self.board, self.settings = model, board, settings

    def graph(self, io_type: str, hls_config: dict[str, Any]):
        settings = self.settings.model_copy(update={"io_type": io_type})
        graph, _ = convert_graph(self.model, self.board, settings, copy.deepcopy(hls_config))
        return graph

    def describe(self, graph) -> Design:
        return describe_graph(graph, self.board, self.settings.clock_period_ns)


def _space(converter: _Converter, backend, io_type: str, hls_config: dict[str, Any], request: FitRequest,
           notes: list[str]) -> tuple[Space, Any, Design]:
    """The search space of one io type, and the graph and description of the design as
    configured (the unfitted one, in this io type)."""
    graph = converter.graph(io_type, hls_config)
    design = converter.describe(graph)
    by_name = {layer.name: layer for layer in design.layers}
    tuned: list[TunedLayer] = []
    for graph_layer in graph.get_layers():
        if graph_layer.class_name not in TUNED_CLASSES:
            continue
        strategy = _strategy_name(graph_layer)
        if graph_layer.name not in hls_config["LayerName"] or strategy is None:
            notes.append(f"{graph_layer.name}: kept as configured (strategy {graph_layer.get_attr('strategy')})")
            continue
        unfitted = (strategy, int(graph_layer.get_attr("reuse_factor")))
        tuned.append(layer_choices(graph_layer.name, graph_layer.class_name, valid_reuse_factors(backend, graph_layer),
                                   unfitted, saturating_accumulator(by_name[graph_layer.name]), request))
    unfitted_plan = {layer.name: LayerPlan(reuse_factor=layer.unfitted[1], strategy=layer.unfitted[0].lower())
                     for layer in tuned}
    described = design
    resource_now = {layer.name: (layer.unfitted[0], layer.unfitted[1]) for layer in tuned
                    if layer.unfitted[0] == "Resource" and "Latency" in layer.strategies}
    if resource_now:
        # Describe the weights as the Latency strategy stores them (their CSD digits), so
        # both strategies are priced from one description.
        latency = {name: ("Latency", reuse) for name, (_, reuse) in resource_now.items()}
        described = converter.describe(converter.graph(io_type, with_plan(hls_config, latency)))
    return Space(io_type, described, tuned, unfitted_plan), graph, design


def _point(space: Space, chosen: tuple[int, ...] | None, estimate: Estimate, budget: float,
           available: dict[str, int]) -> FitPoint:
    figures = estimate.csynth
    used = {key: getattr(figures, key) for key in RESOURCES}
    shares = {key: (used[key] / available[key] if available[key] else (math.inf if used[key] else 0.0))
              for key in RESOURCES}
    binding = max(RESOURCES, key=lambda key: shares[key])
    if chosen is None:
        plan = {layer.name: f"{layer.unfitted[0]}/{layer.unfitted[1]}" for layer in space.tuned}
    else:
        plan = {layer.name: layer.options[index].label for layer, index in zip(space.tuned, chosen)}
    return FitPoint(
        io_type=space.io_type, plan=plan, **used, latency_cycles=figures.latency_cycles,
        interval_cycles=figures.interval_cycles, latency_ns=estimate.latency_ns,
        utilization_pct=estimate.utilization_pct["csynth"], peak_pct=round(100 * shares[binding], 2), binding=binding,
        fits=all(used[key] <= budget * available[key] for key in RESOURCES),
    )


def _plan_of(point: FitPoint) -> dict[str, tuple[str, int]]:
    return {name: (label.split("/")[0], int(label.split("/")[1])) for name, label in point.plan.items()}


def _choose(points: list[FitPoint], request: FitRequest) -> tuple[FitPoint, bool | None]:
    """The chosen point by the request's objective, and whether it meets the target
    latency (None without one)."""
    within = [point for point in points if point.fits]
    if not within:
        return min(points, key=lambda p: (p.peak_pct, p.latency_cycles)), None if request.target_latency_ns is None else False
    fastest = min(within, key=lambda p: (p.latency_cycles, p.peak_pct))
    if request.target_latency_ns is None:
        return fastest, None
    meeting = [point for point in within if point.latency_ns <= request.target_latency_ns]
    if not meeting:
        return fastest, False
    return min(meeting, key=lambda p: (p.peak_pct, p.latency_cycles)), True


def fit_design(model, board: Board, settings: HLSSettings, hls_config: dict[str, Any], request: FitRequest,
               progress: Callable[[str], None] = lambda message: None) -> FitResult:
    """The plan that fits ``board`` best for ``request`` (module docstring), with the
    precisions of ``hls_config``; ``settings`` describe the unfitted design. Nothing is
    written: the graphs are converted in memory."""
    import hls4ml

    start = time.perf_counter()
    backend = hls4ml.backends.get_backend(board.backend)
    available = {key: getattr(board.resources, key) for key in RESOURCES}
    capacities = tuple(available[key] for key in RESOURCES)
    limits = tuple(request.budget * capacity for capacity in capacities)
    converter = _Converter(model, board, settings)
    notes: list[str] = []
    io_record: dict[str, str] = {}
    spaces: list[Space] = []
    unfitted_graph = unfitted_design = None
    others = [io for io in IO_TYPES if io != settings.io_type]
    for io_type in [settings.io_type] + ([] if request.io_type is not None else others):
        if io_type != settings.io_type:
            reason = stream_keeps_arithmetic(unfitted_graph, unfitted_design)
            if reason is not None:
                io_record[io_type] = f"not searched: {reason}"
                continue
        try:
            space, graph, design = _space(converter, backend, io_type, hls_config, request, notes)
        except UnsupportedModelError as exc:
            if io_type == settings.io_type:
                raise
            io_record[io_type] = f"not searched: {exc}"
            continue
        if io_type == settings.io_type:
            unfitted_graph, unfitted_design = graph, design
        price_options(space, available)
        spaces.append(space)
        io_record[io_type] = "searched"
        progress(f"{io_type}: {sum(len(layer.options) for layer in space.tuned)} layer options kept")
    if request.io_type is not None:
        for io_type in others:
            io_record[io_type] = f"not searched: --io-type {request.io_type} given"

    goals = [Goal("latency", limits), Goal("peak")]
    if request.target_latency_ns is not None:
        goals.append(Goal("peak", limits, request.target_latency_ns / settings.clock_period_ns))
    points: dict[tuple, FitPoint] = {}
    nodes, complete, plans_priced = 0, True, 0
    for space in spaces:
        for goal in goals:
            plans, visited, finished = search(space, capacities, goal)
            nodes, complete = nodes + visited, complete and finished
            for chosen in plans:
                plan = {layer.name: layer.options[index].plan for layer, index in zip(space.tuned, chosen)}
                point = _point(space, chosen, price(space.design, plan, available=available), request.budget, available)
                plans_priced += 1
                points.setdefault((point.io_type, tuple(sorted(point.plan.items()))), point)
    unfitted_space = spaces[0]
    unfitted = _point(unfitted_space, None, price(unfitted_space.design, unfitted_space.unfitted, available=available),
                      request.budget, available)
    chosen, target_met = _choose(list(points.values()) or [unfitted], request)
    chosen_plan = _plan_of(chosen)
    # The chosen plan as hls4ml makes it: every planned value kept, and its figures from its own graph.
    graph = converter.graph(chosen.io_type, with_plan(hls_config, chosen_plan))
    check_plan_kept(graph, chosen_plan)
    realized = price(converter.describe(graph), available=available)
    space = next(space for space in spaces if space.io_type == chosen.io_type)
    chosen = _point(space, None, realized, request.budget, available).model_copy(update={"plan": chosen.plan})
    layers = []
    for layer in space.tuned:
        strategy, reuse = chosen_plan[layer.name]
        figures = next(entry for entry in realized.per_layer if entry.layer == layer.name)
        layers.append(LayerChoice(layer=layer.name, hls_class=layer.hls_class, strategy=strategy, reuse_factor=reuse,
                                  strategies=layer.strategies, reuse_factors=layer.reuse_factors, note=layer.note,
                                  LUT=figures.LUT, FF=figures.FF, DSP=figures.DSP, BRAM_18K=figures.BRAM_18K,
                                  latency_cycles=figures.latency_cycles))
    if not complete:
        notes.append(f"the search stopped after {NODE_LIMIT:,} partial plans per objective: the plan is the best found")
    target = request.target_latency_ns
    alternatives = [point for key, point in points.items() if point.plan != chosen.plan or point.io_type != chosen.io_type]
    return FitResult(
        request=request, objective=request.objective, board_resources=available, io_types=io_record, layers=layers,
        chosen=chosen, unfitted=unfitted, alternatives=alternatives, fits=chosen.fits,
        target_met=None if target is None else chosen.fits and chosen.latency_ns <= target,
        target_missed_by_ns=None if target is None or chosen.latency_ns <= target else round(chosen.latency_ns - target, 3),
        layer_options_priced=sum(space.priced for space in spaces), plans_priced=plans_priced, search_nodes=nodes,
        search_complete=complete, search_s=round(time.perf_counter() - start, 3), notes=notes,
    )
