"""Quantized multi-head self-attention: a QKeras-style Keras layer and its hls4ml
extension (parser, layer, templates and the ``nnet_qmhsa.h`` kernel). The Keras layer
is imported on first use, so registering the hls4ml side does not load TensorFlow."""

from __future__ import annotations


def custom_objects() -> dict:
    from fpga_flow.attention.layer import QMultiHeadSelfAttention  # deferred: TensorFlow (the Keras layer)

    return {"QMultiHeadSelfAttention": QMultiHeadSelfAttention}


def __getattr__(name: str):
    if name in ("QMultiHeadSelfAttention", "estimate_multipliers", "multiplications"):
        from fpga_flow.attention import layer  # deferred: TensorFlow (the Keras layer)

        return getattr(layer, name)
    raise AttributeError(name)
