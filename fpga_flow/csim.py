"""Stage ``csim``: compile the generated C++ with g++ and run it two ways.

(a) the bridge: ``myproject_bridge.cpp`` built into a shared library and called through
ctypes (this is what hls4ml's ``predict`` does; we build it ourselves to choose the
optimization level, keep the compiler log, and reuse the objects);
(b) the testbench: hls4ml's ``myproject_test.cpp`` linked against the same object,
fed ``tb_data/`` written from the test set, and its ``csim_results.log`` read back.

Both runs are needed though they call the same objects on the same inputs: the testbench
is hls4ml's own harness (inputs parsed from text with ``atof``; on accelerator boards the
AXI wrapper between the harness and the network), which the bridge never exercises, and
only the bridge gives the per-layer traces. Both run in one process per core over slices
of the inputs (:data:`TESTBENCH_SHARD_MIN`; the bridge: :mod:`fpga_flow.csim_bridge`). A rebuild of an
unchanged run repeats neither (:mod:`fpga_flow.pipeline.run_cache`).

The fixed-point arithmetic is integer code, so the optimization level changes compile
time (minutes at -O3 for a large Conv1D model) but not a single output bit.

The translation units (the firmware, the bridge, the testbench) are independent: they
compile in parallel, one per core. Given an object store (the build cache), each object
is kept under the hash of its preprocessed source, flags and compiler, so a unit whose
preprocessed text did not change is copied instead of compiled (``-E`` costs ~0.3 s where
compiling costs 5 s to minutes). A network with heavy layers compiles as one unit per
such layer (:mod:`fpga_flow.csim_split`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from fpga_flow.convert import BRIDGE_SPEC, PROJECT_NAME  # noqa: F401 (BRIDGE_SPEC re-exported)
from fpga_flow.csim_bridge import Bridge  # noqa: F401 (re-exported: the bridge, in this process or in slices)
from fpga_flow.csim_split import COMMON_HEADER, split_network, write_split
from fpga_flow.errors import StageFailedError
from fpga_flow.toolchain import Toolchain, require_tool, toolchain_with

OPT_LEVEL = "-O1"
COMPILE_LOG = "compile.log"
TESTBENCH_LOG = "testbench.log"
BUILD_SUBDIR = "build"
COMPILED_RECORD = "compiled.json"  # in BUILD_SUBDIR: what compile_project left there
OBJECT_KIND = "object"  # the build cache's entries holding one compiled unit
OBJECT_NAME = "unit.o"
# The headers the bridge, the testbench and the firmware units spend most of their compile
# in (AMD's ap_types and the C++ library: ~1.0 of a bridge's 1.3 s at -O1), included first
# in each of them and precompiled once per content, flags and compiler into the object
# store (PRELUDE_KIND entries, ~100 MB each). hls4ml's nnet_helpers.h stays out: it tests
# WEIGHTS_DIR, which the firmware units define, so g++ would not use the .gch for them.
# A unit given the prelude computes the same words: the headers are the project's own (the
# entry's key is their preprocessed text) and their include guards make the unit's own
# includes of them no-ops, as a second include is anyway.
PRELUDE = "csim_prelude.h"
PRELUDE_KIND = "prelude"
PRELUDE_HEADERS = ('"ap_fixed.h"', '"ap_int.h"', '"hls_stream.h"', "<algorithm>", "<array>", "<cmath>", "<cstddef>",
                   "<cstdio>", "<cstdlib>", "<fstream>", "<iostream>", "<map>", "<string>", "<tuple>", "<vector>")
NO_SPLIT_ENV = "FPGA_FLOW_NO_SPLIT"  # 1: compile the network as hls4ml wrote it, one unit (benchmarks)
_log_lock = threading.Lock()


def gxx() -> str:
    return require_tool("g++", "g++", "run C-simulation")


@lru_cache(maxsize=None)
def gxx_version() -> str | None:
    path = shutil.which("g++")
    if path is None:
        return None
    out = subprocess.run([path, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    return out or None


@lru_cache(maxsize=None)
def _std_flag(compiler: str) -> str:
    # Same choice as hls4ml's build_lib.sh: C++23 enables the half/bfloat16 types.
    probe = subprocess.run(
        [compiler, "-Werror", "-fsyntax-only", "-std=c++23", "-xc++", "-", "-o", os.devnull],
        input="", capture_output=True, text=True,
    )
    return "-std=c++23" if probe.returncode == 0 else "-std=c++11"


def compile_flags(opt_level: str = OPT_LEVEL) -> list[str]:
    return [opt_level, "-fPIC", _std_flag(gxx()), "-fno-gnu-unique", "-Ifirmware/ap_types/", "-I."]


def _run_compiler(args: list[str], project_dir: Path, log_path: Path, what: str) -> None:
    result = subprocess.run(args, cwd=project_dir, capture_output=True, text=True)
    with _log_lock, log_path.open("a", encoding="utf-8") as log:
        log.write("$ " + " ".join(args) + "\n" + result.stdout + result.stderr)
    if result.returncode != 0:
        first_error = next(
            (line.strip() for line in (result.stderr + result.stdout).splitlines() if "error" in line.lower()),
            f"exit code {result.returncode}",
        )
        raise StageFailedError(f"g++ failed to compile the {what}: {first_error[:300]} (full log: {log_path})")


@dataclass(frozen=True)
class CompiledProject:
    """A project's compiled firmware objects, testbench object and bridge library, inside ``project_dir``."""

    project_dir: Path
    library: Path
    firmware_objects: tuple[Path, ...]
    flags: tuple[str, ...]
    seconds: float
    testbench_object: Path | None = None
    reused_objects: tuple[str, ...] = ()
    unit_seconds: tuple[tuple[str, float], ...] = ()  # (source, wall seconds to compile or copy it)

    @classmethod
    def open(cls, project_dir: str | Path) -> "CompiledProject":
        """The compiled project in ``project_dir`` (compiled there, or copied there with
        its ``build`` folder), from the record :func:`compile_project` left beside the objects."""
        project_dir = Path(project_dir).resolve()
        build = project_dir / BUILD_SUBDIR
        record = json.loads((build / COMPILED_RECORD).read_text(encoding="utf-8"))
        testbench = record.get("testbench_object")
        return cls(project_dir, build / record["library"], tuple(build / name for name in record["objects"]),
                   tuple(record["flags"]), record["seconds"], build / testbench if testbench else None,
                   tuple(record.get("reused_objects", ())),
                   tuple((source, seconds) for source, seconds in record.get("unit_seconds", {}).items()))


def weights_dir(project_dir: Path) -> Path:
    """Where the compiled C-simulation reads the weights from (its path is compiled in)."""
    return Path(project_dir).resolve() / "firmware" / "weights"


def bridge_object(project_dir: Path) -> Path:
    """The compiled bridge (``PROJECT_bridge.cpp``) of a project."""
    return Path(project_dir) / BUILD_SUBDIR / f"{PROJECT_NAME}_bridge.o"


def network_object(project_dir: Path) -> Path:
    """The compiled network top (``firmware/PROJECT.cpp``): the one object that reads the weights."""
    return Path(project_dir) / BUILD_SUBDIR / f"{PROJECT_NAME}.o"


def link_library(objects: list[Path], build: Path, log_path: Path) -> Path:
    """Link ``objects`` into a library in ``build``, under a fresh name: dlopen hands back
    an already-loaded library of the same path."""
    library = build / f"{PROJECT_NAME}-{uuid.uuid4().hex[:8]}.so"
    _run_compiler([gxx(), "-shared", *map(str, objects), "-o", str(library)], build, log_path, "bridge library")
    return library


class ObjectStore(Protocol):
    """Where compiled objects are kept by content: the build cache (fpga_flow.cache.BuildCache)."""

    def get_or_create(self, key: str, kind: str, create: Any) -> Any: ...


@dataclass(frozen=True)
class _Unit:
    source: str  # relative to the project folder, where g++ runs (or absolute)
    obj: Path
    what: str
    defines: tuple[str, ...] = ()
    prepare: Callable[[], None] | None = None  # run before compiling it (not when its object is reused)


def compile_project(project_dir: str | Path, opt_level: str = OPT_LEVEL, objects: ObjectStore | None = None,
                    jobs: int | None = None, extra_sources: tuple[Path, ...] = (), split: bool | None = None) -> CompiledProject:
    """Compile the firmware, the bridge and the testbench (in parallel, ``jobs`` at a time,
    default one per core; objects reused from ``objects`` by content) and link the bridge library.

    ``extra_sources`` (absolute paths, compiled inside the project like the bridge) are
    linked into the library too: deploy's software stand-in for the overlay is one.
    With ``split``, the network compiles as one unit per layer where it can
    (:mod:`fpga_flow.csim_split`): the layers compile in parallel and, reading no weights,
    are reused from ``objects`` across project folders (default: on unless ``$FPGA_FLOW_NO_SPLIT`` is 1)."""
    project_dir = Path(project_dir).resolve()
    compiler = gxx()
    flags = compile_flags(opt_level)
    build = project_dir / BUILD_SUBDIR
    build.mkdir(exist_ok=True)
    log_path = project_dir / COMPILE_LOG
    log_path.write_text("", encoding="utf-8")
    start = time.perf_counter()
    with contextlib.ExitStack() as held:
        prelude = _prelude(compiler, flags, project_dir, log_path, objects, held) if objects is not None else ()
        return _compile_units(project_dir, compiler, flags, build, log_path, objects, jobs, extra_sources, split,
                              prelude, start)


def _compile_units(project_dir: Path, compiler: str, flags: list[str], build: Path, log_path: Path,
                   objects: ObjectStore | None, jobs: int | None, extra_sources: tuple[Path, ...], split: bool | None,
                   prelude: tuple[str, ...], start: float) -> CompiledProject:
    weights = (*prelude, f'-DWEIGHTS_DIR="{weights_dir(project_dir)}"')
    # Every firmware source: accelerator backends add an AXI wrapper beside the model.
    firmware = [_Unit(f"firmware/{source.name}", build / f"{source.stem}.o", f"firmware ({source.name})", weights)
                for source in sorted((project_dir / "firmware").glob("*.cpp"))]
    if split if split is not None else os.environ.get(NO_SPLIT_ENV) != "1":
        firmware = _split_units(project_dir, build, firmware, weights, compiler, flags, log_path)
    # The bridge calls the firmware and loads no weights: without the weights folder its
    # object does not depend on where the project lies (and is reused across folders).
    bridge = _Unit(f"{PROJECT_NAME}_bridge.cpp", bridge_object(project_dir), "bridge", prelude)
    extras = [_Unit(str(source), build / f"{source.stem}.o", source.name, weights) for source in extra_sources]
    units = [*firmware, bridge, *extras]
    testbench = None
    if (project_dir / f"{PROJECT_NAME}_test.cpp").is_file():
        testbench = _Unit(f"{PROJECT_NAME}_test.cpp", build / f"{PROJECT_NAME}_test.o", "testbench", prelude)
        units.append(testbench)
    workers = max(1, min(len(units), jobs or os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_compile_unit, compiler, flags, unit, project_dir, log_path, objects) for unit in units]
        results = [future.result() for future in futures]
    reused = tuple(unit.source for unit, (hit, _) in zip(units, results) if hit)
    unit_seconds = {unit.source: seconds for unit, (_, seconds) in zip(units, results)}
    for old in build.glob(f"{PROJECT_NAME}-*.so"):
        old.unlink()
    library = link_library([unit.obj for unit in (*firmware, bridge, *extras)], build, log_path)
    seconds = round(time.perf_counter() - start, 3)
    (build / COMPILED_RECORD).write_text(json.dumps({
        "library": library.name, "objects": [unit.obj.name for unit in firmware], "flags": flags, "seconds": seconds,
        "testbench_object": testbench.obj.name if testbench else None, "reused_objects": list(reused),
        "unit_seconds": unit_seconds,
    }), encoding="utf-8")
    return CompiledProject.open(project_dir)


def _prelude(compiler: str, flags: list[str], project_dir: Path, log_path: Path, objects: ObjectStore,
             held: contextlib.ExitStack) -> tuple[str, ...]:
    """``-include`` of :data:`PRELUDE` precompiled in ``objects`` (kept there, and held
    against eviction, until ``held`` closes), or nothing where the project's headers do not
    preprocess (another backend's project: its units compile as they are)."""
    text = "".join(f"#include {header}\n" for header in PRELUDE_HEADERS)
    key = _preprocessed_key(compiler, flags, ["-x", "c++", "-"], project_dir, {"prelude": text}, text)
    if key is None:
        return ()

    def create(payload: Path) -> dict[str, str]:
        header = payload / PRELUDE
        header.write_text(text, encoding="utf-8")
        # Compiled in the project, so the header's includes resolve to the project's ap_types (what the key hashed).
        _run_compiler([compiler, *flags, "-x", "c++-header", str(header), "-o", f"{header}.gch"], project_dir,
                      log_path, f"precompiled {PRELUDE}")
        return {"source": PRELUDE}

    entry = held.enter_context(objects.get_or_create(key, PRELUDE_KIND, create))
    # -Winvalid-pch: a .gch g++ cannot use is named in the compile log (the unit still compiles, from the text).
    return ("-include", str(entry.payload / PRELUDE), "-Winvalid-pch")


class _Once:
    """Call ``action`` the first time the object is called; later (and concurrent) calls
    wait for that one. A failure is raised to every caller."""

    def __init__(self, action: Callable[[], None]):
        self._action, self._lock, self._done, self._error = action, threading.Lock(), False, None

    def __call__(self) -> None:
        with self._lock:
            if not self._done:
                self._done = True
                try:
                    self._action()
                except BaseException as exc:
                    self._error = exc
            if self._error is not None:
                raise self._error


def _split_units(project_dir: Path, build: Path, firmware: list[_Unit], weights: tuple[str, ...], compiler: str,
                 flags: list[str], log_path: Path) -> list[_Unit]:
    """``firmware`` with the network's unit replaced by its per-layer units and top, when
    it splits (the top's object keeps the network object's name: it alone reads weights)."""
    split = split_network(project_dir, PROJECT_NAME) if "-std=c++11" not in flags else None  # inline needs C++17
    if split is None:
        return firmware
    folder = write_split(split, project_dir, BUILD_SUBDIR).relative_to(project_dir)
    include = ("-Ifirmware",)  # the split files include the project's headers from there
    top = _Unit(f"{folder}/{split.top}", network_object(project_dir), f"firmware ({split.top}, split)",
                (*include, *weights))
    header = project_dir / folder / COMMON_HEADER
    precompiled = _Once(lambda: _run_compiler(
        [compiler, *flags, *include, "-x", "c++-header", str(header), "-o", f"{header}.gch"],
        project_dir, log_path, f"precompiled {COMMON_HEADER}"))
    layers = [_Unit(f"{folder}/{source}", build / f"{Path(source).stem}.o", f"layer {name}", include, precompiled)
              for name, source in split.layers.items()]
    network = f"firmware/{PROJECT_NAME}.cpp"
    return [unit for unit in firmware if unit.source != network] + [top, *layers]


def _compile_unit(compiler: str, flags: list[str], unit: _Unit, project_dir: Path, log_path: Path,
                  objects: ObjectStore | None) -> tuple[bool, float]:
    """Compile one unit into ``unit.obj``: whether its object came from the store, and the seconds it took."""
    start = time.perf_counter()
    hit = _compile_or_reuse(compiler, flags, unit, project_dir, log_path, objects)
    return hit, round(time.perf_counter() - start, 3)


def _compile_or_reuse(compiler: str, flags: list[str], unit: _Unit, project_dir: Path, log_path: Path,
                      objects: ObjectStore | None) -> bool:
    def command(output: Path) -> list[str]:
        return [compiler, *flags, *unit.defines, "-c", unit.source, "-o", str(output)]

    def compile_to(output: Path) -> None:
        if unit.prepare is not None:
            unit.prepare()
        _run_compiler(command(output), project_dir, log_path, unit.what)

    key = _object_key(compiler, flags, unit, project_dir) if objects is not None else None
    if key is None:
        compile_to(unit.obj)
        return False

    def create(payload: Path) -> dict[str, str]:
        compile_to(payload / OBJECT_NAME)
        return {"source": unit.source}

    with objects.get_or_create(key, OBJECT_KIND, create) as entry:
        shutil.copy2(entry.payload / OBJECT_NAME, unit.obj)
    return bool(entry.hit)


def _object_key(compiler: str, flags: list[str], unit: _Unit, project_dir: Path) -> str | None:
    """The hash of everything the object depends on: the preprocessed source (every header
    and define it actually uses, weights paths included where they are compiled in), the
    flags and the compiler's version. None when preprocessing fails (compiling reports why)."""
    return _preprocessed_key(compiler, flags, [*unit.defines, unit.source], project_dir)


def _preprocessed_key(compiler: str, flags: list[str], args: list[str], cwd: Path, extra: dict | None = None,
                      stdin: str | None = None) -> str | None:
    """sha256 of ``g++ -E -P FLAGS ARGS`` (run in ``cwd``, ``stdin`` as the source when
    given), the flags, the compiler's version and ``extra``; None when preprocessing fails."""
    preprocessed = subprocess.run([compiler, "-E", "-P", *flags, *args], cwd=cwd, capture_output=True,
                                  input=None if stdin is None else stdin.encode())
    if preprocessed.returncode != 0:
        return None
    h = hashlib.sha256()
    h.update(json.dumps({"gxx": gxx_version(), "flags": flags, **(extra or {})}).encode())
    h.update(preprocessed.stdout)
    return h.hexdigest()


@dataclass(frozen=True)
class TestbenchResult:
    predictions: np.ndarray
    log: Path
    results_file: Path
    compile_seconds: float
    run_seconds: float


def write_tb_data(project_dir: Path, X: np.ndarray, reference: np.ndarray) -> None:
    tb = project_dir / "tb_data"
    tb.mkdir(exist_ok=True)
    # %.9g round-trips float32, which is what the testbench parses with atof.
    np.savetxt(tb / "tb_input_features.dat", np.asarray(X, dtype=np.float32).reshape(len(X), -1), fmt="%.9g")
    np.savetxt(tb / "tb_output_predictions.dat", np.asarray(reference, dtype=np.float32).reshape(len(X), -1), fmt="%.9g")


def read_results(path: Path, values_per_sample: int) -> np.ndarray:
    """The testbench's results: plain numbers, or AXI structs ``{ data: x, last: y }``
    from accelerator wrappers."""
    text = path.read_text(encoding="utf-8")
    tokens = re.findall(r"data:\s*([^,\s}]+)", text) if "data:" in text else text.split()
    try:
        values = np.array([float(token) for token in tokens], dtype=np.float64)
    except ValueError as exc:
        raise StageFailedError(f"{path}: unreadable testbench result ({exc})") from None
    if values.size % values_per_sample:
        raise StageFailedError(f"{path}: {values.size} values do not split into samples of {values_per_sample}")
    return values.reshape(-1, values_per_sample)


# The testbench runs in one process per core when each gets at least this many samples:
# every process parses the weights files once (a fraction of a second), and hls4ml's
# network computes each sample alone (recurrent layers reset their state per sample), so
# the shards' results, concatenated, are the single run's.
TESTBENCH_SHARD_MIN = 32
TESTBENCH_SHARDS_DIR = "testbench_shards"  # in BUILD_SUBDIR: one folder (its own tb_data/) per shard


def run_testbench(compiled: CompiledProject, X: np.ndarray, reference: np.ndarray,
                  jobs: int | None = None) -> TestbenchResult:
    """Build hls4ml's testbench against the compiled firmware, run it on ``X`` (in
    ``jobs`` processes over consecutive slices, default one per core), read its results."""
    project_dir = Path(compiled.project_dir).resolve()  # g++ runs inside it
    write_tb_data(project_dir, X, reference)
    results_file = project_dir / "tb_data" / "csim_results.log"
    results_file.unlink(missing_ok=True)
    log_path = project_dir / TESTBENCH_LOG
    log_path.write_text("", encoding="utf-8")
    executable = project_dir / BUILD_SUBDIR / f"{PROJECT_NAME}_test"
    start = time.perf_counter()
    test_object = compiled.testbench_object
    if test_object is None or not test_object.is_file():  # compiled beside the firmware, else now
        test_object = project_dir / BUILD_SUBDIR / f"{PROJECT_NAME}_test.o"
        _run_compiler([gxx(), *compiled.flags, "-c", f"{PROJECT_NAME}_test.cpp", "-o", str(test_object)],
                      project_dir, log_path, "testbench")
    _run_compiler([gxx(), str(test_object), *map(str, compiled.firmware_objects), "-o", str(executable)],
                  project_dir, log_path, "testbench executable")
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    shards = max(1, min(jobs or os.cpu_count() or 1, len(X) // TESTBENCH_SHARD_MIN))
    if shards == 1:
        _run_testbench_in(executable, project_dir, log_path)
    else:
        bounds = np.linspace(0, len(X), shards + 1).astype(int)
        folders = [project_dir / BUILD_SUBDIR / TESTBENCH_SHARDS_DIR / str(k) for k in range(shards)]
        for folder, lo, hi in zip(folders, bounds[:-1], bounds[1:]):
            folder.mkdir(parents=True, exist_ok=True)
            write_tb_data(folder, X[lo:hi], reference[lo:hi])
            (folder / "tb_data" / results_file.name).unlink(missing_ok=True)
        with ThreadPoolExecutor(max_workers=shards) as pool:
            list(pool.map(lambda folder: _run_testbench_in(executable, folder, log_path), folders))
        results_file.write_text("".join((folder / "tb_data" / results_file.name).read_text(encoding="utf-8")
                                        for folder in folders), encoding="utf-8")
    # A sample's output may have several dimensions (an attention layer's T x D): the
    # testbench writes all of its values, flattened.
    predictions = read_results(results_file, int(np.prod(reference.shape[1:], dtype=int)))
    if len(predictions) != len(X):
        raise StageFailedError(f"the testbench wrote {len(predictions)} results for {len(X)} inputs (log: {log_path})")
    return TestbenchResult(predictions, log_path, results_file, compile_seconds, time.perf_counter() - start)


def _run_testbench_in(executable: Path, folder: Path, log_path: Path) -> None:
    """Run the testbench in ``folder`` (it reads and writes ``tb_data/`` there)."""
    run = subprocess.run([str(executable)], cwd=folder, capture_output=True, text=True)
    with _log_lock, log_path.open("a", encoding="utf-8") as log:
        log.write(f"$ (cd {folder} && {executable})\n{run.stdout}{run.stderr}")
    if run.returncode != 0 or not (folder / "tb_data" / "csim_results.log").is_file():
        raise StageFailedError(f"the testbench exited with code {run.returncode} without results (log: {log_path})")


def current_toolchain() -> Toolchain:
    """This process's toolchain (g++ must be on PATH: the build checks that first)."""
    return toolchain_with(gxx_version(), tuple(compile_flags()))
