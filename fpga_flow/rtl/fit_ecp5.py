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

Before yosys runs, da4ml's own estimate of the RTL (``RTLRecord.estimated_luts``) is a
lower bound of yosys' LUT4 (:data:`YOSYS_OVER_ESTIMATE`): when it alone is over the budget's
share of the device, the design cannot fit, so yosys (tens of minutes on a large design
here) is not run (:func:`estimate_refusal`) and the fit's verdict is that bound's.

Invariant enforced here: on a board without a vendor HLS flow the build's ``fit_budget``
check comes from yosys' counts, or from da4ml's estimate when that lower bound is already
over the budget (a failed check), or is absent (None) when the RTL was not synthesized,
and the verdict then says the fit was not checked and why (:func:`unchecked_note`).

Imports stay within ``fpga_flow.boards`` and ``fpga_flow.rtl.records`` (no summary, no
fit): the build turns :func:`rtl_budget`'s fields into its ``BudgetCheck``.
"""

from __future__ import annotations

import math

from fpga_flow.boards import Board, load_boards
from fpga_flow.records.rtl import GateRecord, RTLRecord, SkippedStage, Use

SOURCE = "yosys synth_ecp5 of the RTL"
ESTIMATE_SOURCE = "da4ml's estimate of the RTL, a lower bound of yosys' count"
# yosys synth_ecp5's LUT4 (2 per CCU2C, of the board top level) over da4ml's estimate of the
# same RTL (RTLRecord.estimated_luts), measured on 6 designs (tests/data/ecp5/estimate_vs_yosys.json,
# from the runs of docs/measured/open_fpga.md): mlp_tiny 1.264 (ulx3s-85f), 1.243 (ecpix5-85f),
# 1.270 (orangecrab-25f); cnn_digits 1.239; jet_mlp 1.228; the 4-3-2 test MLP 2.20 (its serial
# framing weighs most). So 1.22 to 2.2; the rule relies only on 1.0: yosys counts at least
# da4ml's estimate (the estimate counts the adders' LUTs; yosys maps the same adders and adds
# the framing, the pipeline's registers' routing and the carry chains' full slices).
YOSYS_OVER_ESTIMATE = 1.0
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


def estimate_use(rtl: RTLRecord, board: Board) -> dict[str, Use]:
    """The least LUT4 yosys can count for the RTL (da4ml's estimate), of the board's."""
    return {"LUT4": Use(used=math.ceil(YOSYS_OVER_ESTIMATE * rtl.estimated_luts), available=int(board.resources.LUT))}


def over_by_estimate(rtl: RTLRecord | SkippedStage | None, board: Board, budget: float) -> dict[str, Use] | None:
    """da4ml's estimate of the RTL in the device's units when it alone is over ``budget`` of
    an ECP5 board; None when it is within, on a board with a vendor flow, or without an RTL."""
    if not isinstance(rtl, RTLRecord) or board.open_fpga is None:
        return None
    use = estimate_use(rtl, board)
    return None if fits(use, budget) else use


def estimate_refusal(rtl: RTLRecord | SkippedStage | None, board: Board, budget: float,
                     stage: str = "yosys synth_ecp5") -> str | None:
    """Why ``stage`` (yosys, or the Verilator simulation) is not run on an ECP5 board:
    da4ml's estimate of the RTL, a lower bound of yosys' LUT4, is already over ``budget``
    of the device; None when it is within (yosys then decides), on a board with a vendor
    flow, or without an RTL."""
    use = over_by_estimate(rtl, board, budget)
    if use is None:
        return None
    lut4 = use["LUT4"]
    room = [b for b in load_boards().values() if b.open_fpga is not None and lut4.used <= budget * b.resources.LUT]
    fix = (f"a smaller model, or a board with more LUT4 such as {min(room, key=lambda b: (b.resources.LUT, b.name)).name}"
           if room else "a smaller model (no catalogue ECP5 board holds this one)")
    return (f"the RTL does not fit: da4ml's estimate is {lut4.used:,} LUT4, {lut4.pct:.0f}% of {board.name}'s "
            f"{lut4.available:,} (budget {100 * budget:g}%), and yosys counts at least that, so {stage} "
            f"was not run; fix: {fix}")


def rtl_budget(rtl: RTLRecord | SkippedStage | None, gates: GateRecord | SkippedStage | None, board: Board,
               budget: float) -> dict | None:
    """The fields of the build's ``BudgetCheck`` on an ECP5 board: yosys' counts of the RTL;
    without them, da4ml's estimate when that lower bound is over ``budget`` (a failed check);
    None when the RTL was not synthesized and its estimate does not decide."""
    if isinstance(gates, GateRecord) and gates.family == "ecp5":
        use, source = gates.device_use or device_use(gates, board), SOURCE
    elif (use := over_by_estimate(rtl, board, budget)) is not None:
        source = ESTIMATE_SOURCE
    else:
        return None
    unit, share = binding_share(use)
    return {"value": round(share, 4), "threshold": budget, "passed": fits(use, budget), "resource": unit,
            "estimate_error": None, "source": source}


def unchecked_note(board: Board, gates: GateRecord | SkippedStage | None, checked: bool) -> str:
    """``""`` unless the board has no vendor HLS flow and the fit was not ``checked`` (by
    :func:`rtl_budget`): then the verdict's note saying so, with the reason and the fix."""
    if board.hls_vendor_flow or checked or isinstance(gates, GateRecord):
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
