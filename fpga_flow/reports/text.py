"""Reading report files, and the two table layouts vendor text reports use.

Pipe tables (``+----+``/``|  |``, Vivado and HLS) are read by column header, never by
position: a header cell that spans several columns (``Latency (cycles)`` over
``min | max``) is joined to each column below it, so a column is named
``Latency (cycles) min`` whatever its place. Dash tables (``report_timing_summary``)
are a header line over a line of dash runs, one run per column. Every function here
is linear in the size of its input.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from fpga_flow.reports.model import ReportParseError

MAX_REPORT_BYTES = 256 * 1024 * 1024
_SEPARATORS = "|+"


def read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise ReportParseError(path, f"{size} bytes is larger than any vendor report this reads ({MAX_REPORT_BYTES})")
        return path.read_bytes()
    except OSError as exc:
        raise ReportParseError(path, f"cannot read the file ({exc.strerror or exc})") from None


def decode(data: bytes) -> str:
    """Text of a report: UTF-8 (a BOM dropped), undecodable bytes replaced, never an error."""
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def norm_key(text: str) -> str:
    """Header text compared without case or spaces: 'Latency (cycles) min' -> 'latency(cycles)min'."""
    return re.sub(r"\s+", "", text).lower()


@dataclass(frozen=True)
class Table:
    """A text table: column names (joined header cells) and body rows of stripped cells.

    ``raw_rows`` keep each first cell unstripped, whose indentation is the hierarchy
    depth in several reports.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    raw_first_cells: tuple[str, ...]
    first_line: int

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(norm_key(column) for column in self.columns)

    def find(self, *parts: str, exclude: Iterable[str] = ()) -> int | None:
        """Index of the first column whose normalized name contains every ``parts`` and none of ``exclude``."""
        excluded = tuple(exclude)
        for index, key in enumerate(self.keys):
            if all(part in key for part in parts) and not any(word in key for word in excluded):
                return index
        return None

    def find_exact(self, *names: str) -> int | None:
        keys = self.keys
        for name in names:
            if name in keys:
                return keys.index(name)
        return None

    def cell(self, row: Sequence[str], index: int | None) -> str | None:
        if index is None or index >= len(row):
            return None
        return row[index]

    def row_named(self, name: str, column: int = 0) -> tuple[str, ...] | None:
        """The first body row whose ``column`` cell is exactly ``name`` (case-insensitive)."""
        wanted = name.lower()
        for row in self.rows:
            if column < len(row) and row[column].lower() == wanted:
                return row
        return None


def _is_table_line(stripped: str) -> bool:
    return len(stripped) >= 2 and stripped[0] in _SEPARATORS and stripped[-1] in _SEPARATORS


def _is_border(stripped: str) -> bool:
    return stripped[0] == "+" and not stripped.strip("+-=")


def _separators(line: str) -> list[int]:
    return [index for index, char in enumerate(line) if char in _SEPARATORS]


def _header_names(header: list[str]) -> tuple[list[str], list[tuple[int, int]]]:
    # Real headers have at most three lines; bounding them keeps a malformed table linear.
    header = header[-4:]
    last = header[-1]
    seps = _separators(last)
    spans = list(zip(seps, seps[1:]))
    line_seps = [_separators(line) for line in header]
    names = []
    for start, _ in spans:
        parts = []
        for line, positions in zip(header, line_seps):
            left_index = bisect.bisect_right(positions, start) - 1
            if left_index < 0 or left_index + 1 >= len(positions):
                continue
            text = line[positions[left_index] + 1:positions[left_index + 1]].strip()
            if text and text.strip("-="):
                parts.append(text)
        names.append(" ".join(parts))
    return names, spans


def _split_row(line: str, width: int, spans: list[tuple[int, int]]) -> tuple[list[str], str]:
    stripped = line.strip()
    cells = stripped[1:-1].split("|")
    if width and len(cells) != width and spans and len(line) >= spans[-1][1]:
        # A cell holding a '|' of its own: fall back to the header's column positions.
        cells = [line[start + 1:end] for start, end in spans]
    raw_first = cells[0] if cells else ""
    return [cell.strip() for cell in cells], raw_first


def _table(block: list[str], first_line: int) -> Table:
    lines = [line.rstrip() for line in block]
    borders = [index for index, line in enumerate(lines) if _is_border(line.strip())]
    header: list[str] = []
    body_start = 0
    # Two borders only, first and last line: a key/value table without a header.
    headerless = len(borders) == 2 and borders[0] == 0 and borders[1] == len(lines) - 1
    if borders and borders[0] == 0 and len(borders) >= 2 and not headerless:
        header = lines[1:borders[1]]
        body_start = borders[1] + 1
    names, spans = _header_names(header) if header else ([], [])
    rows, raw_first = [], []
    for line in lines[body_start:]:
        stripped = line.strip()
        if _is_border(stripped) or stripped[0] != "|":
            continue
        cells, first = _split_row(line, len(names), spans)
        rows.append(tuple(cells))
        raw_first.append(first)
    return Table(tuple(names), tuple(rows), tuple(raw_first), first_line)


def pipe_tables(lines: Sequence[str]) -> list[Table]:
    """Every ``+---+``/``|...|`` table in ``lines``, in order."""
    tables = []
    index, count = 0, len(lines)
    while index < count:
        if not _is_table_line(lines[index].strip()):
            index += 1
            continue
        end = index
        while end < count and _is_table_line(lines[end].strip()):
            end += 1
        tables.append(_table(list(lines[index:end]), index))
        index = end
    return tables


@dataclass(frozen=True)
class DashTable:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def dash_table(lines: Sequence[str], header_index: int, by_words: bool = True) -> DashTable:
    """The table whose header is ``lines[header_index]`` and dash runs the line below;
    rows run to the first blank line. Cells are whitespace-separated words when
    ``by_words`` and their count matches the columns, else the text under each dash run."""
    if header_index + 1 >= len(lines):
        return DashTable((), ())
    header, dashes = lines[header_index], lines[header_index + 1]
    spans = [match.span() for match in re.finditer(r"-+", dashes)]
    columns = tuple(header[start:end].strip() for start, end in spans)
    rows = []
    for line in lines[header_index + 2:]:
        if not line.strip():
            break
        words = line.split()
        if by_words and len(words) == len(columns):
            rows.append(tuple(words))
        else:
            rows.append(tuple(line[start:end].strip() for start, end in spans))
    return DashTable(columns, tuple(rows))


def colon_fields(lines: Iterable[str], prefixes: str = "|*-#") -> dict[str, str]:
    """``Key : value`` lines (optionally after a '|', '*', '-' or '#' bullet) -> {key: value}; the first wins."""
    fields: dict[str, str] = {}
    for line in lines:
        text = line.strip().lstrip(prefixes).strip()
        key, sep, value = text.partition(":")
        key = key.strip()
        if sep and key and len(key) <= 60 and key not in fields:
            fields[key] = value.strip()
    return fields
