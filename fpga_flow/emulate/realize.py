"""The precision closure's ``realize`` on the emulator: each candidate configuration is
converted to hls4ml's ModelGraph (nothing written, nothing compiled) and emulated; only a
design with a layer the emulator does not reproduce is compiled, as before. The chosen
configuration is compiled once afterwards by the build, whose bridge and testbench stay
the proof."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from fpga_flow.boards import Board
from fpga_flow.convert import HLSSettings, model_graph
from fpga_flow.emulate.graph import Emulator
from fpga_flow.errors import NotEmulableError
from fpga_flow.records.precision import RealizationRecord

Compile = Callable[[dict[str, Any]], Any]  # hls config -> compiled Bridge


@dataclass
class EmulatingRealizer:
    """``realize(hls_config)``: an :class:`Emulator` when every layer is covered, else
    ``compile(hls_config)``. Counts both and keeps the first reason for compiling."""

    model: Any
    board: Board
    settings: HLSSettings
    scratch: Path
    compile: Compile
    emulated: int = 0
    compiled: int = 0
    fallback_reason: str | None = None
    last: str = field(default="", init=False)

    def __call__(self, hls_config: dict[str, Any]):
        try:
            emulator = Emulator(model_graph(self.model, self.board, self.settings, self.scratch, hls_config))
        except NotEmulableError as exc:
            self.fallback_reason = self.fallback_reason or str(exc)
            self.compiled += 1
            self.last = "compiled"
            return self.compile(hls_config)
        self.emulated += 1
        self.last = "emulated"
        return emulator

    def record(self) -> RealizationRecord:
        return RealizationRecord(emulated_iterations=self.emulated, compiled_iterations=self.compiled,
                                 fallback_reason=self.fallback_reason)
