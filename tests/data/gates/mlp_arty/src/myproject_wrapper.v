`timescale 1 ns / 1 ps

module myproject_wrapper (
   input clk,
    // verilator lint_off UNUSEDSIGNAL
    input [74:0] model_inp,
    // verilator lint_on UNUSEDSIGNAL
    output [86:0] model_out
);
    wire [74:0] packed_inp;
    wire [83:0] packed_out;

    assign packed_inp[74:0] = model_inp[74:0];

    myproject op (
        .clk(clk),
        .model_inp(packed_inp),
        .model_out(packed_out)
    );

    assign model_out[25:0] = packed_out[25:0];
    assign model_out[28:26] = {3{packed_out[25]}};
    assign model_out[86:29] = packed_out[83:26];

endmodule
