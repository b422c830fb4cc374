"""fpga_flow.emulate.arith against hls4ml's ap_types compiled with g++: casts between
random types in every rounding and overflow mode, conversions from doubles, products
and sums, word for word."""

from __future__ import annotations

import subprocess
from pathlib import Path

import hls4ml
import numpy as np
import pytest

from fpga_flow.emulate import arith
from fpga_flow.fixed import FixedType

AP_TYPES = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
SEED = 20240614


def cpp(t: FixedType) -> str:
    return f"ap_{'' if t.signed else 'u'}fixed<{t.width},{t.integer},AP_{t.rounding},AP_{t.overflow}>"


def random_type(rng, max_width: int = 40, modes: bool = True) -> FixedType:
    width = int(rng.integers(1, max_width + 1))
    signed = bool(rng.integers(0, 2))
    integer = int(rng.integers(-4, width + 5))
    rounding = str(rng.choice(arith.ROUNDING_MODES)) if modes else "TRN"
    overflow = str(rng.choice(arith.OVERFLOW_MODES)) if modes else "WRAP"
    return FixedType(width, integer, signed, rounding, overflow)


def castable(source: FixedType, target: FixedType) -> bool:
    """ap_types asserts (reads a bit beyond the MSB) when a rounding cast drops more bits
    than the source has; no compiled design does that, so the probe leaves it out."""
    return source.fractional - target.fractional <= source.width


def random_words(rng, t: FixedType, n: int) -> np.ndarray:
    lo, hi = arith.raw_bounds(t)
    edges = np.array([lo, hi, 0, lo + 1, hi - 1, (lo + hi) // 2], dtype=np.int64).clip(lo, hi)
    return np.concatenate([edges, rng.integers(lo, hi + 1, size=n - len(edges), dtype=np.int64)])


def run_cpp(tmp_path: Path, body: str) -> list[float]:
    source = tmp_path / "probe.cpp"
    source.write_text('#include <cstdio>\n#include "ap_fixed.h"\nint main() {\n' + body + "return 0;\n}\n")
    binary = tmp_path / "probe"
    subprocess.run(["g++", "-O0", "-std=c++14", f"-I{AP_TYPES}", str(source), "-o", str(binary)], check=True)
    out = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    return [float(v) for v in out.split()]


def emit(expr_type: str, expr: str) -> str:
    return f'{{ {expr_type} r = {expr}; std::printf("%.17g\\n", r.to_double()); }}\n'


@pytest.mark.slow
def test_casts_products_sums_and_double_conversion_match_ap_types(tmp_path):
    rng = np.random.default_rng(SEED)
    body, expected = [], []
    for _ in range(48):  # casts between random types, every mode
        source, target = random_type(rng, modes=False), random_type(rng)
        while not castable(source, target):
            target = random_type(rng)
        for word in random_words(rng, source, 24):
            value = float(arith.to_float(np.array([word]), source)[0])
            body.append(emit(cpp(target), f"{cpp(target)}({cpp(source)}({value!r}))"))
            expected.append(float(arith.to_float(arith.cast(np.array([word]), source, target), target)[0]))
    for _ in range(24):  # doubles off the grid, into every mode
        target = random_type(rng)
        for value in rng.normal(0, 2.0 ** (target.integer - 1), size=16):
            body.append(emit(cpp(target), f"{cpp(target)}(double({float(value)!r}))"))
            expected.append(float(arith.to_float(arith.from_float(np.array([value]), target), target)[0]))
    for _ in range(24):  # exact products and sums, then a cast
        a, b, target = random_type(rng, 24, False), random_type(rng, 24, False), random_type(rng)
        for x, y in zip(random_words(rng, a, 8), random_words(rng, b, 8)):
            xv = float(arith.to_float(np.array([x]), a)[0])
            yv = float(arith.to_float(np.array([y]), b)[0])
            p, pt = arith.product(np.array([x]), a, np.array([y]), b)
            s, st = arith.add(np.array([x]), a, np.array([y]), b)
            d, dt = arith.subtract(np.array([x]), a, np.array([y]), b)
            for raw, t, op in ((p, pt, "*"), (s, st, "+"), (d, dt, "-")):
                if not castable(t, target):
                    continue
                body.append(emit(cpp(target), f"{cpp(target)}({cpp(a)}({xv!r}) {op} {cpp(b)}({yv!r}))"))
                expected.append(float(arith.to_float(arith.cast(raw, t, target), target)[0]))
    got = run_cpp(tmp_path, "".join(body))
    mismatches = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert len(got) == len(expected)
    assert not mismatches, f"{len(mismatches)} of {len(got)} differ, first: {mismatches[:5]}"


def test_round_half_modes_on_known_values():
    """Hand-derived: 2.5, -2.5, 2.25, -2.75 with one fractional bit dropped to integers."""
    t = lambda q: FixedType(8, 8, True, q, "WRAP")  # noqa: E731
    raw = np.array([5, -5, 4, -11], dtype=np.int64)  # 2.5, -2.5, 2.0, -5.5 at 1 fractional bit
    expected = {
        "TRN": [2, -3, 2, -6], "TRN_ZERO": [2, -2, 2, -5], "RND": [3, -2, 2, -5], "RND_ZERO": [2, -2, 2, -5],
        "RND_MIN_INF": [2, -3, 2, -6], "RND_INF": [3, -3, 2, -6], "RND_CONV": [2, -2, 2, -6],
    }
    for mode, want in expected.items():
        assert arith.quantize_raw(raw, 1, t(mode)).tolist() == want, mode


def test_overflow_modes_on_known_values():
    raw = np.array([200, -200, 127, -128], dtype=np.int64)  # integers into 8 signed bits
    assert arith.quantize_raw(raw, 0, FixedType(8, 8, True, "TRN", "WRAP")).tolist() == [-56, 56, 127, -128]
    assert arith.quantize_raw(raw, 0, FixedType(8, 8, True, "TRN", "SAT")).tolist() == [127, -128, 127, -128]
    assert arith.quantize_raw(raw, 0, FixedType(8, 8, True, "TRN", "SAT_ZERO")).tolist() == [0, 0, 127, -128]
    assert arith.quantize_raw(raw, 0, FixedType(8, 8, True, "TRN", "SAT_SYM")).tolist() == [127, -127, 127, -127]
    assert arith.quantize_raw(raw, 0, FixedType(8, 8, False, "TRN", "SAT")).tolist() == [200, 0, 127, 0]


def test_words_beyond_int64_are_exact_python_integers():
    a = np.array([(1 << 40) + 3], dtype=np.int64)
    t = FixedType(42, 10, True)
    p, pt = arith.product(a, t, a, t)
    assert p.dtype == object and int(p[0]) == ((1 << 40) + 3) ** 2
    back = arith.cast(p, pt, FixedType(84, 20, True))
    assert int(back[0]) == ((1 << 40) + 3) ** 2


@pytest.mark.slow
def test_a_cast_the_c_simulation_aborts_on_is_refused(tmp_path):
    """Rounding a 2-bit word down by 3 bits: ap_types reads a bit beyond the MSB and
    asserts, so the C simulation dies; the emulator says so instead of inventing a value."""
    source, target = FixedType(2, -10), FixedType(12, 3, True, "RND_CONV", "SAT")
    program = tmp_path / "abort.cpp"
    program.write_text('#include "ap_fixed.h"\nint main() {\n'
                       f"  {cpp(source)} b = {float(arith.to_float(np.array([1]), source)[0])!r};\n"
                       f"  {cpp(target)} a = b;\n  return a.to_double() > 1;\n}}\n")
    subprocess.run(["g++", "-O0", f"-I{AP_TYPES}", str(program), "-o", str(tmp_path / "abort")], check=True)
    assert subprocess.run([str(tmp_path / "abort")], capture_output=True).returncode < 0  # killed by SIGABRT
    with pytest.raises(arith.CastAborts, match="drops 3 bits of a 2-bit word"):
        arith.cast(np.array([1]), source, target)
    # truncation never reads the dropped bits: that cast runs (and floors)
    assert arith.cast(np.array([1]), source, FixedType(12, 3)).tolist() == [0]
