"""fpga_flow.emulate.tables against hls4ml's own table initializers (nnet_activation.h)
compiled with g++: every entry of every table, for several sizes and types."""

from __future__ import annotations

import subprocess
from pathlib import Path

import hls4ml
import numpy as np
import pytest

from fpga_flow.emulate import arith, tables
from fpga_flow.fixed import FixedType

TEMPLATES = Path(hls4ml.__file__).parent / "templates" / "vivado"

UNARY = {
    "sigmoid": tables.sigmoid_table,
    "tanh": tables.tanh_table,
    "softplus": tables.softplus_table,
    "softsign": tables.softsign_table,
    "elu": tables.elu_table,
}
TABLE_TYPES = (FixedType(18, 8), FixedType(10, 2, True, "RND", "SAT"), FixedType(24, 1, False, "RND_CONV", "SAT"))
# (index type, table size, exp_scale, negative): the stable softmax addresses its exp
# table by an unsigned spread, the latency one by the signed input
EXP_CASES = ((FixedType(18, 4, False), 1024, 1.0, True), (FixedType(16, 6), 1024, 1.0, False),
             (FixedType(35, 15, False), 256, 0.5, True))
INV_CASES = ((FixedType(18, 8, True, "RND", "SAT"), 1024), (FixedType(18, 5, True, "RND", "SAT"), 4096))


def cpp(t: FixedType) -> str:
    return f"ap_{'' if t.signed else 'u'}fixed<{t.width},{t.integer},AP_{t.rounding},AP_{t.overflow}>"


def dump(name: str, table_type: FixedType, size: int, call: str, scale: float = 1.0) -> tuple[str, str]:
    """A config struct (namespace scope) and the code printing the table ``call`` fills."""
    config = (f"struct {name} : nnet::activ_config {{ static const unsigned table_size = {size}; "
              f"static const unsigned exp_table_size = {size}; static const unsigned inv_table_size = {size}; "
              f"static constexpr float exp_scale = {scale!r}; typedef {cpp(table_type)} table_t; "
              f"typedef {cpp(table_type)} exp_table_t; typedef {cpp(table_type)} inv_table_t; }};\n")
    code = (f"{{ static {cpp(table_type)} t[{size}]; {call};\n"
            f'  for (int i = 0; i < {size}; i++) std::printf("%.17g\\n", t[i].to_double()); }}\n')
    return config, code


@pytest.mark.slow
def test_tables_match_hls4ml_initializers(tmp_path):
    body, expected = [], []  # expected: (label, table words, table type) in the program's order
    for k, (name, build) in enumerate(UNARY.items()):
        for j, (size, table_type) in enumerate(zip((1024, 4096, 256), TABLE_TYPES)):
            body.append(dump(f"c{k}_{j}", table_type, size, f"nnet::init_{name}_table<c{k}_{j}, {size}>(t)"))
            expected.append((f"{name} {size} {table_type}", build(size, table_type), table_type))
    for j, (index_t, size, scale, negative) in enumerate(EXP_CASES):
        table_type = TABLE_TYPES[j % len(TABLE_TYPES)]
        call = f"nnet::init_exp_table<{cpp(index_t)}, e{j}>(t, {'true' if negative else 'false'})"
        body.append(dump(f"e{j}", table_type, size, call, scale))
        expected.append((f"exp {index_t} {size}",
                         tables.exp_table(index_t, size.bit_length() - 1, table_type, scale, negative), table_type))
    for j, (index_t, size) in enumerate(INV_CASES):
        table_type = TABLE_TYPES[j]
        body.append(dump(f"v{j}", table_type, size, f"nnet::init_invert_table<{cpp(index_t)}, v{j}>(t)"))
        expected.append((f"invert {index_t} {size}",
                         tables.invert_table(index_t, size.bit_length() - 1, table_type), table_type))
    source = tmp_path / "tables.cpp"
    source.write_text('#include <cstdio>\n#include "nnet_utils/nnet_activation.h"\n' + "".join(c for c, _ in body)
                      + "int main() {\n" + "".join(code for _, code in body) + "return 0;\n}\n")
    binary = tmp_path / "tables"
    subprocess.run(["g++", "-O1", "-std=c++14", f"-I{TEMPLATES}", f"-I{TEMPLATES / 'ap_types'}", str(source),
                    "-o", str(binary)], check=True)
    got = np.array(subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.split(), dtype=float)
    offset = 0
    for label, words, table_type in expected:
        ours = arith.to_float(words, table_type)
        theirs = got[offset:offset + len(ours)]
        offset += len(ours)
        differ = np.flatnonzero(ours != theirs)
        assert differ.size == 0, \
            f"{label}: {differ.size} entries differ, first at {differ[0]}: {ours[differ[0]]} != {theirs[differ[0]]}"
    assert offset == len(got)


def test_invert_table_saturates_at_index_zero():
    """1/0 is +inf in float; a saturating table holds its maximum there, as ap_fixed does."""
    t = FixedType(18, 8, True, "RND", "SAT")
    table = tables.invert_table(FixedType(18, 8, True, "RND", "SAT"), 10, t)
    assert table[0] == arith.raw_bounds(t)[1]
    wrapped = tables.invert_table(FixedType(18, 8, True, "RND", "SAT"), 10, FixedType(18, 8))
    assert wrapped[0] == 0  # 2**1024 keeps no bits of an 18-bit word


def test_softmax_index_needs_enough_bits():
    with pytest.raises(ValueError, match="cannot be addressed"):
        tables.softmax_index_value(FixedType(8, 4, False), 10)
