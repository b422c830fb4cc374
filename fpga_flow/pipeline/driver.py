"""The one step driver: every command that runs steps (build, the estimate, the sweep's
fit probe, ``fpga-flow rtl`` on a finished run, deploy) runs them through
:func:`run_step` / :func:`run_steps`.

A step is a function ``run(ctx) -> result`` over a context that has ``progress``
(``progress(step, state)``), ``timings`` (seconds by step name) and ``marker_dir``
(where the ``INCOMPLETE`` marker names the running step). The driver marks the folder,
reports the start, times the step, stores its result in the context field it
``writes``, and reports how it ended: "done", or "skipped" (with the reason) for a step
that did not run (:func:`skip_note`). It catches nothing: an error or Ctrl-C
(KeyboardInterrupt) leaves the marker naming the step it stopped in and goes up to the
command, which maps it to its exit code.

A list of steps may hold groups: an object with ``steps`` (its own steps) and
``run_in(ctx)`` that runs them its own way (the build cache,
:class:`fpga_flow.pipeline.design_cache.CachedSteps`).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol

from fpga_flow import rundir

SKIPPED = "skipped"

# Ctrl-C, kept where Python cannot lose it. Python raises KeyboardInterrupt wherever the
# main thread is when SIGINT arrives; raised inside a destructor or a callback it is only
# printed ("Exception ignored in ...") and the build goes on: the suite once saw a build
# exit 0, complete, after a SIGINT mid-build. Under watching_interrupts() the interrupt is
# also recorded, and every step boundary raises it again: the run stops at the latest there.
# SIGTERM (kill PID, a scheduler, a container stopping) is handled the same way, raised as
# Terminated: by default it ends Python at once, without the cleanup that kills the
# running tool's process group (fpga_flow.rtl.process) or leaves the run marked INCOMPLETE.
# The one Python prints when it loses it ("Exception ignored in: <function
# WeakValueDictionary...remove>" and a traceback, seen on a Ctrl-C during hls4ml's
# conversion) is kept off the user's terminal: it is recorded, and raised at the boundary.
_interrupted: list[type[KeyboardInterrupt]] = []  # the first signal's exception, while one is recorded


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C is, so that everything that stops on KeyboardInterrupt
    (the tools' process groups, the INCOMPLETE marker) stops on it too; the command exits
    with ``exit_code`` (128 + SIGTERM, as the shell reports a process SIGTERM ended)."""

    exit_code = 128 + signal.SIGTERM


_WATCHED = ((signal.SIGINT, KeyboardInterrupt, signal.default_int_handler), (signal.SIGTERM, Terminated, signal.SIG_DFL))


@contextlib.contextmanager
def watching_interrupts() -> Iterator[None]:
    """SIGINT and SIGTERM recorded and raised (KeyboardInterrupt, Terminated) while the
    block runs (main thread only; a signal the process ignores, as SIGINT under nohup,
    stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    watched = [(signum, raised, default) for signum, raised, default in _WATCHED if signal.getsignal(signum) is default]

    def handler(raised: type[KeyboardInterrupt]):
        def interrupted(signum, frame):
            if not _interrupted:
                _interrupted.append(raised)
            raise raised

        return interrupted

    def unraisable(report) -> None:
        if not (isinstance(report.exc_value, KeyboardInterrupt) and _interrupted):
            printing(report)  # anything else Python loses is printed, as without this block

    _interrupted.clear()
    for signum, raised, _ in watched:
        signal.signal(signum, handler(raised))
    printing, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        yield
    finally:
        sys.unraisablehook = printing
        for signum, _, default in watched:
            signal.signal(signum, default)
        _interrupted.clear()


def _stop_if_interrupted() -> None:
    if _interrupted:
        raise _interrupted[0]


@dataclass(frozen=True)
class Step:
    """One named step; ``writes`` is the context field its result goes to. A step with
    ``marks`` off leaves the folder's marker alone (a step on a finished run or bundle,
    which must keep looking finished)."""

    name: str
    title: str
    run: Callable[[Any], Any]
    writes: str | None = None
    marks: bool = True

    @property
    def steps(self) -> tuple["Step", ...]:
        return (self,)

    def run_in(self, ctx: Any) -> None:
        run_step(ctx, self)


class StepGroup(Protocol):
    steps: tuple[Step, ...]

    def run_in(self, ctx: Any) -> None: ...


def run_step(ctx: Any, step: Step) -> Any:
    """Run one step over ``ctx`` (see the module docstring); returns its result."""
    _stop_if_interrupted()
    if step.marks:
        rundir.mark_incomplete(ctx.marker_dir, step.name)
    ctx.progress(step.name, "start")
    start = time.perf_counter()
    result = step.run(ctx)
    _stop_if_interrupted()
    if step.writes is not None:
        setattr(ctx, step.writes, result)
    ctx.timings[step.name] = round(time.perf_counter() - start, 3)
    ctx.progress(step.name, skip_note(result) if step.writes is not None else "done")
    return result


def report_restored(ctx: Any, steps: Iterable[Step]) -> None:
    """Progress for steps whose results a cache entry gave instead of running them."""
    for step in steps:
        ctx.progress(step.name, "start")
        ctx.progress(step.name, "from the build cache")
        ctx.progress(step.name, "done")


def record_own_time(ctx: Any, name: str, steps: Iterable[Step], start: float) -> None:
    """``timings_s[name]``: a cached group's own time since ``start`` (waiting for a writer,
    copying), without the time of the steps it ran itself."""
    ran = sum(ctx.timings.get(step.name, 0.0) for step in steps)
    ctx.timings[name] = round(time.perf_counter() - start - ran, 3)


def skip_note(result: Any) -> str:
    """The progress state a step ends in: "done", or "skipped" (with the reason when the
    result gives one) for a step that did not run: it returned None (not asked: --rtl,
    --no-fit, no closure to plot) or a record whose status is "skipped"."""
    if result is None:
        return SKIPPED
    if getattr(result, "status", None) == "skipped":
        reason = getattr(result, "reason", None)
        return f"{SKIPPED}: {reason}" if reason else SKIPPED
    return "done"


def step_names(steps: Iterable[Step | StepGroup]) -> list[str]:
    """Every step's name in order, those inside groups included."""
    return [step.name for item in steps for step in item.steps]


def run_steps(ctx: Any, steps: Iterable[Step | StepGroup], start_at: str | None = None,
              stop_after: str | None = None) -> None:
    """Run ``steps`` in order over ``ctx``, from the step ``start_at`` (default: the first)
    through the step ``stop_after`` (default: the last), as FINN's ``start_step`` and
    ``stop_step``. A bound inside a group runs that group's steps one by one, without the
    group's own way (a build stopped after ``precision`` stores no cache entry)."""
    steps = tuple(steps)
    names = step_names(steps)
    for bound in (start_at, stop_after):
        if bound is not None and bound not in names:
            raise ValueError(f"no step '{bound}' among {', '.join(names)}")
    started = start_at is None
    for item in steps:
        inner = [step.name for step in item.steps]
        cut = start_at in inner[1:] or stop_after in inner[:-1]
        for unit in (item.steps if cut else (item,)):
            unit_names = [step.name for step in unit.steps]
            started = started or start_at in unit_names
            if started:
                unit.run_in(ctx)
            if stop_after in unit_names:
                return


def titles(steps: Iterable[Step | StepGroup]) -> dict[str, str]:
    """Every step's title by name, those inside groups included."""
    return {step.name: step.title for item in steps for step in item.steps}
