`timescale 1 ns / 1 ps

module myproject_stage2 (
    input [421:0] model_inp,
    output [83:0] model_out
);

    // verilator lint_off UNUSEDSIGNAL
    // Explicit quantization operation will drop bits if exists

    wire [32:0] v0; assign v0[32:0] = model_inp[32:0]; // 10.0
    wire [36:0] v1; assign v1[36:0] = model_inp[69:33]; // 10.0
    wire [36:0] v2; shift_adder #(33, 37, 1, 1, 37, -3, 0) op_2 (v0[32:0], v1[36:0], v2[36:0]); // 11.0
    wire [29:0] v3; assign v3[29:0] = model_inp[99:70]; // 10.0
    wire [29:0] v4; assign v4[29:0] = model_inp[129:100]; // 10.0
    wire [33:0] v5; shift_adder #(30, 30, 1, 1, 34, 4, 0) op_5 (v3[29:0], v4[29:0], v5[33:0]); // 11.0
    wire [35:0] v6; assign v6[35:0] = model_inp[165:130]; // 10.0
    wire [31:0] v7; assign v7[31:0] = model_inp[197:166]; // 10.0
    wire [35:0] v8; shift_adder #(36, 32, 1, 1, 36, 0, 1) op_8 (v6[35:0], v7[31:0], v8[35:0]); // 11.0
    wire [32:0] v9; assign v9[32:0] = model_inp[230:198]; // 10.0
    wire [32:0] v10; assign v10[32:0] = model_inp[263:231]; // 10.0
    wire [38:0] v11; shift_adder #(33, 33, 1, 1, 39, 5, 1) op_11 (v9[32:0], v10[32:0], v11[38:0]); // 11.0
    wire [32:0] v12; assign v12[32:0] = model_inp[296:264]; // 10.0
    wire [23:0] v13; assign v13[23:0] = model_inp[320:297]; // 10.0
    wire [32:0] v14; shift_adder #(33, 24, 1, 1, 33, 8, 0) op_14 (v12[32:0], v13[23:0], v14[32:0]); // 11.0
    wire [34:0] v15; assign v15[34:0] = model_inp[355:321]; // 10.0
    wire [34:0] v16; shift_adder #(33, 35, 1, 1, 35, 0, 0) op_16 (v12[32:0], v15[34:0], v16[34:0]); // 11.0
    wire [30:0] v17; assign v17[30:0] = model_inp[386:356]; // 10.0
    wire [37:0] v18; shift_adder #(30, 31, 1, 1, 38, -8, 0) op_18 (v3[29:0], v17[30:0], v18[37:0]); // 11.0
    wire [35:0] v19; shift_adder #(34, 30, 1, 1, 36, -2, 1) op_19 (v5[33:0], v4[29:0], v19[35:0]); // 12.0
    wire [38:0] v20; shift_adder #(36, 39, 1, 1, 39, -1, 0) op_20 (v8[35:0], v11[38:0], v20[38:0]); // 12.0
    wire [34:0] v21; assign v21[34:0] = model_inp[421:387]; // 10.0
    wire [37:0] v22; shift_adder #(35, 35, 1, 1, 38, 3, 1) op_22 (v16[34:0], v21[34:0], v22[37:0]); // 12.0
    wire [38:0] v23; shift_adder #(37, 36, 1, 1, 39, -2, 0) op_23 (v2[36:0], v19[35:0], v23[38:0]); // 13.0
    wire [25:0] v24; assign v24[25:0] = v23[38:13]; // 13.0
    wire [38:0] v25; shift_adder #(39, 33, 1, 1, 39, 5, 1) op_25 (v20[38:0], v14[32:0], v25[38:0]); // 13.0
    wire [38:0] v26; shift_adder #(38, 38, 1, 1, 39, 0, 1) op_26 (v22[37:0], v18[37:0], v26[38:0]); // 13.0
    wire [40:0] v27; shift_adder #(39, 39, 1, 1, 41, -1, 1) op_27 (v25[38:0], v23[38:0], v27[40:0]); // 14.0
    wire [28:0] v28; assign v28[28:0] = v27[40:12]; // 14.0
    wire [39:0] v29; shift_adder #(39, 39, 1, 1, 40, 0, 1) op_29 (v26[38:0], v23[38:0], v29[39:0]); // 14.0
    wire [28:0] v30; assign v30[28:0] = v29[39:11]; // 14.0

    // verilator lint_on UNUSEDSIGNAL

    assign model_out[25:0] = v24[25:0];
    assign model_out[54:26] = v28[28:0];
    assign model_out[83:55] = v30[28:0];

    endmodule
