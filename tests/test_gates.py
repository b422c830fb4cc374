"""The gates stage by pipeline stage: real yosys on real da4ml Verilog (a small MLP's,
written by ``fpga-flow build --rtl`` for arty-a7-100t), the per-module sum against the
whole flattened design, and the per-module cache keyed by content.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO
from fpga_flow.boards import get_board
from fpga_flow.errors import FlowError
from fpga_flow.rtl.gates import BATCH_NOISE, HIERARCHY_ERROR, PER_MODULE_ERROR, reuse, synthesize_gates
from fpga_flow.rtl.records import GATES_RECORD, GateRecord, RTLRecord, read_record

DATA = REPO / "tests" / "data" / "gates" / "mlp_arty"

pytestmark = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")


def _rtl(tmp_path: Path) -> RTLRecord:
    """The checked-in Verilog as the rtl stage leaves it (a copy: the test edits it)."""
    verilog = tmp_path / "verilog"
    shutil.copytree(DATA / "src", verilog / "src")
    return RTLRecord.model_construct(top="myproject", verilog_dir=str(verilog))


@pytest.mark.slow
def test_per_module_sum_is_within_the_stated_error_and_cached_by_content(tmp_path):
    rtl, board, cache = _rtl(tmp_path), get_board("arty-a7-100t"), tmp_path / "cache"
    whole = synthesize_gates(rtl, board, tmp_path / "whole", whole=True)
    first = synthesize_gates(rtl, board, tmp_path / "first", cache_dir=cache, jobs=2)
    # This MLP's stages instantiate each parameter set about once: all are flattened, in
    # two batches (two jobs), and the top alone: three yosys runs for four modules.
    assert not whole.per_module and first.per_module
    assert first.tool.endswith("0 stages hierarchical, sum of 4 modules (0 cached, 3 yosys runs)"), first.tool
    assert sorted(p.name for p in (tmp_path / "first" / "modules").iterdir()) == [
        "myproject", "myproject_stage0", "myproject_stage1+1"]
    assert read_record(GateRecord, tmp_path / "first" / GATES_RECORD) == first
    # Kept hierarchical, the stages count what flattening would have dropped: high, within the stated bound.
    kept = synthesize_gates(rtl, board, tmp_path / "kept", hierarchy=True, jobs=1)
    assert kept.tool.endswith("3 stages hierarchical, sum of 4 modules (0 cached, 2 yosys runs)"), kept.tool
    for record, bounds in ((first, PER_MODULE_ERROR), (kept, HIERARCHY_ERROR)):
        for kind, error in bounds.items():
            full, part = getattr(whole, kind), getattr(record, kind)
            assert full > 0 and full <= part <= (1 + error) * full, (kind, part, full, record.tool)
    # The stages' ports are no pins: only the top's are buffered, as in the whole design.
    assert first.cells.get("IBUF") == whole.cells.get("IBUF") and first.cells.get("OBUF") == whole.cells.get("OBUF")

    # A second run reads every module from the cache: no yosys run, and the counts the first
    # (a fresh synthesis of the same batches) gave.
    second = synthesize_gates(rtl, board, tmp_path / "second", cache_dir=cache, jobs=2)
    assert second.cached_modules == 4 and second.cells == first.cells
    assert not (tmp_path / "second" / "modules").exists()

    # Any edit of one stage's source (here a comment) re-synthesizes that stage only, alone
    # in its batch now: the counts are the first's within the batches' noise.
    stage = Path(rtl.verilog_dir) / "src" / "myproject_stage2.v"
    stage.write_text(stage.read_text() + "\n// edited\n")
    third = synthesize_gates(rtl, board, tmp_path / "third", cache_dir=cache, jobs=2)
    assert third.cached_modules == 3
    assert [p.name for p in (tmp_path / "third" / "modules").iterdir()] == ["myproject_stage2"]
    for kind in ("LUT", "FF", "CARRY"):
        assert abs(getattr(third, kind) - getattr(first, kind)) <= BATCH_NOISE * getattr(first, kind), kind


def test_a_stage_of_repeated_parameter_sets_stays_hierarchical(tmp_path):
    stage = tmp_path / "myproject_stage0.v"
    line = "    wire [16:0] v{0}; shift_adder #(16, 16, 1, 1, 17, 0, {1}) op_{0} (v1[15:0], v2[15:0], v{0}[16:0]);\n"
    stage.write_text("module myproject_stage0 (\n" + "".join(line.format(i, i % 2) for i in range(8)) + "endmodule\n")
    assert reuse(stage) == 4.0  # 8 instances of 2 parameter sets
    assert reuse(DATA / "src" / "myproject_stage2.v") == 1.0


def test_a_yosys_error_in_one_module_fails_the_stage_naming_its_log(tmp_path):
    rtl = _rtl(tmp_path)
    stage = Path(rtl.verilog_dir) / "src" / "myproject_stage1.v"
    stage.write_text(stage.read_text().replace("endmodule", "wire broken = ;\nendmodule"))
    with pytest.raises(FlowError, match=r"yosys failed: .*ERROR.*myproject_stage1") as err:
        synthesize_gates(rtl, get_board("arty-a7-100t"), tmp_path / "out", cache_dir=tmp_path / "cache")
    assert err.value.exit_code == 1
    # The failed module left no cache entry (the others may have finished and been kept).
    assert len(list((tmp_path / "cache").glob("*.json"))) <= 3
