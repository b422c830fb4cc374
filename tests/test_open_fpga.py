"""ECP5 boards through the open tools: the catalogue entries, the PLL and the delay model,
the refusals, and a real build of a small MLP with ``--rtl --pnr`` (yosys synth_ecp5,
nextpnr-ecp5, ecppack, Verilator on the board top level) and its deploy bundle, whose host
script runs against the Verilator model of the top level.

The C-simulation is the reference: the top level's answers, bytes out of its serial line,
must equal the words the compiled hls4ml project computes."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import REPO, interruptible, run_cli
from fpga_flow.boards import get_board
from fpga_flow.config import BuildConfig
from fpga_flow.errors import FlowError, StageFailedError, ToolMissingError
from fpga_flow.fit import FitRequest
from fpga_flow.pipeline.rtl_cache import rtl_key
from fpga_flow.pipeline.summarize import pnr_checks
from fpga_flow.rtl import pnr_stage
from fpga_flow.rtl.ecp5 import count_ecp5_cells, open_tool
from fpga_flow.rtl.pnr import design_clock, last_router_progress, nextpnr, parse_report, timed_out
from fpga_flow.rtl.records import PnRRecord, SkippedStage, TopSimFigures, Use
from fpga_flow.rtl.simulate import run_logged
from fpga_flow.rtl.targets import fabric_target
from fpga_flow.rtl.top import needs_pll, pll_for
from fpga_flow.summary import Check, Checks, run_status
from fpga_flow.synth import SynthesisResult
from test_rtl import hide_programs

DATA = REPO / "tests" / "data" / "ecp5"
ECP5_BOARDS = ("ulx3s-85f", "orangecrab-25f", "ecpix5-85f")


# --------------------------------------------------------------------------- pure parts


def test_ecp5_boards_carry_device_package_pins_and_units():
    parts = {name: get_board(name) for name in ECP5_BOARDS}
    assert {b.part for b in parts.values()} == {"LFE5U-85F-6BG381C", "LFE5U-25F-8MG285C", "LFE5UM5G-85F-8BG554I"}
    ulx3s = parts["ulx3s-85f"]
    assert ulx3s.open_fpga.package == "CABGA381" and ulx3s.open_fpga.oscillator.pin == "G2"
    assert ulx3s.units == {"LUT": "LUT4", "FF": "FF", "DSP": "MULT18", "BRAM_18K": "EBR", "URAM": "URAM"}
    assert parts["orangecrab-25f"].resources.DSP == 28 and parts["orangecrab-25f"].resources.BRAM_18K == 56
    assert all(not b.hls_vendor_flow for b in parts.values()) and get_board("pynq-z2").hls_vendor_flow
    # The ECP5 delay model (post-route): 4 adder levels per stage at 50 MHz, 2 at 100 MHz.
    assert fabric_target(ulx3s).latency_cutoff(ulx3s.clock_period_ns) == 4
    assert fabric_target(parts["ecpix5-85f"]).latency_cutoff(10.0) == 2


def test_a_boards_own_nextpnr_options_are_options_nextpnr_has():
    """The catalogue's per-board nextpnr options (the 25F's placer) go to
    nextpnr as given: each flag must be one the installed nextpnr-ecp5 knows."""
    assert get_board("orangecrab-25f").open_fpga.nextpnr_options == ("--placer", "static")
    try:
        shown = subprocess.run([*nextpnr(), "--help"], capture_output=True, text=True, timeout=120)
        help_text = shown.stdout + shown.stderr
    except ToolMissingError as exc:
        pytest.skip(str(exc))
    for name in ECP5_BOARDS:
        options = get_board(name).open_fpga.nextpnr_options
        for flag in (o for o in options if o.startswith("--")):
            assert re.search(rf"^\s+{re.escape(flag)}\b", help_text, re.M), (name, flag)
    assert re.search(r"available: .*static", help_text.replace("\n", " "))


def test_the_pll_matches_ecppll_where_the_clock_is_not_the_oscillators():
    ulx3s, crab = get_board("ulx3s-85f"), get_board("orangecrab-25f")
    assert needs_pll(ulx3s, ulx3s.clock_mhz) and not needs_pll(crab, crab.clock_mhz)
    ecppll = shutil.which("yowasp-ecppll") or shutil.which("yowasp-ecppll", path=str(Path(sys.executable).parent))
    if ecppll is None:
        pytest.skip("yowasp-ecppll not installed (pip install 'fpga-flow[open-fpga]')")
    for f_in, f_out in ((25, 50), (25, 33), (100, 75), (48, 120)):
        pll = pll_for(f_in, f_out)
        assert 400 <= pll.f_out * pll.output <= 800 and f_in / pll.reference >= 3.125
        printed = subprocess.run([ecppll, "-i", str(f_in), "-o", str(f_out)], capture_output=True, text=True).stdout
        achieved = float(re.search(r"clkout0 frequency:\s*([\d.]+)", printed)[1])
        assert abs(pll.f_out - f_out) <= abs(achieved - f_out) + 1e-3, (f_in, f_out, printed)


def test_the_fit_keeps_the_design_the_rtl_mirrors_on_an_ecp5_board_with_rtl():
    def request(board: str, **options) -> FitRequest:
        return FitRequest.of(BuildConfig(model="mlp_tiny", board=board, **options))

    mirrored = request("ulx3s-85f", rtl=True)
    assert (mirrored.io_type, mirrored.strategy) == ("io_parallel", "Latency")
    # Without --rtl, on a board with a vendor flow, or where the user fixed them: the user's choice.
    assert (request("ulx3s-85f").io_type, request("pynq-z2", rtl=True).strategy) == (None, None)
    fixed = request("ulx3s-85f", rtl=True, io_type="io_stream", strategy="Resource")
    assert (fixed.io_type, fixed.strategy) == ("io_stream", "Resource")


def test_nextpnr_report_gives_utilization_and_fmax():
    cells, fmax = parse_report((DATA / "nextpnr_report.json").read_text())
    assert cells["TRELLIS_COMB"].available == 83640 and cells["TRELLIS_COMB"].used > 0
    assert design_clock(fmax, 50.0) == max(a for a, c in fmax.values() if abs(c - 50.0) < 1)
    assert design_clock({}, 50.0) is None
    with pytest.raises(FlowError, match="unreadable nextpnr report") as err:
        parse_report('{"fmax": {}}')
    assert err.value.exit_code == 1


def test_yosys_ecp5_cells_are_counted_in_device_units():
    assert count_ecp5_cells({"LUT4": 10, "TRELLIS_FF": 4, "CCU2C": 3, "MULT18X18D": 1, "DP16KD": 2, "PFUMX": 9}) == \
        {"LUT": 10, "FF": 4, "CARRY": 3, "DSP": 1, "BRAM_18K": 2}


def test_a_missed_clock_and_a_differing_top_level_fail_the_build_check():
    def record(met: bool, words: float) -> PnRRecord:
        return PnRRecord(tool="nextpnr", device="85k CABGA381 speed 6", part="LFE5U-85F-6BG381C", oscillator_mhz=25,
                         pll=None, target_mhz=50.0, achieved_mhz=61.0 if met else 41.5, timing_met=met,
                         utilization={"LUT4": Use(used=1, available=2)}, cells={}, bitstream=None, report="r", log="l",
                         top_sim=TopSimFigures(n_samples=3, word_agreement=words), pnr_seconds=1, pack_seconds=1)
    ok = Check(value=1.0, threshold=0.99, passed=True)
    synthesis = SynthesisResult(status="skipped", reason="no vendor synthesis")
    for met, words, status in ((True, 1.0, "passed"), (False, 1.0, "check_failed"), (True, 0.9, "check_failed")):
        checks = pnr_checks(record(met, words))
        assert run_status(Checks(csim_agreement=ok, testbench_agreement=ok, **checks), synthesis) == status
    assert pnr_checks(record(False, 1.0))["pnr_fmax"].value == 41.5
    assert pnr_checks(SkippedStage(stage="pnr", reason="x")) == {}


def test_missing_tools_and_netlists_skip_place_and_route_with_the_reason():
    with pytest.raises(ToolMissingError, match="no-such-nextpnr not found: install it"):
        open_tool("no-such-nextpnr", purpose="place and route", install="pip install x")
    skipped = pnr_stage(SkippedStage(stage="rtl", reason="no mirror"), None, get_board("ulx3s-85f"), None, None, Path())
    assert skipped.reason == "no RTL: no mirror"
    rtl = object()  # any RTL record: the gates skip decides
    gates = SkippedStage(stage="gates", reason="yosys not found on PATH")
    assert pnr_stage(rtl, gates, get_board("ulx3s-85f"), None, None, Path()).reason == "no netlist: yosys not found on PATH"


def test_a_tools_output_reaches_its_log_as_it_runs_and_a_failure_names_its_error_line(tmp_path):
    log = tmp_path / "nextpnr.log"
    # The log grows while the tool runs: a long place and route can be followed, and a stopped one leaves its output.
    run_logged(["sh", "-c", f"echo placed; test -s {log} && echo seen-while-running"], tmp_path, log, "tool")
    assert log.read_text().splitlines()[1:] == ["placed", "seen-while-running"]
    with pytest.raises(StageFailedError, match=r"tool failed: ERROR: 3 unrouted arcs \(log: .*nextpnr.log\)"):
        run_logged(["sh", "-c", "echo routing; echo 'ERROR: 3 unrouted arcs' >&2; exit 3"], tmp_path, log, "tool")
    assert "placed" in log.read_text() and log.read_text().endswith("routing\nERROR: 3 unrouted arcs\n")


def test_the_benchmark_tabulates_a_run_stopped_in_place_and_route_with_where_it_got_to(tmp_path):
    spec = importlib.util.spec_from_file_location("open_fpga_benchmark", REPO / "benchmarks" / "open_fpga.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    run = tmp_path / "mlp_tiny_orangecrab-25f"
    (run / "rtl" / "ecp5").mkdir(parents=True)
    (run / "INCOMPLETE").write_text("stage: pnr\n")
    (run / "rtl" / "gates.json").write_text(json.dumps({
        "status": "done", "LUT": 1675, "CARRY": 2777, "FF": 3078, "seconds": 20.7,
        "device_use": {"LUT4": {"used": 7229, "available": 24288}, "FF": {"used": 3078, "available": 24288}}}))
    # nextpnr's own lines (router1 on mlp_tiny for the OrangeCrab 25F), a slack histogram line between them.
    (run / "rtl" / "ecp5" / "nextpnr.log").write_text(
        "Info:      75000 |    41924      33075 |  574   426 |     12788|      52.71    1255.30|\n"
        "Info:      76000 |    42544      33455 |  620   380 |     12616|      31.25    1286.54|\n"
        "Info: [  7407,   8050) |*+\n")
    row = benchmark.tabulate(run)
    assert row == {"model": "mlp_tiny", "board": "orangecrab-25f", "status": "unfinished (stage: pnr)", "synth_s": 20.7,
                   "gates_LUT4": 1675, "gates_CCU2C": 2777, "yosys_LUT4": 7229, "yosys_LUT4_pct": 29.76,
                   "note": "nextpnr stopped routing: router1 at 76000 iterations, 12616 arcs left, 1286.54 s wall routing"}
    assert "| mlp_tiny | orangecrab-25f | unfinished (stage: pnr) |" in benchmark.markdown([row], "x")


# A script that runs real yosys processes through the product's functions until
# interrupted: each yosys runs a shell command (a grandchild in its group) that marks its
# start and sleeps. "logged": one through run_logged (nextpnr's, Verilator's way);
# "pool": four through map_tools on two threads (the gates stage's way). They run as a
# step of the driver under the CLI's user_errors, as a command's steps do.
TOOLS_SCRIPT = """
import sys
from pathlib import Path
from types import SimpleNamespace
import typer
from fpga_flow.cli.app import user_errors
from fpga_flow.pipeline.driver import Step, run_steps
from fpga_flow.rtl.process import map_tools, run_tool
from fpga_flow.rtl.simulate import run_logged
mode, folder, yosys = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
command = lambda i: [yosys, "-q", "-p", f"!touch {folder}/started-{i}; sleep 300"]
def tools(ctx):
    if mode == "logged":
        run_logged(command(0), folder, folder / "tool.log", "yosys")
    else:
        map_tools(lambda i: run_tool(command(i), folder), range(4), jobs=2)
(folder / "run").mkdir()
ctx = SimpleNamespace(progress=lambda step, state: None, timings={}, marker_dir=folder / "run")
try:
    user_errors(lambda: run_steps(ctx, (Step("gates", "Synthesizing", tools),)))()
except typer.Exit as exit:
    sys.exit(exit.exit_code)
"""


def _processes() -> dict[int, tuple[int, int, str]]:
    """Every live process: pid -> (parent pid, process group, state); zombies are dead."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, ppid, pgid = text[text.rindex(")") + 2:].split()[:3]
        if state != "Z":
            found[int(stat.parent.name)] = (int(ppid), int(pgid), state)
    return found


@pytest.mark.parametrize("sent, code, message", [
    (signal.SIGINT, 130, "error: interrupted: the run directory is marked INCOMPLETE"),
    # SIGTERM (kill PID, a scheduler) would end Python without any cleanup: handled as Ctrl-C.
    (signal.SIGTERM, 143, "error: terminated (SIGTERM): the run directory is marked INCOMPLETE"),
])
@pytest.mark.parametrize("mode, tools", [("logged", 1), ("pool", 2)])
def test_an_interrupted_build_leaves_no_tool_process_behind(tmp_path, mode, tools, sent, code, message):
    yosys = shutil.which("yosys")
    if yosys is None:
        pytest.skip("yosys not installed")
    build = interruptible(sys.executable, "-c", TOOLS_SCRIPT, mode, str(tmp_path), yosys, cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("started-*"))) < tools and build.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        # Each tool leads its own process group, with the shell and sleep it started in it.
        processes = _processes()
        leaders = [pid for pid, (ppid, _, _) in processes.items() if ppid == build.pid]
        groups = {pid for pid, (_, pgid, _) in processes.items() if pgid in leaders}
        assert len(leaders) == tools and len(groups) >= 2 * tools, (processes, build.poll())
        build.send_signal(sent)
        _, stderr = build.communicate(timeout=60)
    finally:
        if build.poll() is None:
            build.kill()
    time.sleep(1)  # a queued tool that started anyway would have marked its start by now
    assert not groups & set(_processes()), "a tool or its child outlived the interrupted build"
    assert build.returncode == code and stderr.strip().splitlines() == [message], (build.returncode, stderr)
    assert (tmp_path / "run" / "INCOMPLETE").read_text() == "stage: gates\n"
    assert len(list(tmp_path.glob("started-*"))) == tools, "a queued tool started after the interrupt"


def test_a_timed_out_place_and_route_names_where_the_router_was_and_a_larger_board(tmp_path):
    log = tmp_path / "nextpnr.log"
    log.write_text("Info: Routing..\n"
                   "Info:     104000 |    41924      33075 |  574   426 |      5307|      52.71    1286.54|\n"
                   "Info: [  7407,   8050) |*+\n")
    assert str(timed_out(get_board("orangecrab-25f"), 20, log)) == (
        "nextpnr-ecp5 did not finish on orangecrab-25f within --pnr-timeout 20 min (router1 at 104000 iterations, "
        f"5307 arcs left, 1286.54 s wall routing): raise --pnr-timeout, or use a larger device such as ulx3s-85f "
        f"(log: {log})")
    log.write_text("Info: Placing..\nInfo:   at initial placer iter 0, wirelen = 120\n")
    assert "within --pnr-timeout 0.5 min (not yet routing: at initial placer iter 0, wirelen = 120): " \
        in str(timed_out(get_board("orangecrab-25f"), 0.5, log))


@pytest.mark.parametrize("args, needle", [
    (["--board", "pynq-z2", "--rtl", "--pnr"], "--pnr: board pynq-z2 (AMD) has no open place-and-route flow"),
    (["--board", "ulx3s-85f", "--pnr"], "--pnr: it works on the RTL: add --rtl"),
    (["--board", "ulx3s-85f", "--stage-levels", "3"], "--stage-levels: it works on the RTL: add --rtl"),
])
def test_pnr_is_refused_in_one_line_before_any_work(tmp_path, args, needle):
    result = run_cli("build", "mlp_tiny", *args, "--out", str(tmp_path / "run"), "--reports-dir", str(tmp_path))
    assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_the_rtl_entrys_key_follows_the_design_data_pipelining_and_tools(tmp_path, monkeypatch):
    """The build cache's RTL entry (fpga_flow.pipeline.rtl_cache): keyed by the design
    entry, the data the simulation compares, --stage-levels and the tools; no key without
    --rtl, without the cache, or with a tool missing (nothing then is stored or restored)."""
    if shutil.which("verilator") is None or shutil.which("yosys") is None:
        pytest.skip("verilator or yosys not installed")
    X, out = np.arange(8.0).reshape(2, 4), np.ones((2, 2))

    def ctx(rtl=True, design="d", stage_levels=None, csim=out, cache=True):
        return SimpleNamespace(config=SimpleNamespace(rtl=rtl, stage_levels=stage_levels),
                               cache=SimpleNamespace(key=design) if cache else None, board=get_board("ulx3s-85f"),
                               loaded=SimpleNamespace(X_eval=X, keras_eval=out), csim=SimpleNamespace(outputs=csim))

    key = rtl_key(ctx())
    assert key == rtl_key(ctx()) and len({key, rtl_key(ctx(design="e")), rtl_key(ctx(stage_levels=3)),
                                          rtl_key(ctx(csim=out * 2))}) == 4
    assert rtl_key(ctx(rtl=False)) is None and rtl_key(ctx(cache=False)) is None
    hide_programs(monkeypatch, tmp_path / "bin", "verilator")
    assert rtl_key(ctx()) is None


# --------------------------------------------------------------------------- real tools


@pytest.fixture(scope="module")
def pnr_build(tmp_path_factory):
    """``fpga-flow build --rtl --pnr`` of a small MLP for the ULX3S (50 MHz from its 25 MHz
    oscillator through the PLL), then ``fpga-flow deploy``. Its weights are multiples of
    1/4 in [-1, 1], so the inferred precisions are narrow and each product is a shift: the
    place and route is the test's longest step, and this keeps the design (the model and
    the serial top level) small. The suite's version is as light as proves the flow (a
    4-3-2 MLP, 12 samples); the zoo models and the other boards are the benchmark's
    (benchmarks/open_fpga.py)."""
    folder = tmp_path_factory.mktemp("pnr_build")
    out = folder / "run"
    build = run_cli(*_pnr_build_args(small_mlp(folder), out), "--cache-dir", str(folder / "cache"))
    deploy = run_cli("deploy", str(out), "--simulate") if build.returncode == 0 else None
    return out, build, deploy


def _pnr_build_args(model: Path, out: Path) -> list[str]:
    return ["build", str(model), "--board", "ulx3s-85f", "--rtl", "--pnr", "--precision-policy", "auto",
            "--max-samples", "12", "--out", str(out), "--reports-dir", str(out.parent)]


def small_mlp(folder: Path) -> Path:
    """The 4-3-2 MLP the place-and-route builds use, weights multiples of 1/4, saved in ``folder``."""
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Input((4,), name="x"), tf.keras.layers.Dense(3, name="dense"),
                                 tf.keras.layers.Activation("relu", name="relu"), tf.keras.layers.Dense(2, name="out")])
    rng = np.random.default_rng(3)
    for layer in (model.get_layer("dense"), model.get_layer("out")):
        layer.set_weights([rng.integers(-4, 5, size=w.shape) / 4 for w in layer.get_weights()])
    model.save(folder / "mlp.h5")
    return folder / "mlp.h5"


@pytest.mark.slow
def test_pnr_build_records_post_route_figures_and_a_word_exact_top_level(pnr_build):
    out, build, _ = pnr_build
    for tool in ("verilator", "yosys"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    pnr = summary["pnr"]
    if pnr["status"] == "skipped":
        # only a missing tool (ToolMissingError: "... not found") may skip; any other reason
        # (over the budget, no netlist) is the flow failing
        assert " not found" in pnr["reason"], pnr["reason"]
        pytest.skip(pnr["reason"])
    assert pnr["kind"] == "post-route open-tool figures" and pnr["pll"].startswith("CLKI_DIV 1")
    assert set(pnr["utilization"]) == {"LUT4", "FF", "MULT18", "EBR"} and pnr["utilization"]["LUT4"]["used"] > 0
    assert pnr["utilization"]["LUT4"]["available"] == 83640
    assert pnr["achieved_mhz"] >= pnr["target_mhz"] == 50.0 and summary["checks"]["pnr_fmax"]["passed"]
    assert pnr["top_sim"]["word_agreement"] == 1.0 and pnr["top_sim"]["n_samples"] == 12
    assert summary["checks"]["top_word_agreement"]["passed"] and summary["status"] == "passed"
    # The gates stage synthesized the board top level for ECP5, in the device's units, and
    # its counts are the fit (not the estimate); nextpnr's are recorded beside them.
    gates, fit = summary["gates"], summary["checks"]["fit_budget"]
    assert gates["family"] == "ecp5" and gates["cells"].get("EHXPLLL") == 1
    lut4 = gates["LUT"] + 2 * gates["CARRY"]
    assert gates["device_use"]["LUT4"] == {"used": lut4, "available": 83640}
    assert fit["source"] == "yosys synth_ecp5 of the RTL" and fit["passed"] and fit["value"] == round(lut4 / 83640, 4)
    assert pnr["yosys_use"]["LUT4"] == lut4
    assert pnr["packing_difference"]["LUT4"] == pnr["utilization"]["LUT4"]["used"] - lut4
    # ecppack's bitstream: the ECP5 preamble.
    assert b"\xff\xff\xbd\xb3" in Path(pnr["bitstream"]).read_bytes()[:512]
    # The estimate says it does not apply; no vendor synthesis is pretended.
    assert not summary["estimate"]["in_scope"] and "does not apply to ulx3s-85f" in summary["estimate"]["scope_notes"][0]
    assert summary["synthesis"]["status"] == "skipped" and "open tools" in summary["synthesis"]["reason"]
    page = (out / "dashboard.html").read_text()
    assert f'data-metric="pnr_achieved_mhz" data-value="{pnr["achieved_mhz"]}"' in page and "Post-route open-tool figures" in page


@pytest.mark.slow
def test_deploy_writes_a_bitstream_bundle_whose_host_script_checks_the_simulated_board(pnr_build):
    out, build, deploy = pnr_build
    if deploy is None or not (out / "summary.json").is_file() or json.loads(
            (out / "summary.json").read_text())["pnr"]["status"] != "done":
        # the build test above fails on any reason but a missing tool
        pytest.skip("no place-and-route run to deploy")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    bundle = out / "bundle"
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert (bundle / manifest["bitstream"]).is_file() and manifest["bitstream"].endswith(".bit")
    assert "openFPGALoader -b ulx3s" in (bundle / "program.sh").read_text()
    assert "24/24 output words equal" in deploy.stdout
    # A board that answers one wrong byte is caught: exit 1, the count named.
    expected = bytearray((bundle / "data" / "expected_output.bin").read_bytes())
    expected[0] ^= 1
    (bundle / "data" / "expected_output.bin").write_bytes(bytes(expected))
    check = subprocess.run([sys.executable, "check_serial.py", "--simulate"], cwd=bundle, capture_output=True, text=True)
    assert check.returncode == 1 and "23/24 output words equal" in check.stdout
    assert json.loads((bundle / "check_results.json").read_text())["output_words_equal"] == 23


@pytest.mark.slow
def test_a_place_and_route_over_its_time_limit_is_stopped_and_fails_the_build_in_one_line(pnr_build, tmp_path):
    """A real nextpnr, stopped by --pnr-timeout (0.02 min: 1.2 s, well under the 4-3-2 MLP's
    place and route): exit 1, one line naming the board, the limit, where nextpnr was and the
    fix; the run marked INCOMPLETE at pnr, without a summary; no nextpnr left running.

    The build is pnr_build's again with the limit, on its build cache: the design entry and
    the RTL entry (da4ml's Verilog, Verilator, yosys) are restored, and nextpnr runs on the
    restored netlist."""
    first, first_build, _ = pnr_build
    assert first_build.returncode == 0, first_build.stdout[-3000:] + first_build.stderr[-3000:]
    if json.loads((first / "summary.json").read_text())["pnr"]["status"] != "done":
        pytest.skip("no place and route in pnr_build (a tool is missing; its test says which)")
    out = tmp_path / "run"
    build = run_cli(*_pnr_build_args(first.parent / "mlp.h5", out), "--pnr-timeout", "0.02",
                    "--cache-dir", str(first.parent / "cache"))
    work, log = out / "rtl" / "ecp5", out / "rtl" / "ecp5" / "nextpnr.log"
    assert build.returncode == 1, build.stdout[-3000:] + build.stderr[-3000:]
    lines = build.stderr.strip().splitlines()  # the progress, then the one error line
    assert [line for line in lines if line.startswith("error:")] == lines[-1:] and "Traceback" not in build.stderr
    where = last_router_progress(log) or "not yet routing: "
    assert lines[-1].startswith("error: nextpnr-ecp5 did not finish on ulx3s-85f within --pnr-timeout 0.02 min (")
    # the ULX3S 85F is the catalogue's largest ECP5 device
    assert where in lines[-1] and f"): raise --pnr-timeout, or make the design smaller (log: {log})" in lines[-1]
    assert (out / "INCOMPLETE").read_text().strip() == "stage: pnr" and not (out / "summary.json").exists()
    assert "--timing-allow-fail" in log.read_text() and not (work / "fpga_flow_top.bit").exists()
    assert not [pid for pid in _processes() if _cwd(pid) == work.resolve()], "nextpnr outlived the build"
    # The RTL steps' records are pnr_build's (their times too: nothing ran again), moved to this run.
    for name in ("rtl.json", "rtl_sim.json", "gates.json"):
        made = (first / "rtl" / name).read_text().replace(str(first.resolve()), str(out.resolve()))
        assert json.loads((out / "rtl" / name).read_text()) == json.loads(made), name
    assert json.loads((out / "rtl" / "rtl.json").read_text())["verilog_dir"].startswith(str(out.resolve()))


def _cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:  # gone, or not ours to read
        return None


def test_deploy_of_an_ecp5_run_without_a_bitstream_is_refused_in_one_line(tmp_path):
    summary = json.loads((REPO / "tests" / "data" / "runs" / "cnn_digits_pynq-z2_rf1" / "summary.json").read_text())
    ulx3s = get_board("ulx3s-85f").record().model_dump(mode="json")
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({**summary, "board": ulx3s, "status": "passed"}))
    (run / "hls_config.json").write_text("{}")
    result = run_cli("deploy", str(run))
    assert result.returncode == 2 and "has no bitstream: build it with --rtl --pnr on an ECP5 board" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (run / "bundle").exists()
    pynq = run_cli("deploy", str(REPO / "tests" / "data" / "runs" / "cnn_digits_pynq-z2_rf1"), "--simulate")
    assert pynq.returncode == 2 and "--simulate is for ECP5 runs" in pynq.stderr
