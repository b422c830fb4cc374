"""hls4ml's jet-tagging MLP size: QDense 16 -> 64 -> 32 -> 32 -> 5 with quantized ReLUs,
on locally made jet-substructure-like features (model_zoo.datasets.jet_features)."""

from __future__ import annotations

from model_zoo.datasets import jet_features
from model_zoo.recipe import HLSDefaults, Recipe, TrainingSettings


def build_jet_mlp(input_shape: tuple[int, ...], n_classes: int):
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow.keras import layers, models

    weights = quantized_bits(6, 0, alpha=1)
    # not "features": hls4ml's VivadoAccelerator writer replaces the input's name in every testbench line
    # that holds it (vivado_accelerator_writer.py), "tb_input_features.dat" included
    stack = [layers.Input(shape=input_shape, name="jets")]
    for index, width in enumerate((64, 32, 32), start=1):
        stack += [QDense(width, kernel_quantizer=weights, bias_quantizer=weights, name=f"fc{index}"),
                  QActivation(quantized_relu(8, 3), name=f"relu{index}")]
    stack += [QDense(n_classes, kernel_quantizer=weights, bias_quantizer=weights, name="logits"),
              layers.Activation("softmax", name="softmax")]
    return models.Sequential(stack, name="jet_mlp")


RECIPE = Recipe(
    name="jet_mlp",
    description="QKeras MLP 16-64-32-32-5 (hls4ml's jet-tagging size) on locally made jet features",
    family="mlp",
    builder=build_jet_mlp,
    dataset=jet_features,
    training=TrainingSettings(epochs=15, batch_size=64, learning_rate=3e-3, seed=7),
    hls=HLSDefaults(io_type="io_parallel", strategy="Latency", reuse_factor=1),
)
