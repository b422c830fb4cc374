"""A board top level around the model's RTL: serial bytes in, the model, serial bytes out.

The frame is fixed by the RTL record: a sample is ``n_inputs`` input words of
``in_bytes`` bytes each (little-endian two's complement, the integers
:func:`fpga_flow.rtl.simulate.input_words` computes), sent at 8N1 over the board's serial
line; once the last byte arrives the model's input is held, ``latency_cycles + 2`` clocks
later its output is latched and sent back as ``n_outputs`` words of ``out_bytes`` bytes
(the low ``sum(output_kif)`` bits of each, zero above, decoded by
:func:`fpga_flow.rtl.simulate.output_values`). The host sends a sample and reads its
answer before the next one: no flow control is needed.

The clock comes from the board's oscillator pin; where the build's clock differs from it,
an ECP5 PLL (``EHXPLLL``) makes it, with dividers chosen like Lattice's/``ecppll``'s
(VCO 400-800 MHz, phase detector at least 3.125 MHz). Verilator has no model of the PLL,
so the simulation defines no ``FPGA_FLOW_PLL`` and clocks the design straight from the
input: the PLL only changes the frequency, not the logic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from fpga_flow.boards import Board, OpenFPGA
from fpga_flow.errors import RTLUnsupportedError
from fpga_flow.rtl.records import BAUD, RTLRecord

TOP = "fpga_flow_top"
TOP_FILE = "fpga_flow_top.v"
LPF_FILE = "fpga_flow_top.lpf"
PLL_DEFINE = "FPGA_FLOW_PLL"


@dataclass(frozen=True)
class Frame:
    """The serial framing of one sample, from the RTL's port widths."""

    n_inputs: int
    in_port_bits: int  # bits of one input word on the model's port
    n_outputs: int
    out_port_bits: int
    latency_cycles: int

    @property
    def in_bytes(self) -> int:
        return math.ceil(self.in_port_bits / 8)

    @property
    def out_bytes(self) -> int:
        return math.ceil(self.out_port_bits / 8)

    @property
    def sample_in_bytes(self) -> int:
        return self.n_inputs * self.in_bytes

    @property
    def sample_out_bytes(self) -> int:
        return self.n_outputs * self.out_bytes


def port_width(wrapper: str, port: str) -> int:
    found = re.search(rf"(?:input|output)\s*\[(\d+):0\]\s*{port}\b", wrapper)
    if found is None:
        raise RTLUnsupportedError(f"the RTL wrapper has no port {port}: rewrite the RTL with this fpga-flow")
    return int(found[1]) + 1


def frame_of(rtl: RTLRecord) -> Frame:
    """The framing of ``rtl``'s wrapper: its ports pad every word to one width."""
    wrapper = (Path(rtl.verilog_dir) / "src" / f"{rtl.top}_wrapper.v").read_text(encoding="utf-8")
    in_bits, out_bits = port_width(wrapper, "model_inp"), port_width(wrapper, "model_out")
    return Frame(rtl.n_inputs, in_bits // rtl.n_inputs, rtl.n_outputs, out_bits // rtl.n_outputs, rtl.latency_cycles)


@dataclass(frozen=True)
class PLL:
    """EHXPLLL dividers: f_out = f_in * feedback / reference, VCO = f_out * output."""

    reference: int
    feedback: int
    output: int
    f_in: float
    f_out: float


def pll_for(f_in: float, f_target: float) -> PLL:
    """The dividers whose output comes closest to ``f_target`` MHz (ties: the lowest VCO)."""
    best: tuple[float, float, PLL] | None = None
    for reference in range(1, 129):
        if f_in / reference < 3.125:
            break
        for feedback in range(1, 81):
            f_out = f_in * feedback / reference
            if not 3.125 <= f_out <= 400:
                continue
            for output in range(1, 129):
                vco = f_out * output
                if 400 <= vco <= 800:
                    key = (abs(f_out - f_target), vco)
                    if best is None or key < best[:2]:
                        best = (*key, PLL(reference, feedback, output, f_in, f_out))
                    break
    if best is None:
        raise RTLUnsupportedError(f"no ECP5 PLL setting makes {f_target:g} MHz from {f_in:g} MHz")
    return best[2]


def needs_pll(board: Board, clock_mhz: float) -> bool:
    return abs(board.open_fpga.oscillator.mhz - clock_mhz) > 1e-3 * clock_mhz


def _pll_verilog(pll: PLL) -> str:
    return f"""`ifdef {PLL_DEFINE}
    // EHXPLLL: {pll.f_in:g} MHz * {pll.feedback} / {pll.reference} = {pll.f_out:g} MHz (VCO {pll.f_out * pll.output:g} MHz)
    (* FREQUENCY_PIN_CLKI="{pll.f_in:g}", FREQUENCY_PIN_CLKOP="{pll.f_out:g}", ICP_CURRENT="12", LPF_RESISTOR="8",
       MFG_ENABLE_FILTEROPAMP="1", MFG_GMCREF_SEL="2" *)
    EHXPLLL #(.PLLRST_ENA("DISABLED"), .INTFB_WAKE("DISABLED"), .STDBY_ENABLE("DISABLED"), .DPHASE_SOURCE("DISABLED"),
              .OUTDIVIDER_MUXA("DIVA"), .OUTDIVIDER_MUXB("DIVB"), .OUTDIVIDER_MUXC("DIVC"), .OUTDIVIDER_MUXD("DIVD"),
              .CLKI_DIV({pll.reference}), .CLKOP_ENABLE("ENABLED"), .CLKOP_DIV({pll.output}),
              .CLKOP_CPHASE({pll.output - 1}), .CLKOP_FPHASE(0), .FEEDBK_PATH("CLKOP"), .CLKFB_DIV({pll.feedback}))
        pll (.RST(1'b0), .STDBY(1'b0), .CLKI(clk_in), .CLKOP(clk), .CLKFB(clk), .CLKINTFB(), .PHASESEL0(1'b0),
             .PHASESEL1(1'b0), .PHASEDIR(1'b1), .PHASESTEP(1'b1), .PHASELOADREG(1'b1), .PLLWAKESYNC(1'b0),
             .ENCLKOP(1'b0), .LOCK());
`else
    assign clk = clk_in;
`endif"""


def top_verilog(rtl: RTLRecord, frame: Frame, clks_per_bit: int, pll: PLL | None) -> str:
    """The top level's Verilog (module ``fpga_flow_top``); ``CLKS_PER_BIT`` is a parameter
    so the simulation can run the line faster than 115200 baud."""
    in_map = "\n".join(
        f"    assign model_inp[{frame.in_port_bits * i + frame.in_port_bits - 1}:{frame.in_port_bits * i}] = "
        f"in_buf[{8 * frame.in_bytes * i + frame.in_port_bits - 1}:{8 * frame.in_bytes * i}];"
        for i in range(frame.n_inputs))
    out_map = "\n".join(
        f"            out_buf[{8 * frame.out_bytes * j + frame.out_port_bits - 1}:{8 * frame.out_bytes * j}] <= "
        f"model_out[{frame.out_port_bits * j + frame.out_port_bits - 1}:{frame.out_port_bits * j}];"
        for j in range(frame.n_outputs))
    clock = _pll_verilog(pll) if pll is not None else "    assign clk = clk_in;"
    n_in, n_out = frame.sample_in_bytes, frame.sample_out_bytes
    return f"""// Written by fpga-flow: serial bytes in, the model ({rtl.top}), serial bytes out (8N1).
// A sample is {frame.n_inputs} input words of {frame.in_bytes} byte(s), little-endian; the answer
// {frame.n_outputs} output words of {frame.out_bytes} byte(s).
`default_nettype none
module {TOP} #(parameter CLKS_PER_BIT = {clks_per_bit}) (input wire clk_in, input wire uart_rx, output wire uart_tx);
    wire clk;
{clock}

    localparam IN_BYTES = {n_in};
    localparam OUT_BYTES = {n_out};
    localparam WAIT = {frame.latency_cycles + 2};

    // receiver: two-flop synchronizer, start bit checked at its middle, 8 data bits LSB first
    reg [1:0] rx_sync = 2'b11;
    reg rx_busy = 1'b0;
    reg [3:0] rx_bit = 4'd0;
    reg [15:0] rx_count = 16'd0;
    reg [7:0] rx_shift = 8'd0;
    reg rx_valid = 1'b0;
    always @(posedge clk) begin
        rx_sync <= {{rx_sync[0], uart_rx}};
        rx_valid <= 1'b0;
        if (!rx_busy) begin
            if (!rx_sync[1]) begin
                rx_busy <= 1'b1;
                rx_bit <= 4'd0;
                rx_count <= CLKS_PER_BIT / 2 - 1;
            end
        end else if (rx_count != 0) begin
            rx_count <= rx_count - 1'b1;
        end else begin
            rx_count <= CLKS_PER_BIT - 1;
            if (rx_bit == 4'd0) begin
                if (rx_sync[1]) rx_busy <= 1'b0;  // a glitch, not a start bit
                rx_bit <= 4'd1;
            end else if (rx_bit != 4'd9) begin
                rx_shift <= {{rx_sync[1], rx_shift[7:1]}};
                rx_bit <= rx_bit + 1'b1;
            end else begin
                rx_busy <= 1'b0;
                rx_valid <= rx_sync[1];  // a stop bit
            end
        end
    end

    // the sample: bytes shift in from the top, so the first byte ends lowest
    reg [8 * IN_BYTES - 1:0] in_buf = {{(8 * IN_BYTES){{1'b0}}}};
    reg [15:0] in_count = 16'd0;
    reg [15:0] wait_count = 16'd0;
    reg waiting = 1'b0;
    wire [{frame.in_port_bits * frame.n_inputs - 1}:0] model_inp;
    wire [{frame.out_port_bits * frame.n_outputs - 1}:0] model_out;
{in_map}
    {rtl.top}_wrapper model (.clk(clk), .model_inp(model_inp), .model_out(model_out));

    // transmitter
    reg [8 * OUT_BYTES - 1:0] out_buf = {{(8 * OUT_BYTES){{1'b0}}}};
    reg [15:0] out_left = 16'd0;
    reg [9:0] tx_shift = 10'h3ff;
    reg [3:0] tx_bits = 4'd0;
    reg [15:0] tx_count = 16'd0;
    assign uart_tx = tx_shift[0];

    always @(posedge clk) begin
        if (rx_valid && !waiting) begin
            in_buf <= {{rx_shift, in_buf[8 * IN_BYTES - 1:8]}};
            if (in_count == IN_BYTES - 1) begin
                in_count <= 16'd0;
                waiting <= 1'b1;
                wait_count <= WAIT;
            end else begin
                in_count <= in_count + 1'b1;
            end
        end
        if (waiting) begin
            if (wait_count != 0) begin
                wait_count <= wait_count - 1'b1;
            end else begin
                waiting <= 1'b0;
                out_buf <= {{(8 * OUT_BYTES){{1'b0}}}};
{out_map}
                out_left <= OUT_BYTES;
            end
        end else if (tx_bits != 0) begin
            if (tx_count != 0) begin
                tx_count <= tx_count - 1'b1;
            end else begin
                tx_count <= CLKS_PER_BIT - 1;
                tx_shift <= {{1'b1, tx_shift[9:1]}};
                tx_bits <= tx_bits - 1'b1;
            end
        end else if (out_left != 0) begin
            tx_shift <= {{1'b1, out_buf[7:0], 1'b0}};
            out_buf <= out_buf >> 8;
            tx_bits <= 4'd10;
            tx_count <= CLKS_PER_BIT - 1;
            out_left <= out_left - 1'b1;
        end
    end
endmodule
`default_nettype wire
"""


def lpf(board: Board) -> str:
    """The pin constraints of the top level on ``board`` (the PLL's output clock is derived
    by nextpnr from the EHXPLLL's dividers)."""
    pins: OpenFPGA = board.open_fpga
    io = pins.io_standard
    return (f"# {board.description}\n"
            f'LOCATE COMP "clk_in" SITE "{pins.oscillator.pin}";\n'
            f'IOBUF PORT "clk_in" IO_TYPE={io};\n'
            f'FREQUENCY PORT "clk_in" {pins.oscillator.mhz:g} MHZ;\n'
            f"# serial: {pins.uart.via}\n"
            f'LOCATE COMP "uart_rx" SITE "{pins.uart.rx}";\n'
            f'IOBUF PORT "uart_rx" IO_TYPE={io} PULLMODE=UP;\n'
            f'LOCATE COMP "uart_tx" SITE "{pins.uart.tx}";\n'
            f'IOBUF PORT "uart_tx" IO_TYPE={io};\n')


def write_top(rtl: RTLRecord, board: Board, out_dir: Path) -> tuple[Path, Path, Frame, PLL | None]:
    """The top level and its LPF for ``board`` at the RTL's clock, written to ``out_dir``."""
    clock_mhz = 1000.0 / rtl.clock_period_ns
    pll = pll_for(board.open_fpga.oscillator.mhz, clock_mhz) if needs_pll(board, clock_mhz) else None
    design_mhz = pll.f_out if pll is not None else board.open_fpga.oscillator.mhz
    frame = frame_of(rtl)
    out_dir.mkdir(parents=True, exist_ok=True)
    top = out_dir / TOP_FILE
    top.write_text(top_verilog(rtl, frame, round(design_mhz * 1e6 / BAUD), pll), encoding="utf-8")
    constraints = out_dir / LPF_FILE
    constraints.write_text(lpf(board), encoding="utf-8")
    return top, constraints, frame, pll
