"""Golden values of real vendor reports, each read off the file by hand: the comment on
each value names the line of the file it comes from. Files are byte-exact copies in
tests/data/vendor_reports (from ../shared/vendor_reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fpga_flow.reports import parse_report

FIXTURES = Path(__file__).resolve().parent / "data" / "vendor_reports"

GOLDEN: dict[str, dict[str, Any]] = {
    # Vivado HLS 2016.4 XML: DSP48E tag, no URAM at all.
    "vivado_hls/therwig_hls4ml_2017/reuse1/myproject_csynth.xml": {
        "kind": "csynth", "tool": "vivado_hls",
        "tool_version": "2016.4",                       # line 4: <Version>2016.4</Version>
        "part": "xc7vx690t-ffg1927-2",                  # line 10: <Part>xc7vx690tffg1927-2</Part>
        "top": "myproject",                             # line 11
        "target_clock_ns": 5.0,                         # line 12: <TargetClockPeriod>5.00
        "clock_uncertainty_ns": 0.62,                   # line 13
        "estimated_clock_ns": 4.33,                     # line 21
        "latency_cycles": {"best": 12, "avg": 12, "worst": 12},  # lines 25-27
        "interval_cycles": {"min": 1, "max": 1},        # lines 30-31
        "resources": {"BRAM_18K": 1, "DSP": 163, "FF": 4769, "LUT": 4047, "URAM": None},  # lines 37-40
        "available": {"BRAM_18K": 2940, "DSP": 3600, "FF": 866400, "LUT": 433200, "URAM": None},  # lines 43-46
    },
    # The text report of the same 2016.4 build: units in the section titles, min/max only.
    "vivado_hls/therwig_hls4ml_2017/reuse1/myproject_csynth.rpt": {
        "kind": "csynth", "tool": "vivado_hls",
        "tool_version": "2016.4",                       # line 8: * Version: 2016.4 (Build 1756540 ...)
        "part": "xc7vx690t-ffg1927-2",                  # line 12: * Target device: xc7vx690tffg1927-2
        "target_clock_ns": 5.0, "estimated_clock_ns": 4.33, "clock_uncertainty_ns": 0.62,  # line 23
        "latency_cycles": {"best": 12, "avg": None, "worst": 12},  # line 32: |   12|   12|    1|    1| function |
        "interval_cycles": {"min": 1, "max": 1},        # line 32
        "pipeline_type": "function",                    # line 32
        "resources": {"BRAM_18K": 1, "DSP": 163, "FF": 4769, "LUT": 4047, "URAM": None},  # line 67: |Total
        "available": {"BRAM_18K": 2940, "DSP": 3600, "FF": 866400, "LUT": 433200, "URAM": None},  # line 69
        "modules.3.name": "sigmoid",                    # line 44: |grp_sigmoid_fu_241 |sigmoid | 2| 2| 1| 1|
        "modules.3.latency_cycles": {"best": 2, "avg": None, "worst": 2},  # line 44
        "modules.3.resources": {"BRAM_18K": 1, "DSP": 0, "FF": 17, "LUT": 104, "URAM": None},  # line 82
    },
    # Vivado HLS 2019.2 text layout: units in cells, absolute-latency columns.
    "vivado_hls/yanlunhuang_hls4ml_layer/myproject_csynth.rpt": {
        "tool_version": "2019.2",                       # line 8
        "part": "xczu9eg-ffvb1156-2-e",                 # line 12
        "target_clock_ns": 5.0, "estimated_clock_ns": 0.785, "clock_uncertainty_ns": 0.62,  # line 23
        "latency_cycles": {"best": 12323, "avg": None, "worst": 12323},  # line 32
        "latency_ns": {"best": 61615.0, "avg": None, "worst": 61615.0},  # line 32: 61.615 us
        "interval_cycles": {"min": 12324, "max": 12324},  # line 32
        "pipeline_type": "dataflow",                    # line 32
        "resources": {"BRAM_18K": 0, "DSP": 0, "FF": 823, "LUT": 1737, "URAM": 0},  # line 65: |Total
        "available": {"BRAM_18K": 1824, "DSP": 2520, "FF": 548160, "LUT": 274080, "URAM": 0},  # line 67
        "utilization_pct.URAM": None,                   # line 67: the part has 0 URAM, so no share
        "modules.1.instance": "Block_proc_U0",          # line 42
        "modules.1.resources": {"BRAM_18K": 0, "DSP": 0, "FF": 2, "LUT": 11, "URAM": 0},  # line 77
    },
    # Unknown latency: 'undef' in the XML is None with a reason, never 0.
    "vivado_hls/achilisnard_fibonacci/fibonacci_csynth.xml": {
        "tool_version": "2019.2", "part": "xc7z020-clg484-1", "top": "fibonacci",  # lines 4, 10, 11
        "target_clock_ns": 10.0, "clock_uncertainty_ns": 1.25, "estimated_clock_ns": 4.242,  # lines 12, 13, 20
        "latency_cycles": {"best": None, "avg": None, "worst": None},  # lines 24-26: undef
        "interval_cycles": {"min": None, "max": None},  # lines 30-31: undef
        "resources": {"BRAM_18K": 0, "DSP": 0, "FF": 269, "LUT": 351, "URAM": 0},  # lines 44-48
        "available": {"BRAM_18K": 280, "DSP": 220, "FF": 106400, "LUT": 53200, "URAM": 0},  # lines 51-55
    },
    # '?' in the text report of the same build.
    "vivado_hls/achilisnard_fibonacci/fibonacci_csynth.rpt": {
        "target_clock_ns": 10.0, "estimated_clock_ns": 4.242,  # line 23: | 10.00 ns | 4.242 ns |
        "latency_cycles": {"best": None, "avg": None, "worst": None},  # line 32: |        ?|        ?|
        "interval_cycles": {"min": None, "max": None},  # line 32
        "resources": {"BRAM_18K": 0, "DSP": 0, "FF": 269, "LUT": 351, "URAM": 0},  # line 64 (header line 54)
        "available": {"BRAM_18K": 280, "DSP": 220, "FF": 106400, "LUT": 53200, "URAM": 0},  # line 66
    },
    # Vitis HLS 2022.2 XML of an hls4ml project: DSP tag, URAM present, real-time latency.
    "vitis_hls/nrp_nautilus_hls4ml/myproject_csynth.xml": {
        "kind": "csynth", "tool": "vitis_hls", "tool_version": "2022.2",  # line 4
        "part": "xcu250-figd2104-2L-e", "top": "myproject",  # lines 10-11
        "target_clock_ns": 5.0, "clock_uncertainty_ns": 1.35, "estimated_clock_ns": 3.636,  # lines 12, 13, 22
        "latency_cycles": {"best": 15, "avg": 15, "worst": 15},  # lines 26-28
        "latency_ns": {"best": 75.0, "avg": 75.0, "worst": 75.0},  # lines 29-31: 75.000 ns
        "interval_cycles": {"min": 1, "max": 1},        # lines 34-35
        "resources": {"BRAM_18K": 8, "DSP": 2557, "FF": 24233, "LUT": 116694, "URAM": 0},  # lines 41-45
        "available": {"BRAM_18K": 5376, "DSP": 12288, "FF": 3456000, "LUT": 1728000, "URAM": 1280},  # lines 48-52
    },
    # Vitis HLS 2024.1 text report: 'Available SLR' rows must not be taken for 'Available'.
    "vitis_hls/seanlipps_ece226_hls4ml/myproject_csynth.rpt": {
        "tool_version": "2024.1", "part": "xcu250-figd2104-2L-e",  # lines 8, 12
        "target_clock_ns": 5.0, "estimated_clock_ns": 3.53, "clock_uncertainty_ns": 1.35,  # line 23
        "latency_cycles": {"best": 395, "avg": None, "worst": 395},  # line 32
        "latency_ns": {"best": 1975.0, "avg": None, "worst": 1975.0},  # line 32: 1.975 us
        "interval_cycles": {"min": 390, "max": 390},    # line 32
        "resources": {"BRAM_18K": 29, "DSP": 467, "FF": 7123, "LUT": 17966, "URAM": 0},  # line 69
        "available": {"BRAM_18K": 5376, "DSP": 12288, "FF": 3456000, "LUT": 1728000, "URAM": 1280},  # line 75
        "modules.0.latency_cycles": {"best": 132, "avg": None, "worst": 132},  # line 41 (zeropad1d)
        "modules.1.interval_cycles": {"min": 390, "max": 390},  # line 42 (conv_1d)
    },
    # Vitis HLS 2025.2 'Synthesis Summary': reordered columns, 'Violation Type', counts with shares.
    "vitis_hls/farhan_zynq_cnn/csynth.rpt": {
        "kind": "csynth_summary", "tool_version": "2025.2", "part": "xc7z020-clg484-1",  # lines 8, 12
        "top": "conv2d",                                # line 20
        "latency_cycles": {"best": None, "avg": None, "worst": 912528},  # line 20: Latency (cycles)
        "latency_ns.worst": 9125000.0,                  # line 20: 9.125e+06
        "interval_cycles": {"min": None, "max": 912529},  # line 20: Interval
        "resources": {"BRAM_18K": 34, "DSP": 12, "FF": 9321, "LUT": 10236, "URAM": None},  # line 20
        "utilization_pct": {"BRAM_18K": 12.0, "DSP": 5.0, "FF": 8.0, "LUT": 19.0, "URAM": None},  # line 20
        "warnings.0": "II issue in loop VITIS_LOOP_38_2_VITIS_LOOP_39_3 (Resource Limitation), slack 7.30",  # line 29
    },
    # Vitis 2021.2 csynth.xml: per-module figures under <ModuleInformation>.
    "vitis_hls/francescoratti_faultdetector/csynth.xml": {
        "kind": "csynth_summary", "tool_version": "2021.2", "top": "run",  # lines 3, 9
        "target_clock_ns": 20.0, "clock_uncertainty_ns": 5.4, "estimated_clock_ns": 14.6,  # lines 10, 11, 18
        "latency_cycles": {"best": 1, "avg": 77, "worst": 153},  # lines 22-24
        "latency_ns": {"best": 20.0, "avg": 1540.0, "worst": 3060.0},  # lines 25-27
        "interval_cycles": {"min": 2, "max": 154},      # lines 28-29
        "part": "xc7z020-clg484-1",                     # line 8
        "resources": {"BRAM_18K": 12, "FF": 6483, "LUT": 5464, "URAM": 0, "DSP": 0},  # lines 34-38
        "available": {"BRAM_18K": 280, "DSP": 220, "FF": 106400, "LUT": 53200, "URAM": 0},  # lines 41-45
        "modules.1.name": "read_test",                  # line 949
        "modules.1.latency_cycles": {"best": 78, "avg": 78, "worst": 78},  # lines 958-960
        "modules.1.resources": {"FF": 899, "LUT": 689, "BRAM_18K": 0, "DSP": 0, "URAM": 0},  # lines 971-983 (every 3rd)
    },
    # Co-simulation (VHDL run) and its transaction table.
    "vitis_hls/bojanfaletic_ma_hls/ma_cosim.rpt": {
        "kind": "cosim", "cosim.simulation_tool": "xsim",  # line 3
        "cosim.status": "Pass", "cosim.rtl": "VHDL",     # line 10: |      VHDL|      Pass|
        "cosim.latency_cycles": {"min": 1, "avg": 1, "max": 1},  # line 10
        "cosim.interval_cycles": {"min": 1, "avg": 1, "max": 1},  # line 10
        "cosim.total_execution_cycles": 33,             # line 10
    },
    "vitis_hls/bojanfaletic_ma_hls/ma.performance.result.transaction.xml": {
        "kind": "cosim_transaction", "cosim.transactions": 33,  # lines 2-34: transactions 0..32
        "cosim.latency_cycles": {"min": 1, "avg": 1, "max": 1},  # every row's latency is 1
        "cosim.interval_cycles": {"min": 1, "avg": 1, "max": 1},  # line 34: -2147483648 is 'not measured'
    },
    # Export after place & route (Vitis 2025.1.1): BRAM in 18K units (432 available on xczu3eg).
    "vitis_hls/asandeep1_ece8893_2026_lab1/export_impl.xml": {
        "kind": "export_impl", "tool": "vivado", "tool_version": "2025.1.1",  # line 4: v.2025.1.1
        "part": "xczu3eg-sbva484-1-e", "top": "top_kernel",  # line 734; RtlModule DEPTH 0
        "target_clock_ns": 10.0,                        # line 8
        "resources": {"BRAM_18K": 65, "DSP": 16, "FF": 19851, "LUT": 24685, "URAM": 0},  # lines 28-35
        "available": {"BRAM_18K": 432, "DSP": 360, "FF": 141120, "LUT": 70560, "URAM": 0},  # lines 38-43
        "timing": {"wns_ns": 2.666, "tns_ns": 0.0, "met": True, "fmax_mhz": 136.351,  # lines 22, 19, 18; 1000/7.334
                   "achieved_period_ns": 7.334},        # line 9
    },
    "vitis_hls/boyiwei_sort/export_syn.rpt": {
        "kind": "export_syn_rpt", "tool_version": "2022.2", "part": "xcu280-fsvh2892-2L-e",  # lines 6, 10
        "resources": {"LUT": 773, "FF": 603, "DSP": 0, "BRAM_18K": 0, "URAM": 0},  # lines 33-37
        "target_clock_ns": 10.0,                        # line 48: | Target | 10.000 |
        "timing.achieved_period_ns": 2.503,             # line 49: | Post-Route | 2.503 |
        "timing.met": True,                             # line 44: * Timing was met
        "timing.wns_ns": 7.497,                         # 10.000 - 2.503
    },
    "vitis_hls/boyiwei_sort/single_heap_sort_export.rpt": {
        "kind": "export_rpt", "part": "xcu280-fsvh2892-2L-e",  # line 6
        "resources": {"LUT": 773, "FF": 603, "DSP": 0, "BRAM_18K": 0, "URAM": 0},  # lines 11-15
        "target_clock_ns": 10.0, "timing.achieved_period_ns": 2.503, "timing.met": True,  # lines 21-23
    },
    # report_utilization, 7-series: Slice LUTs, half a BRAM tile.
    "vivado/uwacme_toptag_gru/vivado_synth.rpt": {
        "kind": "utilization", "tool_version": "2019.1",  # line 3
        "part": "xc7vx690t-ffg1761-2", "design_state": "synthesized",  # lines 8, 9
        "resources": {"LUT": 45805, "FF": 31254, "DSP": 2326, "BRAM_18K": 31, "URAM": None},  # lines 33, 36, 84, 70
        "available": {"LUT": 433200, "FF": 866400, "DSP": 3600, "BRAM_18K": 2940, "URAM": None},
        "bram_36k_tiles": {"used": 15.5, "available": 1470.0},  # line 70: | Block RAM Tile | 15.5 | 0 | 1470 |
        "utilization_pct.DSP": 64.61,                   # line 84
    },
    # UltraScale+: CLB LUTs, part written without the device-package dash.
    "vivado/hls4ml_tutorial/pruned_cnn/vivado_synth.rpt": {
        "tool_version": "2020.1", "part": "xcu250-figd2104-2L-e",  # lines 3, 8: xcu250figd2104-2L
        "resources": {"LUT": 123948, "FF": 43435, "DSP": 5386, "BRAM_18K": 84, "URAM": 0},  # lines 38, 43, 94, 79, 83
        "available": {"LUT": 1728000, "FF": 3456000, "DSP": 12288, "BRAM_18K": 5376, "URAM": 1280},
        "bram_36k_tiles": {"used": 42.0, "available": 2688.0},  # line 79
    },
    # Versal: Registers / CLB LUTs / DSP Slices, 'Prohibited' column.
    "vivado/fjrdev_dsp_recon_versal/bd_0_wrapper_utilization_placed.rpt": {
        "part": "xcvc1902-vsva2197-2MP-e-S", "design_state": "fully placed",  # lines 8, 10
        "resources": {"LUT": 2264, "FF": 2666, "DSP": 1, "BRAM_18K": 2, "URAM": 0},  # lines 39, 36, 107, 89, 94
        "available": {"LUT": 899840, "FF": 1799680, "DSP": 1968, "BRAM_18K": 1934, "URAM": 463},
    },
    # Vivado 2025.2, 7-series with a 'Prohibited' column.
    "vivado/farhan_zynq_cnn/system_wrapper_utilization_placed.rpt": {
        "tool_version": "2025.2", "part": "xc7z020-clg484-1",  # lines 3, 8: xc7z020clg484-1
        "resources": {"LUT": 6171, "FF": 10490, "DSP": 10, "BRAM_18K": 32, "URAM": None},  # lines 35, 40, 121, 106
        "available": {"LUT": 53200, "FF": 106400, "DSP": 220, "BRAM_18K": 280, "URAM": None},
        "utilization_pct.BRAM_18K": 11.43,              # line 106: 16 of 140 tiles
    },
    # Hierarchical utilization (hls4ml VivadoAccelerator util.rpt): counts with shares, no totals.
    "vivado/hector_plata_tutorial/util.rpt": {
        "kind": "utilization_hier", "part": "xc7z020-clg400-1", "design_state": "routed",  # lines 8, 9
        # line 24: | design_1_wrapper | (top) | 19879(37.37%) | ... | 20767(19.52%) | 4(2.86%) | 6(2.14%) | 9(4.09%) |
        "resources": {"LUT": 19879, "FF": 20767, "DSP": 9, "BRAM_18K": 14, "URAM": None},
        "available": {"LUT": None, "FF": None, "DSP": None, "BRAM_18K": None, "URAM": None},
        "utilization_pct": {"LUT": 37.37, "FF": 19.52, "DSP": 4.09, "BRAM_18K": 5.0, "URAM": None},
        "bram_36k_tiles.used": 7.0,                     # 4 RAMB36 + 6 RAMB18 / 2
    },
    "vivado/zakkh_partition_accel/MPSQ_timing_summary_routed.rpt": {
        "kind": "timing_summary", "tool_version": "2020.2", "part": "xcvu19p-fsvb3824",  # lines 3, 8
        # line 132: -0.155 -7.193 110 54613 0.002 0.000 ...; line 135: Timing constraints are not met.
        "timing": {"wns_ns": -0.155, "tns_ns": -7.193, "whs_ns": 0.002, "ths_ns": 0.0, "met": False,
                   "clock": "ap_clk", "clock_period_ns": 3.0, "fmax_mhz": 316.957},  # line 145; 1000/3.155
    },
    "vivado/asandeep1_ece8893_2026_lab1/top_kernel_timing_routed.rpt": {
        "tool_version": "2025.1.1", "part": "xczu3eg-sbva484",  # lines 3, 8
        # line 146: 2.666 0.000 0 38530 0.037 0.000 ...; line 149: All user specified timing constraints are met.
        "timing": {"wns_ns": 2.666, "tns_ns": 0.0, "whs_ns": 0.037, "ths_ns": 0.0, "met": True,
                   "clock_period_ns": 10.0, "fmax_mhz": 136.351},  # line 159; 1000/7.334
    },
    "vivado/seanlipps_ece226_hls4ml/vivado_power.rpt": {
        "kind": "power", "tool_version": "2024.1", "part": "xcu250-figd2104-2L-e",  # lines 3, 8
        "power": {"total_w": 3.566, "dynamic_w": 0.61, "static_w": 2.956, "junction_temp_c": 26.9,
                  "confidence": "Low"},                 # lines 33, 36, 37, 40, 41
    },
    # Logs: a real failure, a harmless ERROR line, a failure before any stage.
    "vitis_hls/asandeep1_ece8893_2022/flat_failed/vitis_hls.log": {
        "kind": "hls_log", "tool": "vitis_hls", "tool_version": "2021.1",  # line 2
        "top": "FlatDataflow", "part": "xc7z020-clg400-1", "target_clock_ns": 10.0,  # lines 15, 23, 22
        "log.failed_stage": "csynth",
        "log.first_error": "ERROR: [HLS 207-1398] unexpected ';' before ')': flat.cpp:48:97",  # line 33
    },
    "vitis_hls/nrp_nautilus_hls4ml/vitis_hls.log": {
        "tool_version": "2022.2", "part": "xcu250-figd2104-2L-e", "target_clock_ns": 5.0,  # lines 2, 37, 41
        "log.failed_stage": None, "log.errors": [],
        # line 33
        "log.harmless_errors": ["ERROR: [HLS 200-642] The 'config_array_partition -maximum_size' command is not supported."],
        "log.estimated_fmax_mhz": 275.05,               # line 470
    },
    "vivado_hls/yanlunhuang_hls4ml_layer/firmware_failed_run/vivado_hls.log": {
        "tool": "vivado_hls", "tool_version": "2019.2.1",  # line 2
        "log.failed_stage": "setup",
        "log.first_error": "ERROR [AP-1] Could not read script 'build_prj.tcl'.",  # line 13
    },
    # Intel HLS (i++ 19.2, Arria 10): JSON inside a JavaScript string.
    "intel_hls/therwig_testquartushls/report_data.js": {
        "kind": "intel_hls_report_js", "tool_version": "19.2.0 Build 57",  # line 7 (infoJSON)
        "part": "10AS066H2F34I1SG", "family": "Arria10",  # line 7
        # line 1: "columns":["", "ALUTs", "FFs", "RAMs", "DSPs", "MLABs"], "total":[32287, 13058, 0, 57, 411]
        "resources": {"LUT": 32287, "FF": 13058, "DSP": 57, "BRAM_18K": None, "URAM": None},
        "extra_resources": {"RAM_blocks": 0, "MLAB": 411},
        "available": {"LUT": 854400, "FF": 1708800, "DSP": 1518, "BRAM_18K": None, "URAM": None},  # max_resources
        "estimated_clock_ns": 5.0,                      # line 6: "achieved_fmax":"200.0"
    },
    "oneapi/hls4ml_test_fixtures/summary.ndjson": {
        "kind": "oneapi_ndjson_summary",
        "resources": {"LUT": 2462, "FF": 7938, "DSP": 0, "BRAM_18K": None, "URAM": None},  # line 11 (columns line 5)
        "extra_resources": {"RAM_blocks": 77, "MLAB": 92},  # line 11
        "available": {"LUT": 974400, "FF": 1948800, "DSP": 4510, "BRAM_18K": None, "URAM": None},  # line 12
    },
    "quartus/boostedx_vexriscv_litex/terasic_de1soc.fit.summary": {
        "kind": "quartus_fit_summary", "tool_version": "20.1.0", "part": "5CSEMA5F31C6",  # lines 2, 6
        "resources": {"FF": 31257, "DSP": 46, "LUT": None, "BRAM_18K": None, "URAM": None},  # lines 9, 14
        "available.DSP": 87,                            # line 14: 46 / 87
        "extra_resources": {"ALM": 15839.0, "ALM_available": 32070.0, "RAM_blocks": 99.0,  # line 8
                            "RAM_blocks_available": 397.0},  # line 13
    },
    # Analysis & Synthesis of the same build: no device line, ALMs 'N/A' before the fitter.
    "quartus/boostedx_vexriscv_litex/terasic_de1soc.map.summary": {
        "kind": "quartus_map_summary", "tool": "quartus", "design_state": "synthesized",  # line 1: Successful
        "tool_version": "20.1.0", "top": "terasic_de1soc", "family": "Cyclone V", "part": None,  # lines 2, 4, 5
        "resources": {"FF": 38894, "DSP": 46, "LUT": None, "BRAM_18K": None, "URAM": None},  # lines 7, 11
        "extra_resources": {"memory_bits": 636576, "PLL": 1},  # lines 10, 16 (line 6: ALMs N/A, left out)
    },
    # Intel HLS (i++ 24.1, Cyclone V) reports/lib/json of one hls4ml Quartus project.
    "intel_hls/boostedx_vexriscv_hls4ml/info.json": {
        "kind": "intel_hls_json_info", "tool": "intel_hls", "tool_version": "24.1.0 Build 115.1",  # "version"
        "part": "5CGXFC7C7F23C8", "family": "CycloneV",  # "family":"CycloneV, 5CGXFC7C7F23C8"
        "top": "myproject",                             # "name":"./myproject-fpga" (i++ -o myproject-fpga)
        "notes": ["Quartus 20.1.0 Build 711 Standard"],  # "quartus"
    },
    "intel_hls/boostedx_vexriscv_hls4ml/summary.json": {
        "kind": "intel_hls_json_summary", "tool": "intel_hls", "top": "myproject",  # line 12: ["myproject"]
        # line 29: ["Function Name", "ALUTs ", "FFs  ", "RAMs ", "DSPs ", "MLABs"]; line 51 (Total): [6270, 17932, 28, 21, 344]
        "resources": {"LUT": 6270, "FF": 17932, "DSP": 21, "BRAM_18K": None, "URAM": None},
        "extra_resources": {"RAM_blocks": 28, "MLAB": 344},
        "available": {"LUT": 109572, "FF": 219144, "DSP": 112, "BRAM_18K": None, "URAM": None},  # line 60
    },
    "quartus/boostedx_vexriscv_litex/terasic_de1soc.sta.summary": {
        "timing": {"wns_ns": 7.338, "whs_ns": 0.063, "tns_ns": 0.0, "met": True},  # lines 6, 134; all TNS 0
    },
    "catapult/therwig_hls4ml_catapult/rtl.vivado.rpt": {
        "kind": "catapult_rtl", "tool_version": "10.4b/841621", "top": "econV0",  # lines 3, 9
        "latency_cycles": {"best": 10, "avg": None, "worst": 10},  # line 62: Design Total: 10 10 11 1 0
        "interval_cycles": {"min": 11, "max": 11},      # line 62: Throughput 11
        "target_clock_ns": 5.0, "estimated_clock_ns": 4.105505,  # lines 285, 131
    },
    "vitis_hls/hgdream_pulse_hls4ml/csynth_design_size.rpt": {
        "kind": "csynth_design_size", "top": "myproject",  # line 9
        "extra_resources.instructions": {"Compile/Link": 16712, "Unroll/Inline": 1058330,
                                         "Performance/Pipeline": 153589, "Optimizations": 154853},  # line 9
    },
}


def _get(record: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        record = record[int(key)] if isinstance(record, list) else record[key]
    return record


@pytest.mark.parametrize("relative", sorted(GOLDEN))
def test_golden_values(relative: str) -> None:
    record = parse_report(FIXTURES / relative).to_dict()
    for key, expected in GOLDEN[relative].items():
        actual = _get(record, key)
        if isinstance(expected, dict):
            actual = {name: actual[name] for name in expected}
        assert actual == expected, f"{relative}: {key}"


def test_there_are_at_least_twenty_golden_files() -> None:
    assert len(GOLDEN) >= 20
    assert all((FIXTURES / relative).is_file() for relative in GOLDEN)


def test_unknown_latency_says_why() -> None:
    record = parse_report(FIXTURES / "vivado_hls/achilisnard_fibonacci/fibonacci_csynth.xml").to_dict()
    assert "'undef'" in record["latency_unknown_reason"]
    rpt = parse_report(FIXTURES / "vivado_hls/achilisnard_fibonacci/fibonacci_csynth.rpt").to_dict()
    assert "'?'" in rpt["latency_unknown_reason"]
    known = parse_report(FIXTURES / "vitis_hls/nrp_nautilus_hls4ml/myproject_csynth.xml").to_dict()
    assert known["latency_unknown_reason"] is None


def test_crlf_fixtures_are_byte_exact_and_parse_like_lf() -> None:
    crlf = FIXTURES / "vitis_hls/etabeta1_spmv/SpMV_csynth.rpt"
    data = crlf.read_bytes()
    assert b"\r\n" in data, "the fixture lost its CRLF line endings (.gitattributes -text)"
    from fpga_flow.reports import parse_data

    as_lf = parse_data(crlf, data.replace(b"\r\n", b"\n")).to_dict()
    as_crlf = parse_report(crlf).to_dict()
    # line 73: |Total |        8|    3|   11269|  13462|    0| (header line 63: BRAM_18K| DSP | FF | LUT | URAM)
    assert as_crlf["resources"] == as_lf["resources"] == {"LUT": 13462, "FF": 11269, "DSP": 3, "BRAM_18K": 8, "URAM": 0}
    assert as_crlf["modules"] == as_lf["modules"]
