"""The spatial layers hls4ml 1.3.0 adds around convolutions: depthwise convolutions
(``DepthwiseConv1D``/``2D``, and the depthwise half of a ``SeparableConv1D``/``2D``, which
hls4ml's ``split_separable`` pass turns into a depthwise and a pointwise layer),
nearest-neighbour resizing (``UpSampling1D``/``2D`` become ``Resize``) and
``Concatenate``.

A depthwise convolution is the shared matrix-vector product (:mod:`.kernels`) over each
window with a sparse schedule: output channel ``c`` takes the inputs ``k * C + c`` (kernel
position ``k``, channel ``c``) and the weights at the same index, in kernel order --
``depthwise_conv_2d_latency_cl`` (io_parallel) and ``depthwise_product_latency``
(io_stream) cast each product to ``accum_t`` and add them position by position;
``depthwise_product_resource_rf_leq_nout`` (io_stream, Resource) walks the products
by reuse step.
"""

from __future__ import annotations

import numpy as np

from fpga_flow.emulate import arith, kernels
from fpga_flow.emulate.builders import Run, _io_type, _result, _window, dense_spec
from fpga_flow.emulate.kernels import Schedule, Tensor
from fpga_flow.errors import NotEmulableError, StageFailedError
from fpga_flow.layers import LATENCY_KEY, layer_strategy_key


def depthwise_schedule(layer, positions: int, channels: int) -> Schedule:
    """The order each output channel accumulates its ``positions`` products in."""
    n_in = positions * channels
    if layer_strategy_key(layer) == LATENCY_KEY:
        index = np.arange(positions)[None, :] * channels + np.arange(channels)[:, None]
        return Schedule(index, index)
    if _io_type(layer) != "io_stream":
        # nnet_sepconv2d.h / nnet_sepconv1d.h: assert("Resource strategy for DepthwiseConv2D is not supported." && false)
        raise StageFailedError(f"layer {layer.name}: hls4ml's io_parallel depthwise convolution asserts against the "
                               "Resource strategy (its C simulation aborts)")
    reuse = int(layer.get_attr("reuse_factor"))
    if reuse > channels:
        raise NotEmulableError(f"layer {layer.name}: a depthwise reuse factor above the channel count is not emulated")
    steps: list[list[int]] = [[] for _ in range(channels)]
    block = -(-n_in // reuse)
    for ir in range(reuse):  # depthwise_product_resource_rf_leq_nout's walk
        index, out = ir, ir
        for _ in range(block):
            if index < n_in:
                steps[out].append(index)
            index += reuse
            out += reuse
            if out >= channels:
                out -= channels
    if len({len(s) for s in steps}) != 1:
        raise NotEmulableError(f"layer {layer.name}: reuse factor {reuse} gives channels unequal numbers of products")
    index = np.asarray(steps, dtype=np.int64)
    return Schedule(index, index)


def build_depthwise(layer) -> Run:
    if int(layer.get_attr("depth_multiplier", 1)) != 1:
        # nnet_sepconv2d_latency.h asserts n_filt == n_chan
        raise NotEmulableError(f"layer {layer.name}: a depth multiplier other than 1 is not emulated")
    if int(layer.get_attr("dilation", 1)) != 1:
        raise NotEmulableError(f"layer {layer.name}: dilated convolution is not emulated")
    kernel, stride, pads = _window(layer, "filt", layer.class_name.endswith("2D"))
    channels = int(layer.get_attr("n_chan"))
    positions = int(np.prod(kernel))
    schedule = depthwise_schedule(layer, positions, channels)
    spec = dense_spec(layer, positions * channels, channels, schedule=schedule)
    result = _result(layer)
    out_shape = tuple(int(d) for d in layer.get_output_variable().shape)

    def run(inputs: list[Tensor]) -> Tensor:
        x = inputs[0]
        columns = kernels.im2col(x.raw, kernel, stride, pads)
        acc = kernels.dense(Tensor(columns, x.type), spec)
        return Tensor(arith.cast(acc, spec.accum, result).reshape((len(x.raw),) + out_shape), result)

    return run


def build_resize(layer) -> Run:
    """``resize_nearest``: io_parallel picks source row ``(i * ((H << 16) / H' + 1)) >> 16``
    (and the same for columns); io_stream repeats each pixel ``H' / H`` times, which is
    the same pick for the integer ratios it accepts. The words are copied unchanged."""
    if str(layer.get_attr("algorithm", "nearest")) != "nearest":
        raise NotEmulableError(f"layer {layer.name}: {layer.get_attr('algorithm')} resizing is not emulated")
    in_shape = tuple(int(d) for d in layer.get_input_variable().shape)
    out_shape = tuple(int(d) for d in layer.get_output_variable().shape)
    picks = [((np.arange(new) * (((old << 16) // new) + 1)) >> 16) for old, new in zip(in_shape[:-1], out_shape[:-1])]
    result = _result(layer)

    def run(inputs: list[Tensor]) -> Tensor:
        words = inputs[0].raw
        for axis, pick in enumerate(picks):
            words = np.take(words, pick, axis=axis + 1)
        return Tensor(words, inputs[0].type).cast(result)

    return run


def build_concatenate(layer) -> Run:
    """``concatenate*d``: each input's words cast to res_T, joined along the axis
    (Keras's axis, which counts the batch axis as the emulator's arrays count samples)."""
    axis = int(layer.get_attr("axis"))
    result = _result(layer)

    def run(inputs: list[Tensor]) -> Tensor:
        return Tensor(np.concatenate([t.cast(result).raw for t in inputs], axis=axis), result)

    return run
