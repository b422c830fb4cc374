"""One definition per rule: the names in :mod:`fpga_flow.layers` have no second copy
under ``fpga_flow/``, and the places that once held copies agree with them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from fpga_flow import layers

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "fpga_flow"
LAYERS_FILE = PACKAGE_DIR / "layers.py"

# Each rule as its string values, in order: a tuple, list or set literal anywhere under
# fpga_flow/ whose consecutive string elements spell one of these is a copy.
RULES = {
    "RESOURCE_KEYS": layers.RESOURCE_KEYS,
    "ESTIMATED_RESOURCE_KEYS": layers.ESTIMATED_RESOURCE_KEYS,
    "KERNEL_CLASSES": layers.KERNEL_CLASSES,
    "RECURRENT_HLS_CLASSES": layers.RECURRENT_HLS_CLASSES,
    "TUNED_CLASSES": layers.TUNED_CLASSES,
    "LATENCY_ONLY_CLASSES": layers.LATENCY_ONLY_CLASSES,
    "RECURRENT_KERAS_CLASSES": layers.RECURRENT_KERAS_CLASSES,
    "IO_TYPES": layers.IO_TYPES,
    "STRATEGIES": layers.STRATEGIES,
    "FIT_STRATEGIES": layers.FIT_STRATEGIES,
    "POLICIES": layers.POLICIES,
}
# Names whose single string literal must appear once (the strategy hls4ml tests for).
SINGLE_LITERALS = (layers.DISTRIBUTED_ARITHMETIC,)
# Fixed-point type spellings are parsed by fpga_flow.fixed alone.
TYPE_REGEX = re.compile(r're\.compile\(\s*r?"[^"]*fixed')


def _sources(root: Path = PACKAGE_DIR) -> dict[Path, str]:
    return {path: path.read_text() for path in sorted(root.rglob("*.py"))}


def _string_runs(tree: ast.AST):
    """Each tuple/list/set literal's runs of consecutive string constants, with its line."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            run: list[str] = []
            for element in [*node.elts, None]:
                if isinstance(element, ast.Constant) and isinstance(element.value, str):
                    run.append(element.value)
                    continue
                if run:
                    yield node.lineno, tuple(run)
                run = []


def _contains(run: tuple[str, ...], values: tuple[str, ...]) -> bool:
    return any(run[i:i + len(values)] == values for i in range(len(run) - len(values) + 1))


def copies_of_rules(sources: dict[Path, str], root: Path = PACKAGE_DIR) -> dict[str, list[str]]:
    """Where each rule is spelled, as ``fpga_flow/file.py:line``."""
    found: dict[str, list[str]] = {name: [] for name in (*RULES, *SINGLE_LITERALS)}
    for path, text in sources.items():
        tree = ast.parse(text)
        where = path.relative_to(root.parent).as_posix()
        for line, run in _string_runs(tree):
            for name, values in RULES.items():
                if _contains(run, tuple(values)):
                    found[name].append(f"{where}:{line}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in SINGLE_LITERALS:
                found[node.value].append(f"{where}:{node.lineno}")
    return found


def test_each_rule_is_defined_once_in_layers():
    found = copies_of_rules(_sources())
    assert found["RESOURCE_KEYS"] and found["IO_TYPES"], "the scan does not see fpga_flow/layers.py"
    for name, places in found.items():  # derived rules (TUNED_CLASSES = ...) have no literal at all
        elsewhere = [place for place in places if not place.startswith("fpga_flow/layers.py:")]
        assert not elsewhere, f"{name} spelled again outside fpga_flow/layers.py (import it instead): {elsewhere}"
    assert len(found[layers.DISTRIBUTED_ARITHMETIC]) == 1


# hls4ml's strategy spellings as single string literals outside layers.py: how many each
# part of the package (fit.py or a fit/ package alike) still holds, and why. A ratchet: a
# new copy fails, and so does a count that fell (lower it here).
STRATEGY_LITERALS_LEFT = {
    "reports": (3, "not strategies: the class name Latency in __all__, Catapult's report column 'Latency'"),
}


def _strategy_contexts(tree: ast.AST):
    """The nodes where a lowercase 'latency'/'resource' means the strategy (elsewhere it is
    the latency figure, a softmax implementation or a chart's metric): comparisons and
    calls that name a strategy, ``strategy=`` arguments, assignments to a ``*strategy*``
    name (a ``Literal[...]`` type or a default) and the bodies of ``*strategy*`` functions."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "strategy" in node.name.lower():
            yield node
        elif isinstance(node, (ast.Compare, ast.Call)) and "strategy" in ast.unparse(node).lower():
            yield node
        elif isinstance(node, ast.keyword) and node.arg and "strategy" in node.arg.lower():
            yield node.value
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any("strategy" in ast.unparse(target).lower() for target in targets):
                yield from (part for part in (getattr(node, "annotation", None), node.value) if part is not None)


def strategy_literals(sources: dict[Path, str], root: Path = PACKAGE_DIR) -> dict[str, int]:
    """Per part of the package (``fit`` for fit.py or fit/...) outside layers.py, the string
    constants spelling an hls4ml strategy: its capitalised spelling anywhere, the lowercase
    key where it is compared to (or stands for) a strategy."""
    keys = (layers.LATENCY_KEY, layers.RESOURCE_KEY)
    found: dict[str, int] = {}
    for path, text in sources.items():
        where = path.relative_to(root).with_suffix("").parts[0]
        if where == "layers":
            continue
        tree = ast.parse(text)
        spelled = {id(node) for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and node.value in (layers.LATENCY, layers.RESOURCE)}
        spelled |= {id(node) for context in _strategy_contexts(tree) for node in ast.walk(context)
                    if isinstance(node, ast.Constant) and node.value in keys}
        if spelled:
            found[where] = found.get(where, 0) + len(spelled)
    return found


def test_strategy_spellings_are_named_once():
    found = strategy_literals(_sources())
    expected = {where: count for where, (count, _why) in STRATEGY_LITERALS_LEFT.items()}
    assert found == expected, ("hls4ml's strategy spelled again outside fpga_flow/layers.py (import layers.LATENCY / "
                               f"RESOURCE), or fewer copies left (lower STRATEGY_LITERALS_LEFT): {found} != {expected}")


def test_the_strategy_scan_finds_a_copy(tmp_path):
    root = tmp_path / "fpga_flow"
    root.mkdir()
    (root / "layers.py").write_text(LAYERS_FILE.read_text())
    (root / "copy.py").write_text('DEFAULT = "Latency"\nFIGURE = "latency"\n'
                                  'def f(layer, softmax):\n'
                                  '    constant = layer.strategy == "latency"\n'
                                  '    if softmax.implementation in ("stable", "latency"):\n'
                                  '        return layer.get_attr("strategy", "resource")\n'
                                  'def _strategy(text):\n'
                                  '    return "resource" if text.startswith("res") else "other"\n'
                                  'STRATEGY = Literal["latency", "resource"]\n')
    # The capitalised spelling, then the lowercase key compared to, read as, returned as and typed as a strategy;
    # not the latency figure nor the softmax implementation.
    assert strategy_literals(_sources(root), root) == {"copy": 6}


def test_the_resource_tuple_is_one_literal():
    """The grep the issue asked for: the literal resource-key tuple appears once."""
    pattern = re.compile(r'"LUT",\s*"FF",\s*"DSP",\s*"BRAM_18K"')
    hits = [path.relative_to(PACKAGE_DIR.parent).as_posix() for path, text in _sources().items()
            for _ in pattern.finditer(text)]
    assert hits == ["fpga_flow/layers.py"]


def test_one_fixed_type_parser():
    hits = [path.relative_to(PACKAGE_DIR.parent).as_posix() for path, text in _sources().items()
            if TYPE_REGEX.search(text.replace("\n", " "))]
    assert hits == ["fpga_flow/fixed.py"]


def test_layers_is_a_leaf():
    tree = ast.parse(LAYERS_FILE.read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name and name.startswith("fpga_flow")]


def test_the_checks_find_a_copy(tmp_path):
    """A copied tuple, even inside a longer literal, and a second strategy literal are found."""
    root = tmp_path / "fpga_flow"
    root.mkdir()
    (root / "layers.py").write_text(LAYERS_FILE.read_text())
    (root / "copy.py").write_text('COLUMNS = ("layer", "LUT", "FF", "DSP", "BRAM_18K", "latency")\n'
                                  'DA = "distributed_arithmetic"\n')
    found = copies_of_rules(_sources(root), root)
    assert "fpga_flow/copy.py:1" in found["ESTIMATED_RESOURCE_KEYS"]
    assert "fpga_flow/copy.py:1" not in found["RESOURCE_KEYS"]  # no URAM: not that rule's copy
    assert "fpga_flow/copy.py:2" in found[layers.DISTRIBUTED_ARITHMETIC]
    assert [place.split(":")[0] for place in found["KERNEL_CLASSES"]] == ["fpga_flow/layers.py"]


def test_board_resources_are_the_resource_keys():
    from fpga_flow.boards import Resources

    assert tuple(Resources.model_fields) == layers.RESOURCE_KEYS


@pytest.mark.parametrize("strategy, expected", [
    ("distributed_arithmetic", True), ("Distributed_Arithmetic", True), ("da", True), ("DA", True),
    ("Latency", False), ("resource", False), (None, False), ("distributed", False),
])
def test_one_distributed_arithmetic_check(strategy, expected):
    assert layers.is_distributed_arithmetic(strategy) is expected


def test_canonical_strategy():
    assert layers.canonical_strategy("resource") == "Resource"
    assert layers.canonical_strategy("DISTRIBUTED_ARITHMETIC") == "distributed_arithmetic"
    assert layers.canonical_strategy("other") == "other" and layers.canonical_strategy(3) == 3


@pytest.mark.parametrize("text, expected", [
    ("ap_fixed<16,6>", (16, 6, True, "TRN", "WRAP")),
    ("ap_ufixed<8, 0, AP_RND_CONV, AP_SAT>", (8, 0, False, "RND_CONV", "SAT")),
    ("fixed<6,1,TRN,WRAP,0>", (6, 1, True, "TRN", "WRAP")),
    ("ac_fixed<16,6,true>", (16, 6, True, "TRN", "WRAP")),
    ("ac_fixed<8,2,false,AC_RND,AC_SAT>", (8, 2, False, "RND", "SAT")),
    ("ac_int<8,false>", (8, 8, False, "TRN", "WRAP")),
    ("ap_uint<1>", (1, 1, False, "TRN", "WRAP")),
])
def test_the_one_type_parser_reads_every_spelling(text, expected):
    from fpga_flow.estimate.design import parse_type
    from fpga_flow.fixed import FixedType

    parsed = FixedType.parse(text)
    assert (parsed.width, parsed.integer, parsed.signed, parsed.rounding, parsed.overflow) == expected
    number = parse_type(f"nnet::array<{text}, 4>")  # the estimate reads a packed io_stream word's element
    assert (number.width, number.integer, number.signed) == expected[:3]
    assert (number.rounds, number.saturates) == ("RND" in expected[3], "SAT" in expected[4])


@pytest.mark.parametrize("text", ["float", "auto", "", "ap_fixed<16>", "fixed<16,6"])
def test_anything_else_is_no_type(text):
    from fpga_flow.estimate.design import parse_type
    from fpga_flow.fixed import FixedType

    assert FixedType.parse(text) is None and parse_type(text) is None
