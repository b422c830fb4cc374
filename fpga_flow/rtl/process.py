"""The RTL stages' external tools (yosys, nextpnr, ecppack, Verilator and its make and g++,
the top-level simulator) run through :func:`run_tool`, so that none outlives the build.

Invariant (enforced here): each tool starts in its own process group, and when the Python
side stops while the tool runs (Ctrl-C's KeyboardInterrupt, SIGTERM's Terminated, a time
limit, any exception) the whole group is killed before the exception goes on: yowasp's tools are a Python
process running a WebAssembly runtime, yosys runs shell commands, Verilator runs make and
g++, and killing the leader alone would leave those running. In their own group they no
longer receive a terminal's Ctrl-C themselves: the build kills them.

A thread pool of tools (:func:`map_tools`, the ``gates`` stage's yosys batches) is stopped
the same way: KeyboardInterrupt reaches the main thread only, which kills every tool the
pool's threads started (:func:`_stopping`) and lets no queued one start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from fpga_flow.errors import StageFailedError

T = TypeVar("T")
R = TypeVar("R")
GRACE_S = 2.0  # a killed tool's group gets SIGTERM, then SIGKILL after this many seconds

_lock = threading.Lock()
_running: set[subprocess.Popen] = set()
_stopping = threading.Event()


def kill_group(process: subprocess.Popen) -> None:
    """End ``process`` and every process of its group (SIGTERM, then SIGKILL); reap it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        if sig == signal.SIGTERM:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(GRACE_S)
    process.wait()


def run_tool(command: list[str], cwd: Path, *, stdout=None, stderr=None, input: bytes | None = None,
             timeout: float | None = None) -> subprocess.CompletedProcess:
    """``subprocess.run`` of a long tool in its own process group, killed with its group
    when this call ends by an exception; ``timeout`` (seconds) raises
    ``subprocess.TimeoutExpired`` after the kill. ``stdout``/``stderr`` as for Popen."""
    with _lock:
        if _stopping.is_set():
            raise StageFailedError(f"{Path(command[0]).name} not started: the build is stopping")
        process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE if input is not None else None,
                                   stdout=stdout, stderr=stderr, process_group=0)
        _running.add(process)
    try:
        out, err = process.communicate(input, timeout=timeout)
    except BaseException:
        kill_group(process)
        raise
    finally:
        with _lock:
            _running.discard(process)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


@contextlib.contextmanager
def _stopping_tools() -> Iterator[None]:
    """Kill every tool running and start none until the block ends."""
    _stopping.set()
    try:
        with _lock:
            running = list(_running)
        for process in running:
            kill_group(process)
        yield
    finally:
        _stopping.clear()


def map_tools(function: Callable[[T], R], items: Iterable[T], jobs: int) -> list[R]:
    """``function`` (which runs tools through :func:`run_tool`) over ``items`` on ``jobs``
    threads; when the caller is interrupted or one fails, the tools still running are killed,
    the queued items never start, and the exception goes on."""
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        return list(pool.map(function, items))
    except BaseException:
        with _stopping_tools():
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
