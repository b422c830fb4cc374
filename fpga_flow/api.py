"""The public Python API: what the notebooks and scripts call, one function per door.

    from fpga_flow import api
    trained = api.train("cnn_digits", epochs=30)
    summary = api.build("cnn_digits", board="pynq-z2")
    page = api.dashboard(["reports/runs"], "reports/dashboard")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from fpga_flow.train import TrainedModel


def recipes() -> dict:
    """Zoo recipes by name."""
    from model_zoo import recipes as zoo_recipes

    return zoo_recipes()


def boards(boards_dir: str | Path | None = None) -> dict:
    """The board catalogue by name."""
    from fpga_flow.boards import load_boards

    return load_boards(boards_dir)


def train(recipe: str, epochs: int | None = None, reports_dir: str | Path = "reports",
          on_epoch: Callable[[int, int, dict], None] | None = None) -> TrainedModel:
    """Quantization-aware training of a zoo recipe, exported to ``reports_dir/zoo/<recipe>``."""
    from fpga_flow.train import train_recipe
    from model_zoo import get_recipe

    chosen = get_recipe(recipe)
    return train_recipe(chosen, Path(reports_dir) / "zoo" / chosen.name, epochs=epochs, on_epoch=on_epoch)


def train_float_baseline(recipe: str, epochs: int | None = None):
    """The recipe's architecture with every QKeras quantizer removed, trained the same
    way: returns ``(model, history, test_accuracy)`` to compare QAT against."""
    import tensorflow as tf

    from fpga_flow.train import _seed_everything
    from model_zoo import get_recipe

    chosen = get_recipe(recipe)
    settings = chosen.training
    _seed_everything(settings.seed)
    data = chosen.dataset(settings.seed)
    quantized = chosen.builder(data.input_shape, data.n_classes)
    model = _dequantized(quantized)
    model.compile(optimizer=tf.keras.optimizers.Adam(settings.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit = model.fit(data.X_train, data.y_train, epochs=epochs or settings.epochs, batch_size=settings.batch_size,
                    validation_split=settings.validation_fraction, verbose=0)
    _, accuracy = model.evaluate(data.X_test, data.y_test, verbose=0)
    return model, {k: [float(v) for v in vals] for k, vals in fit.history.items()}, float(accuracy)


def _dequantized(model):
    """A float copy of a QKeras model: Q-layers become their Keras parents, quantized
    activations become ReLU/tanh/linear."""
    import tensorflow as tf

    plain = {"QDense": "Dense", "QConv2D": "Conv2D", "QConv1D": "Conv1D", "QLSTM": "LSTM", "QGRU": "GRU",
             "QSimpleRNN": "SimpleRNN"}
    config = model.get_config()
    for layer in config["layers"]:
        cls, cfg = layer["class_name"], layer["config"]
        if cls in plain:
            layer["class_name"] = plain[cls]
            for key in [k for k in cfg if k.endswith("_quantizer") or k.endswith("_range")]:
                cfg.pop(key)
            # QKeras wraps initializers and adds clipping constraints for the quantizer's range.
            for key in [k for k in cfg if k.endswith("_initializer") and isinstance(cfg[k], dict)]:
                if cfg[key].get("class_name") == "QInitializer":
                    cfg[key] = cfg[key]["config"]["initializer"]
            for key in [k for k in cfg if k.endswith("_constraint") and isinstance(cfg[k], dict)]:
                if cfg[key].get("class_name") == "Clip":
                    cfg[key] = None
            for key in ("activation", "recurrent_activation"):
                if isinstance(cfg.get(key), dict):
                    cfg[key] = "tanh" if "tanh" in cfg[key].get("class_name", "") else "linear"
        elif cls == "QMultiHeadSelfAttention":
            for key in [k for k in cfg if k.endswith("_quantizer")]:
                cfg[key] = None
        elif cls == "QActivation":
            activation = cfg.get("activation")
            name = activation if isinstance(activation, str) else activation.get("class_name", "")
            layer["class_name"] = "Activation"
            layer["config"] = {"name": cfg["name"], "activation": "relu" if "relu" in str(name) else "tanh"
                               if "tanh" in str(name) else "linear"}
    from fpga_flow.model_io import custom_objects

    with tf.keras.utils.custom_object_scope(custom_objects()):
        if isinstance(model, tf.keras.Sequential):
            return tf.keras.Sequential.from_config(config)
        return tf.keras.Model.from_config(config)


def build(model: str, board: str, **options: Any) -> dict[str, Any]:
    """Run ``fpga-flow build`` from Python; options are BuildConfig fields
    (io_type, strategy, reuse_factor, precision_policy, epochs, reports_dir, out, ...).
    Returns the summary (also in ``<run dir>/summary.json``)."""
    from fpga_flow.build import BuildConfig, run_build

    return run_build(BuildConfig(model=model, board=board, **options))


def dashboard(paths: Iterable[str | Path], out_dir: str | Path = "reports/dashboard") -> Path:
    """One HTML page over the runs found under ``paths``; returns its path."""
    from fpga_flow.dashboard import collect_runs, write_dashboard

    summaries, warnings = collect_runs([Path(p) for p in paths])
    return write_dashboard(summaries, out_dir, warnings=warnings)


def parse_reports(path: str | Path) -> list[dict[str, Any]]:
    """Every vendor report under ``path`` merged per project, as dictionaries."""
    from fpga_flow.reports import collect

    found = collect([Path(path)])
    return [{"project": str(root), **report.to_dict()} for root, report in found.builds]
