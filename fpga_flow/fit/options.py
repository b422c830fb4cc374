"""What the search may give each tuned layer: the strategies and reuse factors hls4ml keeps
(and its kernels accept; our attention layer: Latency, :func:`attention_reuse_factors`),
less what would change the arithmetic; an io_parallel convolution's ParallelizationFactor
(:func:`valid_parallelization_factors`); and whether io_stream computes what io_parallel
does (the package docstring says why).

ParallelizationFactor is chosen for io_parallel convolutions only: in hls4ml 1.3.0 only
their kernels read it (nnet_conv1d_latency.h, nnet_conv2d_latency.h,
nnet_conv1d_resource.h, nnet_conv2d_resource.h loop over ``n_partitions`` = out pixels /
PF, ``n_pixels`` = PF pixels unrolled per iteration). The io_stream convolution kernels
(nnet_conv_stream.h, nnet_conv1d_stream.h, nnet_conv2d_stream.h) never mention it: for an
io_stream convolution the factor changes nothing, so it is not offered there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fpga_flow.errors import UserInputError
from fpga_flow.estimate import Design, LayerDesign, LayerPlan, NumberType
from fpga_flow.estimate.design import parse_type
from fpga_flow.fit.records import FitRequest, LayerSetting
from fpga_flow.layers import FIT_STRATEGIES, LATENCY, LATENCY_KEY, LATENCY_ONLY_CLASSES, RECURRENT_HLS_CLASSES, RESOURCE

# Layer kinds whose io_stream kernel computes what the io_parallel one does, in the same
# order (module docstring); max pooling is checked apart (its accumulator must hold its input).
# Our attention layer's io_stream overload (nnet_qmhsa.h) projects each token as it arrives
# and runs the same attention, in the same order (tests/test_attention_fit.py compares the
# C-simulations).
STREAM_SAME_ARITHMETIC = frozenset({"dense", "conv1d", "conv2d", "activation", "softmax", "batchnorm", "reshape",
                                    "zeropad1d", "zeropad2d", "attention"})


@dataclass(frozen=True)
class Option:
    """One setting of one layer, with the layer's figures under it."""

    setting: LayerSetting
    cost: tuple[float, ...]  # RESOURCES, in order
    latency: int


def layer_plan(setting: LayerSetting) -> LayerPlan:
    """The estimator's plan for a layer setting."""
    return LayerPlan(reuse_factor=setting.reuse_factor, strategy=setting.strategy.lower(),
                     parallelization_factor=setting.parallelization_factor)


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
    parallelization_factors: list[int] | None = None  # io_parallel convolutions (None: the layer has no factor to choose)

    def settings(self) -> list[LayerSetting]:
        """Every (strategy, reuse factor, ParallelizationFactor) the search may give the layer."""
        return [LayerSetting(strategy=strategy, reuse_factor=reuse, parallelization_factor=factor)
                for strategy in self.strategies for reuse in self.reuse_factors
                for factor in (self.parallelization_factors or [None])
                if not (strategy == RESOURCE and self.resource_limit is not None and reuse > self.resource_limit)]


def valid_reuse_factors(backend, graph_layer) -> list[int]:
    """The reuse factors hls4ml keeps for a layer: its backend's valid list for the
    layer's multiplication (and, for LSTM/GRU, the recurrent one, which takes the same
    value); for a latency-only layer, :func:`attention_reuse_factors`."""
    if graph_layer.class_name in LATENCY_ONLY_CLASSES:
        return attention_reuse_factors(backend, graph_layer)
    sizes = backend.get_layer_mult_size(graph_layer)
    valid = set(backend.get_valid_reuse_factors(sizes[0], sizes[1]))
    if graph_layer.class_name in RECURRENT_HLS_CLASSES:
        valid &= set(backend.get_valid_reuse_factors(sizes[2], sizes[3]))
    return sorted(valid)


def attention_reuse_factors(backend, graph_layer) -> list[int]:
    """The reuse factors offered to our attention layer (QMHSA): those hls4ml's backend
    validates for a Dense of its projection's shape (``embed_dim`` in, ``num_heads *
    key_dim`` out). hls4ml keeps any value on the layer and the kernel's C++ is the same
    for all (only ``PIPELINE II`` reads it), so the list is a choice of useful values:
    the projections (Q, K, V and the output, its transpose) hold most of the kernel's
    multiplications and are priced per token as a Latency Dense of that shape
    (``ceil(n_in * n_out / R)`` shared DSP multipliers, fpga_flow.estimate.from_graph's
    ``_attention``); these values divide ``n_in * n_out`` (no multiplier idle in the
    last of R cycles) and end at it (one multiplier per token), past which only the
    scores and context products (``num_heads * seq_len**2 * key_dim`` each) would share
    further, for R more cycles. A user who knows hls4ml's values for a Dense of that
    shape gets the same here."""
    return sorted(backend.get_valid_reuse_factors(int(graph_layer.get_attr("embed_dim")),
                                                  int(graph_layer.get_attr("num_heads")) * int(graph_layer.get_attr("key_dim"))))


# hls4ml 1.3.0 classes whose io_parallel Resource kernel is conv_1d_resource_cl /
# conv_2d_resource_cl (a pointwise layer too: convolution_templates.py gives it Conv1DResource,
# pointwise_conv_2d_cl calls conv_2d_resource_cl). Depthwise layers are not tuned: their
# io_parallel Resource kernel asserts whatever the reuse factor (nnet_sepconv2d.h).
PARALLEL_CONV_RESOURCE_CLASSES = frozenset({"Conv1D", "Conv2D", "Conv2DBatchnorm", "PointwiseConv1D",
                                            "PointwiseConv2D"})


# hls4ml 1.3.0 classes whose io_parallel kernel reads ParallelizationFactor (module docstring)
# and whose backend validates it (init_conv1d / init_conv2d set ``parallelization_factor``).
# A 1-wide io_parallel 1-D convolution (PointwiseConv1D, or a Conv1D of filt_width 1) is left
# as configured: at n_partitions == 1 its Latency layer gets another kernel,
# BatchedDenseForConv1D with another multiplication (vivado/passes/convolution_templates.py).
PARALLELIZATION_CLASSES = frozenset({"Conv1D", "Conv2D", "Conv2DBatchnorm", "PointwiseConv2D"})


def valid_parallelization_factors(backend, graph_layer, io_type: str) -> list[int] | None:
    """The ParallelizationFactors hls4ml keeps for an io_parallel convolution: its
    backend's ``get_valid_conv_partition_splits`` (the divisors of the output pixel
    count; init_conv1d / init_conv2d replace any other value by the closest of them);
    None for any other layer or io type (module docstring)."""
    if io_type != "io_parallel" or graph_layer.class_name not in PARALLELIZATION_CLASSES:
        return None
    if graph_layer.class_name == "Conv1D" and int(graph_layer.get_attr("filt_width")) == 1:
        return None
    height = int(graph_layer.get_attr("out_height", 1) or 1)
    return sorted(backend.get_valid_conv_partition_splits(height, int(graph_layer.get_attr("out_width"))))


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
                  request: FitRequest, resource_limit: int | None = None,
                  parallelization_factors: list[int] | None = None) -> TunedLayer:
    """The strategies, reuse factors and ParallelizationFactors the search may give a
    layer: those hls4ml keeps, less what would change its arithmetic (a saturating
    accumulator keeps the unfitted strategy, and under Resource its reuse factor: module
    docstring; the factor changes no pixel's sums, only how many are computed side by
    side), within the user's --strategy and --reuse-factor."""
    strategies, note = [request.strategy] if request.strategy else list(FIT_STRATEGIES), None
    if hls_class in LATENCY_ONLY_CLASSES:
        # One kernel, the same C++ at every reuse factor (saturating or not, its additions
        # keep their order): Latency, whatever --strategy says of the other layers.
        strategies, saturates = [LATENCY], False
        note = f"{hls_class} has one kernel (its reuse factor is the pipeline's interval): Latency only"
    if saturates:
        strategies = [unfitted.strategy]
        note = f"saturating accumulator: its additions keep their order, so it stays {unfitted.strategy}"
        if unfitted.strategy == RESOURCE:
            reuse_factors = [unfitted.reuse_factor]
            note += f" at reuse factor {unfitted.reuse_factor}"
    if request.reuse_factor is not None:
        if request.reuse_factor not in reuse_factors:
            allowed = ", ".join(map(str, reuse_factors))
            why = ("the values the fit offers it" if hls_class in LATENCY_ONLY_CLASSES
                   else "hls4ml would change any other value")
            raise UserInputError(f"--reuse-factor {request.reuse_factor}: layer {name} ({hls_class}) takes only "
                                 f"{allowed} ({why}): choose one of them, or leave "
                                 "--reuse-factor out and the fit chooses per layer")
        reuse_factors = [request.reuse_factor]
        if resource_limit is not None and request.reuse_factor > resource_limit:
            strategies = [strategy for strategy in strategies if strategy != RESOURCE]
            if not strategies:
                raise UserInputError(f"--reuse-factor {request.reuse_factor} with the Resource strategy: layer {name} "
                                     f"({hls_class}) takes at most {resource_limit} (hls4ml's io_parallel Resource "
                                     "convolution asserts against more): choose a smaller one, or --strategy Latency")
    if resource_limit is not None and RESOURCE in strategies and max(reuse_factors) > resource_limit:
        limit = f"Resource up to reuse factor {resource_limit} (hls4ml's io_parallel convolution asserts above)"
        note = f"{note}; {limit}" if note else limit
    if parallelization_factors is not None and len(parallelization_factors) > 1:
        factor = ("ParallelizationFactor priced by rule (PF times the multipliers, out pixels / PF partitions): "
                  "not calibrated on any Conv1D/Conv2D pair at PF > 1")
        note = f"{note}; {factor}" if note else factor
    return TunedLayer(name, hls_class, strategies, list(reuse_factors), unfitted, note, resource_limit=resource_limit,
                      parallelization_factors=parallelization_factors)


def holds_exactly(wide: NumberType | None, narrow: NumberType | None) -> bool:
    """Whether every value of ``narrow`` is a value of ``wide``: no fewer fraction bits,
    and as many integer bits (one more when only ``wide`` is signed)."""
    if wide is None or narrow is None or (narrow.signed and not wide.signed):
        return False
    sign_bit = 1 if wide.signed and not narrow.signed else 0
    return wide.integer >= narrow.integer + sign_bit and wide.fraction >= narrow.fraction


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
        elif layer.kind.startswith("conv") and layer.strategy != LATENCY_KEY and saturating_accumulator(layer):
            return f"{layer.name}: its saturating Resource-strategy sums are added in another order in io_stream"
    return None
