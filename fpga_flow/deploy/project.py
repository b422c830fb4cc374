"""The accelerator project in a bundle: hls4ml's VivadoAccelerator backend, converted
again from the run's model and hls4ml configuration, with AXI word types chosen from the
network's own input and output types.

Why convert again: a build leaves, for pynq-z2 and zcu102, hls4ml's wrapper with its
default ``float`` words (the host would convert floats and the IP would carry float
converters), and for the Alveo cards a Vitis project with no AXI wrapper at all. The
network's sources come out the same (deploy checks it, and compares the two
C-simulations word for word); only the wrapper and the board scripts differ.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpga_flow.boards import Board, load_boards
from fpga_flow.convert import PROJECT_NAME, HLSSettings, convert
from fpga_flow.deploy.board.driver import FixedPoint, StreamPort
from fpga_flow.errors import StageFailedError, UserInputError

ZYNQ, ALVEO = "zynq", "alveo"
AXI_WRAPPER = f"{PROJECT_NAME}_axi"  # hls4ml's AXI top: firmware/myproject_axi.cpp/.h
WRAPPER_HEADER = f"firmware/{AXI_WRAPPER}.h"
HLS4ML_TEMPLATE_DRIVER = "axi_stream_driver.py"


@dataclass(frozen=True)
class AcceleratorTarget:
    """A board as deploy needs it: hls4ml's name for its accelerator design, and whether
    the host reaches it through an AXI DMA (Zynq) or an RTL kernel (Alveo)."""

    board: Board
    accelerator_board: str
    kind: str


def supported_boards() -> dict[str, Any]:
    """hls4ml's own list of boards with a block design and driver (supported_boards.json)."""
    from hls4ml.backends import vivado_accelerator

    return json.loads((Path(vivado_accelerator.__file__).parent / "supported_boards.json").read_text())


def accelerator_target(board: Board, boards_dir: Path | None = None) -> AcceleratorTarget:
    """The target for ``board``; a board without an accelerator design is refused."""
    designed = supported_boards()
    if board.accelerator_board is None or board.accelerator_board not in designed:
        ready = sorted(b.name for b in load_boards(boards_dir).values() if b.accelerator_board in designed)
        raise UserInputError(
            f"board {board.name} (backend {board.backend}) has no hls4ml accelerator design to deploy to: "
            f"build for one of {', '.join(ready)}, or give the board an accelerator_board from hls4ml's "
            f"supported_boards.json ({', '.join(sorted(designed))})")
    return AcceleratorTarget(board, board.accelerator_board, ALVEO if board.accelerator_board.startswith("alveo") else ZYNQ)


def word_type(model_type: FixedPoint, kind: str) -> FixedPoint:
    """The AXI word type that carries ``model_type``: 32 bits wide (64 for a type wider
    than 32 bits on a Zynq board), same integer bits, so every value is carried exactly.

    hls4ml rounds a word width up to a multiple of 8 only
    (``VivadoAcceleratorConfig._next_factor8_type``), but its Zynq block designs set the
    AXI DMA's memory-map width equal to the stream width, and the DMA's memory-map width
    starts at 32 bits (AMD PG021), so 8-, 16- and 24-bit words do not build; the Alveo RTL
    kernel moves 32-bit words only (``C_M_AXI_GMEM_DATA_WIDTH = 32`` in krnl_rtl_int.sv).
    """
    if model_type.width > 32 and kind == ALVEO:
        raise UserInputError(f"{model_type.cpp()} is wider than the 32-bit words of hls4ml's Alveo kernel: "
                             "give the model's input/output layer a type of at most 32 bits")
    width = 32 if model_type.width <= 32 else 64
    return FixedPoint(width, model_type.integer, model_type.signed, model_type.rounding, model_type.overflow)


def fixed_point(precision, role: str) -> FixedPoint:
    """An hls4ml precision as a :class:`FixedPoint`; what the driver cannot carry is refused.

    The input side must be ``ap_fixed``: ``ap_int`` converts doubles differently
    (truncating towards zero, and giving 1 for inputs in (-0.5, 0) in ap_int_base.h).
    """
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType

    integer_ok = role == "output" and isinstance(precision, IntegerPrecisionType)
    if not (isinstance(precision, FixedPrecisionType) or integer_ok):
        raise UserInputError(f"the network's {role} type {precision} is not an ap_fixed type the driver can carry: "
                             f"give the {role} layer an ap_fixed precision in the hls4ml configuration")
    if precision.saturation_bits:
        raise UserInputError(f"the network's {role} type {precision} uses saturation bits, which the driver does not "
                             "reproduce: give the layer a type without them")
    return FixedPoint(precision.width, precision.integer, precision.signed,
                      precision.rounding_mode.name, precision.saturation_mode.name)


@dataclass(frozen=True)
class AcceleratorProject:
    output_dir: Path
    input: StreamPort
    output: StreamPort
    # hls4ml's layer names of the network's input and output, to check against the run's record
    input_layer: str
    output_layer: str
    input_cpp: str
    output_cpp: str


def convert_accelerator(model, target: AcceleratorTarget, settings: HLSSettings, output_dir: Path,
                        hls_config: dict[str, Any]) -> AcceleratorProject:
    """Write the VivadoAccelerator project for ``target`` with fixed-point AXI words."""
    found: dict[str, Any] = {}

    def set_word_types(graph) -> None:
        inp, out = graph.get_input_variables()[0], graph.get_output_variables()[0]
        for role, variable in (("input", inp), ("output", out)):
            model_type = fixed_point(variable.type.precision, role)
            found[role] = StreamPort(model_type, word_type(model_type, target.kind), int(variable.size()))
        found["layers"] = _layer_of(graph, inp), _layer_of(graph, out)
        found["cpp"] = inp.type.precision.definition_cpp(), out.type.precision.definition_cpp()
        graph.config.config["AcceleratorConfig"]["Precision"] = {
            "Input": found["input"].word_type.cpp(), "Output": found["output"].word_type.cpp()}

    # The Alveo boards build with the Vitis backend; their accelerator design is VivadoAccelerator's.
    board = target.board.model_copy(update={"backend": "VivadoAccelerator"})
    convert(model, board, settings, output_dir, hls_config, before_write=set_word_types)
    project = AcceleratorProject(output_dir, found["input"], found["output"], *found["layers"], *found["cpp"])
    _write_word_types(project)
    _write_dma_widths(project)
    # hls4ml's template driver wants the user's own encode/decode; the bundle's driver.py replaces it.
    (output_dir / HLS4ML_TEMPLATE_DRIVER).unlink(missing_ok=True)
    return project


def _layer_of(graph, variable) -> str:
    return next(layer.name for layer in graph.get_layers() if layer.get_output_variable() is variable)


def _write_word_types(project: AcceleratorProject) -> None:
    """Give the wrapper its word types in C++.

    hls4ml 1.3.0 writes them as its generic precision names (``typedef ufixed<32,1,RND,SAT,0>
    T_in;``): ``VivadoAcceleratorConfig._next_factor8_type`` builds a plain
    FixedPrecisionType, whose ``str()`` is not C++, so any fixed-point word type leaves a
    wrapper that does not compile.
    """
    _rewrite_lines(project.output_dir / WRAPPER_HEADER, {
        rf"^typedef .+ {name};$": f"typedef {port.word_type.cpp()} {name};"
        for name, port in (("T_in", project.input), ("T_out", project.output))})


def _write_dma_widths(project: AcceleratorProject) -> None:
    """Set the DMA stream widths of the Zynq block design to the word widths.

    hls4ml 1.3.0's writer swaps them in project.tcl (``bit_width_hls_output`` gets the input
    width and ``bit_width_hls_input`` the output width, while axi_stream_design.tcl feeds
    ``bit_width_hls_input`` to the MM2S side, the IP's input); with different widths the DMA
    would be built wrong.
    """
    _rewrite_lines(project.output_dir / "project.tcl", {
        rf"^set {name} \d+$": f"set {name} {port.word_type.width}"
        for name, port in (("bit_width_hls_input", project.input), ("bit_width_hls_output", project.output))})


def _rewrite_lines(path: Path, replacements: dict[str, str]) -> None:
    """Replace the one line of an hls4ml-written file matching each pattern."""
    text = path.read_text(encoding="utf-8")
    for pattern, line in replacements.items():
        text, count = re.subn(pattern, line, text, flags=re.M)
        if count != 1:
            raise StageFailedError(f"{path}: expected one line matching {pattern!r} as hls4ml writes it, found {count}")
    path.write_text(text, encoding="utf-8")
