"""A plan applied to hls4ml: its configuration, the graphs and descriptions of the model
the fit prices, and the check that hls4ml kept every planned value."""

from __future__ import annotations

import copy
from typing import Any

from fpga_flow.boards import Board
from fpga_flow.convert import PROJECT_NAME, HLSSettings, model_graph
from fpga_flow.estimate import Design, Estimate, price
from fpga_flow.estimate.from_graph import describe_graph
from fpga_flow.fit.options import (
    TunedLayer,
    layer_choices,
    resource_reuse_limit,
    saturating_accumulator,
    valid_parallelization_factors,
    valid_reuse_factors,
)
from fpga_flow.fit.pricing import Space
from fpga_flow.fit.records import FitError, FitRequest, FitResult, LayerSetting
from fpga_flow.layers import (
    FIT_STRATEGIES,
    LATENCY,
    LATENCY_ONLY_CLASSES,
    RECURRENT_HLS_CLASSES,
    RESOURCE,
    TUNED_CLASSES,
    strategy_key,
)
from fpga_flow.stream_depths import with_fifo_depths


def _strategy_name(graph_layer) -> str | None:
    """Latency or Resource, as hls4ml spells them, as hls4ml set the layer; None for its other strategies."""
    text = strategy_key(graph_layer.get_attr("strategy", "") or "")
    if not text and graph_layer.class_name in LATENCY_ONLY_CLASSES:
        return LATENCY  # hls4ml sets no strategy on our attention layer unless configured; its one kernel is Latency's
    return {strategy_key(name): name for name in FIT_STRATEGIES}.get(text)


def with_plan(hls_config: dict[str, Any], plan: dict[str, LayerSetting]) -> dict[str, Any]:
    """A copy of ``hls_config`` with each planned layer's strategy, reuse factor and
    ParallelizationFactor (when the plan has one)."""
    config = copy.deepcopy(hls_config)
    for name, setting in plan.items():
        layer = config["LayerName"].setdefault(name, {})
        layer["Strategy"], layer["ReuseFactor"] = setting.strategy, setting.reuse_factor
        if setting.parallelization_factor is not None:
            layer["ParallelizationFactor"] = setting.parallelization_factor
    return config


def fitted_config(hls_config: dict[str, Any], fit: FitResult) -> dict[str, Any]:
    """The configuration the fitted design is converted with (its plan and FIFO depths)."""
    return with_plan(with_fifo_depths(hls_config, fit.chosen.stream_fifos), fit.chosen.plan)


def check_plan_kept(graph, plan: dict[str, LayerSetting]) -> None:
    """Refuse a graph in which hls4ml changed a planned strategy, reuse factor or
    ParallelizationFactor (the search offers only values hls4ml keeps, so this is the
    fit's fault, said so)."""
    layers = {layer.name: layer for layer in graph.get_layers()}
    for name, setting in plan.items():
        layer = layers[name]
        reuse = [layer.get_attr("reuse_factor")]
        if layer.class_name in RECURRENT_HLS_CLASSES:
            reuse.append(layer.get_attr("recurrent_reuse_factor"))
        factor = layer.get_attr("parallelization_factor")
        if (_strategy_name(layer) != setting.strategy or any(value != setting.reuse_factor for value in reuse)
                or (setting.parallelization_factor is not None and factor != setting.parallelization_factor)):
            made = f" ParallelizationFactor {factor}" if setting.parallelization_factor is not None else ""
            raise FitError(f"hls4ml made layer {name} {layer.get_attr('strategy')} with reuse factor "
                           f"{'/'.join(map(str, reuse))}{made} where the fit planned {setting}: a fault of fpga-flow's "
                           "fit, please report it with this model")


class Converter:
    """hls4ml graphs of the model for one board (nothing written), and their descriptions."""

    def __init__(self, model, board: Board, settings: HLSSettings):
        self.model, self.board, self.settings = model, board, settings

    def graph(self, io_type: str, hls_config: dict[str, Any]):
        settings = self.settings.model_copy(update={"io_type": io_type})
        return model_graph(self.model, self.board, settings, PROJECT_NAME, hls_config)

    def describe(self, graph) -> Design:
        return describe_graph(graph, self.board, self.settings.clock_period_ns)


def space_of(converter: Converter, backend, io_type: str, hls_config: dict[str, Any], request: FitRequest,
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
        factors = valid_parallelization_factors(backend, graph_layer, io_type)
        factor = int(graph_layer.get_attr("parallelization_factor", 1) or 1) if factors else None
        unfitted = LayerSetting(strategy=strategy, reuse_factor=int(graph_layer.get_attr("reuse_factor")),
                                parallelization_factor=factor)
        tuned.append(layer_choices(graph_layer.name, graph_layer.class_name, valid_reuse_factors(backend, graph_layer),
                                   unfitted, saturating_accumulator(by_name[graph_layer.name]), request,
                                   resource_reuse_limit(backend, graph_layer, io_type), factors))
    as_latency = {layer.name: layer.unfitted.model_copy(update={"strategy": LATENCY})
                  for layer in tuned if layer.unfitted.strategy == RESOURCE and LATENCY in layer.strategies}
    described = design
    if as_latency:
        # Describe the weights as the Latency strategy stores them (constants, with their
        # CSD digits), so one description prices both strategies.
        described = converter.describe(converter.graph(io_type, with_plan(hls_config, as_latency)))
    return Space(io_type, described, tuned), graph, design


def made_estimate(converter: Converter, io_type: str, hls_config: dict[str, Any], plan: dict[str, LayerSetting],
          available: dict[str, int]) -> Estimate:
    """A plan as hls4ml makes it: every planned value kept, figures from its own graph."""
    graph = converter.graph(io_type, with_plan(hls_config, plan))
    check_plan_kept(graph, plan)
    return price(converter.describe(graph), available=available)
