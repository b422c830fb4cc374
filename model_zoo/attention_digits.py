"""One quantized self-attention block over digit rows: 8 tokens of 8 pixels, a QDense
embedding, QMultiHeadSelfAttention with a residual Add, flatten, QDense classifier."""

from __future__ import annotations

from model_zoo.datasets import digits_rows
from model_zoo.recipe import HLSDefaults, Recipe, TrainingSettings


def build_attention(input_shape: tuple[int, ...], n_classes: int):
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow.keras import layers, models

    from fpga_flow.attention import QMultiHeadSelfAttention

    q = quantized_bits(8, 0, alpha=1)
    tokens = layers.Input(shape=input_shape, name="rows")
    embedded = QDense(16, kernel_quantizer=q, bias_quantizer=q, name="embed")(tokens)
    embedded = QActivation(quantized_relu(8, 2), name="embed_relu")(embedded)
    attended = QMultiHeadSelfAttention(2, 8, name="mhsa")(embedded)
    mixed = layers.Add(name="residual")([embedded, attended])
    flat = layers.Flatten(name="flatten")(mixed)
    logits = QDense(n_classes, kernel_quantizer=q, bias_quantizer=q, name="logits")(flat)
    return models.Model(tokens, layers.Activation("softmax", name="softmax")(logits), name="attention_digits")


RECIPE = Recipe(
    name="attention_digits",
    description="QDense embedding, 2-head QMultiHeadSelfAttention + residual, QDense head, over digit rows",
    family="attention",
    builder=build_attention,
    dataset=digits_rows,
    training=TrainingSettings(epochs=40, batch_size=32, learning_rate=3e-3, seed=7),
    hls=HLSDefaults(io_type="io_parallel", strategy="Latency", reuse_factor=1),
)
