"""fpga-flow: quantization-aware networks to board-targeted, C-simulation-checked HLS projects."""

__version__ = "0.1.0"


def _register_extensions() -> None:
    # hls4ml learns fpga-flow's own layers (quantized attention) whenever fpga_flow is
    # imported; this imports hls4ml, not TensorFlow.
    from fpga_flow.attention.hls import register

    register()


_register_extensions()
