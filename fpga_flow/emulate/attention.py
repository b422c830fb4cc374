"""fpga_flow's QMultiHeadSelfAttention (the ``QMHSA`` layer): its numpy model,
:func:`fpga_flow.attention.reference.qmhsa`, is bit for bit the arithmetic of
``nnet_qmhsa.h`` (tests/test_attention_kernel.py), so the emulator runs it on the whole
batch. The model computes in float64, which is exact while every product and sum has at
most 52 significant bits; wider configurations are refused."""

from __future__ import annotations

import numpy as np

from fpga_flow.attention import reference as ref
from fpga_flow.attention.hls import WEIGHTS
from fpga_flow.emulate import arith
from fpga_flow.emulate.builders import Run, _input, weight_words
from fpga_flow.emulate.kernels import EXACT_FLOAT_BITS, Tensor
from fpga_flow.errors import NotEmulableError


def widest_product(spec: ref.QMHSASpec, data_width: int) -> int:
    """Bits of the widest exact intermediate of the model's float64 arithmetic."""
    weight = max(spec.weight.width, spec.bias.width)
    return max(
        spec.accum.width + 1,
        max(data_width, spec.proj.width) + weight,  # projections
        2 * spec.proj.width,  # q . k
        spec.accum.width + spec.scale.width,  # scores * scale
        spec.exp.width + spec.inv.width,  # e * 1/sum
        spec.prob.width + spec.proj.width,  # p . v
    )


def build_attention(layer) -> Run:
    # io_stream (nnet_qmhsa.h's stream overload) copies the packets' words into arrays of
    # the same types and runs the io_parallel kernel: the same words either way
    spec = layer.spec()
    data = _input(layer)
    if widest_product(spec, data.width) > EXACT_FLOAT_BITS:
        raise NotEmulableError(f"layer {layer.name}: attention types wider than float64's exact range are not emulated")
    weights = {}
    for name in WEIGHTS:
        words, t = weight_words(layer, name)
        shape = layer.weights[name].data.shape
        weights[name] = arith.to_float(words, t).reshape(shape)
    result = spec.result

    def run(inputs: list[Tensor]) -> Tensor:
        values = ref.qmhsa(inputs[0].values(), weights, spec)
        return Tensor(arith.from_float(np.asarray(values), result), result)

    return run
