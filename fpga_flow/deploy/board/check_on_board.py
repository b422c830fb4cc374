#!/usr/bin/env python3
"""Run the bundle's evaluation inputs on the accelerator and compare every output word
with the C-simulation's.

On the board (from the bundle folder):   python3 check_on_board.py
On the build machine, without a board:   python check_on_board.py --simulate

It loads the overlay, packs the inputs with driver.py (and checks the packing against the
C-simulation's own input words), runs them in batches, and prints the word agreement,
the latency per sample and the throughput. The figures go to check_results.json, which
'fpga-flow deploy --record' brings back to the run. Exit code: 0 every word agrees,
1 any word differs, 2 the bundle or the overlay is missing or unusable.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import driver  # noqa: E402  (the bundle's driver.py, beside this file)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulate", action="store_true",
                        help="use the software stand-in for the overlay (needs fpga-flow and g++), not the board")
    parser.add_argument("--batch-size", type=positive, default=None, help="samples per transfer (default: as many as fit)")
    parser.add_argument("--latency-samples", type=positive, default=100,
                        help="samples sent one per transfer to measure latency (default 100)")
    parser.add_argument("--results", type=Path, default=HERE / driver.RESULTS_FILE, help="where to write the results")
    parser.add_argument("--show", type=int, default=10, help="differing words to list (default 10)")
    return parser.parse_args(argv)


def fail(message: str) -> int:
    print("error: " + message, file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = arguments(argv)
    try:
        manifest = driver.read_manifest(HERE)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    if args.simulate:
        try:
            # deferred: fpga_flow is not installed on the board; --simulate runs on the host
            from fpga_flow.deploy import standin
            from fpga_flow.errors import FlowError
        except ImportError:
            return fail("--simulate needs fpga-flow installed (run it with the fpga-flow environment's python)")
        try:
            standin.install(HERE)
        except FlowError as exc:
            return fail(str(exc))
    elif not (HERE / manifest.overlay).is_file():
        return fail("{} not found: build it with build_bitstream.sh (see README.md) and copy overlay/ here".format(
            manifest.overlay))

    X = np.load(str(HERE / driver.INPUTS_FILE))
    reference_in = np.load(str(HERE / driver.INPUT_WORDS_FILE))
    expected = np.load(str(HERE / driver.EXPECTED_WORDS_FILE))
    try:
        accelerator = driver.Accelerator.open(HERE)
    except ImportError:
        return fail("the pynq package is not installed: run this on the board's PYNQ image (or with --simulate here)")
    try:
        words_in = accelerator.pack(X)
        words_out = accelerator.run_words(words_in, args.batch_size)
        timing = accelerator.last_timing
        latencies = accelerator.sample_latencies(words_in, args.latency_samples)
    finally:
        accelerator.close()

    output = manifest.output
    equal, samples_equal = driver.counts(expected, words_out, output.values_per_sample)
    results = driver.CheckResults(
        schema_version=driver.RESULTS_SCHEMA_VERSION, simulated=args.simulate, model=manifest.model, board=manifest.board,
        run_id=manifest.provenance.run_id, bundle_id=manifest.bundle_id, created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        n_samples=len(X), output_words=len(expected), output_words_equal=equal, samples_equal=samples_equal,
        input_words=len(reference_in), input_words_equal=int((words_in == reference_in).sum()),
        batch_size=min(accelerator.batch_size(args.batch_size), len(X)),
        throughput_samples_per_s=timing.throughput, latency_samples=len(latencies),
        latency_median_us=driver.percentile_us(latencies, 50), latency_p90_us=driver.percentile_us(latencies, 90),
        mismatches=driver.first_mismatches(expected, words_out, output, args.show))
    args.results.write_text(results.to_json())
    report(results, manifest)
    print("results written to {}".format(args.results))
    return 0 if results.passed else 1


def report(results: "driver.CheckResults", manifest: "driver.BundleManifest") -> None:
    where = ("SIMULATED: the overlay is fpga-flow's software stand-in (the compiled AXI wrapper), not the board"
             if results.simulated else "on the board")
    print("{} on {} (run {}), {}".format(results.model, results.board, results.run_id, where))
    print("input words packed by driver.py equal to the C-simulation's: {}/{}".format(
        results.input_words_equal, results.input_words))
    print("output words equal to the C-simulation's: {}/{} ({:.3f}%), whole samples {}/{}".format(
        results.output_words_equal, results.output_words, 100.0 * results.word_agreement,
        results.samples_equal, results.n_samples))
    print("latency per sample (one sample per transfer, {} samples): median {:.1f} us, p90 {:.1f} us".format(
        results.latency_samples, results.latency_median_us, results.latency_p90_us))
    print("throughput (batches of {} samples): {:.0f} samples/s".format(results.batch_size,
                                                                        results.throughput_samples_per_s))
    for m in results.mismatches:
        print("  differs: sample {} output {}: C-simulation 0x{:x} ({!r}), accelerator 0x{:x} ({!r})".format(
            m.sample, m.index, m.expected_word, m.expected_value, m.board_word, m.board_value))
    print("PASS: every word agrees" if results.passed else "FAIL: the accelerator does not compute what the "
          "C-simulation computed")


if __name__ == "__main__":
    sys.exit(main())
