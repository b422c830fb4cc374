"""Stage ``rtl_sim``: the written RTL simulated with Verilator on the evaluation set,
compared word for word with the C-simulation and by argmax with Keras.

Verilator compiles the pipelined design (through da4ml's I/O wrapper, which pads every
port word to one width) into C++, and da4ml's binder drives it: one input word vector per
clock, outputs read ``latency_cycles`` later. We build it with our own commands instead of
da4ml's ``build_binder.mk``: Debian's Verilator 5.006 does not archive its runtime into
``libverilated.a`` as that makefile expects, so ``verilated.o`` and ``verilated_threads.o``
are built from the generated makefile and linked explicitly. Lookup-table ROMs are read
with ``$readmemh`` relative to the working directory, so the simulation runs inside
``src/memfiles``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np

from fpga_flow.csim import gxx
from fpga_flow.errors import RTLUnsupportedError, StageFailedError
from fpga_flow.fixed import FixedType
from fpga_flow.rtl.process import run_tool
from fpga_flow.rtl.records import RTL_SIM_RECORD, RTLRecord, RTLSimRecord, write_record
from fpga_flow.toolchain import require_tool

SIM_LOG = "verilator.log"
MAX_PORT_BITS = 32  # the binder packs each word into an int32
NO_OPT = "OPT_FAST=-O0"


def verilator() -> str:
    return require_tool("verilator", "verilator", "simulate the RTL")


def verilator_version() -> str:
    return subprocess.run([verilator(), "--version"], capture_output=True, text=True).stdout.strip()


def run_logged(command: list[str], cwd: Path, log: Path, what: str, timeout: float | None = None) -> None:
    """Run ``command`` (:func:`~fpga_flow.rtl.process.run_tool`: killed with its process
    group if the build stops, or after ``timeout`` seconds, raising
    ``subprocess.TimeoutExpired``), its output appended to ``log`` as it comes (a long place
    and route can be followed there, and a stopped one leaves what it did); a failure is a
    StageFailedError naming its first error line."""
    with log.open("ab") as fh:
        fh.write(("$ " + " ".join(command) + "\n").encode())
        fh.flush()
        start = fh.tell()
        returncode = run_tool(command, cwd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout).returncode
    if returncode != 0:
        with log.open("rb") as fh:
            fh.seek(start)
            output = fh.read().decode(errors="replace")
        # nextpnr writes "ERROR:", yosys and the compilers "Error" or "error".
        first = next((line for line in output.splitlines() if "error" in line.lower()), f"exit code {returncode}")
        raise StageFailedError(f"{what} failed: {first.strip()[:240]} (log: {log})")


def build_simulator(rtl: RTLRecord) -> Path:
    """Verilate the design and link it with da4ml's binder into a shared library."""
    tool = verilator()
    sim = Path(rtl.verilog_dir) / "sim"
    log = sim / SIM_LOG
    log.write_text("", encoding="utf-8")
    prefix = f"V{rtl.top}_wrapper"
    root = subprocess.run([tool, "--getenv", "VERILATOR_ROOT"], capture_output=True, text=True).stdout.strip()
    shutil.rmtree(sim / "obj_dir", ignore_errors=True)
    # The generated C++ is megabytes of straight-line code: -O0 compiles it about three
    # times faster than Verilator's default -Os, and simulating a test set takes well under
    # a second either way.
    # da4ml's negative.v silences WIDTHTRUNC, a lint code newer than Verilator 5.006.
    run_logged([tool, "--cc", "--build", "-j", "1", "-Wno-fatal", "-Wfuture-WIDTHTRUNC", f"{rtl.top}_wrapper.v", "--prefix", prefix,
          "-CFLAGS", "-std=c++17 -fPIC", "-MAKEFLAGS", NO_OPT, "-I../src", "-I../src/static"], sim, log, "verilator")
    run_logged(["make", "-C", "obj_dir", "-f", f"{prefix}.mk", NO_OPT, "verilated.o", "verilated_threads.o"], sim, log,
         "building the Verilator runtime")
    for old in sim.glob(f"lib{rtl.top}_rtl-*.so"):
        old.unlink()
    library = sim / f"lib{rtl.top}_rtl-{uuid.uuid4().hex[:8]}.so"  # dlopen caches by path
    run_logged([gxx(), "-std=c++17", "-fPIC", "-O1", "-shared", "-pthread", "-o", str(library),
          f"{rtl.top}_wrapper_binder.cc", f"obj_dir/{prefix}__ALL.a", "obj_dir/verilated.o",
          "obj_dir/verilated_threads.o", "-I.", "-Iobj_dir", f"-I{root}/include", f"-I{root}/include/vltstd"],
         sim, log, "linking the RTL simulator")
    return library


def input_words(rtl: RTLRecord, X: np.ndarray) -> np.ndarray:
    """The evaluation inputs as the design's input words: each value assigned to the
    input type (as the C-simulation's bridge does) and scaled to an integer."""
    t = FixedType.parse(rtl.input_type)
    values = t.quantize(np.asarray(X, dtype=np.float64).reshape(len(X), -1))
    return np.round(values * 2.0**rtl.input_fractional_bits).astype(np.int32)


def output_values(rtl: RTLRecord, words: np.ndarray) -> np.ndarray:
    """Output words (sign-extended to the padded port width) as values."""
    k, i, f = rtl.output_kif
    width = k + i + f
    codes = np.asarray(words, dtype=np.int64) % (1 << width)
    if k:
        codes = np.where(codes >= 1 << (width - 1), codes - (1 << width), codes)
    return codes * 2.0**-f


def run_simulator(rtl: RTLRecord, library: Path, X: np.ndarray) -> np.ndarray:
    words = np.ascontiguousarray(input_words(rtl, X).ravel())
    out = np.zeros(len(X) * rtl.n_outputs, dtype=np.int32)
    lib = ctypes.CDLL(str(library))
    lib.inference.argtypes = [ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t,
                              ctypes.c_size_t]
    lib.inference.restype = None
    with _working_directory(Path(rtl.verilog_dir) / "src" / "memfiles"):
        lib.inference(words.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                      out.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), len(X), 1)
    return output_values(rtl, out.reshape(len(X), rtl.n_outputs))


@contextlib.contextmanager
def _working_directory(path: Path):
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def simulate_rtl(rtl: RTLRecord, X: np.ndarray, csim_out: np.ndarray, keras_out: np.ndarray, out_dir: Path) -> RTLSimRecord:
    """Simulate ``X`` through the RTL; word agreement with ``csim_out`` and argmax
    agreement with ``keras_out``."""
    widths = {"inputs": FixedType.parse(rtl.input_type).width, "outputs": sum(rtl.output_kif)}
    for port, width in widths.items():
        if width > MAX_PORT_BITS:
            raise RTLUnsupportedError(f"RTL {port} are {width} bits wide; the simulator passes at most {MAX_PORT_BITS}")
    start = time.perf_counter()
    library = build_simulator(rtl)
    built = time.perf_counter()
    rtl_out = run_simulator(rtl, library, X)
    finished = time.perf_counter()
    csim = np.asarray(csim_out, dtype=np.float64).reshape(rtl_out.shape)
    keras = np.asarray(keras_out, dtype=np.float64).reshape(len(X), -1)
    np.savez(Path(out_dir) / "rtl_sim_outputs.npz", rtl=rtl_out, csim=csim)
    equal = rtl_out == csim
    record = RTLSimRecord(
        simulator=verilator_version(),
        n_samples=len(X),
        word_agreement=float(equal.mean()),
        sample_agreement=float(equal.all(axis=1).mean()),
        max_abs_diff=float(np.abs(rtl_out - csim).max()),
        argmax_agreement_keras=float((rtl_out.argmax(axis=1) == keras.argmax(axis=1)).mean()),
        build_seconds=round(built - start, 3),
        sim_seconds=round(finished - built, 3),
    )
    write_record(record, Path(out_dir) / RTL_SIM_RECORD)
    return record
