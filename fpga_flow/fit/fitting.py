"""The fit itself: search both io types, choose, check the chosen plan with hls4ml
(:func:`fit_design`), and price it again after the precision closure (:func:`recheck`)."""

from __future__ import annotations

import time
from typing import Any, Callable

from fpga_flow.boards import Board
from fpga_flow.convert import IO_TYPES, HLSSettings
from fpga_flow.errors import UnsupportedModelError
from fpga_flow.estimate import Design, Estimate, price
from fpga_flow.estimate.estimator import RESOURCES
from fpga_flow.fit.hls4ml_plan import Converter, made_estimate, space_of
from fpga_flow.fit.options import stream_keeps_arithmetic
from fpga_flow.fit.pricing import Space, fit_point, price_options
from fpga_flow.fit.records import FitPoint, FitRequest, FitResult, LayerChoice
from fpga_flow.fit.search import NODE_LIMIT, PRICE_LIMIT, Goal, search
from fpga_flow.stream_depths import FIFO_DEPTH_CHOICES, with_fifo_depths


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


class UnpricedLayerError(UnsupportedModelError):
    """A layer the estimate prices at nothing: a fit would size the design blind."""


def refuse_unpriced(design: Design, board: Board) -> None:
    """Invariant enforced here (issue 20: every layer a fitted build accepts is priced):
    the fit never chooses a plan for a design holding a layer the estimate cannot price,
    since that layer's cost would count as zero against the board."""
    unpriced = [layer for layer in design.layers if layer.kind == "unknown"]
    if unpriced:
        named = ", ".join(f"'{layer.name}' ({layer.source_class})" for layer in unpriced)
        raise UnpricedLayerError(
            f"layer {named} is not priced by fpga-flow's estimate, so the fit cannot size the design for {board.name}: "
            "build with --no-fit (hls4ml's defaults or the options you give; the estimate then leaves the layer out "
            "and says so)")


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
    converter = Converter(model, board, settings)
    notes: list[str] = []
    searched: dict[str, str] = {}
    spaces: list[Space] = []
    unfitted = None
    for io_type in [settings.io_type, *(io for io in IO_TYPES if io != settings.io_type)]:
        if io_type != settings.io_type:
            reason = (f"--io-type {request.io_type} given" if request.io_type is not None
                      else stream_keeps_arithmetic(*unfitted) if keep_arithmetic else None)
            if reason is not None:
                searched[io_type] = f"not searched: {reason}"
                continue
        # io_stream: both FIFO depths, fpga_flow.stream_depths' first (the unfitted design's).
        for fifos in (FIFO_DEPTH_CHOICES if io_type == "io_stream" else (None,)):
            try:
                space, graph, design = space_of(converter, backend, io_type, with_fifo_depths(hls_config, fifos),
                                                request, notes if fifos in (None, "fitted") else [])
            except UnsupportedModelError as exc:
                if io_type == settings.io_type:
                    raise
                searched[io_type] = f"not searched: {exc}"
                break
            space.stream_fifos = fifos
            if unfitted is None:
                refuse_unpriced(design, board)
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
                priced[indices] = fit_point(space.io_type, plan, estimate, request.budget, available,
                                            space.stream_fifos)
            return priced[indices]

        for goal in goals:
            found, visited, finished = search(space, capacities, goal, evaluate)
            nodes, complete = nodes + visited, complete and finished
            for point in found:
                points.setdefault((space.io_type, space.stream_fifos,
                                   tuple(sorted((k, str(v)) for k, v in point.plan.items()))), point)
        space.plans_priced = len(priced)
    home = spaces[0]  # the unfitted io type's
    unfitted_point = fit_point(home.io_type, home.unfitted, price(unfitted[1], available=available), request.budget,
                               available, home.stream_fifos)
    best = choose(list(points.values()), request)
    made = made_estimate(converter, best.io_type, with_fifo_depths(hls_config, best.stream_fifos), best.plan, available)
    chosen = fit_point(best.io_type, best.plan, made, request.budget, available, best.stream_fifos)
    space = next(space for space in spaces if (space.io_type, space.stream_fifos) == (chosen.io_type, chosen.stream_fifos))
    layers = []
    for layer in space.tuned:
        layers.append(LayerChoice(layer=layer.name, hls_class=layer.hls_class, setting=chosen.plan[layer.name],
                                  strategies=layer.strategies, reuse_factors=layer.reuse_factors,
                                  parallelization_factors=layer.parallelization_factors, note=layer.note,
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
    converter = Converter(model, board, settings)
    made = made_estimate(converter, fit.io_type, with_fifo_depths(hls_config, fit.chosen.stream_fifos), fit.chosen.plan,
                         available)
    point = fit_point(fit.io_type, fit.chosen.plan, made, fit.request.budget, available, fit.chosen.stream_fifos)
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
