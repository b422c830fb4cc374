"""The typer application and the one place that turns errors into one-line messages."""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from typing import Any, Callable, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from fpga_flow.errors import FlowError
from fpga_flow.pipeline.driver import Terminated, watching_interrupts

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
    """Turn FlowError (and Ctrl-C, and SIGTERM) into a one-line message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with watching_interrupts():
                return func(*args, **kwargs)
        except FlowError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except Terminated:
            raise fail("terminated (SIGTERM): the run directory is marked INCOMPLETE", Terminated.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted: the run directory is marked INCOMPLETE", 130) from None

    return wrapper  # type: ignore[return-value]


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def run_with_progress(cfg, titles: dict[str, str], runner: Callable[[Any, Callable[[str, str], None]], Any],
                      quiet: bool):
    """``runner(cfg, progress)`` with a line per step on stderr: ``progress(step, state)``
    with state "start", "done", "skipped" (maybe with ": why") or a message (the
    closure's iterations)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, disable=quiet) as bar:
        tasks = {}

        def progress(step: str, state: str) -> None:
            if state == "start":
                tasks[step] = bar.add_task(titles.get(step, step), total=1)
            elif state == "done":
                bar.update(tasks[step], completed=1, description=f"[green]✓[/] {titles.get(step, step)}")
            elif state.startswith("skipped"):  # a step that did not run (fpga_flow.pipeline.driver.skip_note)
                bar.update(tasks[step], completed=1, description=f"[dim]- {titles.get(step, step)} ({state})[/]")
            else:
                bar.update(tasks[step], description=f"{titles.get(step, step)}: {state}")

        return runner(cfg, progress)
