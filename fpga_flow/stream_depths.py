"""Depths of the FIFOs between io_stream layers.

hls4ml 1.3.0 makes every stream between two layers as deep as the whole feature map
(``StreamVariableConverter.convert``: ``depth = prod(shape[:-1])``, 1,024 words for a
32x32 map), which HLS builds as one block RAM per element of the stream word: a ResNet-8 on
32x32 spends most of a PYNQ-Z2's BRAM on them. hls4ml's own remedy is its FIFO depth
optimization (``vivado:fifo_depth_optimization``), which needs RTL co-simulation and sets
each depth to the largest occupancy seen plus one, on the graph's output variables
(``var.pragma = ('stream', depth)``, ``set_fifo_depth``). fpga-flow sets the same
per-output pragma, from a rule instead of a co-simulation:

* A stream on a chain (one producer, one consumer, no fork and join around it) never
  deadlocks at any depth; it gets :data:`CHAIN_DEPTH` words (what HLS still builds from
  shift registers, the estimate's ``Rules.fifo_srl_max_depth``).
* Where a stream forks (hls4ml's ``Clone`` in io_stream) and the branches meet again at a
  layer of several inputs (``Add``, ``Concatenate``: a ResNet skip), the clone writes both
  branches together, so the branch that yields its first word sooner must hold what the
  other consumes before yielding its own: the clone's output into each branch gets the
  difference of the two branches' first-output delays, in clone words, plus
  :data:`CHAIN_DEPTH` per layer of the slower branch (and one) as margin; the slower
  branch's gets :data:`CHAIN_DEPTH`. A layer's delay is the
  input words it reads before writing its first word: ``(filt_height - 1) * in_width +
  filt_width`` for a 2-D window (its line buffer, ``nnet_conv_stream.h``),
  ``filt_width`` in 1-D, all of them for a layer that writes once (global pooling,
  flattening dense), one otherwise; along a branch, each delay is converted into clone
  words by the rates (input words per output word) of the layers before it.
* A fork whose branches do not meet in a known way keeps hls4ml's depths.
* No depth is set above hls4ml's, and the model's input and output streams keep theirs
  (hls4ml's ``predict`` reads the input's depth).

The C simulation does not depend on depths (``hls::stream`` is unbounded in C++), so this
changes no result fpga-flow checks; the rule is what the RTL needs not to stall forever,
argued above, not measured by co-simulation (no HLS tool here).
"""

from __future__ import annotations

import math

from fpga_flow.estimate.cost import Rules

CHAIN_DEPTH = Rules().fifo_srl_max_depth
# The hls4ml configuration's Model key saying which depths a design takes: "fitted" (this
# module's, the default) or "hls4ml" (its whole feature maps, block RAM where deep). The
# fit chooses per design: shallow FIFOs are shift registers in LUTs, deep ones BRAM.
FIFO_DEPTHS_KEY = "FifoDepths"
FIFO_DEPTH_CHOICES = ("fitted", "hls4ml")


def fitted_depths(hls_config: dict) -> bool:
    """Whether a design converted with ``hls_config`` takes this module's depths."""
    return hls_config.get("Model", {}).get(FIFO_DEPTHS_KEY, "fitted") == "fitted"


def with_fifo_depths(hls_config: dict, choice: str | None) -> dict:
    """A copy of ``hls_config`` taking ``choice`` of :data:`FIFO_DEPTH_CHOICES` (None: as it is)."""
    if choice is None:
        return hls_config
    return {**hls_config, "Model": {**hls_config.get("Model", {}), FIFO_DEPTHS_KEY: choice}}


def _words(var) -> int:
    shape = list(var.shape)
    return max(1, math.prod(shape[:-1])) if len(shape) > 1 else 1


def _first_output_delay(layer, words_in: int, words_out: int) -> float:
    """Input words ``layer`` reads before it writes its first output word."""
    if words_out == 1:
        return float(words_in)
    height, width = layer.get_attr("filt_height") or layer.get_attr("pool_height"), \
        layer.get_attr("filt_width") or layer.get_attr("pool_width")
    in_width = layer.get_attr("in_width")
    if height and width and in_width and height > 1:
        return float((height - 1) * in_width + width)
    if width and width > 1:
        return float(width)
    return 1.0


def _branch(graph, start: str, consumers: dict[str, list]) -> tuple[list, object | None]:
    """The layers from stream ``start`` to the first layer of several inputs (the join),
    following single consumers; the join is None when the branch forks again or ends."""
    layers, name = [], start
    while True:
        readers = consumers.get(name, [])
        if len(readers) != 1:
            return layers, None
        reader = readers[0]
        if len(reader.inputs) > 1:
            return layers, reader
        if len(reader.outputs) != 1:
            return layers, None
        layers.append(reader)
        name = reader.outputs[0]


def _delay(graph, start: str, layers: list) -> tuple[float, int]:
    """A branch's first-output delay in words of stream ``start``, and its layer count."""
    total, rate, name = 0.0, 1.0, start
    for layer in layers:
        words_in, words_out = _words(graph.output_vars[name]), _words(graph.output_vars[layer.outputs[0]])
        total += rate * _first_output_delay(layer, words_in, words_out)
        rate *= words_in / words_out
        name = layer.outputs[0]
    return total, len(layers)


def stream_depths(graph) -> dict[str, int]:
    """The depth of each internal stream of an io_stream ``graph`` (module docstring)."""
    fixed = {id(var) for var in (*graph.get_input_variables(), *graph.get_output_variables())}
    default = {name: int(var.pragma[1]) for name, var in graph.output_vars.items()
               if isinstance(getattr(var, "pragma", None), tuple) and var.pragma[0] == "stream" and id(var) not in fixed}
    depths = {name: min(depth, CHAIN_DEPTH) for name, depth in default.items()}
    consumers: dict[str, list] = {}
    for layer in graph.get_layers():
        for name in layer.inputs:
            consumers.setdefault(name, []).append(layer)
    for layer in graph.get_layers():
        if len(layer.outputs) < 2:
            continue
        branches = [(name, *_branch(graph, name, consumers)) for name in layer.outputs]
        joins = {id(join) for _, _, join in branches}
        if None in {join for _, _, join in branches} or len(joins) != 1:
            for name, path, _ in branches:  # not a known fork and join: hls4ml's depths
                for var in (name, *(step.outputs[0] for step in path)):
                    if var in default:
                        depths[var] = default[var]
            continue
        delays = [_delay(graph, name, path) for name, path, _ in branches]
        slowest, layers = max(delays)
        for (name, _, _), (delay, _) in zip(branches, delays):
            if name in default and delay < slowest:
                need = math.ceil(slowest - delay) + CHAIN_DEPTH * (layers + 1)
                depths[name] = min(default[name], max(CHAIN_DEPTH, need))
    return depths


def set_stream_depths(graph) -> dict[str, int]:
    """Set :func:`stream_depths` on the graph's streams, as hls4ml's FIFO depth
    optimization does (``var.pragma = ('stream', depth)``); returns them."""
    depths = stream_depths(graph)
    for name, depth in depths.items():
        graph.output_vars[name].pragma = ("stream", depth)
    return depths
