"""Refit the estimator's constants on a folder of estimate pairs and rewrite
``fpga_flow/estimate/calibration.json`` (with the in-sample and leave-one-repository-out
errors measured on the same pairs).

    python scripts/fit_estimate.py [--pairs DIR [DIR ...]] [--out PATH]

(default: ../shared/estimate_pairs and ../shared/estimate_pairs_2, fitted together)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fpga_flow.estimate.calibrate import write_calibration  # noqa: E402
from fpga_flow.estimate.calibration import CALIBRATION_FILE  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, nargs="+",
                        default=[REPO.parent / "shared" / "estimate_pairs", REPO.parent / "shared" / "estimate_pairs_2"])
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args()
    calibration = write_calibration(args.pairs, args.out)
    print(f"wrote {args.out}: {calibration.version}, {calibration.pairs} pairs from {calibration.repositories} repositories")
    for kind, figures in calibration.error.items():
        cells = ", ".join(f"{name} {100 * (e.in_sample or 0):.1f}%/{100 * (e.cross_validated or 0):.1f}%"
                          for name, e in figures.items())
        print(f"  {kind} median error in-sample/cross-validated: {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
