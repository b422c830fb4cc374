"""A HEP-sized 1-D CNN: three QConv1D layers over 100 time samples of 7 detector planes,
then QDense, classifying locally generated detector pulses (model_zoo.datasets)."""

from __future__ import annotations

from model_zoo.datasets import detector_pulses
from model_zoo.recipe import HLSDefaults, Recipe, TrainingSettings


def build_conv1d(input_shape: tuple[int, ...], n_classes: int):
    from qkeras import QActivation, QConv1D, QDense, quantized_bits, quantized_relu
    from tensorflow.keras import layers, models

    weights = quantized_bits(8, 0, alpha=1)
    relu = quantized_relu(8, 3)
    return models.Sequential(
        [
            layers.Input(shape=input_shape, name="pulses"),
            QConv1D(16, 5, kernel_quantizer=weights, bias_quantizer=weights, name="conv1"),
            QActivation(relu, name="relu1"),
            layers.MaxPooling1D(2, name="pool1"),
            QConv1D(16, 5, kernel_quantizer=weights, bias_quantizer=weights, name="conv2"),
            QActivation(relu, name="relu2"),
            layers.MaxPooling1D(2, name="pool2"),
            QConv1D(8, 3, kernel_quantizer=weights, bias_quantizer=weights, name="conv3"),
            QActivation(relu, name="relu3"),
            layers.Flatten(name="flatten"),
            QDense(32, kernel_quantizer=weights, bias_quantizer=weights, name="fc1"),
            QActivation(relu, name="relu4"),
            QDense(n_classes, kernel_quantizer=weights, bias_quantizer=weights, name="logits"),
            layers.Activation("softmax", name="softmax"),
        ],
        name="conv1d_pulses",
    )


RECIPE = Recipe(
    name="conv1d_pulses",
    description="3x QConv1D (16, 16, 8 filters) + pooling, QDense 32, over 100 samples x 7 detector planes",
    family="cnn",
    builder=build_conv1d,
    dataset=detector_pulses,
    training=TrainingSettings(epochs=20, batch_size=64, learning_rate=3e-3, seed=7),
    hls=HLSDefaults(io_type="io_parallel", strategy="Latency", reuse_factor=1),
)
