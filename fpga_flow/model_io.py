"""Loading Keras/QKeras models in the forms users bring them: a whole-model ``.h5`` or
``.keras`` file, or a Keras v2 architecture ``.json`` with a weights ``.h5``."""

from __future__ import annotations

import contextlib
import json
import re
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from fpga_flow.compat import check_saved_config, patch_qkeras_for_tensorflow
from fpga_flow.errors import ModelLoadError, UserInputError

MODEL_SUFFIXES = (".h5", ".keras", ".json")
# fpga-flow's own Keras layers; each module offers custom_objects().
EXTENSION_MODULES = tuple(
    name for name in ("fpga_flow.attention",) if find_spec(name.rpartition(".")[0]) and find_spec(name)
)


def is_model_file(reference: str | Path) -> bool:
    """Whether a model reference (``fpga-flow build MODEL``) names a file rather than a
    zoo recipe: it has a model file's suffix, or it exists on disk."""
    path = Path(reference)
    return path.suffix in MODEL_SUFFIXES or path.exists()


def custom_objects() -> dict:
    """QKeras layers and quantizers, plus fpga-flow's own layers, for deserialization."""
    from qkeras.utils import _add_supported_quantized_objects


    patch_qkeras_for_tensorflow()
    objects: dict = {}
    _add_supported_quantized_objects(objects)
    for module in EXTENSION_MODULES:
        objects.update(import_module(module).custom_objects())
    return objects


@contextlib.contextmanager
def without_autograph():
    """Build Keras models without autograph converting each QKeras layer's ``call``.

    Keras converts a subclassed layer's ``call`` (every QKeras layer's) to graph code
    the first time it builds a model symbolically: about 2 s of CPU per process for a
    small QKeras model, although those calls branch only on Python values, so the model
    is the same (zoo recipes' layer outputs compared bit for bit in the tests). A
    traced ``tf.function`` (Keras ``predict``) still converts, so this saves the time
    only where nothing is traced: ``fpga-flow estimate``. TensorFlow 2.14 has no public
    switch: Keras (``keras.src.engine.base_layer``) passes autograph's control status
    to ``tf_convert``, and a DISABLED status leaves ``call`` unconverted."""
    from tensorflow.python.autograph.core import ag_ctx

    with ag_ctx.ControlStatusCtx(status=ag_ctx.Status.DISABLED):
        yield


def load_keras_model(path: str | Path, weights: str | Path | None = None):
    """Load a model; every failure is a one-line ModelLoadError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} not found: give a .h5, .keras or .json (with --weights) file")
    if path.suffix not in MODEL_SUFFIXES:
        raise ModelLoadError(f"{path}: unknown model format '{path.suffix}': use .h5, .keras, or .json with --weights")
    _check_saved_architecture(path)
    import tensorflow as tf

    objects = custom_objects()
    try:
        if path.suffix == ".json":
            if weights is None:
                raise ModelLoadError(f"{path} holds only an architecture: give its weights with --weights FILE.h5")
            weights = Path(weights)
            if not weights.is_file():
                raise ModelLoadError(f"weights file {weights} not found")
            model = tf.keras.models.model_from_json(path.read_text(encoding="utf-8"), custom_objects=objects)
            model.load_weights(str(weights))
        else:
            model = tf.keras.models.load_model(str(path), custom_objects=objects, compile=False)
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError, AttributeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        unknown = re.search(r"Unknown (?:layer|object)\W+(\w+)", reason)
        if unknown:
            raise ModelLoadError(
                f"{path}: uses the layer '{unknown.group(1)}', which neither Keras, QKeras nor fpga-flow defines; "
                "rebuild the model from standard Keras/QKeras layers to convert it"
            ) from None
        raise ModelLoadError(f"{path}: cannot load as a Keras/QKeras model ({reason[:200]})") from None
    return model


def _check_saved_architecture(path: Path) -> None:
    """Refuse what hls4ml cannot convert from the saved architecture, before loading."""
    try:
        if path.suffix == ".json":
            text = path.read_text(encoding="utf-8")
        elif path.suffix == ".h5":
            import h5py

            with h5py.File(path, "r") as handle:
                text = handle.attrs.get("model_config")
        else:
            return
        config = json.loads(text) if text else None
    except (OSError, ValueError, UnicodeDecodeError):
        return  # unreadable here: the loader below names the problem
    if isinstance(config, dict):
        check_saved_config(config)


def load_test_data(path: str | Path, input_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays ``X`` (and optionally ``y``) from an ``.npz``, checked against the model's input shape."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"test data {path} not found: give an .npz file with array X (and optionally y)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise UserInputError(f"{path}: not a readable .npz file ({str(exc)[:120]})") from None
    if "X" not in arrays:
        raise UserInputError(f"{path}: no array named 'X' (found: {', '.join(arrays) or 'none'}); save with np.savez(f, X=..., y=...)")
    X = arrays["X"].astype(np.float32)
    if tuple(X.shape[1:]) != tuple(input_shape):
        raise UserInputError(
            f"{path}: X has sample shape {tuple(X.shape[1:])} but the model expects {tuple(input_shape)}; "
            f"reshape X to (N, {', '.join(map(str, input_shape))})"
        )
    if len(X) == 0:
        raise UserInputError(f"{path}: X holds no samples")
    y = arrays.get("y")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 2:
            y = y.argmax(axis=1)
        if len(y) != len(X):
            raise UserInputError(f"{path}: y has {len(y)} labels for {len(X)} samples in X")
    return X, y


def model_input_shape(model) -> tuple[int, ...]:
    shape = model.input_shape
    if isinstance(shape, list):
        raise UserInputError("models with several inputs are not supported yet: give a single-input model")
    return tuple(int(d) for d in shape[1:])
