"""The records of the RTL stages: written to ``rtl/`` of the run (``rtl.json``,
``rtl_sim.json``, ``gates.json``, ``pnr.json``) and, as sections ``rtl``, ``rtl_sim``, ``gates``
and ``pnr``, into
``summary.json`` (:class:`fpga_flow.summary.RunSummary`); one schema for writers and readers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field

from fpga_flow import rundir

OPEN_SYNTHESIS = "open synthesis of the RTL"
RTL_DIR = "rtl"  # in the run directory
RTL_RECORD = "rtl.json"
RTL_SIM_RECORD = "rtl_sim.json"
GATES_RECORD = "gates.json"
PNR_RECORD = "pnr.json"
POST_ROUTE = "post-route open-tool figures"
BAUD = 115_200  # the board top level's serial line
# The RTL must compute every output word the C-simulation computes: anything less fails the build's check.
REQUIRED_WORD_AGREEMENT = 1.0


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RTLRecord(_Record):
    """Stage ``rtl``: the Verilog of the whole model, pipelined for the board's clock."""

    status: Literal["done"] = "done"
    generator: str = Field(description="the library that wrote the Verilog (da4ml and its version)")
    top: str = Field(description="the pipelined top module (its _wrapper pads ports to one word width)")
    verilog_dir: str = Field(description="src/ holds the design, sim/ Verilator's binder")
    n_inputs: int
    n_outputs: int
    input_type: str = Field(description="ap_fixed type of every input word")
    input_fractional_bits: int
    output_kif: tuple[int, int, int] = Field(description="sign, integer and fractional bits of the padded output words")
    fabric: str = Field(description="the FPGA fabric whose delay model set the pipeline")
    clock_period_ns: float
    adder_level_ns: float = Field(description="modelled delay of one adder level (fpga_flow.rtl.targets)")
    latency_cutoff: int = Field(description="adder levels per pipeline stage at this clock")
    adder_depth: float = Field(description="adder levels from input to output, unpipelined")
    pipeline_stages: int
    latency_cycles: int = Field(description="clock cycles from an input word to its output word")
    estimated_luts: float = Field(description="da4ml's own cost estimate of the adder graph, in LUTs")
    register_bits: int = Field(description="flip-flops the pipeline registers take")
    layers: list[dict] = Field(description="the layers traced, with the strategy of DA layers and their kernel cost")
    seconds: float


class RTLSimRecord(_Record):
    """Stage ``rtl_sim``: Verilator on the evaluation set against C-simulation and Keras."""

    status: Literal["done"] = "done"
    simulator: str
    n_samples: int
    word_agreement: float = Field(description="fraction of output words equal to the C-simulation's, bit for bit")
    sample_agreement: float = Field(description="fraction of samples with every output word equal")
    max_abs_diff: float = Field(description="largest |RTL - C-simulation| output")
    argmax_agreement_keras: float = Field(description="argmax agreement of the RTL's outputs with Keras")
    build_seconds: float = Field(description="verilating and compiling the simulator")
    sim_seconds: float


class GateRecord(_Record):
    """Stage ``gates``: yosys synthesis of the RTL for the board's family."""

    status: Literal["done"] = "done"
    kind: Literal["open synthesis of the RTL"] = OPEN_SYNTHESIS
    tool: str
    family: str = Field(description="yosys synth_xilinx -family")
    top: str
    LUT: int = Field(description="LUT1-6, shift-register and distributed-RAM LUTs")
    FF: int
    CARRY: int = Field(description="carry-chain blocks (yosys 0.23 maps to CARRY4, 4 bits each, on UltraScale+ too)")
    DSP: int
    BRAM_18K: int = Field(description="18Kb blocks (a RAMB36 counts two)")
    cells: dict[str, int] = Field(description="every cell type yosys mapped to, by count")
    log: str
    seconds: float
    per_module: bool = Field(False, description="counts summed over the pipeline stages synthesized one by one "
                             "(see fpga_flow/rtl/gates.py for the error measured against the whole design)")
    cached_modules: int = Field(0, description="modules whose counts came from the per-module cache")
    device_use: dict[str, Use] | None = Field(
        None, description="ECP5: LUT4 (2 per CCU2C), FF, MULT18, EBR used of the board's: the fit's figures "
                          "(fpga_flow/rtl/fit_ecp5.py)")


class Use(_Record):
    """Cells of one kind used, of those the device has."""

    used: int
    available: int

    @property
    def pct(self) -> float:
        return 100.0 * self.used / self.available if self.available else 0.0


class TopSimFigures(_Record):
    """The board top level simulated bytes in, bytes out against the C-simulation."""

    status: Literal["done", "skipped"] = "done"
    program: str | None = None
    n_samples: int = 0
    word_agreement: float | None = None
    bytes_in_per_sample: int = 0
    bytes_out_per_sample: int = 0
    clks_per_bit: int = 0
    build_seconds: float = 0.0
    sim_seconds: float = 0.0
    reason: str | None = Field(default=None, description="why it did not run (status skipped)")


class PnRRecord(_Record):
    """Stage ``pnr``: post-route open-tool figures of the board top level."""

    status: Literal["done"] = "done"
    kind: Literal["post-route open-tool figures"] = POST_ROUTE
    tool: str
    device: str = Field(description="nextpnr-ecp5 device, package and speed grade")
    part: str
    oscillator_mhz: float
    pll: str | None = Field(description="EHXPLLL dividers when the clock is not the oscillator's")
    target_mhz: float
    achieved_mhz: float | None = Field(description="nextpnr's achieved Fmax of the design clock")
    timing_met: bool
    utilization: dict[str, Use] = Field(description="LUT4, FF, MULT18, EBR used of the device's")
    cells: dict[str, Use] = Field(description="every cell type nextpnr reports, used of available")
    baud: int = BAUD
    top_sim: TopSimFigures
    bitstream: str | None
    report: str
    log: str
    pnr_seconds: float
    pack_seconds: float
    yosys_use: dict[str, int] | None = Field(None, description="yosys synth_ecp5's counts in the same units (the fit's)")
    packing_difference: dict[str, int] | None = Field(None, description="nextpnr's post-route count minus yosys'")


class SkippedStage(_Record):
    """A stage that did not run, and the one line saying why."""

    status: Literal["skipped"] = "skipped"
    stage: str
    reason: str


RTLSection = Annotated[Union[RTLRecord, SkippedStage], Field(discriminator="status")]
RTLSimSection = Annotated[Union[RTLSimRecord, SkippedStage], Field(discriminator="status")]
GatesSection = Annotated[Union[GateRecord, SkippedStage], Field(discriminator="status")]
PnRSection = Annotated[Union[PnRRecord, SkippedStage], Field(discriminator="status")]
Record = TypeVar("Record", bound=_Record)


def write_record(record: _Record, path: Path) -> Path:
    return rundir.write_json_atomic(path, record.model_dump(mode="json"))


def read_record(kind: type[Record], path: Path) -> Record:
    return kind.model_validate_json(Path(path).read_text(encoding="utf-8"))
