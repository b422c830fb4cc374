"""Quantized multi-head self-attention: a QKeras-style Keras layer and its hls4ml
extension (parser, layer, templates and the ``nnet_qmhsa.h`` kernel)."""

from fpga_flow.attention.layer import QMultiHeadSelfAttention, estimate_multipliers


def custom_objects() -> dict:
    return {"QMultiHeadSelfAttention": QMultiHeadSelfAttention}


__all__ = ["QMultiHeadSelfAttention", "custom_objects", "estimate_multipliers"]
