"""Pricing one io type's options (:class:`Space`): each layer option alone, the fixed part,
and a whole plan against the board (:func:`budget_share`, the one budget rule)."""

from __future__ import annotations

from dataclasses import dataclass

from fpga_flow.estimate import Design, Estimate, LayerPlan, price
from fpga_flow.estimate.estimator import RESOURCES
from fpga_flow.fit.options import Option, TunedLayer, layer_plan
from fpga_flow.fit.records import FitPoint, LayerSetting
from fpga_flow.layers import LATENCY


@dataclass
class Space:
    """The plans of one io type: the model's description, its tuned layers with their
    priced options, and what the other layers cost (the fixed part)."""

    io_type: str
    design: Design
    tuned: list[TunedLayer]
    stream_fifos: str | None = None  # io_stream: which FIFO depths (fpga_flow.stream_depths)
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
    else Latency, else the smaller reuse factor, else the smaller ParallelizationFactor."""
    def figures(option: Option) -> tuple[float, ...]:
        return (*option.cost, option.latency)

    def covers(a: Option, b: Option) -> bool:  # a is at least as good as b everywhere
        return all(x <= y for x, y in zip(figures(a), figures(b)))

    kept: list[Option] = []
    for option in sorted(options, key=lambda o: (o.setting != preferred, o.setting.strategy != LATENCY,
                                                 o.setting.reuse_factor, o.setting.parallelization_factor or 0)):
        if not any(covers(other, option) for other in kept):
            kept = [other for other in kept if not covers(option, other)] + [option]
    return kept


def peak_share(resources, capacities) -> float:
    """The largest share of the board any resource uses; a resource the board lacks
    counts each unit used as a whole board."""
    return max((used / capacity if capacity else float(used) for used, capacity in zip(resources, capacities)),
               default=0.0)


def budget_share(used: dict[str, int], available: dict[str, int], budget: float) -> tuple[str, float, bool]:
    """The resource with the largest share of the board, that share (a fraction), and
    whether every resource is within ``budget``: the one budget rule of the fit and of
    every build's budget check (:mod:`fpga_flow.pipeline.summarize`)."""
    shares = {key: peak_share([used[key]], [available[key]]) for key in RESOURCES}
    binding = max(RESOURCES, key=lambda key: shares[key])
    return binding, shares[binding], all(used[key] <= budget * available[key] for key in RESOURCES)


def fit_point(io_type: str, settings: dict[str, LayerSetting], estimate: Estimate, budget: float,
              available: dict[str, int], stream_fifos: str | None = None) -> FitPoint:
    figures = estimate.csynth
    used = {key: getattr(figures, key) for key in RESOURCES}
    binding, share, fits = budget_share(used, available, budget)
    return FitPoint(
        io_type=io_type, plan=settings, **used, latency_cycles=figures.latency_cycles,
        interval_cycles=figures.interval_cycles, latency_ns=estimate.latency_ns,
        utilization_pct=estimate.utilization_pct["csynth"], peak_pct=round(100 * share, 2),
        binding=binding, fits=fits, stream_fifos=stream_fifos,
    )
