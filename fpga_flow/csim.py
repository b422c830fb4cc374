"""Stage ``csim``: compile the generated C++ with g++ and run it two ways.

(a) the bridge: ``myproject_bridge.cpp`` built into a shared library and called through
ctypes (this is what hls4ml's ``predict`` does; we build it ourselves to choose the
optimization level, keep the compiler log, and reuse the objects);
(b) the testbench: hls4ml's ``myproject_test.cpp`` linked against the same object,
fed ``tb_data/`` written from the test set, and its ``csim_results.log`` read back.

The fixed-point arithmetic is integer code, so the optimization level changes compile
time (minutes at -O3 for a large Conv1D model) but not a single output bit.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.ctypeslib as npc

from fpga_flow.convert import BRIDGE_SPEC, PROJECT_NAME
from fpga_flow.errors import StageFailedError, ToolMissingError

OPT_LEVEL = "-O1"
COMPILE_LOG = "compile.log"
TESTBENCH_LOG = "testbench.log"
BUILD_SUBDIR = "build"
COMPILED_RECORD = "compiled.json"  # in BUILD_SUBDIR: what compile_project left there


def gxx() -> str:
    path = shutil.which("g++")
    if path is None:
        raise ToolMissingError("g++ not found on PATH: install a C++ compiler (Debian: apt-get install g++) to run C-simulation")
    return path


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
    with log_path.open("a", encoding="utf-8") as log:
        log.write("$ " + " ".join(args) + "\n" + result.stdout + result.stderr)
    if result.returncode != 0:
        first_error = next(
            (line.strip() for line in (result.stderr + result.stdout).splitlines() if "error" in line.lower()),
            f"exit code {result.returncode}",
        )
        raise StageFailedError(f"g++ failed to compile the {what}: {first_error[:300]} (full log: {log_path})")


@dataclass(frozen=True)
class CompiledProject:
    """A project's compiled firmware objects and bridge library, inside ``project_dir``."""

    project_dir: Path
    library: Path
    firmware_objects: tuple[Path, ...]
    flags: tuple[str, ...]
    seconds: float

    @classmethod
    def open(cls, project_dir: str | Path) -> "CompiledProject":
        """The compiled project in ``project_dir`` (compiled there, or copied there with
        its ``build`` folder), from the record :func:`compile_project` left beside the objects."""
        project_dir = Path(project_dir).resolve()
        build = project_dir / BUILD_SUBDIR
        record = json.loads((build / COMPILED_RECORD).read_text(encoding="utf-8"))
        return cls(project_dir, build / record["library"], tuple(build / name for name in record["objects"]),
                   tuple(record["flags"]), record["seconds"])


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


def compile_project(project_dir: str | Path, opt_level: str = OPT_LEVEL, extra_sources: tuple[Path, ...] = ()) -> CompiledProject:
    """Compile the firmware once and link it into the bridge library.

    ``extra_sources`` (absolute paths, compiled inside the project like the bridge) are
    linked into the library too: deploy's software stand-in for the overlay is one."""
    project_dir = Path(project_dir).resolve()
    compiler = gxx()
    flags = compile_flags(opt_level)
    build = project_dir / BUILD_SUBDIR
    build.mkdir(exist_ok=True)
    log_path = project_dir / COMPILE_LOG
    log_path.write_text("", encoding="utf-8")
    weights = f'-DWEIGHTS_DIR="{weights_dir(project_dir)}"'
    start = time.perf_counter()
    # Every firmware source: accelerator backends add an AXI wrapper beside the model.
    firmware_objects = []
    for source in sorted((project_dir / "firmware").glob("*.cpp")):
        obj = build / f"{source.stem}.o"
        _run_compiler([compiler, *flags, weights, "-c", f"firmware/{source.name}", "-o", str(obj)],
                      project_dir, log_path, f"firmware ({source.name})")
        firmware_objects.append(obj)
    bridge = bridge_object(project_dir)
    _run_compiler([compiler, *flags, weights, "-c", f"{PROJECT_NAME}_bridge.cpp", "-o", str(bridge)],
                  project_dir, log_path, "bridge")
    extra_objects = []
    for source in extra_sources:
        obj = build / f"{source.stem}.o"
        _run_compiler([compiler, *flags, weights, "-c", str(source), "-o", str(obj)], project_dir, log_path, source.name)
        extra_objects.append(obj)
    for old in build.glob(f"{PROJECT_NAME}-*.so"):
        old.unlink()
    library = link_library([*firmware_objects, bridge, *extra_objects], build, log_path)
    seconds = round(time.perf_counter() - start, 3)
    (build / COMPILED_RECORD).write_text(json.dumps({
        "library": library.name, "objects": [obj.name for obj in firmware_objects], "flags": flags, "seconds": seconds,
    }), encoding="utf-8")
    return CompiledProject.open(project_dir)


class _TraceData(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p)]


class Bridge:
    """The compiled model, callable from numpy (float64 in, float64 out)."""

    def __init__(self, library: str | Path, spec: dict):
        self.spec = spec
        self._lib = ctypes.CDLL(str(library))
        if len(spec["inputs"]) != 1 or len(spec["outputs"]) != 1:
            raise StageFailedError("C-simulation supports single-input, single-output models")
        self.input_size = spec["inputs"][0]["size"]
        self.output_size = spec["outputs"][0]["size"]
        self._top = getattr(self._lib, f"{spec['project']}_double")
        self._top.restype = None
        self._top.argtypes = [npc.ndpointer(ctypes.c_double, flags="C_CONTIGUOUS")] * 2

    @classmethod
    def load(cls, compiled: CompiledProject) -> "Bridge":
        spec = json.loads((compiled.project_dir / BRIDGE_SPEC).read_text())
        return cls(compiled.library, spec)

    def _rows(self, X: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(np.asarray(X, dtype=np.float64).reshape(len(X), -1))
        if rows.shape[1] != self.input_size:
            raise StageFailedError(f"input has {rows.shape[1]} values per sample, the project expects {self.input_size}")
        return rows

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._run(X, trace=False)[0]

    def trace(self, X: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Outputs and every traced layer's output, per sample."""
        return self._run(X, trace=True)

    def _run(self, X: np.ndarray, trace: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Call the compiled model on each sample; with ``trace``, also collect the
        per-layer outputs the library records while trace storage is allocated."""
        rows = self._rows(X)
        shapes = {name: tuple(shape) for name, shape in self.spec["traced_layers"].items()} if trace else {}
        lib = self._lib
        slots = (_TraceData * len(shapes))()
        traces: dict[str, list[np.ndarray]] = {name: [] for name in shapes}
        out = np.zeros((len(rows), self.output_size), dtype=np.float64)
        if trace:
            lib.allocate_trace_storage.argtypes = [ctypes.c_size_t]
            lib.collect_trace_output.argtypes = [ctypes.POINTER(_TraceData)]
            lib.allocate_trace_storage(ctypes.sizeof(ctypes.c_double))
        try:
            for i, row in enumerate(rows):
                result = np.zeros(self.output_size, dtype=np.float64)
                self._top(row, result)
                out[i] = result
                if not trace:
                    continue
                lib.collect_trace_output(slots)
                for slot in slots:
                    if not slot.name:
                        continue
                    name = slot.name.decode()
                    values = ctypes.cast(slot.data, ctypes.POINTER(ctypes.c_double))
                    traces[name].append(np.ctypeslib.as_array(values, shape=shapes[name]).copy())
        finally:
            if trace:
                lib.free_trace_storage()
        return out, {name: np.asarray(v) for name, v in traces.items() if v}


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


def run_testbench(compiled: CompiledProject, X: np.ndarray, reference: np.ndarray) -> TestbenchResult:
    """Build hls4ml's testbench against the compiled firmware, run it on ``X``, read its results."""
    project_dir = Path(compiled.project_dir).resolve()  # g++ runs inside it
    write_tb_data(project_dir, X, reference)
    results_file = project_dir / "tb_data" / "csim_results.log"
    results_file.unlink(missing_ok=True)
    log_path = project_dir / TESTBENCH_LOG
    log_path.write_text("", encoding="utf-8")
    executable = project_dir / BUILD_SUBDIR / f"{PROJECT_NAME}_test"
    start = time.perf_counter()
    test_object = project_dir / BUILD_SUBDIR / f"{PROJECT_NAME}_test.o"
    _run_compiler([gxx(), *compiled.flags, "-c", f"{PROJECT_NAME}_test.cpp", "-o", str(test_object)],
                  project_dir, log_path, "testbench")
    _run_compiler([gxx(), str(test_object), *map(str, compiled.firmware_objects), "-o", str(executable)],
                  project_dir, log_path, "testbench executable")
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    run = subprocess.run([str(executable)], cwd=project_dir, capture_output=True, text=True)
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"$ {executable}\n{run.stdout}{run.stderr}")
    if run.returncode != 0 or not results_file.is_file():
        raise StageFailedError(f"the testbench exited with code {run.returncode} without results (log: {log_path})")
    # A sample's output may have several dimensions (an attention layer's T x D): the
    # testbench writes all of its values, flattened.
    predictions = read_results(results_file, int(np.prod(reference.shape[1:], dtype=int)))
    if len(predictions) != len(X):
        raise StageFailedError(f"the testbench wrote {len(predictions)} results for {len(X)} inputs (log: {log_path})")
    return TestbenchResult(predictions, log_path, results_file, compile_seconds, time.perf_counter() - start)
