"""Stage ``train``: quantization-aware training of a zoo recipe, and its export.

An export folder holds ``model.h5`` (QKeras layers included), ``data.npz`` (the test
split and a calibration slice of the training split, with labels), ``history.json``
(training curves) and ``metadata.json`` (recipe, settings, accuracy, versions).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from fpga_flow.model_io import load_keras_model
from fpga_flow.rundir import write_json_atomic
from model_zoo import Recipe

CALIBRATION_SIZE = 400


@dataclass(frozen=True)
class TrainedModel:
    """Where an exported model lives and how well it did."""

    recipe: str
    export_dir: Path
    epochs: int
    seed: int
    test_accuracy: float
    train_seconds: float

    @property
    def model_path(self) -> Path:
        return self.export_dir / "model.h5"

    @property
    def data_path(self) -> Path:
        return self.export_dir / "data.npz"

    @property
    def history_path(self) -> Path:
        return self.export_dir / "history.json"

    def load_model(self):
        return load_keras_model(self.model_path)

    def load_data(self) -> dict[str, np.ndarray]:
        with np.load(self.data_path) as data:
            return {key: data[key] for key in data.files}

    def history(self) -> dict[str, list[float]]:
        return json.loads(self.history_path.read_text())


def _seed_everything(seed: int) -> None:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train_recipe(
    recipe: Recipe,
    out_dir: str | Path,
    epochs: int | None = None,
    on_epoch: Callable[[int, int, dict], None] | None = None,
) -> TrainedModel:
    """Train ``recipe`` with QAT and export it to ``out_dir`` (written last: metadata.json)."""
    import tensorflow as tf

    settings = recipe.training
    epochs = settings.epochs if epochs is None else int(epochs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metadata.json").unlink(missing_ok=True)

    _seed_everything(settings.seed)
    data = recipe.dataset(settings.seed)
    model = recipe.builder(data.input_shape, data.n_classes)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(settings.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = []
    if on_epoch is not None:
        callbacks.append(
            tf.keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: on_epoch(epoch + 1, epochs, logs or {}))
        )
    start = time.perf_counter()
    fit = model.fit(
        data.X_train,
        data.y_train,
        epochs=epochs,
        batch_size=settings.batch_size,
        validation_split=settings.validation_fraction,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )
    train_seconds = time.perf_counter() - start
    _, test_accuracy = model.evaluate(data.X_test, data.y_test, verbose=0)

    model.save(out_dir / "model.h5")
    calib = min(CALIBRATION_SIZE, len(data.X_train))
    np.savez_compressed(
        out_dir / "data.npz",
        X=data.X_test,
        y=data.y_test,
        X_calib=data.X_train[:calib],
        y_calib=data.y_train[:calib],
    )
    architecture = architecture_digest(model)
    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    write_json_atomic(out_dir / "history.json", history)
    trained = TrainedModel(recipe.name, out_dir, epochs, settings.seed, float(test_accuracy), train_seconds)
    write_json_atomic(
        out_dir / "metadata.json",
        {
            "recipe": recipe.describe(),
            "epochs": epochs,
            "seed": settings.seed,
            "test_accuracy": float(test_accuracy),
            "train_seconds": train_seconds,
            "n_train": int(len(data.X_train)),
            "n_test": int(len(data.X_test)),
            "n_calibration": int(calib),
            "class_names": list(data.class_names),
            "architecture_sha256": architecture,
            "versions": {"tensorflow": tf.__version__},
        },
    )
    return trained


def load_trained(export_dir: str | Path) -> TrainedModel | None:
    """A finished export (metadata.json present), or None."""
    export_dir = Path(export_dir)
    meta_path = export_dir / "metadata.json"
    if not meta_path.is_file() or not (export_dir / "model.h5").is_file():
        return None
    meta = json.loads(meta_path.read_text())
    return TrainedModel(
        meta["recipe"]["name"], export_dir, meta["epochs"], meta["seed"], meta["test_accuracy"], meta["train_seconds"]
    )


def trained_or_train(recipe: Recipe, zoo_dir: str | Path, epochs: int | None = None, **kwargs) -> TrainedModel:
    """Reuse the export in ``zoo_dir/<recipe>`` when it was trained with the same
    recipe and epochs; otherwise train it."""
    export_dir = Path(zoo_dir) / recipe.name
    epochs = recipe.training.epochs if epochs is None else int(epochs)
    existing = load_trained(export_dir)
    if existing is not None:
        meta = json.loads((export_dir / "metadata.json").read_text())
        same_recipe = meta["recipe"] == json.loads(json.dumps(recipe.describe()))
        if existing.epochs == epochs and same_recipe and \
                meta.get("architecture_sha256") == _recipe_architecture(recipe, existing, meta):
            return existing
    return train_recipe(recipe, export_dir, epochs=epochs, **kwargs)



def architecture_digest(model) -> str:
    """A hash of the model's layer configuration (not its weights)."""
    import hashlib

    return hashlib.sha256(model.to_json(sort_keys=True).encode()).hexdigest()


def _recipe_architecture(recipe: Recipe, export: TrainedModel, meta: dict) -> str:
    """The digest of the model the recipe's builder makes today for the export's input
    shape and classes: an export made by an older builder is retrained, not reused.

    The shape is the export's own (its test split), not the dataset's: loading the
    dataset imports scikit-learn, which costs more than a whole ``fpga-flow estimate``.
    Building the model costs little more than loading the export does, as TensorFlow
    converts each layer class's ``call`` once per process and the load reuses it."""
    with np.load(export.data_path) as data:
        input_shape = tuple(data["X"].shape[1:])
    return architecture_digest(recipe.builder(input_shape, len(meta["class_names"])))
