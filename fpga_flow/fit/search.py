"""The branch and bound over one io type's plans (:func:`search`)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Callable, Literal

from fpga_flow.estimate.estimator import RESOURCES
from fpga_flow.fit.options import TunedLayer
from fpga_flow.fit.pricing import Space, peak_share
from fpga_flow.fit.records import FitPoint

# Plans priced whole per io type and goal (about a millisecond each), and the branch
# and bound's limit on partial plans per search.
PLANS_PRICED = 24
NODE_LIMIT = 300_000
# ... and on whole plans priced per search (a few ms each). In io_stream the latency bound
# (the slowest layer) is weak, so without it a model of five convolutions priced 204,186
# plans in 770 s (conv1d_pulses on the U250); the options are visited fastest (or
# smallest) first, so the best plans come early.
PRICE_LIMIT = 1_500




@dataclass(frozen=True)
class Goal:
    """What one search ranks by and requires: ``rank`` 'latency' (then peak share) or
    'peak' (then latency); ``limits`` the most of each resource a plan may use;
    ``target_cycles`` the most latency it may take."""

    rank: Literal["latency", "peak"]
    limits: tuple[float, ...] | None = None
    target_cycles: float | None = None


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
