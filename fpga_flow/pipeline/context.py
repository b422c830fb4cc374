"""What a build knows so far: :class:`BuildContext`, its inputs and one typed result per
step, and the result types of the steps that have no summary section of their own."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fpga_flow import rundir
from fpga_flow.boards import Board
from fpga_flow.config import BuildConfig
from fpga_flow.convert import HLSProject, HLSSettings
from fpga_flow.csim import CompiledProject, TestbenchResult
from fpga_flow.estimate import Estimate
from fpga_flow.fidelity import Fidelity
from fpga_flow.fit import FitResult, fitted_config
from fpga_flow.precision import OverflowRecord, PrecisionChoice
from fpga_flow.records.cache import CacheUse
from fpga_flow.rtl.records import GateRecord, PnRRecord, RTLRecord, RTLSimRecord, SkippedStage
from fpga_flow.synth import SynthesisResult

Progress = Callable[[str, str], None]  # (step name, "start" | "done" | "skipped[: why]" | a message)


def silent(step: str, state: str) -> None:
    """The progress of a run nobody watches."""


@dataclass(frozen=True)
class LoadedModel:
    """The load step's result: the Keras model, its data split, and the HLS settings."""

    model: Any  # a tf.keras model
    name: str
    source: str  # absolute: later commands (deploy) load the model again from any folder
    weights: str | None  # absolute, for a .json architecture
    data_origin: str
    X_eval: np.ndarray  # the figures reported are measured on these ...
    y_eval: np.ndarray | None
    X_calib: np.ndarray  # ... and precisions are tuned on these, never on the evaluation split
    settings: HLSSettings

    @cached_property
    def keras_eval(self) -> np.ndarray:
        """Keras's outputs on X_eval, computed on first use (the C-simulation checks): the
        estimate, which loads the model the same way, never needs them."""
        return np.asarray(self.model.predict(self.X_eval, verbose=0, batch_size=256))


@dataclass(frozen=True)
class CsimCheck:
    """The csim_bridge step's result: the compiled model's outputs on the evaluation split
    against Keras, and per layer the Keras values its C++ types cannot hold."""

    outputs: np.ndarray
    fidelity: Fidelity
    overflow: dict[str, OverflowRecord]


@dataclass(frozen=True)
class TestbenchCheck:
    """The testbench step's result: hls4ml's own testbench run on the evaluation split."""

    run: TestbenchResult
    fidelity: Fidelity
    vs_bridge_max_abs: float  # largest difference from the bridge's outputs


@dataclass
class BuildContext:
    """What a build knows so far: the inputs, then one typed result per step (each
    field is written by the one step named beside it, through
    :func:`fpga_flow.pipeline.driver.run_steps`)."""

    config: BuildConfig
    board: Board
    run_dir: Path
    progress: Progress = silent
    # Held until the build ends: the cache entry whose weights the compiled code reads.
    holds: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    # Where convert writes the project: the run's folder, or a cache entry being made.
    project_dir: Path | None = None
    loaded: LoadedModel | None = None  # load
    fit: FitResult | None = None  # fit, then refit (None with --no-fit)
    precision: PrecisionChoice | None = None  # precision
    project: HLSProject | None = None  # convert
    compiled: CompiledProject | None = None  # compile
    estimate: Estimate | None = None  # estimate
    csim: CsimCheck | None = None  # csim_bridge
    testbench: TestbenchCheck | None = None  # testbench
    rtl: RTLRecord | SkippedStage | None = None  # rtl (None without --rtl)
    rtl_sim: RTLSimRecord | SkippedStage | None = None  # rtl_sim
    gates: GateRecord | SkippedStage | None = None  # gates
    pnr: PnRRecord | SkippedStage | None = None  # pnr (None without --pnr)
    synthesis: SynthesisResult | None = None  # synthesis
    closure_plot: Path | None = None  # plots
    cache: CacheUse | None = None  # the build-cache wrapper (None with --no-cache)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.project_dir is None:
            self.project_dir = self.run_dir / rundir.PROJECT_DIR

    @property
    def marker_dir(self) -> Path:
        """Where the driver's INCOMPLETE marker names the running step."""
        return self.run_dir

    @property
    def settings(self) -> HLSSettings:
        """The HLS settings the design is converted with: the loaded ones, in the io
        type the fit chose."""
        if self.fit is None:
            return self.loaded.settings
        return self.loaded.settings.model_copy(update={"io_type": self.fit.io_type})

    @property
    def hls_config(self) -> dict[str, Any]:
        """The hls4ml configuration the design is converted with: the chosen precisions,
        with the fit's per-layer strategies and reuse factors."""
        return self.precision.hls_config if self.fit is None else fitted_config(self.precision.hls_config, self.fit)
