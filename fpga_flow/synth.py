"""Stage ``synth``: vendor HLS synthesis (and logic synthesis) of a written project.

Each hls4ml backend is driven by one vendor program, declared in ``SYNTH_TOOLS``. When
that program is not on PATH the stage is skipped with the reason recorded, which is not
an error: everything before it ran for real. When it runs, its output goes to
``build_stdout.log`` in the project and the reports it leaves are parsed into one
record; a failed tool run names the stage that failed, from the log.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fpga_flow import reports
from fpga_flow.errors import StageFailedError
from fpga_flow.records.synth import SynthesisResult

BUILD_LOG = "build_stdout.log"


def _vivado_hls_command(project_dir: Path) -> list[str]:
    return ["vivado_hls", "-f", "build_prj.tcl", "reset=1 csim=0 synth=1 cosim=0 validation=0 export=0 vsynth=1 fifo_opt=0"]


def _vitis_command(project_dir: Path) -> list[str]:
    (project_dir / "build_opt.tcl").write_text(
        "array set opt {\n    reset 1\n    csim 0\n    synth 1\n    cosim 0\n    validation 0\n"
        "    export 0\n    vsynth 1\n    fifo_opt 0\n}\n",
        encoding="utf-8",
    )
    return ["vitis-run", "--tcl", "build_prj.tcl", "--mode", "hls"]


def _quartus_command(project_dir: Path) -> list[str]:
    return ["make", "myproject-fpga"]


class SynthesisFailed(StageFailedError):
    """The vendor tool ran and failed; ``stage`` names where, from its log."""

    def __init__(self, stage: str, log: Path):
        super().__init__(f"vendor synthesis failed: {stage} (log: {log})")
        self.stage = stage
        self.log = log


@dataclass(frozen=True)
class SynthTool:
    """The vendor program a backend needs, and how to run it in a project folder."""

    executable: str
    command: Callable[[Path], list[str]]


SYNTH_TOOLS: dict[str, SynthTool] = {
    "Vivado": SynthTool("vivado_hls", _vivado_hls_command),
    "VivadoAccelerator": SynthTool("vivado_hls", _vivado_hls_command),
    "Vitis": SynthTool("vitis-run", _vitis_command),
    "Quartus": SynthTool("i++", _quartus_command),
}


def synthesis_tool(backend: str) -> SynthTool | None:
    return SYNTH_TOOLS.get(backend)


def skipped(backend: str, requested: bool) -> SynthesisResult | None:
    """Why synthesis will not run, or None if it will."""
    tool = synthesis_tool(backend)
    if tool is None:
        return SynthesisResult(status="skipped", reason=f"no synthesis driver for the {backend} backend")
    if not requested:
        return SynthesisResult(status="skipped", reason="not requested (--no-synth)", tool=tool.executable)
    if shutil.which(tool.executable) is None:
        return SynthesisResult(status="skipped", reason=f"{tool.executable} not found on PATH", tool=tool.executable)
    return None


def run_synthesis(project_dir: str | Path, backend: str) -> SynthesisResult:
    """Run the backend's vendor tool in ``project_dir`` and parse what it leaves.

    Raises StageFailedError naming the failed stage when the tool fails.
    """
    project_dir = Path(project_dir)
    tool = synthesis_tool(backend)
    if tool is None or shutil.which(tool.executable) is None:
        raise StageFailedError(f"synthesis needs {tool.executable if tool else 'a vendor tool'} on PATH")
    log_path = project_dir / BUILD_LOG
    start = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.run(tool.command(project_dir), cwd=project_dir, stdout=log, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    stage = reports.failed_stage(project_dir)
    if process.returncode != 0 or stage is not None:
        raise SynthesisFailed(stage or f"{tool.executable} exited with code {process.returncode}", log_path)
    record = reports.build_report(project_dir)
    return SynthesisResult(status="ok", tool=tool.executable, seconds=round(seconds, 3), report=record.to_dict(),
                           log=str(log_path))
