"""The typer application and the one place that turns errors into one-line messages."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from typing import Callable, TypeVar

import typer
from rich.console import Console

from fpga_flow.errors import FlowError

# TensorFlow, Keras and hls4ml talk on stderr at import and conversion; a user of the
# command reads our messages, and the full logs are kept in the run directory.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)

app = typer.Typer(
    name="fpga-flow",
    help="Quantization-aware networks to board-targeted, C-simulation-checked hls4ml projects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

F = TypeVar("F", bound=Callable)


def fail(message: str, code: int = 2) -> "typer.Exit":
    """Print ``error: message`` on stderr and return the Exit to raise."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def user_errors(func: F) -> F:
    """Turn FlowError (and Ctrl-C) into a one-line message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except FlowError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted: the run directory is marked INCOMPLETE", 130) from None

    return wrapper  # type: ignore[return-value]


def print_json(data) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
