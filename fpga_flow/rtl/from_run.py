"""``fpga-flow rtl RUN_DIR``: the RTL stages on a finished run, whose summary and page
then carry their figures.

A run keeps the model's source, the chosen hls4ml configuration, the project and the
evaluation set its testbench ran on (``tb_data/``: inputs and Keras' outputs, as float32
in ``%.9g``, which reads back exactly). The C-simulation outputs are recomputed from a
copy of the project, compiled afresh: the testbench's ``csim_results.log`` goes through
an accelerator board's AXI wrapper (not the words the RTL computes), and the run's own
library may read its weights from a build-cache entry evicted since. The run folder
keeps its files; ``rtl/`` is replaced and ``summary.json`` rewritten atomically at the
end, so an interrupted command leaves the previous summary as it was.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fpga_flow import rundir
from fpga_flow.boards import Board, get_board
from fpga_flow.convert import HLSSettings
from fpga_flow.csim import BUILD_SUBDIR, Bridge, compile_project
from fpga_flow.rtl.records import RTL_DIR

CSIM_COPY = "csim_project"  # in rtl/


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
    import json

    from fpga_flow.model_io import load_keras_model
    from fpga_flow.summary import read_summary

    run_dir = Path(run_dir).resolve()
    summary = read_summary(run_dir)
    config = summary.config
    model = load_keras_model(Path(summary.model.source), config.weights)
    board = get_board(summary.board.name, config.boards_dir)
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
    return RunInputs(model, board, summary.hls, hls_config, project_dir, X, keras_out, csim_out)


def rtl_on_run(run_dir: Path, progress: Callable[[str, str], None] = lambda step, state: None):
    """Run the RTL stages on the finished run ``run_dir`` and record them in its summary
    (sections ``rtl``, ``rtl_sim``, ``gates``, ``pnr`` for a ``--pnr`` run, their checks and the status), its page and
    its run-history row; returns the updated summary."""
    from fpga_flow.build import pnr_checks, rtl_check, run_status, verdict, write_page_and_history
    from fpga_flow.rtl import gates_stage, pnr_stage, rtl_sim_stage, rtl_stage
    from fpga_flow.summary import RunSummary, read_summary

    run_dir = Path(run_dir).resolve()
    summary = read_summary(run_dir)  # refuses anything but a finished run's summary
    out_dir = run_dir / RTL_DIR
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir()
    timings: dict[str, float] = {}

    def timed(step: str, run: Callable[[], Any]) -> Any:
        progress(step, "start")
        start = time.perf_counter()
        result = run()
        timings[step] = round(time.perf_counter() - start, 3)
        progress(step, "done")
        return result

    inputs = timed("load", lambda: load_run(run_dir, out_dir))
    rtl = timed("rtl", lambda: rtl_stage(inputs.model, inputs.board, inputs.settings, inputs.hls_config,
                                         inputs.project_dir, out_dir, summary.config.stage_levels))
    rtl_sim = timed("rtl_sim", lambda: rtl_sim_stage(rtl, inputs.X, inputs.csim_out, inputs.keras_out, out_dir))
    gates = timed("gates", lambda: gates_stage(rtl, inputs.board, out_dir))
    # rtl/ was replaced: a --pnr run places and routes the new RTL again.
    pnr = timed("pnr", lambda: pnr_stage(rtl, gates, inputs.board, inputs.X, inputs.csim_out, out_dir)) \
        if summary.config.pnr else None
    checks = summary.checks.model_copy(update={"rtl_word_agreement": rtl_check(rtl_sim), "pnr_fmax": None,
                                               "top_word_agreement": None, **pnr_checks(pnr)})
    updated = RunSummary.model_validate({
        **summary.model_dump(), "rtl": rtl, "rtl_sim": rtl_sim, "gates": gates, "pnr": pnr, "checks": checks,
        "status": run_status(checks, summary.synthesis), "verdict": verdict(checks, summary.board.name, summary.synthesis),
        "artifacts": {**summary.artifacts, "rtl_dir": str(out_dir)},
        "timings_s": {**summary.timings_s, **{f"rtl_command_{step}": s for step, s in timings.items()}},
    })
    rundir.write_json_atomic(run_dir / rundir.SUMMARY_NAME, updated.model_dump(mode="json"))
    write_page_and_history(updated.config, run_dir, updated)
    return updated
