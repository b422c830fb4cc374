"""QGRU on scikit-learn digits read row by row: 8 time steps of 8 features."""

from model_zoo.datasets import digits_rows
from model_zoo.recipe import HLSDefaults, Recipe, TrainingSettings
from model_zoo.recurrent import build_qrnn

RECIPE = Recipe(
    name="gru_digits",
    description="QGRU(16) over digit rows (8 steps x 8 features), QDense softmax",
    family="rnn",
    builder=build_qrnn("gru", 16),
    dataset=digits_rows,
    training=TrainingSettings(epochs=40, batch_size=32, learning_rate=5e-3, seed=7),
    hls=HLSDefaults(io_type="io_parallel", strategy="Latency", reuse_factor=1),
)
