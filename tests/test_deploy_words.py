"""The driver's words (fpga_flow/deploy/board/driver.py) against ap_fixed itself.

For model types of many widths (none of them 8/16/32), signed and unsigned, with every
rounding and overflow mode, the word the driver packs from a double must equal the word
C++ makes (the double converted to the model type by ap_fixed, then to the word type),
and the value the driver reads from a word must equal ap_fixed's ``to_double()``. The
harness is compiled with g++ against hls4ml's ap_types, like the C-simulation.
"""

from __future__ import annotations

import ast
import ctypes
import json
import math
import subprocess
from pathlib import Path

import hls4ml
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from fpga_flow.deploy import board as board_files
from fpga_flow.deploy.board import driver
from fpga_flow.deploy.board.driver import FixedPoint, StreamPort
from fpga_flow.deploy.project import ALVEO, ZYNQ, word_type
from fpga_flow.errors import UserInputError

AP_TYPES = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"

# (width, integer, signed, rounding, overflow): every mode appears; widths reach 1 and 64,
# integer bits go negative and beyond the width; none is 8, 16 or 32 bits wide.
MODEL_TYPES = [
    FixedPoint(5, 1, False, "RND", "SAT"),        # cnn_digits' input
    FixedPoint(11, 1, False, "RND", "SAT"),       # a softmax output
    FixedPoint(18, 6, True, "RND", "SAT"),        # gru_digits' input
    FixedPoint(5, 1, True, "TRN", "WRAP"),
    FixedPoint(6, 3, True, "RND_CONV", "SAT_SYM"),
    FixedPoint(12, -2, True, "TRN_ZERO", "WRAP"),
    FixedPoint(7, 9, False, "RND_INF", "SAT_ZERO"),
    FixedPoint(24, 12, True, "RND_ZERO", "SAT"),
    FixedPoint(31, 31, True, "RND_MIN_INF", "WRAP"),
    FixedPoint(13, 5, True, "RND_INF", "SAT_SYM"),
    FixedPoint(1, 1, True, "RND", "SAT"),
    FixedPoint(1, 0, False, "RND_CONV", "WRAP"),
    FixedPoint(20, 4, False, "TRN_ZERO", "SAT_SYM"),
    FixedPoint(40, 20, True, "RND_CONV", "SAT"),     # 64-bit words from here on
    FixedPoint(53, 2, True, "RND", "WRAP"),
    FixedPoint(63, 10, False, "TRN", "SAT_SYM"),
    FixedPoint(64, 40, True, "RND_MIN_INF", "SAT_ZERO"),
    FixedPoint(64, 64, False, "TRN", "WRAP"),
]


def harness(types: list[FixedPoint]) -> str:
    parts = ["#include <cstddef>\n#include <cstdint>\n#include \"ap_fixed.h\"\n"]
    for k, model in enumerate(types):
        word = word_type(model, ZYNQ)
        parts.append(f"""
typedef {model.cpp()} model_{k};
typedef {word.cpp()} word_{k};
extern "C" void encode_{k}(const double *x, std::size_t n, std::uint64_t *out) {{
    for (std::size_t i = 0; i < n; i++) {{ model_{k} q = x[i]; word_{k} w = q; out[i] = w.range(word_{k}::width - 1, 0).to_uint64(); }}
}}
extern "C" void decode_{k}(const std::uint64_t *words, std::size_t n, double *out) {{
    for (std::size_t i = 0; i < n; i++) {{ word_{k} w; w.range(word_{k}::width - 1, 0) = ap_uint<64>(words[i]); out[i] = w.to_double(); }}
}}
""")
    return "".join(parts)


@pytest.fixture(scope="module")
def ap_fixed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ap_fixed")
    (folder / "harness.cpp").write_text(harness(MODEL_TYPES))
    library = folder / "harness.so"
    subprocess.run(["g++", "-O1", "-std=c++17", "-fPIC", "-shared", f"-I{AP_TYPES}", "harness.cpp", "-o", str(library)],
                   cwd=folder, check=True, capture_output=True)
    return ctypes.CDLL(str(library))


def cpp_words(lib, k: int, x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.zeros(len(x), dtype=np.uint64)
    getattr(lib, f"encode_{k}")(x.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(len(x)), out.ctypes.data_as(ctypes.c_void_p))
    return out


def cpp_values(lib, k: int, words: np.ndarray) -> np.ndarray:
    words = np.ascontiguousarray(words, dtype=np.uint64)
    out = np.zeros(len(words), dtype=np.float64)
    getattr(lib, f"decode_{k}")(words.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(len(words)),
                                out.ctypes.data_as(ctypes.c_void_p))
    return out


def port(model: FixedPoint) -> StreamPort:
    return StreamPort(model, word_type(model, ZYNQ), 1)


@st.composite
def typed_doubles(draw):
    """A type and doubles around its grid: steps, exact ties, just off ties, beyond its range."""
    k = draw(st.integers(0, len(MODEL_TYPES) - 1))
    t = MODEL_TYPES[k]
    offsets = st.sampled_from([0.0, 0.5, -0.5, 0.25, 1e-6, -1e-6, 0.5 + 1e-6, 0.5 - 1e-6])
    near_grid = st.builds(lambda step, offset: math.ldexp(step + offset, -t.fractional),
                          st.integers(-(2 ** (t.width + 1)), 2 ** (t.width + 1)), offsets)
    anywhere = st.floats(-1e30, 1e30, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 2.0**-200)
    values = draw(st.lists(st.one_of(near_grid, anywhere), min_size=1, max_size=40))
    return k, np.array(values, dtype=np.float64)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=typed_doubles())
def test_packed_words_equal_ap_fixed_conversion(ap_fixed, case):
    k, x = case
    expected = cpp_words(ap_fixed, k, x)
    packed = driver.to_words(driver.quantize(x, MODEL_TYPES[k]), port(MODEL_TYPES[k]))
    assert packed.tolist() == expected.tolist(), (MODEL_TYPES[k], x[packed != expected])


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.integers(0, len(MODEL_TYPES) - 1), raw=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40))
def test_word_values_equal_ap_fixed_to_double(ap_fixed, k, raw):
    word = word_type(MODEL_TYPES[k], ZYNQ)
    words = np.array(raw, dtype=np.uint64) & np.uint64((1 << word.width) - 1)
    assert driver.word_values(words, word).tolist() == cpp_values(ap_fixed, k, words).tolist()


@pytest.mark.slow
def test_a_wrong_type_is_caught_by_the_harness(ap_fixed):
    """The comparison can fail: one integer bit off gives different words."""
    k = 0
    x = np.linspace(0.0, 1.0, 33)
    t = MODEL_TYPES[k]
    shifted = FixedPoint(t.width, t.integer + 1, t.signed, t.rounding, t.overflow)
    packed = driver.to_words(driver.quantize(x, shifted), port(shifted))
    assert packed.tolist() != cpp_words(ap_fixed, k, x).tolist()


def test_word_type_keeps_integer_bits_and_widens_to_32_or_64():
    assert word_type(FixedPoint(5, 1, False, "RND", "SAT"), ZYNQ) == FixedPoint(32, 1, False, "RND", "SAT")
    assert word_type(FixedPoint(32, 7, True), ALVEO).width == 32
    assert word_type(FixedPoint(33, 7, True), ZYNQ) == FixedPoint(64, 7, True)
    with pytest.raises(UserInputError, match="32-bit words of hls4ml's Alveo kernel"):
        word_type(FixedPoint(33, 7, True), ALVEO)


def test_a_word_type_must_carry_the_model_type_exactly():
    model = FixedPoint(11, 1, False, "RND", "SAT")
    for word in (FixedPoint(32, 2, False, "RND", "SAT"), FixedPoint(32, 1, True, "RND", "SAT"), FixedPoint(24, 1, False),
                 FixedPoint(8, 1, False)):
        with pytest.raises(ValueError, match="cannot carry"):
            StreamPort(model, word, 1)


def test_pack_and_unpack_multi_word_samples():
    model = FixedPoint(6, 3, True, "RND", "SAT")
    p = StreamPort(model, word_type(model, ZYNQ), 4)
    X = np.array([[[0.5, -1.25], [3.875, -4.0]], [[100.0, -100.0], [0.0625, -0.0625]]])
    words = driver.pack(X, p)
    assert words.dtype == np.uint32 and words.shape == (8,)
    # ap_fixed<6,3> steps of 1/8: 0.0625 ties round up to 0.125 and -0.0625 to 0; 100 saturates to 3.875.
    assert driver.unpack(words, p).tolist() == [[0.5, -1.25, 3.875, -4.0], [3.875, -4.0, 0.125, 0.0]]
    # -1.25 in ap_fixed<6,3> is -10 eighths; in a 32-bit word with the same 3 integer bits it is -10 * 2**26.
    assert int(words[1]) == (-10 * 2**26) & 0xFFFFFFFF
    with pytest.raises(ValueError, match="the accelerator takes 4"):
        driver.pack(np.zeros((2, 3)), p)
    with pytest.raises(ValueError, match="finite"):
        driver.pack(np.array([[np.nan, 0, 0, 0]]), p)


def test_manifest_schema_round_trips_through_pydantic_and_the_board_reader():
    model = FixedPoint(11, 1, False, "RND", "SAT")
    manifest = driver.BundleManifest(
        schema_version=driver.BUNDLE_SCHEMA_VERSION, bundle_id="b1", model="m", board="pynq-z2", accelerator_board="pynq-z2",
        kind=ZYNQ, project="myproject", input_shape=[8, 8, 1], input=port(FixedPoint(5, 1, False, "RND", "SAT")),
        output=StreamPort(model, word_type(model, ZYNQ), 10), overlay="overlay/myproject.bit", max_batch=7,
        n_samples=3, created_utc="2025-01-01T00:00:00+00:00", versions={"hls4ml": "1.3.0", "gxx": None},
        provenance=driver.Provenance(run_dir="/runs/x", run_id="x", run_backend="VivadoAccelerator",
                                     csim_values_matched=30, run_csim="linked", firmware_identical_to_run=True))
    adapter = TypeAdapter(driver.BundleManifest)
    text = adapter.dump_json(manifest)
    assert driver.BundleManifest.from_dict(json.loads(text)) == manifest == adapter.validate_json(text)
    with pytest.raises(ValidationError, match="max_batch"):
        adapter.validate_python({**json.loads(text), "max_batch": "many"})
    document = json.loads(text)
    document["provenance"]["signed_by"] = "someone"  # a field no one defined is refused, not dropped
    with pytest.raises(ValidationError, match="signed_by"):
        adapter.validate_python(document)


@pytest.mark.parametrize("name", ["driver.py", "check_on_board.py"])
def test_board_files_parse_as_python_3_8(name):
    """PYNQ 2.7 images run Python 3.8: the files shipped to the board must parse there."""
    source = (Path(board_files.__file__).parent / name).read_text()
    ast.parse(source, feature_version=(3, 8))
    with pytest.raises(SyntaxError):
        ast.parse("def f(x: int | None): ...\nmatch x:\n    case 1: pass\n", feature_version=(3, 8))
