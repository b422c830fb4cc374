"""fpga_flow.emulate against the compiled C++ on the shared peer models (hls4ml's examples
and public models): the cases of test_emulate.py's CASES whose model is a peer, checked
the same way (test_emulate.check_case)."""

from __future__ import annotations

import pytest

from test_emulate import PEER_CASES, check_case


@pytest.mark.slow
@pytest.mark.parametrize("name, io_type, strategy, reuse, variant", PEER_CASES, ids=[c[0] for c in PEER_CASES])
def test_emulator_matches_the_compiled_cpp_word_for_word(name, io_type, strategy, reuse, variant, tmp_path):
    check_case(name, io_type, strategy, reuse, variant, tmp_path)
