"""The bundle's ``build_bitstream.sh``: from the accelerator project to the files the
board loads, with AMD's tools, and running it from ``fpga-flow deploy --bitstream``.

Zynq (pynq-z2, zcu102): Vivado HLS synthesizes the project and exports the IP; Vivado
runs hls4ml's block design (design.tcl: processing system, AXI DMA, the IP) to a
bitstream; the bitstream and the hardware handoff (.hwh, which pynq reads to find the
DMA) go to ``overlay/`` under one name, as pynq requires. Alveo: Vivado HLS exports the
IP; Vivado packages hls4ml's RTL kernel around it (.xo); v++ links it for the card's
platform (.xclbin).

hls4ml's VivadoAccelerator backend drives ``vivado_hls``, which AMD shipped last in
2020.1; the block designs name IP versions of that era (processing_system7 5.5,
axi_dma 7.1).

Each stage of the script exits with its own code, declared once here, so a failed run
names its stage without reading the tools' output.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fpga_flow.convert import PROJECT_NAME
from fpga_flow.deploy.project import ALVEO, ZYNQ
from fpga_flow.deploy.templates import render
from fpga_flow.errors import StageFailedError, ToolMissingError, UserInputError

SCRIPT = "build_bitstream.sh"
LOGS_DIR = "logs"
OVERLAY_DIR = "overlay"
USAGE_EXIT = 2

_HLS_EXPORT = 'vivado_hls -f build_prj.tcl "reset=1 csim=0 synth=1 cosim=0 validation=0 export=1 vsynth=0 fifo_opt=0"'
_VIVADO_DIR = f"{PROJECT_NAME}_vivado_accelerator"
# Vivado 2019.2 keeps the hardware handoff under project_1.srcs, later releases under project_1.gen.
_ZYNQ_HANDOFF = f"""bit={_VIVADO_DIR}/project_1.runs/impl_1/design_1_wrapper.bit
hwh=""
for candidate in {_VIVADO_DIR}/project_1.gen/sources_1/bd/design_1/hw_handoff/design_1.hwh \\
                 {_VIVADO_DIR}/project_1.srcs/sources_1/bd/design_1/hw_handoff/design_1.hwh; do
    if [ -f "$candidate" ]; then hwh="$candidate"; break; fi
done
test -f "$bit" && test -n "$hwh" && cp "$bit" ../{OVERLAY_DIR}/{PROJECT_NAME}.bit && cp "$hwh" ../{OVERLAY_DIR}/{PROJECT_NAME}.hwh"""
_XCLBIN = f"{PROJECT_NAME}_kernel.xclbin"


@dataclass(frozen=True)
class Stage:
    name: str  # also its log: logs/NAME.log
    title: str
    tool: str
    exit_code: int
    commands: str  # bash, run inside hls_project/


STAGES: dict[str, tuple[Stage, ...]] = {
    ZYNQ: (
        Stage("hls_export", "HLS synthesis and IP export", "vivado_hls", 11, _HLS_EXPORT),
        Stage("bitstream", "block design, implementation and bitstream", "vivado", 12, "vivado -mode batch -source design.tcl"),
        Stage("handoff", "bitstream and hardware handoff to overlay/", "cp", 13, _ZYNQ_HANDOFF),
    ),
    ALVEO: (
        Stage("hls_export", "HLS synthesis and IP export", "vivado_hls", 11, _HLS_EXPORT),
        Stage("kernel", "RTL kernel packaging (.xo)", "vivado", 12, "mkdir -p xo_files && vivado -mode batch -source design.tcl"),
        Stage("xclbin", "link for the platform (.xclbin)", "v++", 13,
              f'mkdir -p xclbin_files && v++ -t hw --platform "$PLATFORM" --link xo_files/{PROJECT_NAME}_kernel.xo '
              f"-o xclbin_files/{_XCLBIN} --user_ip_repo_paths {PROJECT_NAME}_prj/solution1/impl/ip"),
        Stage("handoff", "xclbin to overlay/", "cp", 14, f"cp xclbin_files/{_XCLBIN} ../{OVERLAY_DIR}/{_XCLBIN}"),
    ),
}
OVERLAY_FILES = {ZYNQ: f"{OVERLAY_DIR}/{PROJECT_NAME}.bit", ALVEO: f"{OVERLAY_DIR}/{_XCLBIN}"}


def required_tools(kind: str) -> tuple[str, ...]:
    return tuple(stage.tool for stage in STAGES[kind] if stage.tool != "cp")


def check_tools(kind: str, platform: str | None) -> None:
    """Refuse ``--bitstream`` before any work when a tool or the Alveo platform is missing."""
    missing = [tool for tool in required_tools(kind) if shutil.which(tool) is None]
    if missing:
        raise ToolMissingError(
            f"--bitstream needs {', '.join(required_tools(kind))} on PATH and {', '.join(missing)} is not: "
            "install AMD Vivado/Vivado HLS 2019.2 or 2020.1" + (" and Vitis" if kind == ALVEO else "")
            + f", or deploy without --bitstream and run {SCRIPT} on a machine that has them")
    if kind == ALVEO and not platform:
        raise UserInputError("--bitstream for an Alveo card needs --platform NAME, the Vitis platform installed "
                             "for the card (e.g. xilinx_u250_gen3x16_xdma_4_1_202210_1)")


def script_text(kind: str, model: str, board: str) -> str:
    return render("build_bitstream.sh.j2", kind=kind, alveo=kind == ALVEO, model=model, board=board,
                  stages=STAGES[kind], overlay=OVERLAY_FILES[kind], usage_exit=USAGE_EXIT)


def run_script(bundle_dir: Path, kind: str, platform: str | None) -> Path:
    """Run the bundle's script; a failed stage is a StageFailedError naming it."""
    bundle_dir = Path(bundle_dir).resolve()
    process = subprocess.run(["bash", str(bundle_dir / SCRIPT), *([platform] if platform else [])],
                             cwd=bundle_dir, capture_output=True, text=True)
    stage = next((s for s in STAGES[kind] if s.exit_code == process.returncode), None)
    if stage is not None:
        raise StageFailedError(f"bitstream build failed at stage '{stage.title}' ({stage.tool}): "
                               f"see {bundle_dir / LOGS_DIR / stage.name}.log")
    if process.returncode != 0:
        last = (process.stderr.strip().splitlines() or [f"exit code {process.returncode}"])[-1]
        raise StageFailedError(f"{SCRIPT} failed: {last}")
    overlay = bundle_dir / OVERLAY_FILES[kind]
    if not overlay.is_file():
        raise StageFailedError(f"{SCRIPT} finished but {overlay} is missing")
    return overlay
