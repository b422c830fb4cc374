"""The board catalogue: schema, user boards, errors, and the totals checked against the
AvailableResources of every real csynth report in ../shared for the same part."""

from __future__ import annotations

import re
from pathlib import Path

import defusedxml.ElementTree as ET
import pytest

from conftest import SHARED, run_cli
from fpga_flow.boards import BOARDS_DIR_ENV, SHIPPED_BOARDS_DIR, get_board, load_boards
from fpga_flow.errors import BoardConfigError

REQUIRED = ("pynq-z2", "zcu102", "zcu104", "kv260", "ultra96-v2", "arty-a7-100t",
            "alveo-u50", "alveo-u250", "alveo-u280", "vcu118")


def normalize_part(part: str) -> str:
    return re.sub(r"[^a-z0-9]", "", part.lower())


def csynth_available(path: Path) -> tuple[str, dict[str, int]] | None:
    root = ET.parse(path).getroot()
    part = root.findtext(".//UserAssignments/Part") or root.findtext(".//Part")
    available = root.find(".//AvailableResources")
    if part is None or available is None:
        return None
    values = {child.tag: int(child.text) for child in available if child.text and child.text.strip().isdigit()}
    return part, {
        "LUT": values.get("LUT"), "FF": values.get("FF"), "DSP": values.get("DSP", values.get("DSP48E")),
        "BRAM_18K": values.get("BRAM_18K", values.get("BRAM")), "URAM": values.get("URAM"),
    }


def test_catalogue_has_the_required_boards():
    boards = load_boards()
    assert len(boards) >= 10
    assert set(REQUIRED) <= set(boards)


def test_totals_equal_every_shared_csynth_report_for_the_same_part():
    by_part = {normalize_part(b.part): b for b in load_boards().values()}
    matched = 0
    for path in sorted((SHARED / "vendor_reports").rglob("*.xml")):
        if "csynth" not in path.name:
            continue
        found = csynth_available(path)
        if found is None or normalize_part(found[0]) not in by_part:
            continue
        part, available = found
        board = by_part[normalize_part(part)]
        for key, value in available.items():
            if value is not None:
                assert getattr(board.resources, key) == value, f"{board.name} {key} vs {path}"
        matched += 1
    assert matched >= 8, "the shared reports should cover several catalogue parts"


def test_a_user_board_folder_adds_and_overrides(tmp_path, monkeypatch):
    text = (SHIPPED_BOARDS_DIR / "pynq-z2.yaml").read_text()
    (tmp_path / "mine.yaml").write_text(text.replace("name: pynq-z2", "name: my-board"))
    (tmp_path / "pynq.yaml").write_text(text.replace("clock_period_ns: 10.0", "clock_period_ns: 8.0"))
    assert get_board("my-board", tmp_path).part == "xc7z020clg400-1"
    assert get_board("pynq-z2", tmp_path).clock_period_ns == 8.0
    monkeypatch.setenv(BOARDS_DIR_ENV, str(tmp_path))
    assert "my-board" in load_boards()


@pytest.mark.parametrize("text, needle", [
    ("name: x\n  part: [", "not valid YAML"),
    ("name: bad\nvendor: AMD\nfamily: zynq\nclock_period_ns: 10\nbackend: Vivado\n"
     "resources: {LUT: 1, FF: 1, DSP: 0, BRAM_18K: 0, URAM: 0}\n", "field 'part'"),
    ("name: bad\nvendor: AMD\npart: xc7z020clg400-1\nfamily: zynq\nclock_period_ns: fast\nbackend: Vivado\n"
     "resources: {LUT: 1, FF: 1, DSP: 0, BRAM_18K: 0, URAM: 0}\n", "field 'clock_period_ns'"),
])
def test_a_malformed_board_names_the_file_and_field(tmp_path, text, needle):
    (tmp_path / "broken.yaml").write_text(text)
    with pytest.raises(BoardConfigError) as err:
        load_boards(tmp_path)
    assert "broken.yaml" in str(err.value) and needle in str(err.value)


def test_an_unknown_board_suggests_close_names():
    with pytest.raises(BoardConfigError) as err:
        get_board("zcu10")
    assert "zcu102" in str(err.value) and "zcu104" in str(err.value)


@pytest.mark.parametrize("columns", [80, 160])
def test_the_board_table_shows_every_name_and_figure_whole_in_the_terminal_width(columns):
    """At 80 columns the catalogue does not fit one table: it is printed as two whole ones
    (device, resources) rather than cut to slivers; wide enough, as one."""
    result = run_cli("boards", env={"COLUMNS": str(columns)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert "…" not in result.stdout
    for board in load_boards().values():
        for text in (board.name, board.part, board.backend, f"{board.resources.LUT:,}", f"{board.resources.FF:,}"):
            assert text in result.stdout, (columns, text)
    titles = [line.strip() for line in lines if "boards" in line]
    count = len(load_boards())
    assert titles == ([f"{count} boards: device"] if columns == 80 else [f"{count} boards"])
