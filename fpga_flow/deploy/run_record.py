"""What deploy reads from a run directory, in one place.

``summary.json`` is read here and nowhere else in deploy, so that moving to the summary
schema (fpga_flow/summary.py, in the making) changes this module only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fpga_flow import rundir
from fpga_flow.build import PROJECT_DIR
from fpga_flow.convert import HLSSettings
from fpga_flow.errors import UserInputError

PASSED = "passed"
HLS_CONFIG = "hls_config.json"
# Written by the build's testbench step: the evaluation inputs, one sample per line,
# as float32 printed with %.9g (which round-trips float32 exactly).
EVALUATION_INPUTS = "tb_data/tb_input_features.dat"
HLS4ML_CONFIG = "hls4ml_config.yml"


@dataclass(frozen=True)
class RunRecord:
    run_dir: Path
    run_id: str
    model: str
    model_source: Path
    weights: Path | None
    board: str
    backend: str
    settings: HLSSettings
    hls_config: dict[str, Any]
    layer_precisions: dict[str, dict[str, str]]
    n_test: int
    boards_dir: Path | None

    @property
    def project_dir(self) -> Path:
        return self.run_dir / PROJECT_DIR


def read_run(run_dir: Path) -> RunRecord:
    """The run in ``run_dir``; anything but a finished, passed build is refused."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserInputError(f"run directory {run_dir} not found: give the folder 'fpga-flow build' wrote "
                             "(reports/runs/MODEL_BOARD_TIME)")
    if not rundir.is_complete(run_dir):
        raise UserInputError(f"{run_dir} is not a finished build (no {rundir.SUMMARY_NAME}, or an "
                             f"{rundir.INCOMPLETE_NAME} marker): run 'fpga-flow build' to the end first")
    summary = rundir.read_summary(run_dir)
    if summary["status"] != PASSED:
        raise UserInputError(f"the build in {run_dir} did not pass (status {summary['status']}): "
                             "deploy takes a passed build only; fix the build and run it again")
    config = summary["config"]
    hls_config = run_dir / HLS_CONFIG
    if not hls_config.is_file():
        raise UserInputError(f"{hls_config} is missing: the run directory is damaged; build again")
    return RunRecord(
        run_dir=run_dir.resolve(),
        run_id=summary["run_id"],
        model=summary["model"],
        model_source=Path(summary["model_source"]),
        weights=Path(config["weights"]) if config.get("weights") else None,
        board=summary["board"],
        backend=summary["backend"],
        settings=HLSSettings(io_type=summary["io_type"], strategy=summary["strategy"],
                             reuse_factor=summary["reuse_factor"], clock_period_ns=summary["clock_period_ns"]),
        hls_config=json.loads(hls_config.read_text(encoding="utf-8")),
        layer_precisions=summary["layer_precisions"],
        n_test=summary["n_test"],
        boards_dir=Path(config["boards_dir"]) if config.get("boards_dir") else None,
    )


def evaluation_inputs(run: RunRecord, input_shape: tuple[int, ...]) -> np.ndarray:
    """The run's evaluation inputs (float32), shaped as the model takes them."""
    path = run.project_dir / EVALUATION_INPUTS
    if not path.is_file():
        raise UserInputError(f"{path} is missing: the run directory is damaged; build again")
    X = np.loadtxt(path, dtype=np.float64, ndmin=2).astype(np.float32)
    if len(X) != run.n_test:
        raise UserInputError(f"{path} holds {len(X)} samples but the run evaluated {run.n_test}: build again")
    return X.reshape(len(X), *input_shape)


class _Hls4mlConfigLoader(yaml.SafeLoader):
    """hls4ml tags its Keras model entry (``!keras_model PATH``); those values are not needed here."""


_Hls4mlConfigLoader.add_multi_constructor("!", lambda loader, tag, node: None)


def csim_output_dtype(run: RunRecord) -> np.dtype:
    """What the run's C-simulation outputs could hold: float32 when they passed through a
    float AXI wrapper (a VivadoAccelerator build keeps hls4ml's default word type, float,
    recorded in the project's hls4ml_config.yml), float64 otherwise."""
    config = yaml.load((run.project_dir / HLS4ML_CONFIG).read_text(encoding="utf-8"), Loader=_Hls4mlConfigLoader)
    word = (config.get("AcceleratorConfig") or {}).get("Precision", {}).get("Output")
    return np.dtype(np.float32) if word == "float" else np.dtype(np.float64)
