"""The compiled model called from numpy through its bridge library (what hls4ml's
``predict`` and ``trace`` do), in this process or, for a long run, in one process per
core over consecutive slices of the inputs.

Slices give the single run's words: hls4ml's network computes each sample alone
(recurrent layers reset their state per sample, as the testbench's shards rely on too) and
the per-layer traces are recorded per call, so the slices' outputs and traces,
concatenated in order, are the single run's, byte for byte. A slice process loads the
library itself (``python -m fpga_flow.csim_bridge``: numpy and ctypes, no TensorFlow) and
hands its arrays back as ``.npy`` files.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.ctypeslib as npc

from fpga_flow.convert import BRIDGE_SPEC
from fpga_flow.errors import StageFailedError

# A run over slices first traces this many samples here and times them; it starts the
# other processes only when the rest would take longer than BRIDGE_SLICE_MIN_S in one
# process (a slice process costs ~0.5 s of CPU to start: imports and the weights files).
BRIDGE_PROBE = 8
BRIDGE_SLICE_MIN_S = 4.0
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # on the slice processes' PYTHONPATH

Traced = tuple[np.ndarray, dict[str, np.ndarray]]


class Compiled(Protocol):
    """What the bridge needs of a compiled project (fpga_flow.csim.CompiledProject)."""

    project_dir: Path
    library: Path


class _TraceData(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p)]


class Bridge:
    """The compiled model, callable from numpy (float64 in, float64 out)."""

    def __init__(self, library: str | Path, spec: dict):
        self.spec = spec
        self.library = Path(library)
        self._lib = ctypes.CDLL(str(library))
        if len(spec["inputs"]) != 1 or len(spec["outputs"]) != 1:
            raise StageFailedError("C-simulation supports single-input, single-output models")
        self.input_size = spec["inputs"][0]["size"]
        self.output_size = spec["outputs"][0]["size"]
        self._top = getattr(self._lib, f"{spec['project']}_double")
        self._top.restype = None
        self._top.argtypes = [npc.ndpointer(ctypes.c_double, flags="C_CONTIGUOUS")] * 2

    @classmethod
    def load(cls, compiled: Compiled) -> "Bridge":
        spec = json.loads((compiled.project_dir / BRIDGE_SPEC).read_text())
        return cls(compiled.library, spec)

    def _rows(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        # No samples (a probe that took them all, as with --max-samples 4): no rows, not a
        # reshape of nothing into (0, -1), which numpy refuses.
        rows = np.ascontiguousarray(X.reshape(len(X), -1) if len(X) else X.reshape(0, self.input_size))
        if rows.shape[1] != self.input_size:
            raise StageFailedError(f"input has {rows.shape[1]} values per sample, the project expects {self.input_size}")
        return rows

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._run(X, trace=False)[0]

    def trace(self, X: np.ndarray, jobs: int | None = 1, min_seconds: float = BRIDGE_SLICE_MIN_S) -> Traced:
        """Outputs and every traced layer's output, per sample. With ``jobs`` other than 1
        (None: one per core), a run that would take longer than ``min_seconds`` runs in
        that many processes over consecutive slices of ``X``, with the same result."""
        if jobs == 1:
            return self._run(X, trace=True)
        return _trace_in_slices(self, self._rows(X), jobs or os.cpu_count() or 1, min_seconds)

    def _run(self, X: np.ndarray, trace: bool) -> Traced:
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


def _trace_in_slices(bridge: Bridge, rows: np.ndarray, jobs: int, min_seconds: float) -> Traced:
    """The probe here, then the rest in ``jobs`` consecutive slices: the first in this
    process while the others run in their own."""
    start = time.perf_counter()
    parts = [bridge._run(rows[:BRIDGE_PROBE], trace=True)]
    rest = rows[BRIDGE_PROBE:]
    per_sample = (time.perf_counter() - start) / max(1, len(parts[0][0]))
    slices = max(1, min(jobs, len(rest)))
    if slices == 1 or per_sample * len(rest) < min_seconds:
        parts.append(bridge._run(rest, trace=True))
        return _concatenate(parts)
    bounds = np.linspace(0, len(rest), slices + 1).astype(int)
    with tempfile.TemporaryDirectory(prefix="bridge-slices-", dir=bridge.library.parent) as scratch:
        folders = [Path(scratch) / str(k) for k in range(1, slices)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_PACKAGE_ROOT),
                                                                          os.environ.get("PYTHONPATH")]))}
        processes = []
        for folder, lo, hi in zip(folders, bounds[1:-1], bounds[2:]):
            folder.mkdir()
            np.save(folder / "rows.npy", rest[lo:hi])
            (folder / "spec.json").write_text(json.dumps(bridge.spec), encoding="utf-8")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "fpga_flow.csim_bridge", str(bridge.library), str(folder)],
                cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        try:
            parts.append(bridge._run(rest[:bounds[1]], trace=True))
        finally:
            logs = [process.communicate()[0] for process in processes]
        for folder, process, log in zip(folders, processes, logs):
            if process.returncode != 0:
                last = (log.strip().splitlines() or ["no output"])[-1]
                raise StageFailedError(f"a bridge C-simulation slice exited with code {process.returncode}: {last}")
            names = json.loads((folder / "traced.json").read_text(encoding="utf-8"))
            with np.load(folder / "traces.npz") as arrays:
                parts.append((np.load(folder / "outputs.npy"), {name: arrays[f"arr_{i}"] for i, name in enumerate(names)}))
    return _concatenate(parts)


def _concatenate(parts: list[Traced]) -> Traced:
    """Consecutive runs' outputs and traces as one run's (an empty run traces nothing)."""
    outputs = np.concatenate([out for out, _ in parts])
    traced = [traces for out, traces in parts if len(out)]
    names = traced[0] if traced else {}
    return outputs, {name: np.concatenate([traces[name] for traces in traced]) for name in names}


def _slice_main(library: str, folder: str) -> None:
    """A slice process: trace ``folder/rows.npy`` through ``library``, write the arrays back."""
    here = Path(folder)
    bridge = Bridge(library, json.loads((here / "spec.json").read_text(encoding="utf-8")))
    outputs, traces = bridge.trace(np.load(here / "rows.npy"))
    np.save(here / "outputs.npy", outputs)
    (here / "traced.json").write_text(json.dumps(list(traces)), encoding="utf-8")  # npz keys cannot be any name
    np.savez(here / "traces.npz", *traces.values())


if __name__ == "__main__":
    _slice_main(*sys.argv[1:3])
