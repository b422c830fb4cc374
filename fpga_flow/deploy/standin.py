"""The software stand-in for the overlay.

It is the bundle's own AXI top (``hls_project/firmware/myproject_axi.cpp`` with the
network), compiled with g++ like the C-simulation, behind a small C++ shim
(``templates/standin.cpp.j2``) that reads and writes the words exactly as they lie in
the board's memory. Two uses:

* deploy derives the bundle's expected words from it: the evaluation inputs converted by
  ap_fixed (the C-simulation's own conversion), through the wrapper, out as words;
* ``check_on_board.py --simulate`` installs :func:`simulated_pynq` as the ``pynq``
  module, so the driver's transport code (``ZynqDma`` or ``AlveoKernel``) runs unchanged
  against it: ``Overlay``, ``allocate``, the DMA channels or the kernel call, with the
  board's rules (TLAST, transfer limits, whole samples, device syncs on Alveo) enforced.

What it cannot show: that Vivado HLS maps the wrapper structs' ``data``/``last`` fields
onto TDATA/TLAST as assumed here, the timing, and the board itself.
"""

from __future__ import annotations

import ctypes
import sys
import types
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from fpga_flow.csim import compile_project, weights_dir
from fpga_flow.deploy.board.driver import ALVEO_BURST_BEATS, ZYNQ_MAX_TRANSFER_BYTES, BundleManifest, read_manifest
from fpga_flow.deploy.templates import render
from fpga_flow.rundir import PROJECT_DIR, write_json_atomic

SIM_DIR = "sim"
SOURCE = "standin.cpp"
RECORD = "standin.json"


class StandinRecord(BaseModel):
    """``sim/standin.json``: the compiled stand-in, and the weights folder it reads (its
    path is compiled in, so a moved bundle compiles the stand-in again)."""

    model_config = ConfigDict(extra="forbid")

    library: str
    weights_dir: str


def write_source(bundle_dir: Path, project: str, model_input_cpp: str) -> Path:
    path = bundle_dir / SIM_DIR / SOURCE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render("standin.cpp.j2", project=project, model_input_cpp=model_input_cpp), encoding="utf-8")
    return path


def compile_standin(bundle_dir: Path) -> "AxiWrapper":
    """Compile the bundle's project with the shim into one library (g++, like the C-simulation)."""
    bundle_dir = Path(bundle_dir).resolve()
    compiled = compile_project(bundle_dir / PROJECT_DIR, extra_sources=(bundle_dir / SIM_DIR / SOURCE,))
    record = StandinRecord(library=str(compiled.library), weights_dir=str(weights_dir(bundle_dir / PROJECT_DIR)))
    write_json_atomic(bundle_dir / SIM_DIR / RECORD, record.model_dump())
    return AxiWrapper(compiled.library)


def load_standin(bundle_dir: Path) -> "AxiWrapper":
    """The compiled stand-in, compiled again when missing or compiled for another folder."""
    bundle_dir = Path(bundle_dir).resolve()
    path = bundle_dir / SIM_DIR / RECORD
    if path.is_file():
        record = StandinRecord.model_validate_json(path.read_text(encoding="utf-8"))
        if Path(record.library).is_file() and record.weights_dir == str(weights_dir(bundle_dir / PROJECT_DIR)):
            return AxiWrapper(Path(record.library))
    return compile_standin(bundle_dir)


def _pointer(array: np.ndarray) -> ctypes.c_void_p:
    return array.ctypes.data_as(ctypes.c_void_p)


class AxiWrapper:
    """The compiled AXI top, called with words as bytes in memory."""

    def __init__(self, library: Path):
        self.library = library
        self._lib = lib = ctypes.CDLL(str(library))
        for name in ("fpga_flow_n_in", "fpga_flow_n_out", "fpga_flow_in_word_bits", "fpga_flow_out_word_bits"):
            getattr(lib, name).restype = ctypes.c_size_t
        self.n_in, self.n_out = lib.fpga_flow_n_in(), lib.fpga_flow_n_out()
        self.in_dtype = np.dtype(f"uint{lib.fpga_flow_in_word_bits()}")
        self.out_dtype = np.dtype(f"uint{lib.fpga_flow_out_word_bits()}")
        lib.fpga_flow_axi_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p]
        lib.fpga_flow_reference_input_words.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        lib.fpga_flow_output_values.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]

    def run(self, words_in: np.ndarray, last_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Output words and TLAST flags for whole samples of input words and TLAST flags."""
        words_in = np.ascontiguousarray(words_in, dtype=self.in_dtype)
        last_in = np.ascontiguousarray(last_in, dtype=np.uint8)
        if len(words_in) % self.n_in or len(last_in) != len(words_in):
            raise ValueError(f"{len(words_in)} input words are not whole samples of {self.n_in}")
        n_samples = len(words_in) // self.n_in
        words_out = np.zeros(n_samples * self.n_out, dtype=self.out_dtype)
        last_out = np.zeros(n_samples * self.n_out, dtype=np.uint8)
        self._lib.fpga_flow_axi_run(_pointer(words_in), _pointer(last_in), n_samples, _pointer(words_out), _pointer(last_out))
        return words_out, last_out

    def reference_input_words(self, values: np.ndarray) -> np.ndarray:
        values = np.ascontiguousarray(np.ravel(values), dtype=np.float64)
        words = np.zeros(len(values), dtype=self.in_dtype)
        self._lib.fpga_flow_reference_input_words(_pointer(values), len(values), _pointer(words))
        return words

    def output_values(self, words: np.ndarray) -> np.ndarray:
        words = np.ascontiguousarray(words, dtype=self.out_dtype)
        values = np.zeros(len(words), dtype=np.float64)
        self._lib.fpga_flow_output_values(_pointer(words), len(words), _pointer(values))
        return values


# --------------------------------------------------------------------------- pynq look-alike


class SimulatedBuffer(np.ndarray):
    """What ``pynq.allocate`` returns: host memory, plus the device copy that an Alveo
    card's kernel reads and writes (moved by ``sync_to_device``/``sync_from_device``)."""

    def __array_finalize__(self, obj) -> None:
        self.device = getattr(obj, "device", None)

    def sync_to_device(self) -> None:
        self.device[...] = self

    def sync_from_device(self) -> None:
        self[...] = self.device

    def flush(self) -> None:
        pass  # Zynq: the DMA reads host memory here; no cache to write back

    def invalidate(self) -> None:
        pass

    def freebuffer(self) -> None:
        pass


def allocate(shape, dtype="u4", target=None, **_ignored) -> SimulatedBuffer:
    buffer = np.zeros(shape, dtype=dtype).view(SimulatedBuffer)
    buffer.device = np.zeros(shape, dtype=dtype)
    return buffer


def _as_words(memory: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Memory as the stream sees it: its bytes in beats of the IP's word width."""
    return np.frombuffer(np.ascontiguousarray(memory).tobytes(), dtype=dtype)


def _store(memory: np.ndarray, words: np.ndarray, what: str) -> None:
    raw = memory.view(np.uint8).reshape(-1)
    data = words.view(np.uint8)
    if data.size > raw.size:
        raise RuntimeError(f"{what}: {data.size} bytes do not fit the {raw.size}-byte buffer: the board reports an error")
    raw[:data.size] = data


class _DmaChannel:
    def __init__(self, dma: "SimulatedDma", direction: str):
        self._dma, self.direction = dma, direction
        self.buffer = None
        self.done = False

    def transfer(self, buffer) -> None:
        if buffer.nbytes > ZYNQ_MAX_TRANSFER_BYTES:
            raise ValueError(f"{self.direction} transfer of {buffer.nbytes} bytes exceeds the DMA's "
                             f"{ZYNQ_MAX_TRANSFER_BYTES}-byte limit")
        if self.buffer is not None:
            raise RuntimeError(f"DMA {self.direction} channel is not idle")
        self.buffer, self.done = buffer, False
        self._dma.start()

    def wait(self) -> None:
        if self.buffer is None:
            raise RuntimeError(f"DMA {self.direction} channel not started")
        if not self.done:
            raise RuntimeError(f"DMA {self.direction} wait would block for ever: the other channel has no transfer")
        self.buffer = None


class SimulatedDma:
    """hls4ml's Zynq design: MM2S streams the send buffer into the IP with TLAST on its
    last word; S2MM writes the IP's output words until the IP's TLAST."""

    def __init__(self, wrapper: AxiWrapper):
        self._wrapper = wrapper
        self.sendchannel, self.recvchannel = _DmaChannel(self, "MM2S"), _DmaChannel(self, "S2MM")

    def start(self) -> None:
        send, recv = self.sendchannel, self.recvchannel
        if send.buffer is None or recv.buffer is None or send.done:
            return
        wrapper = self._wrapper
        words = _as_words(send.buffer, wrapper.in_dtype)
        if len(words) % wrapper.n_in:
            raise RuntimeError(f"MM2S sends {len(words)} words, not whole samples of {wrapper.n_in}: the IP would "
                               "wait for the rest of a sample and S2MM never finish")
        last = np.zeros(len(words), dtype=np.uint8)
        last[-1] = 1
        out, out_last = wrapper.run(words, last)
        ends = np.flatnonzero(out_last)
        if len(ends) == 0:
            raise RuntimeError("the IP's output carries no TLAST: S2MM would never finish")
        end = int(ends[0]) + 1
        if end < len(out):
            raise RuntimeError(f"{len(out) - end} output words follow the IP's TLAST and would stay in the stream")
        _store(recv.buffer, out, "S2MM")
        send.done = recv.done = True


class SimulatedKernel:
    """hls4ml's Alveo kernel ``krnl_rtl``: reads ``length_r_in`` 32-bit words of device
    memory into the IP (TLAST on the last beat of every burst) and writes
    ``length_r_out`` output words back; the IP's output TLAST is not connected."""

    def __init__(self, wrapper: AxiWrapper):
        self._wrapper = wrapper

    def call(self, inbuf, outbuf, length_in: int, length_out: int) -> None:
        wrapper = self._wrapper
        words = _as_words(inbuf.device, wrapper.in_dtype)
        if length_in > len(words):
            raise RuntimeError(f"length_r_in {length_in} reads past the {len(words)}-word input buffer")
        words = words[:length_in]
        if length_in % wrapper.n_in:
            raise RuntimeError(f"{length_in} input words are not whole samples of {wrapper.n_in}: the kernel would "
                               "never finish")
        last = np.zeros(length_in, dtype=np.uint8)
        last[ALVEO_BURST_BEATS - 1::ALVEO_BURST_BEATS] = 1
        last[-1:] = 1
        out, _ = wrapper.run(words, last)
        if len(out) != length_out:
            raise RuntimeError(f"the IP gives {len(out)} output words for length_r_out {length_out}: the kernel would "
                               + ("never finish" if len(out) < length_out else "leave words in its FIFO"))
        _store(outbuf.device, out, "kernel write")


class SimulatedOverlay:
    def __init__(self, bitfile: str, manifest: BundleManifest, wrapper: AxiWrapper):
        self.bitfile_name = bitfile
        if manifest.kind == "zynq":
            self.hier_0 = types.SimpleNamespace(axi_dma_0=SimulatedDma(wrapper))
        else:
            self.krnl_rtl_1 = SimulatedKernel(wrapper)


def simulated_pynq(bundle_dir: Path) -> types.ModuleType:
    """A ``pynq`` module whose overlay is the stand-in of the bundle in ``bundle_dir``."""
    manifest = read_manifest(bundle_dir)
    wrapper = load_standin(bundle_dir)
    module = types.ModuleType("pynq", "fpga-flow's software stand-in for pynq (check_on_board.py --simulate)")
    module.Overlay = lambda bitfile, **_ignored: SimulatedOverlay(bitfile, manifest, wrapper)
    module.allocate = allocate
    return module


def install(bundle_dir: Path) -> None:
    """Make ``import pynq`` give the stand-in."""
    sys.modules["pynq"] = simulated_pynq(bundle_dir)
