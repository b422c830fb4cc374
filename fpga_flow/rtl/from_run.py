"""What the RTL stages need, read back from a finished run directory.

A run keeps the model's source, the chosen hls4ml configuration, the project and the
evaluation set its testbench ran on (``tb_data/``: inputs and Keras' outputs, as float32
in ``%.9g``, which reads back exactly). The C-simulation outputs are recomputed by
compiling a copy of the project: the run's own library may read its weights from a
build-cache entry that was evicted since, and the run folder stays as it was.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fpga_flow import rundir
from fpga_flow.boards import Board, get_board
from fpga_flow.convert import HLSSettings
from fpga_flow.csim import BUILD_SUBDIR, Bridge, compile_project
from fpga_flow.errors import UserInputError

CSIM_COPY = "csim_project"


@dataclass
class RunInputs:
    model: Any
    board: Board
    settings: HLSSettings
    hls_config: dict[str, Any]
    project_dir: Path
    X: np.ndarray
    keras_out: np.ndarray
    csim_out: np.ndarray


def load_run(run_dir: Path, work_dir: Path) -> RunInputs:
    """Inputs of the RTL stages for the finished run ``run_dir``; ``work_dir`` receives
    the recompiled copy of the project."""
    from fpga_flow.model_io import load_keras_model

    run_dir = Path(run_dir).resolve()
    if not rundir.is_complete(run_dir):
        raise UserInputError(f"{run_dir} is not a finished fpga-flow run (no summary.json, or INCOMPLETE): build it first")
    summary = rundir.read_summary(run_dir)
    config = summary["config"]
    model = load_keras_model(Path(summary["model_source"]), config.get("weights"))
    board = get_board(summary["board"], config.get("boards_dir"))
    settings = HLSSettings(io_type=summary["io_type"], strategy=summary["strategy"],
                           reuse_factor=summary["reuse_factor"], clock_period_ns=summary["clock_period_ns"])
    project_dir = run_dir / rundir.PROJECT_DIR
    tb = project_dir / "tb_data"
    X = np.loadtxt(tb / "tb_input_features.dat", dtype=np.float64, ndmin=2)
    X = X.reshape(len(X), *model.input_shape[1:])
    keras_out = np.loadtxt(tb / "tb_output_predictions.dat", dtype=np.float64, ndmin=2)
    copy = Path(work_dir).resolve() / CSIM_COPY
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(project_dir, copy, ignore=shutil.ignore_patterns(BUILD_SUBDIR))
    csim_out = Bridge.load(compile_project(copy)).predict(X)
    hls_config = json.loads((run_dir / rundir.HLS_CONFIG_NAME).read_text(encoding="utf-8"))
    return RunInputs(model, board, settings, hls_config, project_dir, X, keras_out, csim_out)
