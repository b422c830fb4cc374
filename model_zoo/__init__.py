"""The model zoo: recipes by name. A recipe module exports ``RECIPE``; adding a model
is adding its module name here."""

from __future__ import annotations

import difflib
from importlib import import_module

from model_zoo.recipe import Dataset, HLSDefaults, Recipe, TrainingSettings

RECIPE_MODULES = (
    "cnn_digits",
    "lstm_digits",
    "gru_digits",
    "lstm_signals",
    "attention_digits",
    "conv1d_pulses",
    "mlp_tiny",
    "tiny_resnet",
    "jet_mlp",
)


def recipes() -> dict[str, Recipe]:
    """Every recipe, by name."""
    found = {}
    for module in RECIPE_MODULES:
        recipe = import_module(f"model_zoo.{module}").RECIPE
        found[recipe.name] = recipe
    return found


def get_recipe(name: str) -> Recipe:
    """One recipe; an unknown name suggests close ones."""
    from fpga_flow.errors import UserInputError

    known = recipes()
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(close)}?" if close else f"known recipes: {', '.join(sorted(known))}"
    raise UserInputError(f"unknown model '{name}': not a zoo recipe nor an existing file; {hint}")


__all__ = ["Dataset", "HLSDefaults", "Recipe", "TrainingSettings", "get_recipe", "recipes"]
