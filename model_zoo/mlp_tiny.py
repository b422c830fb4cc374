"""A tiny QKeras MLP on scikit-learn's 8x8 digits (64 -> 8 -> 10, 4-bit weights): small
enough for the open ECP5 flow (a few thousand LUT4), so --pnr and a bitstream run in
minutes with the WebAssembly nextpnr."""

from __future__ import annotations

from model_zoo.datasets import digits_rows
from model_zoo.recipe import HLSDefaults, Recipe, TrainingSettings


def build_mlp_tiny(input_shape: tuple[int, ...], n_classes: int):
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow.keras import layers, models

    weights = quantized_bits(4, 0, alpha=1)
    return models.Sequential(
        [
            layers.Input(shape=input_shape, name="image"),
            layers.Flatten(name="flatten"),
            QDense(8, kernel_quantizer=weights, bias_quantizer=weights, name="fc1"),
            QActivation(quantized_relu(6, 2), name="relu1"),
            QDense(n_classes, kernel_quantizer=weights, bias_quantizer=weights, name="logits"),
        ],
        name="mlp_tiny",
    )


RECIPE = Recipe(
    name="mlp_tiny",
    description="Tiny QKeras MLP 64-8-10, 4-bit weights, on sklearn digits 8x8 (fits small FPGAs)",
    family="mlp",
    builder=build_mlp_tiny,
    dataset=digits_rows,
    training=TrainingSettings(epochs=30, batch_size=32, learning_rate=5e-3, seed=7),
    hls=HLSDefaults(io_type="io_parallel", strategy="Latency", reuse_factor=1),
)
