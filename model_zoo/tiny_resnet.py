"""A QKeras ResNet-8 in the shape of MLPerf Tiny's image-classification reference
(``resnet_v1_eembc``: 32x32x3 input, a 3x3 stem, three stacks of two 3x3 convolutions with
a skip connection -- the second and third stride 2 with a 1x1 projection shortcut --,
average pooling and a dense classifier), with 8-bit weights and activations.

Convolutions are ``QConv2DBatchnorm``, which hls4ml 1.3.0 folds into one convolution
(``Conv2DBatchnorm``: no separate normalization layer in the design). Trained on
:func:`model_zoo.datasets.coloured_digits` (made locally, no download).

Shortcuts and pooling: the projection shortcuts are plain ``QConv2D`` (hls4ml 1.3.0 turns
a 1x1 ``Conv2D`` into a pointwise convolution, correct with stride 2 in io_stream and
emulated; a folded 1x1 ``Conv2DBatchnorm`` goes through its line buffer's 1-D path and
wrote extra pixels: C-simulation agreement 0.495), and the classifier pools globally.

Width (``FILTERS``, ``STEM_STRIDE``): the reference's 16/32/64 filters with a stride-1 stem
do not fit the PYNQ-Z2 by estimate (least-peak plan LUT 223% with a stride-2 stem, 280%
without, after fpga_flow.stream_depths took the stream FIFOs out of BRAM): its 3x3 line
buffers and the per-layer stream glue (zero padding, ReLU, clones, adds) grow with the
channels. Like hls4ml's own MLPerf Tiny submission for the PYNQ-Z2, which shrank the
ResNet, the recipe keeps the shape (32x32x3 input, a 3x3 stem, three stacks of two 3x3
convolutions with skips, 8 bits) at 4/8/16 filters with a stride-2 stem: least-peak LUT
at 4/8/16 and stride 1 was 90%, at 8/16/32 and stride 2 124%, at 4/8/16 and stride 2
the fastest plan within 80% is LUT 79.8%, BRAM 11.8% (``fpga_flow.fit``). Built by default
(trained, cold): PASSED in 150 s, agreement 0.995 with Keras, LUT 79.9%, BRAM 74.6% (the fit
took hls4ml's FIFO depths), 254 us (docs/zoo.md)."""

from __future__ import annotations

from model_zoo.datasets import coloured_digits
from model_zoo.recipe import HLSDefaults, Recipe, TrainingSettings

FILTERS = (4, 8, 16)
STEM_STRIDE = 2
BITS = 8


def build_tiny_resnet(input_shape: tuple[int, ...], n_classes: int, filters: tuple[int, int, int] = FILTERS,
                      stem_stride: int = STEM_STRIDE):
    from qkeras import QActivation, QConv2D, QConv2DBatchnorm, QDense, quantized_bits, quantized_relu
    from tensorflow.keras import layers, models

    weights = quantized_bits(BITS, 0, alpha=1)
    relu = quantized_relu(BITS, 3)

    def conv(x, n: int, kernel: int, stride: int, name: str):
        return QConv2DBatchnorm(n, kernel, strides=stride, padding="same", kernel_quantizer=weights,
                                bias_quantizer=weights, name=name)(x)

    inputs = layers.Input(shape=input_shape, name="image")
    x = QActivation(relu, name="stem_relu")(conv(inputs, filters[0], 3, stem_stride, "stem"))
    for stack, n in enumerate(filters, start=1):
        stride = 1 if stack == 1 else 2
        y = QActivation(relu, name=f"s{stack}_relu1")(conv(x, n, 3, stride, f"s{stack}_conv1"))
        y = conv(y, n, 3, 1, f"s{stack}_conv2")
        # The projection shortcut is a plain QConv2D: hls4ml 1.3.0 turns a 1x1 Conv2D into a
        # pointwise convolution (correct with stride 2 in io_stream), while a folded 1x1
        # Conv2DBatchnorm goes through its line buffer's 1-D path and writes extra pixels.
        shortcut = x if stack == 1 else QConv2D(n, 1, strides=stride, padding="same", kernel_quantizer=weights,
                                                 bias_quantizer=weights, name=f"s{stack}_shortcut")(x)
        x = QActivation(relu, name=f"s{stack}_relu2")(layers.Add(name=f"s{stack}_add")([y, shortcut]))
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = QDense(n_classes, kernel_quantizer=weights, bias_quantizer=weights, name="logits")(x)
    outputs = layers.Activation("softmax", name="softmax")(x)
    return models.Model(inputs, outputs, name="tiny_resnet")


RECIPE = Recipe(
    name="tiny_resnet",
    description="QKeras ResNet-8 (MLPerf Tiny image classification shape: 32x32x3, 3 stacks with skips, 8-bit) "
                "on locally made coloured digits",
    family="cnn",
    builder=build_tiny_resnet,
    dataset=coloured_digits,
    training=TrainingSettings(epochs=30, batch_size=32, learning_rate=3e-3, seed=7),
    hls=HLSDefaults(io_type="io_stream", strategy="Latency", reuse_factor=1),
)
