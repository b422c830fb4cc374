"""QLSTM on locally generated 1-D signals (sine, square, sawtooth, chirp, noise burst)."""

from model_zoo.datasets import synthetic_signals
from model_zoo.recipe import HLSDefaults, Recipe, TrainingSettings
from model_zoo.recurrent import build_qrnn

RECIPE = Recipe(
    name="lstm_signals",
    description="QLSTM(12) over 24-step synthetic signals, five shapes, QDense softmax",
    family="rnn",
    builder=build_qrnn("lstm", 12),
    dataset=synthetic_signals,
    training=TrainingSettings(epochs=25, batch_size=32, learning_rate=5e-3, seed=7),
    hls=HLSDefaults(io_type="io_parallel", strategy="Latency", reuse_factor=1),
)
