"""What the RTL stages need to know about a board's FPGA family: the yosys target and a
delay model that turns the board's clock into da4ml's pipelining cutoff.

da4ml measures the depth of its adder graph in *adder levels*: every addition adds one
level (``cost_add`` with an unbounded carry chain), a lookup table adds ``max(bits - 6, 1)``.
``to_pipeline`` puts a register after every ``latency_cutoff`` levels, so the cutoff is
the number of levels that fit one clock period:

    cutoff = floor((T_clk - t_reg) / t_level)

with ``t_reg`` a register's clock-to-output plus setup and ``t_level`` one adder level:
a LUT, a carry chain over a typical 16-bit word and the route to the next adder. The
figures come from FloPoCo's target models (``Zynq7000.hpp``, ``VirtexUltrascalePlus.hpp``,
"copypasted from Vivado timing reports"), with one choice of ours: the route is taken as
FloPoCo's 7-series typical local routing delay, 0.5 ns, on both families, because
da4ml's shared adder graphs have far more fan-out than FloPoCo's UltraScale+ value
(0.18 ns) assumes.

* 7-series: t_level = 0.754 + (16/4 - 1) * 0.114 + 0.5 = 1.596 ns, t_reg = 0.518 ns:
  100 MHz gives 5 levels per stage.
* UltraScale+: t_level = 0.292 + (16/8 - 1) * 0.041 + 0.5 = 0.833 ns, t_reg = 0.150 ns:
  200 MHz gives 5 levels per stage (the cutoff the da4ml probe used at 5 ns).

* ECP5 (Lattice): no vendor timing model to copy; the level is taken from measurements.
  The da4ml RTL of a 16-64-32-32-5 MLP cut every 5 adder levels reached 54.3 MHz on an
  LFE5U-85F-6 after nextpnr-ecp5's *placement* (18.4 ns: a LUT4, a CCU2C carry chain of
  2 bits per cell and nextpnr's routing per level), but after *routing* the test's 6-4-3
  MLP cut the same way reached 49.5 MHz (20.2 ns, 12.2 of them routing: a missed 50 MHz
  clock). So t_level = (20.2 - 1.4) / 5 = 3.76, taken as 3.8 ns, with t_reg = 1.4 ns
  (clock-to-output, setup and skew): 50 MHz gives 4 levels per stage, 100 MHz 2. Here
  ``--pnr`` confirms or refutes the clock with nextpnr's timing analysis, and
  ``--stage-levels`` tightens the cut when it fails.

This is a model, not a timing closure: the stage count it yields is recorded with the
RTL, and only place and route with the vendor's timing data would confirm the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fpga_flow.boards import Board
from fpga_flow.errors import RTLUnsupportedError


@dataclass(frozen=True)
class FabricTarget:
    """One FPGA fabric: its yosys ``synth_xilinx -family`` name and delay model (ns)."""

    name: str
    yosys_family: str
    adder_level_ns: float
    register_ns: float

    def latency_cutoff(self, clock_period_ns: float) -> int:
        """Adder levels per pipeline stage at this clock (at least one)."""
        return max(1, math.floor((clock_period_ns - self.register_ns) / self.adder_level_ns))


SERIES7 = FabricTarget("7-series", "xc7", adder_level_ns=0.754 + 3 * 0.114 + 0.5, register_ns=0.518)
ECP5 = FabricTarget("ECP5", "ecp5", adder_level_ns=3.8, register_ns=1.4)
ULTRASCALE_PLUS = FabricTarget("UltraScale+", "xcup", adder_level_ns=0.292 + 1 * 0.041 + 0.5, register_ns=0.150)

# Board families (boards.Board.family) by fabric.
FAMILY_TARGETS: dict[str, FabricTarget] = {
    **{family: SERIES7 for family in ("zynq", "artix7", "kintex7", "virtex7", "spartan7")},
    **{family: ULTRASCALE_PLUS for family in ("zynquplus", "virtexuplus", "virtexuplushbm", "kintexuplus")},
    "ecp5": ECP5,
}


def fabric_target(board: Board) -> FabricTarget:
    """The fabric of ``board``; a family without one is refused in one line."""
    target = FAMILY_TARGETS.get(board.family)
    if target is None:
        known = ", ".join(sorted(FAMILY_TARGETS))
        raise RTLUnsupportedError(
            f"board {board.name}: family '{board.family}' has no open-synthesis target (known: {known})"
        )
    return target
