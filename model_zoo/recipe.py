"""What a model recipe declares: how to build the model, on which data, trained how,
and the HLS settings it is deployed with by default."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """A labelled split; ``X_calib`` is a slice of the training data that the
    precision closure tunes on, so the test split stays unseen by every search."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.X_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 3e-3
    seed: int = 7
    validation_fraction: float = 0.1


@dataclass(frozen=True)
class HLSDefaults:
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    default_precision: str = "ap_fixed<16,6>"


@dataclass(frozen=True)
class Recipe:
    """A zoo entry. ``builder(input_shape, n_classes)`` returns an uncompiled
    tf.keras model; ``dataset(seed)`` returns the fixed split."""

    name: str
    description: str
    family: str  # cnn | rnn | attention | mlp
    builder: Callable[[tuple[int, ...], int], object]
    dataset: Callable[[int], Dataset]
    training: TrainingSettings = field(default_factory=TrainingSettings)
    hls: HLSDefaults = field(default_factory=HLSDefaults)

    def describe(self) -> dict:
        """Printable declaration (the callables by their qualified names)."""
        return {
            "name": self.name,
            "description": self.description,
            "family": self.family,
            "builder": f"{self.builder.__module__}.{self.builder.__qualname__}",
            "dataset": f"{self.dataset.__module__}.{self.dataset.__qualname__}",
            "training": asdict(self.training),
            "hls": asdict(self.hls),
        }
