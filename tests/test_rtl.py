"""The RTL stages: da4ml's Verilog of the model simulated by real Verilator against real
g++ C-simulation, yosys counts from a real log, refusals and missing tools.

The C-simulation is the reference throughout: the RTL must reproduce every output word of
the compiled hls4ml project, so nothing here compares against values the RTL code derived.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_cli, session_objects
from fpga_flow.boards import Board, get_board
from fpga_flow.convert import HLSSettings, base_hls_config, convert
from fpga_flow.csim import Bridge, compile_project
from fpga_flow.errors import FlowError, RTLUnsupportedError
from fpga_flow.fixed import FixedType
from fpga_flow.rtl import run_rtl_stages
from fpga_flow.rtl.gates import count_cells, parse_stat
from fpga_flow.rtl.records import RTL_RECORD, RTLRecord, RTLSimRecord, SkippedStage, read_record
from fpga_flow.rtl.targets import FAMILY_TARGETS, fabric_target

DATA = REPO / "tests" / "data" / "rtl"


# --------------------------------------------------------------------------- pure parts


def test_yosys_counts_are_read_from_a_real_stat_json():
    cells = parse_stat((DATA / "cnn_digits_pynq-z2_yosys_stat.json").read_text())
    # The same run's log prints the table by hand-readable rows: every JSON count is there.
    log = (DATA / "cnn_digits_pynq-z2_yosys.log").read_text()
    table = {m[1]: int(m[2]) for m in re.finditer(r"^\s{5}(\w+)\s+(\d+)$", log, re.M)}
    assert cells == table and len(cells) == 17
    # LUTs are LUT1-6 plus SRL16E shift registers; FFs the FDRE/FDSE flip-flops; a RAMB18 is one 18Kb block.
    assert count_cells(cells) == {"LUT": 33156 + 9586 + 3676 + 884 + 5196 + 140, "FF": 12283 + 326,
                                  "CARRY": 13907, "DSP": 10, "BRAM_18K": 11}


def test_cell_totals_follow_vendor_units():
    cells = {"LUT6": 3, "LUT1": 1, "SRLC32E": 2, "RAM64X1D": 4, "FDCE": 5, "FDRE": 1, "CARRY8": 7,
             "DSP48E2": 2, "RAMB36E2": 3, "RAMB18E2": 1, "MUXF7": 9, "IBUF": 20, "INV": 6}
    assert count_cells(cells) == {"LUT": 10, "FF": 6, "CARRY": 7, "DSP": 2, "BRAM_18K": 7}


def test_unreadable_yosys_statistics_fail_the_stage():
    with pytest.raises(FlowError, match="unreadable yosys statistics") as err:
        parse_stat('{"modules": {}}')
    assert err.value.exit_code == 1


def test_pipeline_cutoff_follows_the_board_clock():
    pynq, zcu104 = get_board("pynq-z2"), get_board("zcu104")
    assert fabric_target(pynq).yosys_family == "xc7" and fabric_target(zcu104).yosys_family == "xcup"
    # 7-series at 100 MHz and UltraScale+ at 200 MHz both fit five adder levels per stage.
    assert fabric_target(pynq).latency_cutoff(pynq.clock_period_ns) == 5
    assert fabric_target(zcu104).latency_cutoff(zcu104.clock_period_ns) == 5
    assert fabric_target(pynq).latency_cutoff(5.0) == 2 and fabric_target(pynq).latency_cutoff(1.0) == 1
    for board in ("pynq-z2", "arty-a7-100t", "zcu102", "kv260", "alveo-u250", "alveo-u55c", "vcu118"):
        assert get_board(board).family in FAMILY_TARGETS


def test_a_family_without_open_synthesis_is_refused_in_one_line():
    board = Board(**{**get_board("pynq-z2").model_dump(), "name": "de10", "family": "cyclone10gx"})
    with pytest.raises(RTLUnsupportedError, match="family 'cyclone10gx' has no open-synthesis target") as err:
        fabric_target(board)
    assert "\n" not in str(err.value)


def _interpret(x, y, values: np.ndarray) -> np.ndarray:
    """Evaluate traced ``y`` of input ``x`` with da4ml's compiled interpreter."""
    from da4ml.trace import comb_trace

    return comb_trace(x.ravel(), y.ravel(), keep_dead_inputs=True).predict(values.reshape(len(values), -1))


CAST_TYPES = [FixedType(6, 2, True, "RND_CONV", "SAT"), FixedType(5, 1, False, "RND", "SAT"),
              FixedType(6, 3, True, "TRN", "WRAP"), FixedType(7, 2, True, "RND", "SAT_SYM"),
              FixedType(4, 4, False, "RND_CONV", "WRAP"), FixedType(8, 3, False, "TRN", "WRAP")]


@pytest.mark.parametrize("source", [FixedType(12, 4), FixedType(10, 3, False)])
@pytest.mark.parametrize("target", CAST_TYPES)
def test_traced_casts_equal_the_ap_fixed_model_on_every_value(source, target):
    from fpga_flow.rtl import arith

    x = arith.variables_of(source, (1,))
    lo, hi = source.bounds
    values = np.arange(lo, hi + 2.0**-source.fractional / 2, 2.0**-source.fractional)
    got = _interpret(x, arith.cast(x, target), values)[:, 0]
    np.testing.assert_array_equal(got, target.quantize(values))


def test_saturating_casts_of_finely_scaled_products_are_exact():
    """After a constant matrix product da4ml can scale a variable by 2**-44; its own
    saturation then traces a wrong constant (0.2669 saturated to ufixed<12,2> came out as
    2.1328). The casts here keep their bounds at scale 1."""
    from decimal import Decimal

    from da4ml.trace import FixedVariableArray

    from fpga_flow.rtl import arith

    wide = FixedVariableArray.from_kif(np.array([1]), np.array([47]), np.array([-20]), arith.HW,
                                       solver_options=arith.SOLVER_OPTIONS)
    scaled = wide._vars[0]._pow2_mul(Decimal(2) ** -44)  # values in [-8, 8) on a 2**-24 grid
    values = np.array([0.26691133, 1.0, 3.9995, 5.5, -0.3, -7.9, 2.0**-24]) // 2.0**-24 * 2.0**-24
    for target in (FixedType(12, 2, False, "RND", "SAT"), FixedType(10, 3, True, "RND_CONV", "SAT_SYM")):
        got = _interpret(wide, arith.array(np.array([arith.cast_variable(scaled, target)])), values * 2.0**44)
        np.testing.assert_array_equal(got[:, 0], target.quantize(values), err_msg=str(target))


def test_numpy_quantization_examples():
    conv = FixedType(6, 3, True, "RND_CONV", "SAT")  # step 1/8
    np.testing.assert_array_equal(conv.quantize([1 / 16, 3 / 16, -1 / 16, 100.0, -100.0]), [0.0, 0.25, 0.0, 4 - 1 / 8, -4.0])
    half_up = FixedType(6, 3, True, "RND", "WRAP")
    np.testing.assert_array_equal(half_up.quantize([1 / 16, -1 / 16, 4.0]), [1 / 8, 0.0, -4.0])
    sym = FixedType(6, 3, True, "TRN", "SAT_SYM")
    np.testing.assert_array_equal(sym.quantize([-100.0, -0.01]), [-(4 - 1 / 8), -1 / 8])


@pytest.mark.slow
def test_numpy_quantization_equals_ap_fixed_compiled_by_gxx(tmp_path):
    """FixedType.quantize (the testbench's input words, the tables' casts) against the
    ap_fixed headers hls4ml ships, on values around every rounding boundary."""
    import subprocess

    import hls4ml

    from fpga_flow.csim import gxx

    def cpp(t: FixedType) -> str:
        return f"ap_{'' if t.signed else 'u'}fixed<{t.width}, {t.integer}, AP_{t.rounding}, AP_{t.overflow}>"

    values = np.arange(-40, 40) / 32 * 3.0 + np.repeat([0.0, 1 / 64], 40)  # exact halves and between
    source = tmp_path / "cast.cpp"
    source.write_text("#include <cstdio>\n#include \"ap_fixed.h\"\nint main() {\n  double v;\n"
                      "  while (scanf(\"%lf\", &v) == 1) {\n"
                      + "".join(f'    printf("%.17g ", {cpp(t)}(v).to_double());\n' for t in CAST_TYPES)
                      + '    printf("\\n");\n  }\n}\n')
    include = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    subprocess.run([gxx(), "-O0", f"-I{include}", str(source), "-o", str(tmp_path / "cast")], check=True)
    ran = subprocess.run([str(tmp_path / "cast")], input=" ".join(map(repr, values)), capture_output=True,
                         text=True, check=True)
    expected = np.array([line.split() for line in ran.stdout.splitlines()], dtype=np.float64)
    for column, t in enumerate(CAST_TYPES):
        np.testing.assert_array_equal(t.quantize(values), expected[:, column], err_msg=str(t))


def test_element_wise_tables_shrink_and_reproduce_the_function():
    """A step function whose breakpoints, like int() truncation in hls4ml's sigmoid index,
    sit one code apart on the two signs: each sign gets its own (smaller) ROM, and every
    input word still maps to its output."""
    from fpga_flow.rtl import arith, tables

    t = FixedType(16, 6)
    codes = np.arange(1 << t.width)
    values = np.where(codes >= 1 << 15, codes - (1 << 16), codes) * 2.0**-t.fractional
    outputs = np.clip(np.trunc(values * 8), -200, 200) / 8  # toward zero, then saturating
    x = arith.variables_of(t, (1,))
    y = tables.apply_elementwise(x, t, outputs, "layer test")
    lookups = [v for v in _variables(y._vars[0]) if v.opr == "lookup"]
    assert len(lookups) == 2
    rom_words = sum(round((float(v._from[0].high) - float(v._from[0].low)) / float(v._from[0].step)) + 1
                    for v in lookups)
    assert rom_words <= 2 * 201 + 2  # 401 distinct outputs, not 51,200 words in the unsaturated range
    np.testing.assert_array_equal(_interpret(x, y, values)[:, 0], outputs)


def _variables(v, seen=None):
    seen = set() if seen is None else seen
    if id(v) in seen:
        return []
    seen.add(id(v))
    found = [v]
    for parent in v._from:
        found += _variables(parent, seen)
    return found


def test_a_table_too_large_is_refused():
    from fpga_flow.rtl import arith, tables

    t = FixedType(14, 7)
    codes = np.arange(1 << t.width)
    outputs = (codes * 7919 % 1013).astype(np.float64)  # no structure to compress
    with pytest.raises(RTLUnsupportedError, match="layer noise: its table needs more than 4096 entries"):
        tables.apply_elementwise(arith.variables_of(t, (1,)), t, outputs, "layer noise")


# --------------------------------------------------------------------------- real tools


def _qkeras_mlp():
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow.keras import layers, models

    tf.random.set_seed(1)
    w = quantized_bits(6, 0, alpha=1)
    return models.Sequential([
        layers.Input((16,)),
        QDense(12, kernel_quantizer=w, bias_quantizer=w, name="fc1"),
        QActivation(quantized_relu(6, 2), name="relu1"),
        QDense(5, kernel_quantizer=w, bias_quantizer=w, name="fc2"),
        layers.Activation("softmax", name="softmax"),
    ])


def _c_simulated(model, board_name: str, X: np.ndarray, out: Path, strategies: dict[str, str] | None = None):
    """Convert and compile the model for a board; C-simulation outputs of ``X``."""
    board = get_board(board_name)
    settings = HLSSettings(clock_period_ns=board.clock_period_ns)
    config = base_hls_config(model, settings, board.backend)
    for name, strategy in (strategies or {}).items():
        config["LayerName"][name]["Strategy"] = strategy
    project = convert(model, board, settings, out / "hls_project", config)
    csim = Bridge.load(compile_project(project.output_dir, objects=session_objects())).predict(X)
    return board, settings, config, project, csim


@pytest.mark.slow
def test_rtl_of_a_qkeras_mlp_with_a_da_layer_is_word_exact(tmp_path):
    """fc1 in hls4ml's distributed-arithmetic strategy, fc2 in Latency, a quantized ReLU
    (convergent rounding, saturation) and the stable softmax with its tables."""
    from fpga_flow.rtl.generate import generate_rtl
    from fpga_flow.rtl.simulate import simulate_rtl

    model = _qkeras_mlp()
    X = np.random.default_rng(0).normal(size=(150, 16)).astype(np.float32)
    board, settings, config, project, csim = _c_simulated(model, "zcu104", X, tmp_path,
                                                          {"fc1": "distributed_arithmetic"})
    keras = model.predict(X, verbose=0)
    # (gates: the build tests below run yosys on a smaller design)
    rtl = generate_rtl(model, board, settings, config, project.output_dir, tmp_path / "rtl")
    sim = simulate_rtl(rtl, X, csim, keras, tmp_path / "rtl")
    assert sim.word_agreement == 1.0 and sim.sample_agreement == 1.0 and sim.max_abs_diff == 0.0
    assert sim.argmax_agreement_keras == pytest.approx(np.mean(csim.argmax(1) == keras.argmax(1)))
    assert read_record(RTLRecord, tmp_path / "rtl" / RTL_RECORD) == rtl
    assert rtl.pipeline_stages >= 2 and rtl.latency_cutoff == 5
    # The DA layer is hls4ml's own adder graph: the same da4ml solution, the same cost.
    hls4ml_cost = project.graph.graph["fc1"].get_attr("da_kernel_cost")
    assert [layer["da_kernel_cost"] for layer in rtl.layers if layer["name"] == "fc1"] == [hls4ml_cost]

    # The comparison can fail: ROMs are read when the simulation starts, so zeroing the
    # softmax tables changes the outputs without rebuilding the simulator.
    from fpga_flow.rtl.simulate import run_simulator

    library = next((Path(rtl.verilog_dir) / "sim").glob("lib*_rtl-*.so"))
    for rom in (Path(rtl.verilog_dir) / "src" / "memfiles").glob("*.mem"):
        rom.write_text("\n".join("0" for _ in rom.read_text().split()) + "\n")
    assert np.mean(run_simulator(rtl, library, X) == csim) < 0.5


def _qkeras_cnn():
    """cnn_digits' layers (QConv2D, quantized ReLU, max pooling, Flatten, QDense, softmax) in
    small, with seeded weights: the RTL of each layer class at a fraction of the recipe's
    Verilator time (the recipe itself is benchmarks/rtl.py's)."""
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
    from tensorflow.keras import layers, models

    tf.random.set_seed(2)
    w = quantized_bits(6, 0, alpha=1)
    return models.Sequential([
        layers.Input((8, 8, 1)),
        QConv2D(3, (3, 3), kernel_quantizer=w, bias_quantizer=w, name="conv1"),
        QActivation(quantized_relu(8, 3), name="relu1"),
        layers.MaxPooling2D((2, 2), name="pool1"),
        layers.Flatten(name="flatten"),
        QDense(8, kernel_quantizer=w, bias_quantizer=w, name="fc1"),
        QActivation(quantized_relu(8, 3), name="relu2"),
        QDense(4, kernel_quantizer=w, bias_quantizer=w, name="logits"),
        layers.Activation("softmax", name="softmax"),
    ])


@pytest.mark.slow
def test_rtl_of_a_qkeras_cnn_is_word_exact(tmp_path):
    from fpga_flow.rtl.generate import generate_rtl
    from fpga_flow.rtl.simulate import simulate_rtl

    model = _qkeras_cnn()
    X = np.random.default_rng(4).uniform(0, 1, size=(120, 8, 8, 1)).astype(np.float32)
    board, settings, config, project, csim = _c_simulated(model, "pynq-z2", X, tmp_path)
    keras = model.predict(X, verbose=0)
    rtl = generate_rtl(model, board, settings, config, project.output_dir, tmp_path / "rtl")
    sim = simulate_rtl(rtl, X, csim, keras, tmp_path / "rtl")
    assert sim.word_agreement == 1.0 and sim.n_samples == 120 and sim.max_abs_diff == 0.0
    assert sim.argmax_agreement_keras == pytest.approx(np.mean(csim.argmax(1) == keras.argmax(1)))
    assert [layer["class"] for layer in rtl.layers] == [
        "Conv2D", "Activation", "Pooling2D", "Reshape", "Dense", "Activation", "Dense", "Softmax"]


@pytest.mark.slow
def test_a_layer_without_mirror_is_named_and_the_stages_skip(tmp_path):
    from tensorflow.keras import layers, models

    model = models.Sequential([layers.Input((6, 2)), layers.UpSampling1D(2, name="upsample"),
                               layers.Flatten(name="flat"), layers.Dense(3, name="fc")])
    X = np.zeros((4, 6, 2), dtype=np.float32)
    board = get_board("pynq-z2")
    settings = HLSSettings(clock_period_ns=board.clock_period_ns)
    config = base_hls_config(model, settings, board.backend)
    project = convert(model, board, settings, tmp_path / "hls_project", config)
    records = run_rtl_stages(model, board, settings, config, project.output_dir, X, X, X, tmp_path / "rtl")
    reasons = {stage: r.reason for stage, r in records.items() if isinstance(r, SkippedStage)}
    assert set(reasons) == {"rtl", "rtl_sim", "gates"}
    assert reasons["rtl"].startswith("layer upsample (Resize) has no RTL mirror") and "\n" not in reasons["rtl"]
    assert reasons["rtl_sim"] == reasons["gates"] == f"no RTL: {reasons['rtl']}"
    assert not (tmp_path / "rtl" / RTL_RECORD).exists()
    assert issubclass(RTLUnsupportedError, FlowError) and RTLUnsupportedError.exit_code == 2


def hide_programs(monkeypatch, folder: Path, *names: str) -> None:
    """PATH with every program of the real one except those whose name starts with ``names``."""
    folder.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = folder / entry.name
            if not entry.name.startswith(names) and not target.exists():
                target.symlink_to(entry.path)
    monkeypatch.setenv("PATH", str(folder))
    assert all(shutil.which(name) is None for name in names) and shutil.which("g++")


@pytest.fixture
def path_without_rtl_tools(tmp_path, monkeypatch):
    hide_programs(monkeypatch, tmp_path / "bin", "verilator", "yosys")


@pytest.mark.slow
def test_missing_verilator_and_yosys_skip_their_stages_with_the_reason(tmp_path, path_without_rtl_tools):
    from tensorflow.keras import layers, models

    model = models.Sequential([layers.Input((4,)), layers.Dense(3, name="fc")])
    X = np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32)
    board = get_board("arty-a7-100t")
    settings = HLSSettings(clock_period_ns=board.clock_period_ns)
    config = base_hls_config(model, settings, board.backend)
    project = convert(model, board, settings, tmp_path / "hls_project", config)
    records = run_rtl_stages(model, board, settings, config, project.output_dir, X, X[:, :3], X[:, :3], tmp_path / "rtl")
    assert isinstance(records["rtl"], RTLRecord)  # generation needs only Python and g++
    assert records["rtl_sim"].reason.startswith("verilator not found on PATH: install it")
    assert records["gates"].reason.startswith("yosys not found on PATH: install it")
    assert json.loads((tmp_path / "rtl" / RTL_RECORD).read_text())["n_inputs"] == 4


# --------------------------------------------------------------------------- in the build


def test_an_rtl_that_differs_from_c_simulation_fails_the_build_check():
    from fpga_flow.pipeline.summarize import rtl_check
    from fpga_flow.summary import Check, Checks, run_status
    from fpga_flow.synth import SynthesisResult

    def sim(words: float) -> RTLSimRecord:
        return RTLSimRecord(simulator="Verilator", n_samples=10, word_agreement=words, sample_agreement=words,
                            max_abs_diff=0.0, argmax_agreement_keras=1.0, build_seconds=1.0, sim_seconds=0.1)

    ok = Check(value=1.0, threshold=0.99, passed=True)
    synthesis = SynthesisResult(status="skipped", reason="not requested")
    exact, off = rtl_check(sim(1.0)), rtl_check(sim(0.999))
    assert exact.passed and not off.passed and off.threshold == 1.0
    assert run_status(Checks(csim_agreement=ok, testbench_agreement=ok, rtl_word_agreement=exact), synthesis) == "passed"
    assert run_status(Checks(csim_agreement=ok, testbench_agreement=ok, rtl_word_agreement=off), synthesis) == "check_failed"
    assert rtl_check(SkippedStage(stage="rtl_sim", reason="verilator not found on PATH")) is None and rtl_check(None) is None


def test_the_rtl_command_needs_a_finished_run(tmp_path):
    result = run_cli("rtl", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "summary.json not found: give the run directory of a finished build" in result.stderr.replace("\n", " ")
