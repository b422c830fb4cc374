"""Board catalogue: one YAML declaration per board, validated on load.

Boards come from the catalogue shipped in the package (``fpga_flow/board_configs/``, package
data, so an installed wheel has it) plus any folder named by
``--boards-dir`` or the ``FPGA_FLOW_BOARDS_DIR`` environment variable (``os.pathsep``
separated); a user board with the same name replaces the shipped one.
"""

from __future__ import annotations

import difflib
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fpga_flow.errors import BoardConfigError
from fpga_flow.layers import RESOURCE_KEYS  # noqa: F401 (re-exported: boards.Resources declares these fields)

BOARDS_DIR_ENV = "FPGA_FLOW_BOARDS_DIR"
SHIPPED_BOARDS_DIR = Path(__file__).resolve().parent / "board_configs"


class Resources(BaseModel):
    """Resource totals of a part, in the units the vendor tools report (BRAM in 18Kb halves)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    LUT: int = Field(gt=0)
    FF: int = Field(gt=0)
    DSP: int = Field(ge=0)
    BRAM_18K: int = Field(ge=0)
    URAM: int = Field(ge=0)


# Lattice boards count resources in the device's own units, held in the same fields.
DEVICE_UNITS: dict[str, dict[str, str]] = {"ecp5": {"LUT": "LUT4", "DSP": "MULT18", "BRAM_18K": "EBR"}}


class PinClock(BaseModel):
    """A board oscillator: the package pin it enters on and its frequency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pin: str
    mhz: float = Field(gt=0)


class SerialPins(BaseModel):
    """The board's serial line as the FPGA sees it: ``rx`` into the FPGA, ``tx`` out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rx: str
    tx: str
    via: str = ""


class OpenFPGA(BaseModel):
    """What the open place-and-route flow (nextpnr-ecp5, ecppack) needs of a board."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nextpnr_device: Literal["12k", "25k", "45k", "85k", "um-25k", "um-45k", "um-85k", "um5g-25k", "um5g-45k",
                            "um5g-85k"]
    package: str
    speed: Literal[6, 7, 8]
    oscillator: PinClock
    uart: SerialPins
    io_standard: str = "LVCMOS33"
    program: str = Field(description="the programming command, without the bitstream")
    nextpnr_options: tuple[str, ...] = Field(
        default=(), description="extra nextpnr-ecp5 options for this board's designs, e.g. the placer and router "
                                "that route them in reasonable time (measured in docs/open_fpga.md)")


class BoardRecord(BaseModel):
    """What a run records of its board: the target, not the catalogue entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    part: str = Field(min_length=4)
    family: str
    backend: Literal["Vivado", "Vitis", "VivadoAccelerator", "Quartus", "oneAPI"]
    resources: Resources


class Board(BoardRecord):
    """A board as the build needs it: its part, clock, resources and hls4ml backend."""

    vendor: Literal["AMD", "Intel", "Lattice"]
    description: str = ""
    clock_period_ns: float = Field(gt=0, le=100)
    accelerator_board: str | None = None
    datasheet: str | None = None
    # Lattice boards: no vendor HLS backend here (``backend`` is hls4ml's Vivado, for the
    # C-simulation only); the design goes through the RTL and the open tools.
    open_fpga: OpenFPGA | None = None

    @field_validator("part")
    @classmethod
    def _part_has_no_spaces(cls, value: str) -> str:
        if value != value.strip() or " " in value:
            raise ValueError("a part string has no spaces, e.g. xc7z020clg400-1")
        return value

    @property
    def clock_mhz(self) -> float:
        return 1000.0 / self.clock_period_ns

    @property
    def units(self) -> dict[str, str]:
        """Each resource field's unit on this device (LUT4, MULT18, EBR on ECP5)."""
        return {key: DEVICE_UNITS.get(self.family, {}).get(key, key) for key in RESOURCE_KEYS}

    @property
    def hls_vendor_flow(self) -> bool:
        """True when the hls4ml backend is also the board's implementation flow."""
        return self.open_fpga is None

    def record(self) -> BoardRecord:
        return BoardRecord.model_validate(self.model_dump(include=set(BoardRecord.model_fields)))


def board_dirs(extra_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for board YAML files, later ones overriding earlier ones."""
    dirs = [SHIPPED_BOARDS_DIR]
    env = os.environ.get(BOARDS_DIR_ENV)
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    if extra_dir is not None:
        dirs.append(Path(extra_dir))
    for folder in dirs[1:]:
        if not folder.is_dir():
            raise BoardConfigError(
                f"boards folder {folder} does not exist: give an existing folder of board YAML files"
            )
    return dirs


def load_board_file(path: Path) -> Board:
    """Parse and validate one board YAML; errors name the file and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise BoardConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise BoardConfigError(f"{path}: a board file must be a YAML mapping of fields (name, part, ...)")
    try:
        return Board.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BoardConfigError(f"{path}: field '{field}': {first['msg']}") from None


@lru_cache(maxsize=16)
def _load_catalogue(dirs: tuple[Path, ...]) -> dict[str, Board]:
    boards: dict[str, Board] = {}
    for folder in dirs:
        for path in sorted(folder.glob("*.y*ml")):
            board = load_board_file(path)
            boards[board.name] = board
    return boards


def load_boards(extra_dir: str | Path | None = None) -> dict[str, Board]:
    """All boards by name."""
    return dict(_load_catalogue(tuple(board_dirs(extra_dir))))


def get_board(name: str, extra_dir: str | Path | None = None) -> Board:
    """One board by name; an unknown name suggests the closest known ones."""
    boards = load_boards(extra_dir)
    key = name.strip().lower()
    if key in boards:
        return boards[key]
    close = difflib.get_close_matches(key, boards, n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(close)}?" if close else "see 'fpga-flow boards'"
    raise BoardConfigError(f"unknown board '{name}': {hint}")
