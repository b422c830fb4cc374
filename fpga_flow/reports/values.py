"""Cell values as vendor reports write them, read into numbers or None.

Reports mark a value they do not know as ``undef``, ``?``, ``NA``, ``-``, ``N/A``,
``TBD`` or leave it blank, and a share too small to print as ``~0``: all of these read
as None, never as 0.
"""

from __future__ import annotations

import math
import re

UNKNOWN_MARKERS = frozenset({"", "-", "?", "undef", "na", "n/a", "~0", "tbd", "none", "---", "unknown", "nan"})

# Bounded digit counts keep int() away from Python's 4300-digit conversion limit.
_INT = re.compile(r"[+-]?\d{1,30}")
_FLOAT = re.compile(r"[+-]?(?:\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})(?:[eE][+-]?\d{1,3})?")
_TIME = re.compile(r"([+-]?(?:\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})(?:[eE][+-]?\d{1,3})?)\s*(ps|ns|us|ms|s|sec)?")
_COUNT_PCT = re.compile(r"([+-]?\d{1,30})\s*\(\s*(~?<?\s*[\d.]{1,30})\s*%\s*\)")
_NS_PER_UNIT = {None: 1.0, "ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9, "sec": 1e9}


def is_unknown(text: str | None) -> bool:
    return text is None or text.strip().lower() in UNKNOWN_MARKERS


def to_int(text: str | None) -> int | None:
    """``'1,234'`` -> 1234; a float with no fraction (``'15.0'``) reads as an int; else None."""
    if text is None:
        return None
    cleaned = text.strip().replace(",", "").rstrip("*").strip()
    if _INT.fullmatch(cleaned):
        return int(cleaned)
    value = to_float(cleaned)
    if value is not None and value.is_integer():
        return int(value)
    return None


def to_float(text: str | None) -> float | None:
    if text is None:
        return None
    cleaned = text.strip().replace(",", "")
    if not _FLOAT.fullmatch(cleaned):
        return None
    value = float(cleaned)
    return value if math.isfinite(value) else None


def to_ns(text: str | None) -> float | None:
    """``'75.000 ns'``, ``'1.975 us'``, ``'5.00'`` (ns when no unit is written) -> ns."""
    if text is None:
        return None
    match = _TIME.fullmatch(text.strip().replace(",", ""))
    if not match:
        return None
    value = float(match.group(1)) * _NS_PER_UNIT[match.group(2)]
    return round(value, 6) if math.isfinite(value) else None


def to_pct(text: str | None) -> float | None:
    """``'12%'``, ``'37.37'`` -> a percentage; ``'~0'`` and ``'<0.01'`` (bounds, not values) -> None."""
    if text is None:
        return None
    cleaned = text.strip().rstrip("%").strip()
    if cleaned.startswith(("~", "<")):
        return None
    return to_float(cleaned)


def count_and_pct(text: str | None) -> tuple[int | None, float | None]:
    """``'493 (~0%)'`` or ``'19879(37.37%)'`` -> (493, None) / (19879, 37.37); ``'-'`` -> (None, None)."""
    if text is None:
        return None, None
    match = _COUNT_PCT.fullmatch(text.strip())
    if match:
        return int(match.group(1)), to_pct(match.group(2))
    return to_int(text), None


def to_bool(text: str | None) -> bool | None:
    lowered = (text or "").strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    return None


def non_negative(value: int | None) -> int | None:
    """Cycle counts below zero are sentinels (-1, -2147483648) for 'not measured'."""
    return None if value is None or value < 0 else value


# --------------------------------------------------------------------------- part names

# Package codes of AMD devices (the letters before the pin count): needed to split
# a part written without the device-package dash, such as 'xcu250figd2104-2L'.
_PACKAGE = re.compile(
    r"(?:c[lps]g|csga?|cpg|fbg|fbv|ffg|ffr|ffv[a-z]?|fg[ag]|fh[ag]|fig[a-z]?|flg[a-z]?|fsg[a-z]?|fsv[a-z]?|ftg|"
    r"nsv[a-z]?|lsv[a-z]?|rb|rf|rs|sbg|sbv[a-z]?|sfv[a-z]?|ubv[a-z]?|vfv[a-z]?|vsv[a-z]?)\d{2,4}"
)
_AMD_PREFIX = re.compile(r"x[caq]\w")
# UltraScale+ low-voltage speed grades come in one temperature grade each (DS922,
# DS923, DS925, DS962): -1L only as -1LI (industrial), -2L only as -2LE (extended).
_ULTRASCALE_PLUS = re.compile(r"xc(?:u\d|vu\d+p|zu\d|ku\d+p|au\d)")
_L_GRADE_TEMPERATURE = {"1l": "i", "2l": "e"}


def _split_part(part: str) -> tuple[str, str | None, str | None, list[str]] | None:
    """(device, package, speed grade, further suffixes) of an AMD part, lowercase."""
    text = part.strip().lower()
    if not text:
        return None
    if text[0].isdigit() and "-" in text:
        # report_utilization and report_timing_summary drop the 'xc' prefix ('7z020clg400-1').
        text = "xc" + text
    if not _AMD_PREFIX.match(text):
        return None
    head, _, rest = text.partition("-")
    suffixes = [piece for piece in rest.split("-") if piece] if rest else []
    package = None
    match = None
    for match in _PACKAGE.finditer(head):
        pass
    if match is not None and match.end() == len(head) and match.start() > 2:
        device, package = head[:match.start()], head[match.start():]
    elif suffixes and _PACKAGE.fullmatch(suffixes[0]):
        device, package = head, suffixes.pop(0)
    else:
        device = head
    speed = suffixes.pop(0) if suffixes else None
    return device, package, speed, suffixes


def normalize_part(part: str | None) -> str | None:
    """One spelling per AMD part, the one HLS reports use: ``xcu250figd2104-2L`` ->
    ``xcu250-figd2104-2L-e``, ``7z020clg400-1`` -> ``xc7z020-clg400-1``,
    ``XCU250-FIGD2104-2L-E`` -> ``xcu250-figd2104-2L-e``.

    The temperature grade is added only where the speed grade implies it; Intel
    device names (no speed-grade dash) come back upper-cased, anything else stripped.
    """
    if part is None:
        return None
    parsed = _split_part(part)
    if parsed is None:
        text = part.strip()
        return text.upper() if re.fullmatch(r"[0-9A-Za-z]{6,30}", text) and not text.lower().startswith("x") else text or None
    device, package, speed, suffixes = parsed
    if "_" in device:
        base, _, variant = device.partition("_")
        device = f"{base}_{variant.upper()}"
    pieces = [device]
    if package:
        pieces.append(package)
    if speed:
        pieces.append(speed.upper())
        if not suffixes and _ULTRASCALE_PLUS.match(device) and speed in _L_GRADE_TEMPERATURE:
            suffixes = [_L_GRADE_TEMPERATURE[speed]]
    if suffixes:
        pieces.append(suffixes[0].lower())
        pieces.extend(piece.upper() for piece in suffixes[1:])
    return "-".join(pieces)


def same_part(first: str | None, second: str | None) -> bool:
    """True when two spellings name the same part; a missing speed or temperature grade
    (report headers often leave them out) matches any."""
    if not first or not second:
        return False
    a, b = _split_part(first), _split_part(second)
    if a is None or b is None:
        return re.sub(r"[^a-z0-9]", "", first.lower()) == re.sub(r"[^a-z0-9]", "", second.lower())
    if a[0] != b[0] or (a[1] and b[1] and a[1] != b[1]):
        return False
    if a[2] and b[2] and a[2] != b[2]:
        return False
    norm_a, norm_b = normalize_part(first) or "", normalize_part(second) or ""
    temp_a = norm_a.split("-")[3:4]
    temp_b = norm_b.split("-")[3:4]
    return not (temp_a and temp_b and temp_a != temp_b)
