#!/usr/bin/env python3
"""Check an ECP5 board programmed with this bundle's bitstream against the C-simulation.

Sends each evaluation sample's bytes over the board's serial line (8N1, the baud rate of
frame.json), reads the answer's bytes and compares every output word with the words the
C-simulation computed (data/expected_output.bin). Needs numpy and pyserial on the host:

    python check_serial.py --port /dev/ttyUSB0
    python check_serial.py --simulate          # the Verilator model of the top level, here

Writes check_results.json beside this script; exit 1 when a word differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


class SimulatedBoard:
    """The Verilator model of the top level (sim/top_sim): bytes through its pipes."""

    def __init__(self, program: Path):
        # $readmemh reads the lookup tables relative to the working directory: sim/.
        self.process = subprocess.Popen([str(program)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        cwd=program.parent)

    def write(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def read(self, n: int) -> bytes:
        return self.process.stdout.read(n)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def open_board(args, frame: dict):
    if args.simulate:
        return SimulatedBoard(HERE / "sim" / "top_sim")
    try:
        import serial  # pyserial
    except ImportError:
        sys.exit("check_serial.py needs pyserial on the host: pip install pyserial")
    return serial.Serial(args.port, frame["baud"], timeout=args.timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", default="/dev/ttyUSB0", help="the board's serial device")
    parser.add_argument("--simulate", action="store_true", help="talk to the Verilator model instead of a board")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for an answer")
    args = parser.parse_args()
    frame = json.loads((HERE / "frame.json").read_text())
    n, n_in, n_out = frame["n_samples"], frame["sample_in_bytes"], frame["sample_out_bytes"]
    inputs = (HERE / "data" / "input.bin").read_bytes()
    expected = np.frombuffer((HERE / "data" / "expected_output.bin").read_bytes(), dtype=np.uint8)
    board = open_board(args, frame)
    answers, seconds = bytearray(), []
    for i in range(n):
        start = time.perf_counter()
        board.write(inputs[i * n_in:(i + 1) * n_in])
        answer = board.read(n_out)
        seconds.append(time.perf_counter() - start)
        if len(answer) != n_out:
            sys.exit(f"sample {i}: {len(answer)} of {n_out} answer bytes before the timeout")
        answers += answer
    board.close()
    words = frame["out_bytes"]
    got = np.frombuffer(bytes(answers), dtype=np.uint8).reshape(n, frame["n_outputs"], words)
    equal = (got == expected.reshape(got.shape)).all(axis=2)
    results = {"simulated": args.simulate, "n_samples": n, "output_words": int(equal.size),
               "output_words_equal": int(equal.sum()), "word_agreement": float(equal.mean()),
               "round_trip_median_ms": 1000 * float(np.median(seconds)), "passed": bool(equal.all())}
    (HERE / "check_results.json").write_text(json.dumps(results, indent=2))
    where = "the Verilator model (SIMULATED, not the board)" if args.simulate else args.port
    print(f"{results['output_words_equal']}/{results['output_words']} output words equal to the C-simulation's "
          f"on {where}; round trip median {results['round_trip_median_ms']:.2f} ms")
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
