"""Datasets that ship with installed packages or are generated locally (no downloads)."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from model_zoo.recipe import Dataset

DIGIT_CLASSES = tuple(str(d) for d in range(10))


def _digits_split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    digits = load_digits()
    # Pixel values are 0..16; scaling to [0, 1] keeps inputs exactly representable
    # in a few fractional bits of ap_fixed.
    X = (digits.images / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)


def digits_images(seed: int = 7) -> Dataset:
    """scikit-learn digits as 8x8x1 images."""
    X_train, X_test, y_train, y_test = _digits_split(seed)
    return Dataset(X_train[..., None], y_train, X_test[..., None], y_test, DIGIT_CLASSES)


def digits_rows(seed: int = 7) -> Dataset:
    """scikit-learn digits as sequences: 8 time steps (rows) of 8 features."""
    X_train, X_test, y_train, y_test = _digits_split(seed)
    return Dataset(X_train, y_train, X_test, y_test, DIGIT_CLASSES)
