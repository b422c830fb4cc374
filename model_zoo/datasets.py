"""Datasets that ship with installed packages or are generated locally (no downloads)."""

from __future__ import annotations

import numpy as np

from model_zoo.recipe import Dataset

DIGIT_CLASSES = tuple(str(d) for d in range(10))


# scikit-learn is imported by the functions that load data, not with the module: importing
# it costs more than a whole 'fpga-flow estimate', which looks recipes up but loads no data.


def _split(X: np.ndarray, y: np.ndarray, seed: int,
           test_size: float | int = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified train/test split (75/25 unless told)."""
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)


def _digits_split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Pixel values are 0..16; scaling to [0, 1] keeps inputs exactly representable
    # in a few fractional bits of ap_fixed.
    X = (digits.images / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return _split(X, y, seed)


def digits_images(seed: int = 7) -> Dataset:
    """scikit-learn digits as 8x8x1 images."""
    X_train, X_test, y_train, y_test = _digits_split(seed)
    return Dataset(X_train[..., None], y_train, X_test[..., None], y_test, DIGIT_CLASSES)


def digits_rows(seed: int = 7) -> Dataset:
    """scikit-learn digits as sequences: 8 time steps (rows) of 8 features."""
    X_train, X_test, y_train, y_test = _digits_split(seed)
    return Dataset(X_train, y_train, X_test, y_test, DIGIT_CLASSES)


SIGNAL_CLASSES = ("sine", "square", "sawtooth", "chirp", "noise_burst")


def synthetic_signals(seed: int = 7, n_per_class: int = 400, length: int = 24) -> Dataset:
    """Procedurally generated 1-D signals, five shapes with random frequency, phase,
    amplitude and additive noise: (N, length, 1), classes balanced, made locally."""
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    signals, labels = [], []
    for label, shape in enumerate(SIGNAL_CLASSES):
        for _ in range(n_per_class):
            freq = rng.uniform(0.04, 0.15)
            phase = rng.uniform(0, 2 * np.pi)
            amp = rng.uniform(0.5, 1.0)
            if shape == "sine":
                x = np.sin(2 * np.pi * freq * t + phase)
            elif shape == "square":
                x = np.sign(np.sin(2 * np.pi * freq * t + phase))
            elif shape == "sawtooth":
                x = 2 * ((freq * t + phase / (2 * np.pi)) % 1.0) - 1
            elif shape == "chirp":
                x = np.sin(2 * np.pi * (freq * 0.3 + 0.01 * t) * t + phase)
            else:
                x = np.zeros(length)
                start = rng.integers(0, length - 6)
                x[start:start + 6] = rng.standard_normal(6) * 1.5
            signals.append(amp * x + rng.normal(0, 0.1, length))
            labels.append(label)
    X = np.asarray(signals, dtype=np.float32)[..., None]
    y = np.asarray(labels, dtype=np.int64)
    X_train, X_test, y_train, y_test = _split(X, y, seed)
    return Dataset(X_train, y_train, X_test, y_test, SIGNAL_CLASSES)


PULSE_CLASSES = ("track", "shower", "two_tracks", "noise")
PULSE_PLANES = 7
PULSE_SAMPLES = 100


def _pulse(t: np.ndarray, start: float, amplitude: float, shaping: float) -> np.ndarray:
    """A CR-RC shaped detector pulse: amplitude * (u) * exp(1 - u) for u = (t - start) / shaping >= 0."""
    u = np.clip((t - start) / shaping, 0.0, None)
    return amplitude * u * np.exp(1.0 - u)


def detector_pulses(seed: int = 7, n_per_class: int = 600) -> Dataset:
    """Digitized pulses of 7 detector planes over 100 time samples, (N, 100, 7), made
    locally: a particle crossing the planes leaves a shaped pulse in each, delayed plane
    to plane by its angle. Classes: a single track (similar amplitudes in every plane), an
    electromagnetic shower (amplitudes rise and fall with depth, wider pulses), two tracks
    at different times, and noise with a few isolated hits. Baseline noise everywhere."""
    rng = np.random.default_rng(seed)
    t = np.arange(PULSE_SAMPLES, dtype=np.float64)[:, None]
    planes = np.arange(PULSE_PLANES, dtype=np.float64)[None, :]
    events, labels = [], []
    for label, kind in enumerate(PULSE_CLASSES):
        for _ in range(n_per_class):
            x = rng.normal(0.0, 0.05, size=(PULSE_SAMPLES, PULSE_PLANES))
            if kind in ("track", "two_tracks"):
                for _track in range(1 if kind == "track" else 2):
                    start = rng.uniform(5, 55) + planes * rng.uniform(-1.5, 3.0)
                    x += _pulse(t, start, rng.gamma(6.0, 0.12, size=(1, PULSE_PLANES)), rng.uniform(2.0, 3.0))
            elif kind == "shower":
                depth = rng.uniform(1.5, 4.5)
                profile = np.exp(-0.5 * ((planes - depth) / rng.uniform(1.0, 1.8)) ** 2) * rng.uniform(1.5, 3.0)
                start = rng.uniform(5, 55) + planes * rng.uniform(-0.5, 1.5)
                x += _pulse(t, start, profile, rng.uniform(3.5, 5.5))
            else:
                for _hit in range(rng.integers(1, 4)):
                    plane = rng.integers(0, PULSE_PLANES)
                    x[:, plane] += _pulse(t[:, 0], rng.uniform(5, 90), rng.gamma(6.0, 0.12), rng.uniform(2.0, 3.0))
            events.append(x)
            labels.append(label)
    X = np.asarray(events, dtype=np.float32)
    y = np.asarray(labels, dtype=np.int64)
    X_train, X_test, y_train, y_test = _split(X, y, seed)
    return Dataset(X_train, y_train, X_test, y_test, PULSE_CLASSES)


COLOURED_TEST = 200


def coloured_digits(seed: int = 7, size: int = 32, scale: int = 3) -> Dataset:
    """scikit-learn's digits as 32x32 RGB images, made locally: each 8x8 digit upscaled
    (``scale`` x ``scale`` blocks), placed at a random offset, painted in a random
    light colour over a random dark one, with pixel noise -- the shape of
    CIFAR-10 (32x32x3, ten classes) that MLPerf Tiny's image classification takes,
    without a download. Values in [0, 1], (N, 32, 32, 3)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    n = len(digits.images)
    glyph = np.kron(digits.images / 16.0, np.ones((scale, scale)))  # (N, 24, 24)
    side = glyph.shape[1]
    background = rng.uniform(0.0, 0.35, (n, 1, 1, 3))
    foreground = rng.uniform(0.6, 1.0, (n, 1, 1, 3))
    images = np.broadcast_to(background, (n, size, size, 3)).copy()
    for i, (dy, dx) in enumerate(rng.integers(0, size - side + 1, (n, 2))):
        alpha = glyph[i][..., None]
        window = images[i, dy:dy + side, dx:dx + side]
        images[i, dy:dy + side, dx:dx + side] = window * (1 - alpha) + foreground[i] * alpha
    images = np.clip(images + rng.normal(0.0, 0.04, images.shape), 0.0, 1.0).astype(np.float32)
    # 200 test images: C-simulating a ResNet-8 costs about a quarter of a CPU second per
    # image in each of the build's two C simulations
    X_train, X_test, y_train, y_test = _split(images, digits.target.astype(np.int64), seed, test_size=COLOURED_TEST)
    return Dataset(X_train, y_train, X_test, y_test, DIGIT_CLASSES)


JET_CLASSES = ("g", "q", "W", "Z", "t")
JET_FEATURES = 16


def jet_features(seed: int = 7, n_per_class: int = 1000) -> Dataset:
    """Sixteen high-level jet-substructure-like features for five jet classes (gluon,
    light quark, W, Z, top), the shape of hls4ml's jet-tagging benchmark, made locally:
    each class draws from a Gaussian with its own mean and correlations (W and Z close
    to each other, as in the real data), standardized. (N, 16)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (len(JET_CLASSES), JET_FEATURES))
    centres[3] = centres[2] + rng.normal(0.0, 0.35, JET_FEATURES)  # Z close to W
    features, labels = [], []
    for label, centre in enumerate(centres):
        mixing = rng.normal(0.0, 0.45, (JET_FEATURES, JET_FEATURES)) + np.eye(JET_FEATURES)
        features.append(centre + rng.standard_normal((n_per_class, JET_FEATURES)) @ mixing)
        labels.append(np.full(n_per_class, label))
    X = np.concatenate(features)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    X_train, X_test, y_train, y_test = _split(X, np.concatenate(labels).astype(np.int64), seed)
    return Dataset(X_train, y_train, X_test, y_test, JET_CLASSES)
