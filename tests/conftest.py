"""Shared fixtures: the repository's paths, a CLI runner, zoo models trained once per
session, and a reports folder of its own for each test file.

No test file sees state another file left: the only things computed once and reused
across files (a trained zoo export, the digits CNN built for the PYNQ-Z2) come from
:class:`SessionStore`, keyed by what determines them and made under a file lock, so the
xdist workers of one session make each once, whichever worker asks first, and every file
gets the same result whatever the order the files run in."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import traceback
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import pytest
from typer.testing import CliRunner

from fpga_flow.cache import OBJECT_DIR_ENV, BuildCache
from fpga_flow.cli import app as cli_app

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CNN_EPOCHS = 12
# The recurrent recipes' short training in the tests (test_recurrent, test_deploy_alveo).
RNN_EPOCHS = 12
HISTORY_NAME = "fpga_flow.db"


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``fpga-flow ARGS`` in this worker, as typer's test runner does: the same
    application, options, messages and exit code as the command, without the ~6 s of CPU a
    new process spends importing TensorFlow, QKeras and hls4ml (about 70 builds in the
    suite). ``cwd`` (default: the test's own working directory, :func:`own_working_directory`)
    and ``env`` hold for the call only.

    What only a process shows is tested with :func:`spawn_cli`: the entry point, stdout
    holding nothing but ``--json``'s document, Ctrl-C, a rebuild that imports no TensorFlow.
    An exception the command does not turn into a message is appended to stderr as Python
    prints it, so "no traceback" assertions hold as they do for a process; Keras' layer
    name counters are reset first, so a model made in the call is named as in a new process."""
    if "tensorflow" in sys.modules:  # deferred: TensorFlow is only imported by tests that build
        sys.modules["tensorflow"].keras.backend.clear_session()
    previous = os.getcwd()
    os.chdir(cwd or _default_cwd())
    try:
        result = CliRunner().invoke(cli_app, list(args), env={"TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
                                    prog_name="fpga-flow")
    finally:
        os.chdir(previous)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["fpga-flow", *args], result.exit_code, result.stdout, stderr)


def spawn_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
              timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``fpga-flow`` as a user would, in a new process (``python -m fpga_flow``), in
    ``cwd`` (default: the test's own working directory)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fpga_flow", *args],
        cwd=cwd or _default_cwd(), env=full_env, capture_output=True, text=True, timeout=timeout,
    )


def interruptible(*args: str, **kwargs) -> subprocess.Popen:
    """``Popen`` of a command a test will interrupt with SIGINT, as Ctrl-C would.

    A process started from a background job of a shell without job control (``cmd &`` in a
    script, ``nohup``: how CI and unattended runs often start ``make test``) inherits SIGINT
    *ignored* (POSIX), and Python then installs no KeyboardInterrupt handler: the child
    would run to its end and exit 0. The child gets SIGINT's default back before exec, so
    the test sees what a user at a terminal sees, whoever started pytest.
    """
    return subprocess.Popen(list(args), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)


# --------------------------------------------------------------------------- once per session


def session_folder(tmp_path_factory) -> Path:
    """The folder every worker of this pytest session shares: pytest-xdist gives each
    worker its own basetemp (``pytest-N/popen-gwK``) under the session's folder; without
    xdist the basetemp is the session's folder itself."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@lru_cache(maxsize=1)
def code_digest() -> str:
    """Hash of the code that makes what the store holds (fpga_flow and model_zoo)."""
    digest = hashlib.sha256()
    for package in ("fpga_flow", "model_zoo"):
        for path in sorted((REPO / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class SessionStore:
    """Results made once per session, each in ``<folder>/<key>/`` where the key hashes a
    description of the result and the code that makes it. The first worker to ask makes
    it while holding an exclusive flock on ``<key>.lock``; the others wait on the lock,
    then read it. A result is complete exactly when its ``COMPLETE`` file exists (written
    last), so one left half-made by a killed worker is made again, never read."""

    COMPLETE = "COMPLETE"

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        with open(self.folder / f"{key}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def get(self, what: dict, make: Callable[[Path], None]) -> Path:
        """The folder holding ``what``; ``make(folder)`` fills it the first time."""
        text = json.dumps(what, sort_keys=True)
        key = hashlib.sha256(f"{text}\0{code_digest()}".encode()).hexdigest()[:20]
        folder = self.folder / key
        done = folder / self.COMPLETE
        if done.is_file():
            return folder
        with self._locked(key):
            if not done.is_file():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                make(folder)
                done.write_text(text)
        return folder


@pytest.fixture(scope="session", autouse=True)
def shared_objects(tmp_path_factory) -> Iterator[Path]:
    """One store of compiled objects for every build of the session, whichever worker runs
    it (``$FPGA_FLOW_OBJECT_DIR``, inherited by the CLI subprocesses): a unit is keyed by its
    preprocessed source, flags and compiler and written under a file lock, so what a build
    computes does not depend on which build compiled a unit first, only how long it takes.
    Tests of the object store's own bookkeeping take it out (``no_shared_objects``)."""
    folder = session_folder(tmp_path_factory) / "objects"
    before = os.environ.get(OBJECT_DIR_ENV)
    os.environ[OBJECT_DIR_ENV] = str(folder)
    yield folder
    if before is None:
        os.environ.pop(OBJECT_DIR_ENV, None)
    else:
        os.environ[OBJECT_DIR_ENV] = before


def session_objects() -> BuildCache:
    """The session's object store (:func:`shared_objects`), for a test that compiles a
    project itself: its units, and the headers they share, compile once per session."""
    return BuildCache(Path(os.environ[OBJECT_DIR_ENV]))


@pytest.fixture
def no_shared_objects(monkeypatch) -> None:
    """Objects kept in each build's own cache, as without ``$FPGA_FLOW_OBJECT_DIR``."""
    monkeypatch.delenv(OBJECT_DIR_ENV, raising=False)


@pytest.fixture(scope="session")
def session_store(tmp_path_factory) -> SessionStore:
    return SessionStore(session_folder(tmp_path_factory) / "session-store")


def trained_export(store: SessionStore, recipe: str, epochs: int) -> Path:
    """A finished ``fpga-flow train`` export of ``recipe`` (read it, or copy it: never
    write into it), trained once per session."""

    def make(folder: Path) -> None:
        result = spawn_cli("train", recipe, "--epochs", str(epochs), "--out", str(folder / recipe), "--json")
        assert result.returncode == 0, result.stderr[-2000:]

    return store.get({"what": "train", "recipe": recipe, "epochs": epochs}, make) / recipe


def reports_folder(store: SessionStore, folder: Path, *exports: tuple[str, int]) -> Path:
    """``folder`` made a reports folder holding copies of the ``(recipe, epochs)`` exports:
    a build given ``--reports-dir folder --epochs N`` reuses them instead of training."""
    for recipe, epochs in exports:
        shutil.copytree(trained_export(store, recipe, epochs), folder / "zoo" / recipe)
    return folder


def recipe_model(name: str):
    """A zoo recipe's untrained model with seeded initial weights (seed 3), and its dataset.
    The architecture decides most of what the tests read (cost, plans, types), the weights
    the rest (a zero or a power of two is a cheaper product): unseeded, the figures would
    depend on what ran before in the worker (a CI run once failed so in test_fit)."""
    import tensorflow as tf  # deferred: TensorFlow is only imported by tests that build

    import fpga_flow  # noqa: F401  (registers the attention layer with hls4ml)
    from model_zoo import get_recipe

    recipe = get_recipe(name)
    data = recipe.dataset(recipe.training.seed)
    tf.keras.utils.set_random_seed(3)
    return recipe.builder(data.input_shape, data.n_classes), data


# --------------------------------------------------------------------------- per test file


@pytest.fixture(scope="module", autouse=True)
def isolated_history(tmp_path_factory) -> Iterator[Path]:
    """Builds and report parsing record into a run history: each test file gets one of its
    own, out of the repository's reports/fpga_flow.db and out of the other files' way."""
    path = tmp_path_factory.mktemp("history") / HISTORY_NAME
    previous = os.environ.get("FPGA_FLOW_DB")
    os.environ["FPGA_FLOW_DB"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("FPGA_FLOW_DB", None)
    else:
        os.environ["FPGA_FLOW_DB"] = previous


# What a command run in the repository adds to when it is given no --reports-dir/--cache-dir:
# the repository's own reports folder, shared by every test and left for the next session.
REPO_REPORTS = REPO / "reports"
REPORTS_FOLDERS = ("", "cache", "cache/entries", "cache/locks", "runs", "zoo", "sweeps")
_working_directory: list[Path] = []  # the running test's own (see own_working_directory)


def _repository_reports() -> dict[str, int]:
    return {name: (REPO_REPORTS / name).stat().st_mtime_ns for name in REPORTS_FOLDERS
            if (REPO_REPORTS / name).is_dir()}


@pytest.fixture(autouse=True)
def own_working_directory(tmp_path_factory) -> Iterator[Path]:
    """Each test's commands (run_cli, spawn_cli) run in an empty folder of the test's own,
    as a user's do in theirs: what a command writes by default (reports/: its cache, zoo
    exports and runs) stays with the test. In the repository, a build of a corrupt model
    file left cache locks in reports/ that every later build there shared. A test that
    still writes into the repository's reports/ (a command given cwd=REPO) fails here (a
    folder's mtime changes when an entry is added; with two workers the test named may be
    the other worker's neighbour)."""
    before = _repository_reports()
    _working_directory[:] = [tmp_path_factory.mktemp("cwd")]
    yield _working_directory[0]
    _working_directory.clear()
    if _repository_reports() != before:
        pytest.fail(f"a test wrote into {REPO_REPORTS}: give its builds --reports-dir (and --cache-dir) under tmp_path")


def _default_cwd() -> Path:
    return _working_directory[0] if _working_directory else REPO


@pytest.fixture(scope="module")
def reports_root(session_store, tmp_path_factory) -> Path:
    """This test file's reports folder, holding the session's cnn_digits export (trained
    for CNN_EPOCHS): its builds, build cache and retrainings stay in this file."""
    return reports_folder(session_store, tmp_path_factory.mktemp("reports"), ("cnn_digits", CNN_EPOCHS))


@pytest.fixture(scope="session")
def cnn_pynq_z2_build(session_store) -> tuple[Path, subprocess.CompletedProcess]:
    """``fpga-flow build cnn_digits --board pynq-z2`` once for the session (test_build_cnn
    reads it; the deploy tests deploy a copy of it: never write into it), and the finished
    process. It runs in the folder that holds its reports folder (``reports``, holding the
    session's cnn_digits export) and names both folders relatively, as a user typing
    ``--reports-dir reports`` does: nothing the run records may depend on that folder.
    It records into a run history of its own beside the run (``fpga_flow.db``), which a
    test file copies to see the run in its history."""

    def make(folder: Path) -> None:
        reports_folder(session_store, folder / "reports", ("cnn_digits", CNN_EPOCHS))
        # Cold (--no-cache): a cached build times none of its steps, and test_build_cnn reads the timings.
        result = spawn_cli("build", "cnn_digits", "--board", "pynq-z2", "--epochs", str(CNN_EPOCHS),
                           "--reports-dir", "reports", "--out", "cnn_pynq-z2", "--no-cache", "--json", cwd=folder,
                           env={"FPGA_FLOW_DB": str(folder / HISTORY_NAME)})
        (folder / "process.json").write_text(json.dumps(
            {"args": result.args, "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}))

    folder = session_store.get({"what": "build", "model": "cnn_digits", "board": "pynq-z2", "epochs": CNN_EPOCHS}, make)
    process = json.loads((folder / "process.json").read_text())
    return folder / "cnn_pynq-z2", subprocess.CompletedProcess(**process)


def pytest_terminal_summary(terminalreporter, config) -> None:
    """The order the files and tests ran in (pytest-randomly's seed), also under -q."""
    seed = getattr(config.option, "randomly_seed", None)
    if seed is not None and not hasattr(config, "workerinput"):
        terminalreporter.write_line(f"test order: pytest-randomly seed {seed}; run it again with "
                                    f"--randomly-seed={seed}, or in the written order with -p no:randomly")


# --------------------------------------------------------------------------- how the session runs

# One thread per worker: `make test` runs a worker per core, so TensorFlow's, OpenMP's and
# numba's own pools (sized to the machine's cores) would only contend with the other worker.
WORKER_THREADS = {name: "1" for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                                         "NUMBA_NUM_THREADS")}
# da4ml's solver is numba code compiled once per environment (fpga_flow.rtl.arith.warm_solver):
# at LLVM -O1 instead of numba's default -O3 the compile takes 65 s of CPU instead of 115 s
# here, and tests/test_rtl.py ran no slower on the -O1 code (59 s of CPU against 70 s).
SESSION_ENV = {"NUMBA_OPT": "1"}
# CPU seconds per test file as `benchmarks/suite_time.py --json` last measured them.
FILE_COSTS = REPO / "tests" / "file_costs.json"


def pytest_addoption(parser) -> None:
    parser.addoption("--file-order", choices=("cost", "random"), default="cost",
                     help="cost (default): the test files by their measured cost, largest first, so the workers "
                          "finish together; random: in pytest-randomly's order. Tests in a file always run in "
                          "pytest-randomly's order.")


def pytest_configure(config) -> None:
    # xdist's loadfile hands out files in collection order: not its default (files with the
    # most tests first), so that the order below is the one the workers get.
    config.option.loadscopereorder = False
    for name, value in SESSION_ENV.items():  # the controller's, inherited by workers and every process they start
        os.environ.setdefault(name, value)
    if hasattr(config, "workerinput"):
        for name, value in WORKER_THREADS.items():
            os.environ.setdefault(name, value)
    elif _runs_slow_tests(config):
        config._fpga_flow_warm = _start_warming_the_solver()


def _runs_slow_tests(config) -> bool:
    return not config.option.collectonly and "not slow" not in (config.option.markexpr or "")


def _start_warming_the_solver() -> subprocess.Popen:
    """da4ml's solver compiled once, beside the tests, before the first RTL test needs it
    (:func:`fpga_flow.rtl.arith.warm_solver`): in a new environment, two workers reaching
    RTL tests together would each spend ~115 s of CPU compiling the same numba code. A
    worker that gets there first compiles it itself, as before: only the time changes."""
    return subprocess.Popen([sys.executable, "-m", "fpga_flow.rtl.arith"], cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def pytest_unconfigure(config) -> None:
    warming = getattr(config, "_fpga_flow_warm", None)
    if warming is not None and warming.poll() is None:
        warming.kill()  # numba writes its cache files whole (a temporary file, then a rename)
        warming.wait()


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle, which this sort keeps within equal costs
def pytest_collection_modifyitems(config, items) -> None:
    if config.getoption("file_order") == "random":
        return
    costs = json.loads(FILE_COSTS.read_text())["cpu_s"] if FILE_COSTS.is_file() else {}
    typical = sorted(costs.values())[len(costs) // 2] if costs else 0.0  # a file not measured yet
    items.sort(key=lambda item: -costs.get(item.nodeid.split("::")[0], typical))
