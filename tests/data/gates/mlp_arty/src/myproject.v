`timescale 1 ns / 1 ps

module myproject (
    input clk,
    input [74:0] model_inp,
    output reg [83:0] model_out
);

    reg [74:0] stage0_inp;
    reg [317:0] stage1_inp;
    reg [421:0] stage2_inp;
    wire [317:0] stage0_out;
    wire [421:0] stage1_out;
    wire [83:0] stage2_out;

    myproject_stage0 stage0 (.model_inp(stage0_inp), .model_out(stage0_out));
    myproject_stage1 stage1 (.model_inp(stage1_inp), .model_out(stage1_out));
    myproject_stage2 stage2 (.model_inp(stage2_inp), .model_out(stage2_out));

    always @(posedge clk) begin
        stage0_inp <= model_inp;
        stage1_inp <= stage0_out;
        stage2_inp <= stage1_out;
        model_out <= stage2_out;
    end
endmodule
