"""A zoo export is reused while the recipe's builder makes the same architecture, and
retrained once the builder changes (checked from the export's own input shape, without
loading the recipe's dataset)."""

from __future__ import annotations

import numpy as np
import pytest

from model_zoo import Dataset, Recipe, TrainingSettings


def _tiny_data(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (24, 3)).astype(np.float32)
    y = (X.sum(axis=1) > 1.5).astype(np.int64)
    return Dataset(X[:16], y[:16], X[16:], y[16:], ("low", "high"))


def _builder(units: int):
    def build(input_shape, n_classes):
        from tensorflow.keras import layers, models

        # Every name given, as the zoo's builders do: Keras numbers unnamed ones per process.
        return models.Sequential([layers.Input(shape=input_shape, name="x"), layers.Dense(units, name="hidden"),
                                  layers.Dense(n_classes, activation="softmax", name="out")], name="tiny")
    build.__qualname__ = "build"  # one recipe description for both builders: only the architecture differs
    return build


def _recipe(units: int, loads: list[int]) -> Recipe:
    def dataset(seed: int) -> Dataset:
        loads.append(seed)
        return _tiny_data(seed)
    dataset.__qualname__ = "dataset"
    return Recipe(name="tiny", description="two dense layers", family="cnn", builder=_builder(units), dataset=dataset,
                  training=TrainingSettings(epochs=1, batch_size=8, seed=3))


@pytest.mark.slow
def test_export_reused_until_the_builder_changes(tmp_path):
    from fpga_flow.train import trained_or_train

    loads: list[int] = []
    first = trained_or_train(_recipe(4, loads), tmp_path)
    assert loads == [3]  # trained: the dataset was loaded once
    again = trained_or_train(_recipe(4, loads), tmp_path)
    assert loads == [3], "reusing the export loaded the dataset"
    assert again.train_seconds == first.train_seconds  # the same export, read back
    changed = trained_or_train(_recipe(5, loads), tmp_path)
    assert loads == [3, 3], "a changed builder did not retrain"
    assert changed.train_seconds != first.train_seconds
