"""Fit on an ECP5 board: the RTL's own resource figures against the device, not the HLS
estimate (calibrated on AMD/Xilinx reports only, and a different circuit from the RTL).

The figures are yosys ``synth_ecp5``'s cell counts of the board top level (the ``gates``
stage, :mod:`fpga_flow.rtl.ecp5`) in the device's units:

* ``LUT4`` = LUT4 cells + 2 per CCU2C: a CCU2C (two bits of carry chain) fills the two
  LUT4s of a slice, and nextpnr counts it so (``TRELLIS_COMB``);
* ``FF`` = TRELLIS_FF, ``MULT18`` = MULT18X18D, ``EBR`` = DP16KD.

The rule is the fit's (``fpga_flow.fit.budget_share``): the largest share of the device is
the binding resource, and the design fits when every resource is within the budget.
Place and route (``--pnr``) is then run only on a design that fits (within the device with
``--allow-over-budget``), and its post-route counts are recorded beside yosys', with the
difference: nextpnr adds LUT4s that route a flip-flop's input through a slice and the
serial framing's logic is counted by both (measured: mlp_tiny 7,199 LUT4 by yosys, 8,481
after routing, +18%; ``docs/open_fpga.md``).

Invariant enforced here: on a board without a vendor HLS flow the build's ``fit_budget``
check comes from these counts, or is absent (None) when the RTL was not synthesized, and
the verdict then says the fit was not checked and why (:func:`unchecked_note`).

Imports stay within ``fpga_flow.boards`` and ``fpga_flow.rtl.records`` (no summary, no
fit): the build turns :func:`rtl_budget`'s fields into its ``BudgetCheck``.
"""

from __future__ import annotations

from fpga_flow.boards import Board
from fpga_flow.records.rtl import GateRecord, SkippedStage, Use

SOURCE = "yosys synth_ecp5 of the RTL"
# The device's units by the catalogue's resource fields (boards.DEVICE_UNITS on ECP5).
UNIT_FIELDS = {"LUT4": "LUT", "FF": "FF", "MULT18": "DSP", "EBR": "BRAM_18K"}
NOT_CHECKED = ("fit not checked on {board}: the HLS estimate is calibrated on AMD/Xilinx reports only; "
               "{why}")


def rtl_use(gates: GateRecord) -> dict[str, int]:
    """yosys' ECP5 counts in the device's units (LUT4 with 2 per CCU2C carry cell)."""
    return {"LUT4": gates.LUT + 2 * gates.CARRY, "FF": gates.FF, "MULT18": gates.DSP, "EBR": gates.BRAM_18K}


def device_use(gates: GateRecord, board: Board) -> dict[str, Use]:
    """Each unit used of the board's."""
    return {unit: Use(used=n, available=int(getattr(board.resources, UNIT_FIELDS[unit])))
            for unit, n in rtl_use(gates).items()}


def binding_share(use: dict[str, Use]) -> tuple[str, float]:
    """The unit with the largest share of the device, and that share (a fraction)."""
    shares = {unit: u.used / u.available if u.available else (float("inf") if u.used else 0.0)
              for unit, u in use.items()}
    unit = max(shares, key=shares.get)
    return unit, shares[unit]


def fits(use: dict[str, Use], budget: float) -> bool:
    return all(u.used <= budget * u.available for u in use.values())


def rtl_budget(gates: GateRecord | SkippedStage | None, board: Board, budget: float) -> dict | None:
    """The fields of the build's ``BudgetCheck`` from yosys' counts of the RTL; None when
    the RTL was not synthesized (no --rtl, or the stage skipped)."""
    if not isinstance(gates, GateRecord) or gates.family != "ecp5":
        return None
    use = gates.device_use or device_use(gates, board)
    unit, share = binding_share(use)
    return {"value": round(share, 4), "threshold": budget, "passed": fits(use, budget), "resource": unit,
            "estimate_error": None, "source": SOURCE}


def unchecked_note(board: Board, gates: GateRecord | SkippedStage | None) -> str:
    """``""`` unless the board has no vendor HLS flow and the RTL was not synthesized: then
    the verdict's note that the fit was not checked, with the reason and the fix."""
    if board.hls_vendor_flow or isinstance(gates, GateRecord):
        return ""
    why = ("add --rtl: yosys counts of the RTL are the fit on ECP5" if gates is None
           else f"the RTL was not synthesized ({gates.reason})")
    return NOT_CHECKED.format(board=board.name, why=why)


def pnr_refusal(gates: GateRecord, board: Board, budget: float) -> str | None:
    """Why place and route is not run: the RTL is over ``budget`` of the device by yosys
    (nextpnr could not place a design over the device, and the WebAssembly nextpnr did not
    route one at 65% of an 85F in 30 minutes: ``shared/probes/ecp5``); None when it fits."""
    use = gates.device_use or device_use(gates, board)
    if fits(use, budget):
        return None
    unit, share = binding_share(use)
    return (f"the RTL does not fit: {unit} {100 * share:.0f}% of {board.name} (budget {100 * budget:g}%) by "
            f"{SOURCE}; place and route not run")


def packing_difference(yosys: dict[str, int], nextpnr: dict[str, Use]) -> dict[str, int]:
    """nextpnr's post-route count minus yosys', per unit."""
    return {unit: nextpnr[unit].used - n for unit, n in yosys.items() if unit in nextpnr}
