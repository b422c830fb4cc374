"""How closely the C-simulated hardware computes what the trained model computes."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Fidelity(BaseModel):
    """C-simulation outputs against Keras outputs (and the true labels, when known)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agreement: float = Field(description="fraction of samples whose decision (argmax) matches Keras")
    max_abs_error: float
    mean_abs_error: float
    keras_accuracy: float | None = Field(description="None without labels")
    csim_accuracy: float | None = Field(description="None without labels")
    n_samples: int


def _decisions(outputs: np.ndarray) -> np.ndarray:
    outputs = np.asarray(outputs).reshape(len(outputs), -1)
    # A single output is a binary score: the decision is its side of 0.5.
    return (outputs[:, 0] > 0.5).astype(int) if outputs.shape[1] == 1 else outputs.argmax(axis=1)


def compare(keras_out: np.ndarray, csim_out: np.ndarray, labels: np.ndarray | None = None) -> Fidelity:
    keras_out = np.asarray(keras_out, dtype=np.float64).reshape(len(keras_out), -1)
    csim_out = np.asarray(csim_out, dtype=np.float64).reshape(len(csim_out), -1)
    keras_dec, csim_dec = _decisions(keras_out), _decisions(csim_out)
    err = np.abs(keras_out - csim_out)
    keras_acc = csim_acc = None
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        keras_acc = float((keras_dec == labels).mean())
        csim_acc = float((csim_dec == labels).mean())
    return Fidelity(
        agreement=float((keras_dec == csim_dec).mean()),
        max_abs_error=float(err.max()),
        mean_abs_error=float(err.mean()),
        keras_accuracy=keras_acc,
        csim_accuracy=csim_acc,
        n_samples=int(len(keras_out)),
    )


def confusion(keras_out: np.ndarray, csim_out: np.ndarray) -> list[list[int]]:
    """Counts of (Keras decision, C-sim decision)."""
    keras_dec, csim_dec = _decisions(keras_out), _decisions(csim_out)
    n = int(max(keras_dec.max(), csim_dec.max()) + 1)
    n = max(n, np.asarray(keras_out).reshape(len(keras_out), -1).shape[1])
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (keras_dec, csim_dec), 1)
    return matrix.tolist()


def layer_errors(keras_outputs: dict[str, np.ndarray], traces: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean absolute error of each traced layer relative to the layer's mean magnitude."""
    errors = {}
    for name, traced in traces.items():
        reference = keras_outputs.get(name)
        if reference is None or reference.size != traced.size:
            continue
        reference = reference.reshape(traced.shape)
        scale = float(np.abs(reference).mean()) + 1e-6
        errors[name] = float(np.abs(traced - reference).mean() / scale)
    return errors
