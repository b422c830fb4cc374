"""fpga-flow: quantization-aware networks to board-targeted, C-simulation-checked HLS projects."""

__version__ = "0.1.0"
