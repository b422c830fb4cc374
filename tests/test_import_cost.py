"""What a command imports before it knows it needs it. ``import fpga_flow`` and the CLI's
module graph load no heavy optional dependency (TensorFlow, hls4ml, QKeras, da4ml,
matplotlib, dask): an unchanged rebuild answered from the run cache must not pay for them
(issue 22; the hit itself is checked in tests/test_cache.py). Each check runs in a fresh
interpreter, since the test process has most of them loaded already."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO

HEAVY = ("tensorflow", "hls4ml", "qkeras", "da4ml", "matplotlib", "dask")


def heavy_modules_after(code: str) -> list[str]:
    """The heavy top-level packages in sys.modules after running ``code`` in a new interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.partition('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_probe_sees_a_heavy_import():
    assert heavy_modules_after("import hls4ml") == ["hls4ml"]


def test_the_package_and_the_cli_import_no_heavy_dependency():
    assert heavy_modules_after("import fpga_flow, fpga_flow.cli, fpga_flow.api") == []


def test_the_attention_layer_teaches_hls4ml_when_it_is_imported():
    # The registration moved from ``import fpga_flow`` to the layer's module: a model that
    # holds the layer loaded it first, so hls4ml knows the layer before converting it.
    code = ("import fpga_flow.attention.layer\nimport hls4ml.converters\n"
            "assert 'QMultiHeadSelfAttention' in hls4ml.converters.get_supported_keras_layers()")
    assert "hls4ml" in heavy_modules_after(code)
