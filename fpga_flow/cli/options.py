"""Command-line options of the BuildConfig fields, shared by ``fpga-flow build`` and
``fpga-flow sweep``: each option's flag, default and help come from the field
(:mod:`fpga_flow.config`), so the commands and the config cannot drift apart.

A command names its parameters after the fields, so its arguments go to
:func:`fpga_flow.config.build_config` as they are."""

from __future__ import annotations

from typing import Any

import typer

from fpga_flow.config import BuildConfig, cli_flag


def config_option(field: str, *extra_flags: str, help: str | None = None) -> Any:
    """The typer option of a BuildConfig field, with the field's default and description
    (``help`` replaces the description where a command gives the field another meaning)."""
    spec = BuildConfig.model_fields[field]
    default = ... if spec.is_required() else spec.default
    return typer.Option(default, cli_flag(field), *extra_flags, help=help or spec.description)


def axis_option(field: str, example: str, *extra_flags: str) -> Any:
    """A sweep axis: the field's option taking comma-separated values."""
    spec = BuildConfig.model_fields[field]
    default = ... if spec.is_required() else None if spec.default is None else str(spec.default)
    return typer.Option(default, cli_flag(field), *extra_flags,
                        help=f"{spec.description} Comma-separated to sweep several, e.g. {example}.")


MODEL = typer.Argument(..., help=BuildConfig.model_fields["model"].description)
IO_TYPE = config_option("io_type")
STRATEGY = config_option("strategy")
REUSE_FACTOR = config_option("reuse_factor")
PRECISION_POLICY = config_option("precision_policy")
CLOCK = config_option("clock_period_ns")
SYNTH = config_option("synth")
RTL = config_option("rtl")
PNR = config_option("pnr")
PNR_TIMEOUT = config_option("pnr_timeout")
STAGE_LEVELS = config_option("stage_levels")
MIN_AGREEMENT = config_option("min_agreement")
TARGET_AGREEMENT = config_option("target_agreement")
TEST_DATA = config_option("test_data")
WEIGHTS = config_option("weights")
INPUT_DIST = config_option("input_dist")
EPOCHS = config_option("epochs")
MAX_SAMPLES = config_option("max_samples")
BOARDS_DIR = config_option("boards_dir")
REPORTS_DIR = config_option("reports_dir")
CACHE_DIR = config_option("cache_dir")
USE_CACHE = config_option("use_cache")
FIT = config_option("fit")
BUDGET = config_option("budget")
ALLOW_OVER_BUDGET = config_option("allow_over_budget")
TARGET_LATENCY = config_option("target_latency_ns")
