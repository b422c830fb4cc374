"""The pipeline's one step driver and its named step lists: a list runs in part (FINN's
start/stop steps), a bound inside a group runs its steps one by one, an interrupt goes up
with the marker naming the step it stopped in, and the partial pipelines are the build's
own steps."""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fpga_flow.boards import get_board
from fpga_flow.config import BuildConfig
from fpga_flow.pipeline import BUILD_STEPS, ESTIMATE_STEPS, FIT_PROBE_STEPS, BuildContext, Step, run_steps
from fpga_flow.pipeline.driver import step_names, watching_interrupts


@dataclass
class Context:
    marker_dir: Path
    ran: list[str] = field(default_factory=list)
    seen: list[tuple[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    value: int | None = None

    def progress(self, step: str, state: str) -> None:
        self.seen.append((step, state))


def _step(name: str) -> Step:
    def run(ctx: Context) -> int:
        ctx.ran.append(name)
        return len(ctx.ran)

    return Step(name, f"Doing {name}", run, writes="value")


@dataclass
class Group:
    """A group that runs its steps its own way (as the build cache does)."""

    steps: tuple[Step, ...]

    def run_in(self, ctx: Context) -> None:
        ctx.ran.append("group:" + ",".join(step.name for step in self.steps))
        for step in self.steps:
            step.run_in(ctx)


STEPS = (_step("a"), Group((_step("b"), _step("c"), _step("d"))), _step("e"))


@pytest.mark.parametrize(("start_at", "stop_after", "ran"), [
    (None, None, ["a", "group:b,c,d", "b", "c", "d", "e"]),
    (None, "a", ["a"]),
    (None, "d", ["a", "group:b,c,d", "b", "c", "d"]),  # the group's last step: the group runs whole
    (None, "c", ["a", "b", "c"]),  # inside the group: its steps one by one, not its own way
    ("c", None, ["c", "d", "e"]),
    ("b", "e", ["group:b,c,d", "b", "c", "d", "e"]),
    ("e", "e", ["e"]),
])
def test_a_step_list_runs_from_start_at_through_stop_after(tmp_path, start_at, stop_after, ran):
    ctx = Context(tmp_path)
    run_steps(ctx, STEPS, start_at=start_at, stop_after=stop_after)
    assert ctx.ran == ran
    assert set(ctx.timings) == {name for name in ran if not name.startswith("group:")}
    assert (tmp_path / "INCOMPLETE").read_text() == f"stage: {ran[-1]}\n"
    assert ctx.seen[-2:] == [(ran[-1], "start"), (ran[-1], "done")]


def test_an_unknown_bound_is_refused_before_any_step_runs(tmp_path):
    ctx = Context(tmp_path)
    with pytest.raises(ValueError, match="no step 'x' among a, b, c, d, e"):
        run_steps(ctx, STEPS, stop_after="x")
    assert ctx.ran == [] and not (tmp_path / "INCOMPLETE").exists()


def test_ctrl_c_in_a_step_goes_up_and_the_marker_names_that_step(tmp_path):
    def interrupted(ctx: Context) -> None:
        raise KeyboardInterrupt

    ctx = Context(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run_steps(ctx, (_step("a"), Step("b", "Interrupted", interrupted), _step("c")))
    assert ctx.ran == ["a"] and "b" not in ctx.timings
    assert (tmp_path / "INCOMPLETE").read_text() == "stage: b\n"


@pytest.fixture
def fresh_sigint():
    """SIGINT handled as in a new ``fpga-flow`` process (Python's default handler). A test
    worker runs other files first, and a library they drive may leave its own handler behind
    (asyncio's add_signal_handler, as nbclient uses, does until it is removed); with another
    handler in place watching_interrupts rightly stands aside, and the test below would test
    nothing (a suite run failed so: DID NOT RAISE)."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield inherited
    signal.signal(signal.SIGINT, inherited)


def test_a_ctrl_c_lost_inside_a_step_still_stops_the_run_at_the_step_boundary(tmp_path, fresh_sigint):
    """A real SIGINT whose KeyboardInterrupt the step loses (as Python loses one raised in a
    destructor): under watching_interrupts the run stops when the step returns."""

    def losing(ctx: Context) -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler runs here
        except KeyboardInterrupt:
            ctx.ran.append("lost")

    ctx = Context(tmp_path)
    with watching_interrupts(), pytest.raises(KeyboardInterrupt):
        run_steps(ctx, (_step("a"), Step("b", "Loses Ctrl-C", losing), _step("c")))
    assert ctx.ran == ["a", "lost"] and "b" not in ctx.timings
    assert (tmp_path / "INCOMPLETE").read_text() == "stage: b\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored after the block
    (tmp_path / "next").mkdir()
    run_steps(Context(tmp_path / "next"), (_step("a"),))  # the next run does not see the old interrupt


class _InterruptsInItsDestructor:
    """Ctrl-C arriving while Python runs a destructor: its KeyboardInterrupt cannot propagate."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)  # the handler runs before this returns, inside __del__


def test_a_ctrl_c_python_loses_in_a_destructor_is_not_reported_and_stops_at_the_boundary(
        tmp_path, fresh_sigint, monkeypatch):
    """What a user once saw on Ctrl-C during hls4ml's conversion: "Exception ignored in:
    <function WeakValueDictionary...>" and a traceback (Python's report of an exception it
    could not raise). The lost interrupt stops the run at the step boundary, unreported;
    anything else Python loses is still reported."""
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)  # Python's default prints the traceback

    def loses_it(ctx: Context) -> None:
        _InterruptsInItsDestructor()  # made and collected at once
        ctx.ran.append("lost")

    ctx = Context(tmp_path)
    with watching_interrupts(), pytest.raises(KeyboardInterrupt):
        run_steps(ctx, (Step("b", "Loses Ctrl-C in a destructor", loses_it), _step("c")))
    assert ctx.ran == ["lost"] and reported == []

    class Fails:
        def __del__(self) -> None:
            raise ValueError("a destructor's own error")

    with watching_interrupts():
        Fails()
    assert [type(report.exc_value) for report in reported] == [ValueError]
    assert sys.unraisablehook == reported.append  # restored after the block


def test_a_step_that_does_not_mark_leaves_a_finished_folder_finished(tmp_path):
    ctx = Context(tmp_path)
    Step("late", "On a finished run", lambda ctx: None, marks=False).run_in(ctx)
    assert not (tmp_path / "INCOMPLETE").exists() and "late" in ctx.timings


def test_the_partial_pipelines_are_the_builds_own_steps():
    build = {step.name: step for item in BUILD_STEPS for step in item.steps}
    for partial in (ESTIMATE_STEPS, FIT_PROBE_STEPS):
        assert all(build[step.name] is step for step in partial)
    assert step_names(ESTIMATE_STEPS) == ["load", "check", "precision"]
    assert step_names(FIT_PROBE_STEPS) == ["load", "check", "fit"]


def test_a_build_stopped_after_precision_fits_and_chooses_but_compiles_and_caches_nothing(tmp_path):
    import numpy as np
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.layers.Input((6,), name="x"), tf.keras.layers.Dense(4, name="dense"),
                                 tf.keras.layers.Activation("softmax", name="softmax")])
    model.save(tmp_path / "model.h5")
    np.savez(tmp_path / "data.npz", X=np.random.default_rng(1).standard_normal((20, 6)).astype(np.float32))
    config = BuildConfig(model=str(tmp_path / "model.h5"), board="pynq-z2", test_data=tmp_path / "data.npz",
                         precision_policy="auto", reports_dir=tmp_path, cache_dir=tmp_path / "cache")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    ctx = BuildContext(config, get_board("pynq-z2"), run_dir)
    run_steps(ctx, BUILD_STEPS, stop_after="precision")
    assert ctx.fit is not None and ctx.fit.fits  # fitted by default, before the precisions
    assert ctx.precision.policy == "auto" and ctx.project is None and ctx.compiled is None
    assert list(ctx.timings) == ["load", "check", "fit", "precision"]
    assert (run_dir / "INCOMPLETE").read_text() == "stage: precision\n"
    assert not (tmp_path / "cache").exists()  # the cached group was cut: no entry stands for part of it
    assert sorted(path.name for path in run_dir.iterdir()) == ["INCOMPLETE"]
