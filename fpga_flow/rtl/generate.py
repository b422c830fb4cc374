"""Stage ``rtl``: Verilog of the whole model through da4ml, pipelined for the board's clock.

The hls4ml graph is rebuilt from the model and the run's configuration (a cached project
has no graph, and the distributed-arithmetic pass deletes the weights it consumed, so the
rebuild swaps DA for Latency and remembers which layers were DA). It is traced into one
da4ml adder graph (:mod:`fpga_flow.rtl.trace`), cut into pipeline stages of
``latency_cutoff`` adder levels (:mod:`fpga_flow.rtl.targets` derives it from the clock),
and written by ``da4ml.codegen.VerilogModel``: ``verilog/src/`` holds the design,
``verilog/sim/`` the C++ binder Verilator simulates it through.
"""

from __future__ import annotations

import copy
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from da4ml.codegen import VerilogModel
from da4ml.trace import comb_trace, to_pipeline

from fpga_flow.boards import Board
from fpga_flow.convert import PROJECT_NAME, HLSSettings, model_graph
from fpga_flow.fixed import FixedType
from fpga_flow.layers import KERNEL_CLASSES, LATENCY, is_distributed_arithmetic
from fpga_flow.rtl.arith import kif
from fpga_flow.rtl.probe import run_probe
from fpga_flow.rtl.records import RTL_RECORD, RTLRecord, write_record
from fpga_flow.rtl.targets import FabricTarget, fabric_target
from fpga_flow.rtl.trace import probe_request, trace_graph

VERILOG_DIR = "verilog"
PROBE_DIR = "probe"


def rtl_graph(model, board: Board, settings: HLSSettings, hls_config: dict[str, Any], work_dir: Path):
    """The graph the RTL is traced from, and the names of its distributed-arithmetic layers."""
    config = copy.deepcopy(hls_config)
    model_strategy = config["Model"].get("Strategy", LATENCY)
    layer_configs = config.get("LayerName", {})

    def was_da(name: str) -> bool:
        return is_distributed_arithmetic(layer_configs.get(name, {}).get("Strategy", model_strategy))

    da_names = {name for name in layer_configs if was_da(name)}
    for layer_config in layer_configs.values():
        if is_distributed_arithmetic(layer_config.get("Strategy")):
            layer_config["Strategy"] = LATENCY
    if is_distributed_arithmetic(model_strategy):
        config["Model"]["Strategy"] = LATENCY
    graph = model_graph(model, board, settings, work_dir, config)
    da_layers = {layer.name for layer in graph.get_layers()
                 if layer.class_name in KERNEL_CLASSES and (layer.name in da_names or was_da(layer.name))}
    return graph, da_layers


def generate_rtl(model, board: Board, settings: HLSSettings, hls_config: dict[str, Any], project_dir: Path,
                 out_dir: Path, stage_levels: int | None = None) -> RTLRecord:
    """Write the RTL of the model as the project at ``project_dir`` computes it into
    ``out_dir``; refuses (RTLUnsupportedError) what it cannot mirror. ``stage_levels``
    (``--stage-levels``) replaces the delay model's adder levels per pipeline stage."""
    start = time.perf_counter()
    target = fabric_target(board)
    out_dir = Path(out_dir).resolve()
    graph, da_layers = rtl_graph(model, board, settings, hls_config, out_dir / PROBE_DIR)
    probe = run_probe(probe_request(graph, da_layers), project_dir, out_dir / PROBE_DIR)
    traced = trace_graph(graph, probe, da_layers)
    # Every input stays a port, used or not, so the word layout matches the C-simulation's.
    logic = comb_trace(traced.inputs.ravel(), traced.outputs.ravel(), keep_dead_inputs=True)
    return write_design(logic, traced.input_type, traced.layers, target, settings.clock_period_ns, board.part,
                        out_dir, start, stage_levels)


def _terminate_rom_files(folder: Path) -> None:
    """da4ml 0.5.2 writes ROM contents without a final newline, and Verilator 5.006's
    ``$readmemh`` then drops the last word (the ROM's highest address reads 0): end
    every file with one."""
    for path in folder.glob("*.mem"):
        text = path.read_text(encoding="ascii")
        if text and not text.endswith("\n"):
            path.write_text(text + "\n", encoding="ascii")


def write_design(logic, input_type: FixedType, layers: list[dict], target: FabricTarget, clock_period_ns: float,
                 part: str, out_dir: Path, start: float, stage_levels: int | None = None) -> RTLRecord:
    """Pipeline ``logic`` for the clock (or every ``stage_levels`` adder levels), write its
    Verilog and the record."""
    cutoff = stage_levels or target.latency_cutoff(clock_period_ns)
    # Registers every `cutoff` adder levels, then retimed to balance the stages.
    pipeline = to_pipeline(logic, cutoff, verbose=False)
    VerilogModel(pipeline, PROJECT_NAME, out_dir / VERILOG_DIR, clock_period=clock_period_ns, part_name=part).write()
    _terminate_rom_files(out_dir / VERILOG_DIR / "src" / "memfiles")
    k_out, i_out, f_out = logic.out_kifs.max(axis=1)  # the binder pads every output to these
    record = RTLRecord(
        generator=f"da4ml {version('da4ml')}",
        top=PROJECT_NAME,
        verilog_dir=str(out_dir / VERILOG_DIR),
        n_inputs=logic.shape[0],
        n_outputs=logic.shape[1],
        input_type=str(input_type),
        input_fractional_bits=kif(input_type)[2],
        output_kif=(int(k_out), int(i_out), int(f_out)),
        fabric=target.name,
        clock_period_ns=clock_period_ns,
        adder_level_ns=round(target.adder_level_ns, 3),
        latency_cutoff=cutoff,
        adder_depth=float(max(logic.latency)),
        pipeline_stages=len(pipeline.solutions),
        latency_cycles=len(pipeline.solutions),
        estimated_luts=round(float(logic.cost), 1),
        register_bits=int(pipeline.reg_bits),
        layers=layers,
        seconds=round(time.perf_counter() - start, 3),
    )
    write_record(record, out_dir / RTL_RECORD)
    return record
