"""What a build depends on, as the user gave it: :class:`BuildConfig`, the one definition
of every build option.

Each field carries its description and, where the command line spells it differently
from the field name, its flag (``cli_flag``). ``fpga-flow build`` and ``fpga-flow sweep``
derive their options' defaults and help from here (:mod:`fpga_flow.cli.options`), and
:func:`build_config` turns a validation error into one line naming the flag. A field
added here is a new option of both commands once it is declared in the options module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from fpga_flow.errors import UserInputError
from fpga_flow.layers import DISTRIBUTED_ARITHMETIC, FIT_STRATEGIES, IO_TYPES, POLICIES, STRATEGIES, canonical_strategy

DEFAULT_REPORTS_DIR = Path("reports")
# The share of each resource a fitted design may use: the headroom routing needs.
DEFAULT_BUDGET = 0.8
INPUT_DISTRIBUTIONS = ("normal", "uniform")


def _flag(text: str) -> dict[str, Any]:
    return {"json_schema_extra": {"cli_flag": text}}


class BuildConfig(BaseModel):
    """Everything a build depends on, as the user gave it."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="A zoo recipe name, or a model file (.h5, .keras, or .json with --weights).")
    board: str = Field(description="Target board (see 'fpga-flow boards').")
    out: Path | None = Field(default=None, description="Run directory (default: REPORTS_DIR/runs/MODEL_BOARD_TIME).")
    io_type: Literal[IO_TYPES] | None = Field(
        default=None, description="io_parallel or io_stream (default: the recipe's, else io_parallel).")
    strategy: Literal[STRATEGIES] | None = Field(
        default=None, description="Latency, Resource or distributed_arithmetic (da4ml adder graphs, reuse factor 1; "
                                  "default: the recipe's, else Latency).")
    reuse_factor: int | None = Field(
        default=None, ge=1, description="hls4ml reuse factor, at least 1 (default: the recipe's, else 1).")
    clock_period_ns: float | None = Field(
        default=None, gt=0, le=100, description="Clock period in ns (default: the board's).", **_flag("--clock"))
    synth: bool = Field(default=False, description="Run vendor synthesis when the backend's tool is on PATH.",
                        **_flag("--synth/--no-synth"))
    rtl: bool = Field(default=False, description="After C-simulation, write the model's RTL (da4ml), simulate it with "
                      "Verilator against the C-simulation and count its gates with yosys.", **_flag("--rtl/--no-rtl"))
    pnr: bool = Field(default=False, description="With --rtl on an ECP5 board: simulate the board top level (serial "
                      "framing, the model) against the C-simulation, place and route it with nextpnr-ecp5 at the "
                      "clock and write its bitstream with ecppack.", **_flag("--pnr/--no-pnr"))
    pnr_timeout: float = Field(
        default=60, ge=0, description="With --pnr: minutes nextpnr may place and route before the build stops it and "
                                      "fails naming where the router was (fractions allowed; 0: no limit).")
    stage_levels: int | None = Field(
        default=None, ge=1, description="With --rtl: adder levels per pipeline stage, replacing the family's delay "
                                        "model (lower it when --pnr misses the clock).")
    min_agreement: float = Field(
        default=0.99, ge=0, le=1, description="Fail the check (exit 1) below this C-simulation/Keras argmax agreement.")
    precision_policy: Literal[POLICIES] = Field(default="closure", description="Precision policy: default, auto or closure.")
    target_agreement: float = Field(default=0.999, ge=0, le=1, description="Agreement the precision closure aims for.")
    test_data: Path | None = Field(default=None, description=".npz with X (and optionally y) for a model file.")
    weights: Path | None = Field(default=None, description="Weights .h5 for a .json architecture.")
    input_dist: Literal[INPUT_DISTRIBUTIONS] = Field(
        default="normal", description="Synthetic inputs when there is no --test-data: normal or uniform.")
    epochs: int | None = Field(default=None, ge=1, description="Training epochs for a zoo recipe trained on demand.")
    boards_dir: Path | None = Field(
        default=None, description="Folder of extra board YAML files (or set FPGA_FLOW_BOARDS_DIR).")
    reports_dir: Path = Field(
        default=DEFAULT_REPORTS_DIR, description="Root of runs, sweeps, zoo exports and the run history.")
    force: bool = Field(default=False, description="Replace an existing --out directory.")
    max_samples: int | None = Field(
        default=None, ge=2, description="Use at most this many evaluation (and calibration) samples.")
    cache_dir: Path | None = Field(
        default=None, description="Build cache folder (default: $FPGA_FLOW_CACHE_DIR or REPORTS_DIR/cache).")
    use_cache: bool = Field(default=True, description="Reuse and store chosen precisions and compiled projects.",
                            **_flag("--cache/--no-cache"))
    record_history: bool = Field(
        default=True, description="Record the run in the run history (a sweep records its points itself).")
    fit: bool | None = Field(
        default=None, validate_default=True,
        description="Choose per-layer reuse factors and strategies, and the io type, so the design fits the board by "
                    "estimate before any C++ is compiled (--io-type, --strategy, --reuse-factor given are kept). "
                    "Default: on, except with --strategy distributed_arithmetic (not searched: kept as given).",
        **_flag("--fit/--no-fit"))
    budget: float | None = Field(
        default=None, gt=0, le=1,
        description=f"The share of each board resource the design may use (default {DEFAULT_BUDGET}): the fit's "
                    "target, and the budget check of every build.")
    allow_over_budget: bool = Field(
        default=False, description="Finish with exit 0 even when the estimate does not fit the board within --budget "
                                   "(the status still says DOES NOT FIT); with the fit, build its best plan when none fits.")
    target_latency_ns: float | None = Field(
        default=None, gt=0, description="With the fit: a latency in ns to meet with the least resources "
                                        "(default: the least latency within --budget).", **_flag("--target-latency"))

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy_any_case(cls, value):
        return canonical_strategy(value)

    @field_validator("fit")
    @classmethod
    def _fit_strategy(cls, value, info: ValidationInfo):
        # Invariant: after validation ``fit`` is a bool. The fit searches the strategies the
        # estimate is calibrated on, so distributed_arithmetic given turns its default off.
        da = info.data.get("strategy") == DISTRIBUTED_ARITHMETIC
        if value is None:
            return not da
        if value and da:
            raise ValueError(f"it chooses among {' and '.join(FIT_STRATEGIES)} (the strategies the estimate is "
                             f"calibrated on): drop --strategy {DISTRIBUTED_ARITHMETIC} or --fit")
        return value

    @field_validator("pnr", "stage_levels")
    @classmethod
    def _only_with_rtl(cls, value, info: ValidationInfo):
        if value and not info.data.get("rtl"):
            raise ValueError("it works on the RTL: add --rtl")
        return value

    @field_validator("target_latency_ns")
    @classmethod
    def _only_with_fit(cls, value, info: ValidationInfo):
        if value is not None and not info.data.get("fit"):
            raise ValueError("it is a goal of the fit: drop --no-fit")
        return value

    @property
    def fit_budget(self) -> float:
        """The budget the fit and the budget check use: the one given, else the default."""
        return DEFAULT_BUDGET if self.budget is None else self.budget

    @property
    def tool_budget(self) -> float:
        """The share of the device the open tools run up to on ECP5 (yosys by da4ml's estimate,
        nextpnr by yosys' counts: fpga_flow/rtl/fit_ecp5.py): the device with --allow-over-budget."""
        return 1.0 if self.allow_over_budget else self.fit_budget


def cli_flag(field: str) -> str:
    """The command-line spelling of a BuildConfig field: ``--clock`` for
    ``clock_period_ns``, ``--synth/--no-synth`` for ``synth``, else ``--field-name``."""
    extra = BuildConfig.model_fields[field].json_schema_extra or {}
    return extra.get("cli_flag") or "--" + field.replace("_", "-")


def build_config(**fields: Any) -> BuildConfig:
    """A validated BuildConfig; the first invalid field is a one-line UserInputError
    naming its command-line flag."""
    try:
        return BuildConfig(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        where = cli_flag(field).split("/")[0] if field in BuildConfig.model_fields else field or "options"
        message = first["msg"].removeprefix("Value error, ")
        raise UserInputError(f"{where}: {message}") from None
