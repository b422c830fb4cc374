"""The records the RTL stages write (``rtl/rtl.json``, ``rtl/rtl_sim.json``,
``rtl/gates.json``), one schema shared by their writers and readers."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from fpga_flow import rundir

OPEN_SYNTHESIS = "open synthesis of the RTL"
RTL_RECORD = "rtl.json"
RTL_SIM_RECORD = "rtl_sim.json"
GATES_RECORD = "gates.json"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RTLRecord(_Record):
    """Stage ``rtl``: the Verilog of the whole model, pipelined for the board's clock."""

    status: Literal["done"] = "done"
    generator: str
    top: str
    verilog_dir: str
    n_inputs: int
    n_outputs: int
    input_type: str
    input_fractional_bits: int
    output_kif: tuple[int, int, int]
    fabric: str
    clock_period_ns: float
    adder_level_ns: float
    latency_cutoff: int
    adder_depth: float
    pipeline_stages: int
    latency_cycles: int
    estimated_luts: float
    register_bits: int
    layers: list[dict]
    seconds: float


class RTLSimRecord(_Record):
    """Stage ``rtl_sim``: Verilator on the evaluation set against C-simulation and Keras."""

    status: Literal["done"] = "done"
    simulator: str
    n_samples: int
    word_agreement: float
    sample_agreement: float
    max_abs_diff: float
    argmax_agreement_keras: float
    build_seconds: float
    sim_seconds: float


class GateRecord(_Record):
    """Stage ``gates``: yosys synthesis of the RTL for the board's family."""

    status: Literal["done"] = "done"
    kind: Literal["open synthesis of the RTL"] = OPEN_SYNTHESIS
    tool: str
    family: str
    top: str
    LUT: int
    FF: int
    CARRY: int
    DSP: int
    BRAM_18K: int
    cells: dict[str, int]
    log: str
    seconds: float


class SkippedStage(_Record):
    """A stage that did not run, and the one line saying why."""

    status: Literal["skipped"] = "skipped"
    stage: str
    reason: str


Record = TypeVar("Record", bound=_Record)


def write_record(record: _Record, path: Path) -> Path:
    return rundir.write_json_atomic(path, record.model_dump(mode="json"))


def read_record(kind: type[Record], path: Path) -> Record:
    return kind.model_validate_json(Path(path).read_text(encoding="utf-8"))
