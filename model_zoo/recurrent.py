"""QKeras recurrent classifiers: one QLSTM or QGRU layer, then a QDense softmax head.

The activations are the ones hls4ml 1.3.0 converts for QKeras recurrent layers: float
``tanh`` and ``sigmoid``, computed in HLS by lookup tables (hard activations and
``quantized_tanh`` without ``use_real_tanh`` are refused by hls4ml). No
``state_quantizer``: see fpga_flow.compat for why.
"""

from __future__ import annotations


def _weights():
    from qkeras import quantized_bits

    return quantized_bits(8, 0, alpha=1)


def build_qrnn(cell: str, units: int):
    def build(input_shape: tuple[int, ...], n_classes: int):
        from qkeras import QGRU, QLSTM, QDense
        from tensorflow.keras import layers, models

        from fpga_flow.compat import patch_qkeras_for_tensorflow

        patch_qkeras_for_tensorflow()

        layer = {"lstm": QLSTM, "gru": QGRU}[cell]
        # QKeras's QGRU defaults to reset_after=False, which hls4ml 1.3.0 converts into
        # a different function (10% agreement); Keras's own default, True, converts right.
        extra = {"reset_after": True} if cell == "gru" else {}
        q = _weights()
        return models.Sequential(
            [
                layers.Input(shape=input_shape, name="sequence"),
                layer(units, activation="tanh", recurrent_activation="sigmoid", kernel_quantizer=q,
                      recurrent_quantizer=q, bias_quantizer=q, name=cell, **extra),
                QDense(n_classes, kernel_quantizer=q, bias_quantizer=q, name="logits"),
                layers.Activation("softmax", name="softmax"),
            ],
            name=f"q{cell}",
        )

    build.__qualname__ = f"build_q{cell}_{units}"
    return build
