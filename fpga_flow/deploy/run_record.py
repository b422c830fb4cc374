"""The run deploy starts from: a finished, passed build, read through the summary schema
(:func:`fpga_flow.summary.read_summary`), plus the run files deploy needs beside it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fpga_flow import rundir
from fpga_flow.errors import UserInputError
from fpga_flow.summary import RunSummary, read_summary

# Written by the build's testbench step: the evaluation inputs, one sample per line,
# as float32 printed with %.9g (which round-trips float32 exactly).
EVALUATION_INPUTS = "tb_data/tb_input_features.dat"
HLS4ML_CONFIG = "hls4ml_config.yml"


@dataclass(frozen=True)
class PassedRun:
    """A passed build: its directory, its summary and the hls4ml configuration it chose."""

    run_dir: Path
    summary: RunSummary
    hls_config: dict[str, Any]

    @property
    def project_dir(self) -> Path:
        return self.run_dir / rundir.PROJECT_DIR


def read_run(run_dir: Path) -> PassedRun:
    """The run in ``run_dir``; anything but a finished, passed build is refused."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserInputError(f"run directory {run_dir} not found: give the folder 'fpga-flow build' wrote "
                             "(reports/runs/MODEL_BOARD_TIME)")
    if not rundir.is_complete(run_dir):
        raise UserInputError(f"{run_dir} is not a finished build (no {rundir.SUMMARY_NAME}, or an "
                             f"{rundir.INCOMPLETE_NAME} marker): run 'fpga-flow build' to the end first")
    summary = read_summary(run_dir)
    if summary.status != "passed":
        raise UserInputError(f"the build in {run_dir} did not pass (status {summary.status}): "
                             "deploy takes a passed build only; fix the build and run it again")
    hls_config = run_dir / rundir.HLS_CONFIG_NAME
    if not hls_config.is_file():
        raise UserInputError(f"{hls_config} is missing: the run directory is damaged; build again")
    return PassedRun(run_dir.resolve(), summary, json.loads(hls_config.read_text(encoding="utf-8")))


def evaluation_inputs(run: PassedRun, input_shape: tuple[int, ...]) -> np.ndarray:
    """The run's evaluation inputs (float32), shaped as the model takes them."""
    path = run.project_dir / EVALUATION_INPUTS
    if not path.is_file():
        raise UserInputError(f"{path} is missing: the run directory is damaged; build again")
    X = np.loadtxt(path, dtype=np.float64, ndmin=2).astype(np.float32)
    if len(X) != run.summary.data.n_eval:
        raise UserInputError(f"{path} holds {len(X)} samples but the run evaluated {run.summary.data.n_eval}: "
                             "build again")
    return X.reshape(len(X), *input_shape)


class _Hls4mlConfigLoader(yaml.SafeLoader):
    """hls4ml tags its Keras model entry (``!keras_model PATH``); those values are not needed here."""


_Hls4mlConfigLoader.add_multi_constructor("!", lambda loader, tag, node: None)


def csim_output_dtype(run: PassedRun) -> np.dtype:
    """What the run's C-simulation outputs could hold: float32 when they passed through a
    float AXI wrapper (a VivadoAccelerator build keeps hls4ml's default word type, float,
    recorded in the project's hls4ml_config.yml), float64 otherwise."""
    config = yaml.load((run.project_dir / HLS4ML_CONFIG).read_text(encoding="utf-8"), Loader=_Hls4mlConfigLoader)
    word = (config.get("AcceleratorConfig") or {}).get("Precision", {}).get("Output")
    return np.dtype(np.float32) if word == "float" else np.dtype(np.float64)
