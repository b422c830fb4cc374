"""nnet_qmhsa.h against its numpy model (fpga_flow/attention/reference.py), bit for bit,
on random shapes and inputs, compiled with g++ against hls4ml's ap_types."""

from __future__ import annotations

import subprocess
from pathlib import Path

import hls4ml
import numpy as np
import pytest

from fpga_flow.attention import reference as ref

TEMPLATES = Path(hls4ml.__file__).parent / "templates" / "vivado"
KERNEL = Path(ref.__file__).parent / "nnet_qmhsa.h"


def cpp_type(t) -> str:
    return f"ap_{'' if t.signed else 'u'}fixed<{t.width},{t.integer},AP_TRN,AP_SAT>"


def array(name: str, ctype: str, values: np.ndarray) -> str:
    body = ", ".join(repr(float(v)) for v in np.asarray(values).ravel())
    return f"{ctype} {name}[{np.asarray(values).size}] = {{{body}}};\n"


def harness(spec: ref.QMHSASpec, weights: dict, samples: np.ndarray) -> str:
    types = {name: cpp_type(getattr(spec, name)) for name in
             ("data", "weight", "bias", "accum", "proj", "score", "scale", "norm", "exp", "inv_in", "inv", "prob", "result")}
    config = f"""struct config : nnet::qmhsa_config {{
    static const unsigned seq_len = {spec.seq_len};
    static const unsigned embed_dim = {spec.embed_dim};
    static const unsigned num_heads = {spec.num_heads};
    static const unsigned key_dim = {spec.key_dim};
    static const bool causal = {'true' if spec.causal else 'false'};
    static const unsigned table_bits = {spec.table_bits};
    static const unsigned table_size = {spec.table_size};
    static constexpr double scale = {ref.scale_value(spec)!r};
""" + "".join(f"    typedef {types[n]} {n}_t;\n" for n in
               ("weight", "bias", "accum", "proj", "score", "scale", "norm", "exp", "inv_in", "inv", "prob")) + "};\n"
    arrays = "".join(array(n, f"config::{'weight' if n[0] == 'w' else 'bias'}_t", weights[n])
                     for n in ("wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo"))
    arrays += array("exp_rom", "config::exp_t", ref.exp_table(spec)) + array("inv_rom", "config::inv_t", ref.inv_table(spec))
    arrays += array("inputs", types["data"], samples)
    n = spec.seq_len * spec.embed_dim
    return f"""#include <cstdio>
#include "ap_fixed.h"
#include "nnet_qmhsa.h"
{config}
{arrays}
int main() {{
    for (unsigned sample = 0; sample < {len(samples)}; sample++) {{
        {types['result']} out[{n}];
        nnet::qmhsa<{types['data']}, {types['result']}, config>(&inputs[sample * {n}], out, wq, bq, wk, bk, wv, bv, wo, bo, exp_rom, inv_rom);
        for (unsigned i = 0; i < {n}; i++) std::printf("%.17g\\n", out[i].to_double());
    }}
    return 0;
}}
"""


CASES = [  # heads, sequence length, key size, model width, causal
    (1, 4, 4, 6, False), (2, 8, 8, 16, False), (2, 5, 3, 7, True), (3, 6, 4, 10, False), (4, 3, 2, 5, True),
]


@pytest.mark.slow
@pytest.mark.parametrize("heads, length, key, width, causal", CASES)
def test_kernel_is_bit_exact_with_the_numpy_model(heads, length, key, width, causal, tmp_path):
    rng = np.random.default_rng(heads * 100 + length * 10 + key)
    spec = ref.QMHSASpec(seq_len=length, embed_dim=width, num_heads=heads, key_dim=key, causal=causal, table_bits=8)
    weights = {n: ref.quantize(rng.uniform(-1, 1, (width, heads * key)), spec.weight) for n in ("wq", "wk", "wv")}
    weights.update({n: ref.quantize(rng.uniform(-0.5, 0.5, heads * key), spec.bias) for n in ("bq", "bk", "bv")})
    weights["wo"] = ref.quantize(rng.uniform(-1, 1, (heads * key, width)), spec.weight)
    weights["bo"] = ref.quantize(rng.uniform(-0.5, 0.5, width), spec.bias)
    samples = ref.quantize(rng.normal(0, 1.5, (6, length, width)), spec.data)
    source = tmp_path / "harness.cpp"
    source.write_text(harness(spec, weights, samples))
    binary = tmp_path / "harness"
    subprocess.run(["g++", "-O1", "-std=c++14", f"-I{TEMPLATES / 'ap_types'}", f"-I{TEMPLATES / 'nnet_utils'}",
                    f"-I{KERNEL.parent}", str(source), "-o", str(binary)], check=True, capture_output=True)
    produced = np.array(subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout.split(),
                        dtype=np.float64).reshape(len(samples), length, width)
    expected = np.stack([ref.qmhsa(sample, weights, spec) for sample in samples])
    np.testing.assert_array_equal(produced, expected)
    assert np.abs(expected).max() > 0  # the case exercises the arithmetic, not zeros
