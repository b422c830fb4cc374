"""Host driver for an fpga-flow deployment bundle.

It runs the network on the board's accelerator, packing inputs into the AXI-stream words
the bundle's HLS wrapper (``hls_project/firmware/myproject_axi.cpp``) reads and unpacking
the words it writes, from the types recorded in ``bundle.json``: no encode/decode of
one's own is needed. It imports only the standard library and numpy, plus pynq to reach
the hardware, and runs on the board's Python (PYNQ 2.7 ships Python 3.8).

    from driver import Accelerator
    accelerator = Accelerator.open(".")                  # the bundle folder
    scores = accelerator.predict(X)                      # float64, shape (len(X), N_OUT)
    print(accelerator.last_timing.throughput)            # samples per second

The words
---------
The wrapper reads ``N_IN`` stream beats per sample. Each beat's data is one value of the
word type ``T_in = ap_[u]fixed<Wt, I>``, which the wrapper casts to the network's input
type ``input_t = ap_[u]fixed<W, I>``; fpga-flow chooses ``T_in`` with the same integer
bits ``I`` and ``Wt >= W``, so every ``input_t`` value is a ``T_in`` value and the cast
is exact. The output side is the same with ``result_t`` and ``T_out``.

A value ``q`` of a type with ``F = W - I`` fractional bits is the integer
``n = q * 2**F``, stored as the low ``W`` bits of ``n`` (two's complement when signed).
The same value in the word type has ``F + (Wt - W)`` fractional bits, so its pattern is
``n * 2**(Wt - W)``: the ``W``-bit pattern shifted left by ``Wt - W``. In memory each
beat is one little-endian word of ``Wt`` bits (the DMA and the Alveo kernel move the
data field of each beat, and the board's ARM and x86 hosts are little-endian).

The host converts each float to ``input_t`` exactly as ``ap_fixed`` converts a double
(the C-simulation feeds the network doubles): scale by ``2**F``, round with the type's
quantization mode, then apply its overflow mode; see :func:`quantize`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar, Dict, List, Optional, Tuple

import numpy as np

MANIFEST_FILE = "bundle.json"
INCOMPLETE_FILE = "INCOMPLETE"
INPUTS_FILE = "data/inputs.npy"
INPUT_WORDS_FILE = "data/input_words.npy"
EXPECTED_WORDS_FILE = "data/csim_output_words.npy"
RESULTS_FILE = "check_results.json"
BUNDLE_SCHEMA_VERSION = 1
RESULTS_SCHEMA_VERSION = 1

ROUNDING_MODES = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")
OVERFLOW_MODES = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")
WORD_WIDTHS = (32, 64)  # see fpga_flow.deploy.project.word_type for why only these

# Zynq: hls4ml's block design gives the AXI DMA a 26-bit length register (c_sg_length_width),
# so one transfer moves at most 2**26 - 1 bytes.
ZYNQ_MAX_TRANSFER_BYTES = 2**26 - 1
# Alveo: hls4ml's RTL kernel takes 32-bit word counts (length_r_in/out).
ALVEO_MAX_TRANSFER_WORDS = 2**32 - 1
# Alveo: the kernel's read master asserts TLAST on the last beat of every AXI burst
# (krnl_rtl_axi_read_master.sv: tlast = rlast), 256 beats of 32-bit words.
ALVEO_BURST_BEATS = 256

# The records below are stdlib dataclasses because the board's Python has no pydantic;
# fpga-flow validates them with pydantic (TypeAdapter), which reads this setting: a field
# no one defined is an error, not silently dropped.
_PYDANTIC_CONFIG = {"extra": "forbid"}

_TWO_63 = 2.0**63
_TWO_64 = 2.0**64


@dataclass(frozen=True)
class FixedPoint:
    """An ``ap_fixed``/``ap_ufixed`` type (``ap_int<W>`` is ``integer == width``)."""

    __pydantic_config__: ClassVar[dict] = _PYDANTIC_CONFIG

    width: int
    integer: int
    signed: bool
    rounding: str = "TRN"
    overflow: str = "WRAP"

    def __post_init__(self):
        if not 1 <= self.width <= 64:
            raise ValueError("fixed-point widths from 1 to 64 bits are supported, not {}".format(self.width))
        if self.rounding not in ROUNDING_MODES:
            raise ValueError("unknown rounding mode {!r}".format(self.rounding))
        if self.overflow not in OVERFLOW_MODES:
            raise ValueError("unknown overflow mode {!r}".format(self.overflow))

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    def cpp(self) -> str:
        """The C++ spelling, e.g. ``ap_ufixed<32,1,AP_RND,AP_SAT,0>``, exactly as hls4ml
        spells the type (APFixedPrecisionDefinition), which is how the run's summary.json
        records it: the default modes are left out, ``ap_fixed<16,6>`` and not
        ``ap_fixed<16,6,AP_TRN,AP_WRAP,0>``, so one type has one spelling in the run and
        in its bundle."""
        kind = "ap_fixed" if self.signed else "ap_ufixed"
        if (self.rounding, self.overflow) == ("TRN", "WRAP"):
            return "{}<{},{}>".format(kind, self.width, self.integer)
        return "{}<{},{},AP_{},AP_{},0>".format(kind, self.width, self.integer, self.rounding, self.overflow)


@dataclass(frozen=True)
class StreamPort:
    """One side of the accelerator: the network's type, the word type carrying it on the
    stream, and how many words make one sample."""

    __pydantic_config__: ClassVar[dict] = _PYDANTIC_CONFIG

    model_type: FixedPoint
    word_type: FixedPoint
    values_per_sample: int

    def __post_init__(self):
        m, w = self.model_type, self.word_type
        if not (w.integer == m.integer and w.signed == m.signed and w.width >= m.width and w.width in WORD_WIDTHS):
            raise ValueError("word type {} cannot carry {} exactly: it needs the same integer bits and sign, "
                             "and a width of {} bits at least as wide".format(w.cpp(), m.cpp(), " or ".join(map(str, WORD_WIDTHS))))

    @property
    def word_dtype(self) -> np.dtype:
        return np.dtype("uint{}".format(self.word_type.width))

    @property
    def word_bytes(self) -> int:
        return self.word_type.width // 8


@dataclass(frozen=True)
class Provenance:
    """Where the bundle came from and what was proved about it at deploy time."""

    __pydantic_config__: ClassVar[dict] = _PYDANTIC_CONFIG

    run_dir: str
    run_id: str
    run_backend: str
    # Output values of the evaluation set on which this bundle's C-simulation and the
    # run's C-simulation were compared and found equal (deploy refuses any difference).
    csim_values_matched: int
    # How deploy made the run's C-simulation library for that comparison: "linked" (the
    # run's compiled AXI wrapper and bridge with the bundle's compiled network, the same
    # sources, weights, flags and g++) or "recompiled" (the run's project compiled again).
    run_csim: str
    # The network sources (firmware/ minus the AXI wrapper) are byte for byte the run's.
    firmware_identical_to_run: bool


@dataclass(frozen=True)
class BundleManifest:
    """``bundle.json``: what the driver and ``check_on_board.py`` need to know."""

    __pydantic_config__: ClassVar[dict] = _PYDANTIC_CONFIG

    schema_version: int
    # A new id each time deploy writes a bundle: check results carry it, so that results
    # are brought back to the run whose bundle produced them and to no other.
    bundle_id: str
    model: str
    board: str
    accelerator_board: str
    kind: str  # "zynq" (AXI DMA) or "alveo" (RTL kernel)
    project: str
    input_shape: List[int]
    input: StreamPort
    output: StreamPort
    overlay: str  # relative to the bundle: overlay/NAME.bit (NAME.hwh beside it) or overlay/NAME.xclbin
    max_batch: int
    n_samples: int
    created_utc: str
    versions: Dict[str, Optional[str]]
    provenance: Provenance

    @classmethod
    def from_dict(cls, data: dict) -> "BundleManifest":
        def port(d: dict) -> StreamPort:
            return StreamPort(FixedPoint(**d["model_type"]), FixedPoint(**d["word_type"]), d["values_per_sample"])

        fields = dict(data)
        fields["input"], fields["output"] = port(data["input"]), port(data["output"])
        fields["provenance"] = Provenance(**data["provenance"])
        return cls(**fields)


def read_manifest(bundle_dir) -> BundleManifest:
    bundle_dir = Path(bundle_dir)
    if (bundle_dir / INCOMPLETE_FILE).exists() or not (bundle_dir / MANIFEST_FILE).is_file():
        raise FileNotFoundError("{} is not a complete fpga-flow bundle (no {}, or an {} marker): "
                                "write it again with 'fpga-flow deploy'".format(bundle_dir, MANIFEST_FILE, INCOMPLETE_FILE))
    manifest = BundleManifest.from_dict(json.loads((bundle_dir / MANIFEST_FILE).read_text()))
    if manifest.schema_version != BUNDLE_SCHEMA_VERSION:
        raise ValueError("{}: bundle schema {} is not the {} this driver reads".format(
            bundle_dir, manifest.schema_version, BUNDLE_SCHEMA_VERSION))
    return manifest


# --------------------------------------------------------------------------- words


def _increment(v: np.ndarray, floor: np.ndarray, mode: str) -> np.ndarray:
    """1 where rounding ``v`` (scaled so one step of the type is 1) goes above ``floor(v)``.

    ``v - floor(v)`` is exact in float64, so ties are seen exactly. The modes are
    ap_fixed's (``quantization_adjust`` in ap_fixed_base.h): RND ties go up,
    RND_ZERO towards zero, RND_MIN_INF down, RND_INF away from zero, RND_CONV to even;
    TRN_ZERO truncates towards zero.
    """
    rest = v - floor
    above, tie = rest > 0.5, rest == 0.5
    if mode == "TRN":
        return np.zeros_like(v)
    if mode == "TRN_ZERO":
        return ((rest > 0) & (v < 0)).astype(np.float64)
    if mode == "RND":
        return (rest >= 0.5).astype(np.float64)
    if mode == "RND_ZERO":
        return (above | (tie & (v < 0))).astype(np.float64)
    if mode == "RND_MIN_INF":
        return above.astype(np.float64)
    if mode == "RND_INF":
        return (above | (tie & (v > 0))).astype(np.float64)
    return (above | (tie & (np.fmod(floor, 2.0) != 0))).astype(np.float64)  # RND_CONV


def _twos_complement64(n: np.ndarray) -> np.ndarray:
    """Integer-valued floats in [-2**64, 2**64) as their 64-bit two's complement patterns.

    Both shifts by 2**64 are exact (Sterbenz: the operands are within a factor of two)."""
    n = np.where(n >= _TWO_63, n - _TWO_64, n)
    n = np.where(n < -_TWO_63, n + _TWO_64, n)
    return n.astype(np.int64).view(np.uint64)


def _mask(width: int) -> np.uint64:
    return np.uint64((1 << width) - 1)


def quantize(values, t: FixedPoint) -> np.ndarray:
    """The ``t.width``-bit patterns (as uint64) of ``values`` converted to ``t``, as
    ``ap_fixed`` converts a double: round to the type's step, then overflow.

    Scaling by ``2**F`` is exact in float64, the rounded integer ``n`` is exact while
    ``|v| < 2**53`` (above that ``v`` has no fraction to round), and the overflow modes
    act on ``n``: WRAP keeps the low ``W`` bits (``fmod`` by ``2**W`` is exact), SAT clips
    to the type's range, SAT_SYM clips a signed type to ``+-(2**(W-1) - 1)``, SAT_ZERO
    gives 0 out of range. Inputs must be finite and, scaled, stay above 2**-1022 in
    magnitude or be 0 (the driver does not reproduce subnormal underflow).
    """
    x = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("inputs must be finite numbers (found NaN or infinity)")
    v = np.ldexp(x, t.fractional)
    if not np.all(np.isfinite(v)):
        raise ValueError("inputs are too large to convert to {}".format(t.cpp()))
    floor = np.floor(v)
    n = floor + _increment(v, floor, t.rounding)
    w = t.width
    if t.overflow == "WRAP":
        return _twos_complement64(np.fmod(n, 2.0**w)) & _mask(w)
    lowest, highest = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if t.signed else (0, (1 << w) - 1)
    # n is an integer, so n > highest is n >= highest + 1: both bounds compared are 0 or
    # powers of two, exact in float64 at any width.
    over = n >= float(highest + 1)
    if t.overflow == "SAT_SYM" and t.signed:
        lowest += 1
        under = n <= float(lowest - 1)
    else:
        under = n < float(lowest)
    patterns = _twos_complement64(np.where(over | under, 0.0, n))
    if t.overflow != "SAT_ZERO":
        patterns = np.where(over, np.uint64(highest & (2**64 - 1)), patterns)
        patterns = np.where(under, np.uint64(lowest & (2**64 - 1)), patterns)
    return patterns.astype(np.uint64) & _mask(w)


def to_words(patterns: np.ndarray, port: StreamPort) -> np.ndarray:
    """The model type's bit patterns as words of the port's word type."""
    shift = np.uint64(port.word_type.width - port.model_type.width)
    words = (patterns.astype(np.uint64) << shift) & _mask(port.word_type.width)
    return words.astype(port.word_dtype)


def word_values(words: np.ndarray, word_type: FixedPoint) -> np.ndarray:
    """The value each word holds, as float64 (exact up to 53 significant bits)."""
    raw = np.asarray(words).astype(np.uint64) & _mask(word_type.width)
    if word_type.signed:
        spare = 64 - word_type.width
        integers = ((raw << np.uint64(spare)).view(np.int64) >> spare).astype(np.float64)
    else:
        integers = raw.astype(np.float64)
    return np.ldexp(integers, -word_type.fractional)


def pack(X, port: StreamPort) -> np.ndarray:
    """Samples ``X`` (any shape with the samples first) as one flat array of input words."""
    X = np.asarray(X)
    flat = X.reshape(len(X), -1)
    if flat.shape[1] != port.values_per_sample:
        raise ValueError("each sample has {} values; the accelerator takes {}".format(flat.shape[1], port.values_per_sample))
    return to_words(quantize(flat.ravel(), port.model_type), port)


def unpack(words: np.ndarray, port: StreamPort) -> np.ndarray:
    """Output words as values, one row per sample."""
    return word_values(words, port.word_type).reshape(-1, port.values_per_sample)


# --------------------------------------------------------------------------- transports


class ZynqDma:
    """hls4ml's Zynq block design (pynq-z2, zcu102): an AXI DMA in ``hier_0`` streams the
    input words to the IP (MM2S, TLAST on the last word of a transfer) and takes its output
    words (S2MM, ended by the IP's TLAST on the last output word of the batch)."""

    def __init__(self, overlay_file, manifest: BundleManifest):
        from pynq import Overlay

        self.overlay = Overlay(str(overlay_file))
        dma = self.overlay.hier_0.axi_dma_0
        self._send, self._recv = dma.sendchannel, dma.recvchannel
        self._buffers = _Buffers(manifest)

    def transfer(self, words_in: np.ndarray, n_out_words: int) -> np.ndarray:
        inbuf, outbuf = self._buffers.get(len(words_in), n_out_words)
        inbuf[:] = words_in
        self._send.transfer(inbuf)
        self._recv.transfer(outbuf)
        self._send.wait()
        self._recv.wait()
        return np.array(outbuf)

    def close(self) -> None:
        self._buffers.free()


class AlveoKernel:
    """hls4ml's Alveo RTL kernel ``krnl_rtl``: reads ``length_r_in`` words from device
    memory into the IP and writes ``length_r_out`` of its words back."""

    def __init__(self, overlay_file, manifest: BundleManifest):
        from pynq import Overlay

        self.overlay = Overlay(str(overlay_file))
        self._kernel = self.overlay.krnl_rtl_1
        self._buffers = _Buffers(manifest)

    def transfer(self, words_in: np.ndarray, n_out_words: int) -> np.ndarray:
        inbuf, outbuf = self._buffers.get(len(words_in), n_out_words)
        inbuf[:] = words_in
        inbuf.sync_to_device()
        self._kernel.call(inbuf, outbuf, len(words_in), n_out_words)
        outbuf.sync_from_device()
        return np.array(outbuf)

    def close(self) -> None:
        self._buffers.free()


class _Buffers:
    """Physically contiguous buffers from ``pynq.allocate``, one pair per transfer size."""

    def __init__(self, manifest: BundleManifest):
        self._dtypes = manifest.input.word_dtype, manifest.output.word_dtype
        self._pairs = {}

    def get(self, n_in: int, n_out: int):
        from pynq import allocate

        key = (n_in, n_out)
        if key not in self._pairs:
            self._pairs[key] = (allocate(shape=(n_in,), dtype=self._dtypes[0]),
                                allocate(shape=(n_out,), dtype=self._dtypes[1]))
        return self._pairs[key]

    def free(self) -> None:
        for pair in self._pairs.values():
            for buffer in pair:
                buffer.freebuffer()
        self._pairs.clear()


TRANSPORTS = {"zynq": ZynqDma, "alveo": AlveoKernel}


def max_batch(kind: str, port_in: StreamPort, port_out: StreamPort) -> int:
    """The most samples one transfer can carry on this kind of board."""
    if kind == "zynq":
        per_sample = max(port_in.values_per_sample * port_in.word_bytes, port_out.values_per_sample * port_out.word_bytes)
        return ZYNQ_MAX_TRANSFER_BYTES // per_sample
    return ALVEO_MAX_TRANSFER_WORDS // max(port_in.values_per_sample, port_out.values_per_sample)


# --------------------------------------------------------------------------- accelerator


@dataclass
class Timing:
    """Wall time of the transfers alone (buffer copy, data movement, compute), per batch."""

    samples: int = 0
    seconds: float = 0.0
    batch_seconds: List[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("nan")


class Accelerator:
    """The network on the board: pack, transfer in batches, unpack."""

    def __init__(self, manifest: BundleManifest, transport):
        self.manifest = manifest
        self.transport = transport
        self.last_timing = Timing()

    @classmethod
    def open(cls, bundle_dir=".") -> "Accelerator":
        """Load the bundle's overlay (programs the FPGA) and attach to it."""
        bundle_dir = Path(bundle_dir)
        manifest = read_manifest(bundle_dir)
        return cls(manifest, TRANSPORTS[manifest.kind](bundle_dir / manifest.overlay, manifest))

    def pack(self, X) -> np.ndarray:
        return pack(X, self.manifest.input)

    def unpack(self, words: np.ndarray) -> np.ndarray:
        return unpack(words, self.manifest.output)

    def batch_size(self, requested: Optional[int] = None) -> int:
        """Samples per transfer: as requested, and at most what one transfer can carry."""
        return min(requested or self.manifest.max_batch, self.manifest.max_batch)

    def run_words(self, words_in: np.ndarray, batch_size: Optional[int] = None) -> np.ndarray:
        """Input words of whole samples in, output words out, in batches of at most
        ``batch_size`` samples (default and ceiling: what one transfer can carry)."""
        n_in, n_out = self.manifest.input.values_per_sample, self.manifest.output.values_per_sample
        if len(words_in) % n_in:
            raise ValueError("{} input words are not whole samples of {} words".format(len(words_in), n_in))
        n_samples = len(words_in) // n_in
        batch = self.batch_size(batch_size)
        outputs, timing = [], Timing()
        for start in range(0, n_samples, batch):
            stop = min(start + batch, n_samples)
            began = time.perf_counter()
            outputs.append(self.transport.transfer(words_in[start * n_in:stop * n_in], (stop - start) * n_out))
            timing.batch_seconds.append(time.perf_counter() - began)
            timing.samples += stop - start
        timing.seconds = sum(timing.batch_seconds)
        self.last_timing = timing
        if not outputs:
            return np.zeros(0, dtype=self.manifest.output.word_dtype)
        return np.concatenate(outputs)

    def predict(self, X, batch_size: Optional[int] = None) -> np.ndarray:
        """The network's outputs for samples ``X``, as float64 values of its output type."""
        return self.unpack(self.run_words(self.pack(X), batch_size))

    def sample_latencies(self, words_in: np.ndarray, n_samples: int) -> List[float]:
        """Seconds for each of the first ``n_samples`` samples sent alone (one transfer each)."""
        n_in = self.manifest.input.values_per_sample
        n_out = self.manifest.output.values_per_sample
        latencies = []
        for i in range(min(n_samples, len(words_in) // n_in)):
            began = time.perf_counter()
            self.transport.transfer(words_in[i * n_in:(i + 1) * n_in], n_out)
            latencies.append(time.perf_counter() - began)
        return latencies

    def close(self) -> None:
        self.transport.close()


# --------------------------------------------------------------------------- check results


@dataclass(frozen=True)
class Mismatch:
    """One output word that differs from the C-simulation's: where, both words, their values."""

    __pydantic_config__: ClassVar[dict] = _PYDANTIC_CONFIG

    sample: int
    index: int
    expected_word: int
    board_word: int
    expected_value: float
    board_value: float


@dataclass(frozen=True)
class CheckResults:
    """``check_results.json``, written by ``check_on_board.py`` and read back by
    ``fpga-flow deploy --record``."""

    __pydantic_config__: ClassVar[dict] = _PYDANTIC_CONFIG

    schema_version: int
    simulated: bool
    model: str
    board: str
    run_id: str
    bundle_id: str
    created_utc: str
    n_samples: int
    output_words: int
    output_words_equal: int
    samples_equal: int
    input_words_equal: int
    input_words: int
    batch_size: int
    throughput_samples_per_s: float
    latency_samples: int
    latency_median_us: float
    latency_p90_us: float
    mismatches: List[Mismatch]

    def __post_init__(self):
        for part, whole in (("output_words_equal", "output_words"), ("samples_equal", "n_samples"),
                            ("input_words_equal", "input_words")):
            if not 0 <= getattr(self, part) <= getattr(self, whole):
                raise ValueError("{} must be between 0 and {} = {}, not {}".format(
                    part, whole, getattr(self, whole), getattr(self, part)))

    @property
    def word_agreement(self) -> float:
        return self.output_words_equal / self.output_words if self.output_words else float("nan")

    @property
    def passed(self) -> bool:
        return self.output_words_equal == self.output_words and self.input_words_equal == self.input_words

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def first_mismatches(expected: np.ndarray, got: np.ndarray, port: StreamPort, limit: int) -> List[Mismatch]:
    """Up to ``limit`` differing output words, with their sample, position and values."""
    differ = np.flatnonzero(expected != got)[:limit]
    e_values, g_values = word_values(expected[differ], port.word_type), word_values(got[differ], port.word_type)
    n = port.values_per_sample
    return [Mismatch(int(k) // n, int(k) % n, int(expected[k]), int(got[k]), float(e), float(g))
            for k, e, g in zip(differ, e_values, g_values)]


def percentile_us(seconds: List[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1e6, q)) if seconds else float("nan")


def counts(expected: np.ndarray, got: np.ndarray, values_per_sample: int) -> Tuple[int, int]:
    """(equal words, samples whose every word is equal)."""
    equal = expected == got
    return int(equal.sum()), int(equal.reshape(-1, values_per_sample).all(axis=1).sum())
