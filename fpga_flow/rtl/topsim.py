"""The board top level (:mod:`fpga_flow.rtl.top`) simulated by Verilator, bytes in and
bytes out, against the C-simulation's words.

The simulator is a program, ``top_sim``, that behaves like the board on its serial line: it
reads samples' bytes on standard input, drives them into ``uart_rx`` bit by bit at 8N1,
decodes ``uart_tx`` and writes the answer's bytes on standard output, one sample at a
time. The build feeds it the whole evaluation set; the deploy bundle's host script, with
``--simulate``, talks to the same program through pipes instead of a serial port. The
line runs at ``SIM_CLKS_PER_BIT`` clocks per bit (the board runs at 115200 baud): the
logic is the same, only the divider differs.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from pathlib import Path

import numpy as np

from fpga_flow.csim import gxx
from fpga_flow.errors import StageFailedError
from fpga_flow.rtl.process import run_tool
from fpga_flow.rtl.records import BAUD, RTLRecord
from fpga_flow.rtl.simulate import NO_OPT, input_words, output_values, run_logged, verilator
from fpga_flow.rtl.top import TOP, Frame

SIM_CLKS_PER_BIT = 16
SIM_PROGRAM = "top_sim"
SIM_DIR = "top_sim"
INPUT_BYTES = "input.bin"
EXPECTED_BYTES = "expected_output.bin"
FRAME_JSON = "frame.json"

TESTBENCH = r"""// fpga-flow: the top level on a simulated serial line (stdin bytes in, stdout bytes out).
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "V%(top)s.h"
#include "verilated.h"

static V%(top)s *top;
static void tick() { top->clk_in = 0; top->eval(); top->clk_in = 1; top->eval(); }
static void ticks(long n) { for (long i = 0; i < n; ++i) tick(); }

int main(int argc, char **argv) {
    const long n_in = %(n_in)d, n_out = %(n_out)d, cpb = %(cpb)d;
    const long patience = 40L * cpb * (n_out + 1) + 4 * %(latency)d + 1000;
    Verilated::commandArgs(argc, argv);
    top = new V%(top)s;
    top->uart_rx = 1;
    ticks(4 * cpb);
    std::vector<unsigned char> sample(n_in);
    while (fread(sample.data(), 1, n_in, stdin) == (size_t)n_in) {
        for (long b = 0; b < n_in; ++b) {
            const int frame = (sample[b] << 1) | 0x200;  // start bit 0, data LSB first, stop bit 1
            for (int k = 0; k < 10; ++k) { top->uart_rx = (frame >> k) & 1; ticks(cpb); }
        }
        for (long b = 0; b < n_out; ++b) {
            long waited = 0;
            while (top->uart_tx) {
                tick();
                if (++waited > patience) { fprintf(stderr, "top_sim: no answer from the design\n"); return 3; }
            }
            ticks(cpb / 2);
            int byte = 0;
            for (int k = 0; k < 8; ++k) { ticks(cpb); byte |= (top->uart_tx & 1) << k; }
            ticks(cpb);
            fputc(byte, stdout);
        }
        fflush(stdout);
    }
    delete top;
    return 0;
}
"""


def build_top_simulator(rtl: RTLRecord, top_file: Path, frame: Frame, out_dir: Path) -> Path:
    """Verilate the top level with the model into the program ``top_sim``."""
    tool = verilator()
    sim = Path(out_dir) / SIM_DIR
    sim.mkdir(parents=True, exist_ok=True)
    log = sim / "verilator.log"
    log.write_text("", encoding="utf-8")
    bench = sim / "top_sim.cpp"
    bench.write_text(TESTBENCH % {"top": TOP, "n_in": frame.sample_in_bytes, "n_out": frame.sample_out_bytes,
                                  "cpb": SIM_CLKS_PER_BIT, "latency": frame.latency_cycles}, encoding="utf-8")
    src = Path(rtl.verilog_dir) / "src"
    # Like the RTL simulation (fpga_flow.rtl.simulate): -O0 for megabytes of generated C++.
    run_logged([tool, "--cc", "--exe", "--build", "-j", "1", "-Wno-fatal", "-Wfuture-WIDTHTRUNC", str(top_file), bench.name,
          "--top-module", TOP, f"-GCLKS_PER_BIT={SIM_CLKS_PER_BIT}", "-o", SIM_PROGRAM, "-MAKEFLAGS", NO_OPT,
          "-MAKEFLAGS", f"CXX={gxx()}", f"-I{src}", f"-I{src / 'static'}"], sim, log, "verilating the top level")
    return sim / "obj_dir" / SIM_PROGRAM


def encode_samples(rtl: RTLRecord, frame: Frame, X: np.ndarray) -> bytes:
    """The samples as the host sends them: each input word, little-endian, two's complement."""
    words = input_words(rtl, X).astype(np.int64) % (1 << (8 * frame.in_bytes))
    return b"".join(int(w).to_bytes(frame.in_bytes, "little") for w in words.ravel())


def encode_answers(rtl: RTLRecord, frame: Frame, values: np.ndarray) -> bytes:
    """Output values as the top level sends them: the low port bits of each word, little-endian."""
    f = rtl.output_kif[2]
    words = np.round(np.asarray(values, dtype=np.float64).ravel() * 2.0**f).astype(np.int64) % (1 << frame.out_port_bits)
    return b"".join(int(w).to_bytes(frame.out_bytes, "little") for w in words)


def decode_answers(rtl: RTLRecord, frame: Frame, data: bytes, n_samples: int) -> np.ndarray:
    """The answers' bytes as output values, one row per sample."""
    raw = np.frombuffer(data, dtype=np.uint8).reshape(n_samples, frame.n_outputs, frame.out_bytes).astype(np.int64)
    words = (raw << (8 * np.arange(frame.out_bytes))).sum(axis=2)
    return output_values(rtl, words)


def run_top_simulator(program: Path, rtl: RTLRecord, frame: Frame, data: bytes, n_samples: int) -> np.ndarray:
    """The samples' bytes through the simulated board; the decoded output values."""
    result = run_tool([str(program)], Path(rtl.verilog_dir) / "src" / "memfiles", input=data,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expected = n_samples * frame.sample_out_bytes
    if result.returncode != 0 or len(result.stdout) != expected:
        raise StageFailedError(f"top-level simulation answered {len(result.stdout)} of {expected} bytes "
                               f"(exit {result.returncode}: {result.stderr.decode(errors='replace').strip()[:200]})")
    return decode_answers(rtl, frame, result.stdout, n_samples)


def simulate_top(rtl: RTLRecord, top_file: Path, frame: Frame, X: np.ndarray, csim_out: np.ndarray,
                 out_dir: Path) -> dict:
    """Build and run the top-level simulation; its figures (word agreement with ``csim_out``).
    The samples' bytes and the C-simulation's answers, as the board must send them, are
    kept beside it (``input.bin``, ``expected_output.bin``, ``frame.json``) for the deploy bundle."""
    start = time.perf_counter()
    program = build_top_simulator(rtl, top_file, frame, out_dir)
    built = time.perf_counter()
    data = encode_samples(rtl, frame, X)
    out = run_top_simulator(program, rtl, frame, data, len(X))
    csim = np.asarray(csim_out, dtype=np.float64).reshape(out.shape)
    sim = program.parent.parent
    (sim / INPUT_BYTES).write_bytes(data)
    (sim / EXPECTED_BYTES).write_bytes(encode_answers(rtl, frame, csim))
    (sim / FRAME_JSON).write_text(json.dumps({**dataclasses.asdict(frame), "n_samples": len(X), "baud": BAUD,
                                              "sample_in_bytes": frame.sample_in_bytes, "in_bytes": frame.in_bytes,
                                              "sample_out_bytes": frame.sample_out_bytes, "out_bytes": frame.out_bytes}),
                                  encoding="utf-8")
    return {"program": str(program), "n_samples": len(X), "word_agreement": float((out == csim).mean()),
            "bytes_in_per_sample": frame.sample_in_bytes, "bytes_out_per_sample": frame.sample_out_bytes,
            "clks_per_bit": SIM_CLKS_PER_BIT, "build_seconds": round(built - start, 3),
            "sim_seconds": round(time.perf_counter() - built, 3)}
