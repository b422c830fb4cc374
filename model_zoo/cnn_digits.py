"""A small QKeras CNN on scikit-learn's 8x8 digits: QConv2D, QActivation, pooling, QDense."""

from __future__ import annotations

from model_zoo.datasets import digits_images
from model_zoo.recipe import HLSDefaults, Recipe, TrainingSettings


def build_cnn(input_shape: tuple[int, ...], n_classes: int):
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
    from tensorflow.keras import layers, models

    weights = quantized_bits(6, 0, alpha=1)
    return models.Sequential(
        [
            layers.Input(shape=input_shape, name="image"),
            QConv2D(8, (3, 3), kernel_quantizer=weights, bias_quantizer=weights, name="conv1"),
            QActivation(quantized_relu(8, 3), name="relu1"),
            layers.MaxPooling2D((2, 2), name="pool1"),
            layers.Flatten(name="flatten"),
            QDense(24, kernel_quantizer=weights, bias_quantizer=weights, name="fc1"),
            QActivation(quantized_relu(8, 3), name="relu2"),
            QDense(n_classes, kernel_quantizer=weights, bias_quantizer=weights, name="logits"),
            layers.Activation("softmax", name="softmax"),
        ],
        name="cnn_digits",
    )


RECIPE = Recipe(
    name="cnn_digits",
    description="QKeras CNN (QConv2D 8x3x3, maxpool, QDense 24) on sklearn digits 8x8",
    family="cnn",
    builder=build_cnn,
    dataset=digits_images,
    training=TrainingSettings(epochs=30, batch_size=32, learning_rate=3e-3, seed=7),
    hls=HLSDefaults(io_type="io_parallel", strategy="Latency", reuse_factor=1),
)
