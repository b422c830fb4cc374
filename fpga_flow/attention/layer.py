"""``QMultiHeadSelfAttention``: quantized multi-head self-attention for QKeras models.

Q/K/V/output projections use QKeras quantizers for weights and biases; the hardware
quantizes the scaled scores and the softmax output, and so does this layer in training,
with ``score_quantizer`` and ``probability_quantizer``. Quantizers are given as QKeras
expressions (``"quantized_bits(8,0,alpha=1)"``), which keeps the layer's config plain
data that saves and loads like any Keras layer.

Hardware (``nnet_qmhsa.h``, io_parallel), for sequence length T, model width D, H heads
of key size K and reuse factor R, the multiplications are

    projections  3 * T * D * H * K      (Q, K and V)
    scores       H * T * T * K          (+ one scaling multiply per score: H * T * T)
    softmax      H * T * T              (each exponential times the inverse of the sum)
    context      H * T * T * K
    output       T * H * K * D

and the kernel instantiates ``ceil(total / R)`` multipliers (``estimate_multipliers``).
Softmax uses two ROM tables (exp and reciprocal), ``table_size`` entries each, no divider.
Pragmas: every array is partitioned completely (``ARRAY_PARTITION complete``), the whole
function is pipelined with ``II = R``, loop bounds are static template constants. In
io_stream the projections are computed one token per iteration of loops pipelined at
``II = R`` (one token's projection hardware, used T times) and the attention between them
is the same pipelined code; every sum adds the same products in the same order.
"""

from __future__ import annotations

import math

import tensorflow as tf

from fpga_flow.attention.hls import register


def _quantizer(spec: str | None):
    if spec is None:
        return None
    from qkeras.quantizers import get_quantizer

    return get_quantizer(spec)


@tf.keras.utils.register_keras_serializable(package="fpga_flow")
class QMultiHeadSelfAttention(tf.keras.layers.Layer):
    def __init__(self, num_heads: int, key_dim: int, causal: bool = False,
                 kernel_quantizer: str | None = "quantized_bits(8,0,alpha=1)",
                 bias_quantizer: str | None = "quantized_bits(8,0,alpha=1)",
                 score_quantizer: str | None = "quantized_bits(12,4,alpha=1)",
                 probability_quantizer: str | None = "quantized_bits(10,1,alpha=1)",
                 **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.key_dim, self.causal = int(num_heads), int(key_dim), bool(causal)
        self.kernel_quantizer, self.bias_quantizer = kernel_quantizer, bias_quantizer
        self.score_quantizer, self.probability_quantizer = score_quantizer, probability_quantizer
        self._quantize = {name: _quantizer(getattr(self, name)) for name in
                          ("kernel_quantizer", "bias_quantizer", "score_quantizer", "probability_quantizer")}

    def build(self, input_shape):
        width = int(input_shape[-1])
        inner = self.num_heads * self.key_dim
        init = tf.keras.initializers.GlorotUniform()
        for name in ("wq", "wk", "wv"):
            setattr(self, name, self.add_weight(name=name, shape=(width, inner), initializer=init))
            setattr(self, "b" + name[1], self.add_weight(name="b" + name[1], shape=(inner,), initializer="zeros"))
        self.wo = self.add_weight(name="wo", shape=(inner, width), initializer=init)
        self.bo = self.add_weight(name="bo", shape=(width,), initializer="zeros")
        super().build(input_shape)

    def _q(self, which: str, tensor):
        quantizer = self._quantize[which]
        return tensor if quantizer is None else quantizer(tensor)

    def quantized_weights(self) -> dict:
        """The weights as the hardware stores them."""
        out = {}
        for name in ("wq", "wk", "wv", "wo"):
            out[name] = self._q("kernel_quantizer", getattr(self, name)).numpy()
        for name in ("bq", "bk", "bv", "bo"):
            out[name] = self._q("bias_quantizer", getattr(self, name)).numpy()
        return out

    def call(self, inputs):
        shape = tf.shape(inputs)
        batch, length = shape[0], shape[1]

        def project(w, b):
            y = tf.matmul(inputs, self._q("kernel_quantizer", w)) + self._q("bias_quantizer", b)
            y = tf.reshape(y, (batch, length, self.num_heads, self.key_dim))
            return tf.transpose(y, (0, 2, 1, 3))  # batch, head, time, key

        q, k, v = project(self.wq, self.bq), project(self.wk, self.bk), project(self.wv, self.bv)
        scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(self.key_dim))
        scores = self._q("score_quantizer", scores)
        if self.causal:
            mask = tf.linalg.band_part(tf.ones((length, length)), -1, 0)
            scores = scores - 1e9 * (1.0 - mask)
        probabilities = self._q("probability_quantizer", tf.nn.softmax(scores, axis=-1))
        context = tf.matmul(probabilities, v)
        context = tf.reshape(tf.transpose(context, (0, 2, 1, 3)), (batch, length, self.num_heads * self.key_dim))
        return tf.matmul(context, self._q("kernel_quantizer", self.wo)) + self._q("bias_quantizer", self.bo)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim, "causal": self.causal,
                "kernel_quantizer": self.kernel_quantizer, "bias_quantizer": self.bias_quantizer,
                "score_quantizer": self.score_quantizer, "probability_quantizer": self.probability_quantizer}


def multiplications(num_heads: int, seq_len: int, embed_dim: int, key_dim: int) -> dict[str, int]:
    """The kernel's multiplications per inference, by part (see the module docstring)."""
    inner = num_heads * key_dim
    return {
        "projections": 3 * seq_len * embed_dim * inner,
        "scores": num_heads * seq_len * seq_len * key_dim,
        "scaling": num_heads * seq_len * seq_len,
        "softmax": num_heads * seq_len * seq_len,
        "context": num_heads * seq_len * seq_len * key_dim,
        "output": seq_len * inner * embed_dim,
    }


def estimate_multipliers(num_heads: int, seq_len: int, embed_dim: int, key_dim: int, reuse_factor: int) -> int:
    """Multipliers the HLS kernel instantiates (see the module docstring)."""
    total = sum(multiplications(num_heads, seq_len, embed_dim, key_dim).values())
    return math.ceil(total / max(1, reuse_factor))


# hls4ml learns the layer (parser, IR class, templates, kernel) whenever the layer exists in
# the process: a model holding it was built or loaded through this module first. Not at
# ``import fpga_flow``, so that commands which convert nothing do not import hls4ml.
register()
