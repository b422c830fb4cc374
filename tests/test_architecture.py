"""The layer contract of ``fpga_flow``: modules import downward only, and no import cycle.

Every ``import`` statement of every module under ``fpga_flow/`` is read from its AST,
those inside functions included (a function-level import closes a cycle just as a
top-level one does, only later). Modules belong to layers, lowest first:

    leaf       errors, fixed, boards, layers, rundir, toolchain (and the board-side
               driver's dataclasses, deploy.board.driver: stdlib and numpy only)
    records    records (the data-only section models), config, summary
    engine     convert, csim, emulate, estimate, precision, fit, rtl, reports, attention,
               synth, compat, model_io, train, fidelity
    store/view cache, history, figures, charts, dashboard
    pipeline   pipeline
    product    deploy, sweep, api
    cli        cli, __main__

A module may import its own layer or any layer below. Two ratchets hold what the tree
does today and can only shrink: ``ALLOWED`` (imports that climb, each with why it is
there) and ``ALLOWED_CYCLES`` (strongly connected groups of modules). The test fails on
a climbing import or a cycle that is not listed, and on a listed one that no longer
occurs, so that fixing one also removes it here. ``python tests/test_architecture.py``
prints both lists as they are now.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "fpga_flow"
PACKAGE = "fpga_flow"

LAYERS: dict[str, tuple[str, ...]] = {
    "leaf": ("errors", "fixed", "boards", "layers", "rundir", "toolchain"),
    "records": ("records", "config", "summary"),
    "engine": ("convert", "csim", "csim_bridge", "csim_split", "emulate", "estimate", "precision", "fit", "rtl", "reports",
               "attention", "synth", "compat", "model_io", "train", "fidelity", "stream_depths"),
    "store/view": ("cache", "history", "figures", "charts", "dashboard"),
    "pipeline": ("pipeline",),
    "product": ("deploy", "sweep", "api"),
    "cli": ("cli", "__main__"),
}
RANK = {unit: rank for rank, units in enumerate(LAYERS.values()) for unit in units}
LAYER_OF = {unit: layer for layer, units in LAYERS.items() for unit in units}
# Modules whose layer is not their unit's: the board-side driver is shipped to the board and
# imports no fpga_flow; its dataclasses are the one definition of a bundle's manifest and of
# check_on_board.py's results, which records.deploy validates.
MODULE_LAYERS = {"fpga_flow.deploy.board.driver": "leaf"}

# Imports that climb a layer today: "importer -> imported" (modules), and why. Remove an
# entry when its import goes; add none (move the shared thing down instead).
ALLOWED: dict[str, str] = {
}

# Groups of modules that import each other (counting function-level imports), as sorted
# tuples. The aim is none.
ALLOWED_CYCLES: list[tuple[str, ...]] = [
]


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (``fpga_flow.estimate`` for its __init__)."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The package module a dotted name refers to (the longest existing prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _imports_something(path: Path) -> bool:
    return any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(ast.parse(path.read_text())))


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """The package modules ``module`` imports (top level or in functions), each with the
    line of its first import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # ``from fpga_flow.estimate import design`` imports the submodule when there is one.
            names = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix
                     for alias in node.names]
        for name in names:
            if not (name == PACKAGE or name.startswith(PACKAGE + ".")):
                continue
            target = _resolve(name, modules)
            if target is None or target == module:
                continue
            found.setdefault(target, node.lineno)
            # Importing a.b.c runs a/b/__init__ first: an edge to each enclosing package
            # the importer is not itself inside (the root package excepted: everything is),
            # unless that __init__ imports nothing (a docstring runs no code).
            parent = target.rpartition(".")[0]
            while parent and parent != PACKAGE:
                if not (module == parent or module.startswith(parent + ".")) and _imports_something(modules[parent]):
                    found.setdefault(parent, node.lineno)
                parent = parent.rpartition(".")[0]
    return found


def import_graph() -> dict[str, dict[str, int]]:
    modules = module_files()
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def unit_of(module: str) -> str:
    """The first name under the package: ``fpga_flow.estimate.design`` -> ``estimate``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def layer_of(module: str) -> str:
    return MODULE_LAYERS.get(module) or LAYER_OF[unit_of(module)]


def climbing_imports(graph: dict[str, dict[str, int]]) -> dict[str, str]:
    """``importer -> imported`` for every import into a higher layer, with where it is."""
    layer_rank = {layer: rank for rank, layer in enumerate(LAYERS)}
    found = {}
    for module, targets in graph.items():
        unit = unit_of(module)
        if unit == PACKAGE:
            continue  # the package's __init__ registers extensions and loads the API lazily
        for target, line in targets.items():
            imported = unit_of(target)
            if imported != unit and imported != PACKAGE and layer_rank[layer_of(target)] > layer_rank[layer_of(module)]:
                found[f"{module} -> {target}"] = (f"line {line}: {layer_of(module)} {unit} imports "
                                                  f"{layer_of(target)} {imported}")
    return found


def cycles(graph: dict[str, dict[str, int]]) -> list[tuple[str, ...]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[tuple[str, ...]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(tuple(sorted(group)))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_every_unit_has_a_layer():
    units = {unit_of(module) for module in module_files()} - {PACKAGE}
    assert units <= set(RANK), f"place these in LAYERS: {sorted(units - set(RANK))}"


def test_imports_go_downward_only():
    found = climbing_imports(import_graph())
    new = {edge: where for edge, where in found.items() if edge not in ALLOWED}
    gone = sorted(set(ALLOWED) - set(found))
    assert not new, "imports that climb a layer (import downward, or move the shared thing into a leaf):\n" + \
        "\n".join(f"  {edge}  ({where})" for edge, where in sorted(new.items()))
    assert not gone, "fixed, so remove from ALLOWED in tests/test_architecture.py:\n" + "\n".join(f"  {e}" for e in gone)


def test_no_new_import_cycle():
    found = cycles(import_graph())
    new = [group for group in found if group not in ALLOWED_CYCLES]
    gone = [group for group in ALLOWED_CYCLES if group not in found]
    assert not new and not gone, (
        "import cycles changed (counting function-level imports); ALLOWED_CYCLES may only shrink.\n"
        f"new or grown: {new}\nno longer there: {gone}")


# Files holding imports of fpga_flow modules inside functions that no comment marks as
# deferring a heavy dependency, and why each is there. A ratchet like ALLOWED: it only
# shrinks; a new function-level import imports at the top instead (move the shared thing
# down), or says in a comment with the word "deferred" which heavy import it puts off.
UNMARKED_FUNCTION_IMPORTS: dict[str, str] = {}  # none left: every one defers a heavy import and says which


def unmarked_function_imports(root: Path = PACKAGE_DIR) -> dict[str, list[int]]:
    """Per file, the lines of fpga_flow imports inside functions with no "deferred" comment
    on the line or the three lines above it."""
    found: dict[str, list[int]] = {}
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        lines = text.splitlines()
        for function in ast.walk(ast.parse(text)):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else \
                    [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                    [PACKAGE] if isinstance(node, ast.ImportFrom) else []
                if not any(name == PACKAGE or name.startswith(PACKAGE + ".") for name in names):
                    continue
                context = "\n".join(lines[max(0, node.lineno - 4):node.lineno]).lower()
                if "deferred" not in context:
                    found.setdefault(path.relative_to(root.parent).as_posix(), []).append(node.lineno)
    return found


def test_function_level_imports_are_marked_deferred():
    found = unmarked_function_imports()
    new = {path: lines for path, lines in found.items() if path not in UNMARKED_FUNCTION_IMPORTS}
    gone = sorted(set(UNMARKED_FUNCTION_IMPORTS) - set(found))
    assert not new, ("fpga_flow imports inside functions (import at the top, or say which heavy import is deferred "
                     f"in a comment with the word 'deferred'): {new}")
    assert not gone, f"no unmarked function-level import left, so remove from UNMARKED_FUNCTION_IMPORTS: {gone}"


# What reading finished work must not load: the engines that made it, and TensorFlow.
ENGINES = ("fpga_flow.emulate", "fpga_flow.fit", "fpga_flow.estimate", "fpga_flow.precision", "fpga_flow.convert",
           "fpga_flow.csim", "fpga_flow.rtl", "fpga_flow.synth", "fpga_flow.cache", "fpga_flow.pipeline", "tensorflow",
           "keras", "qkeras")


def loaded_by(module: str) -> list[str]:
    """The modules a fresh Python has loaded after ``import module``."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=PACKAGE_DIR.parent)
    return json.loads(done.stdout)


def test_reading_runs_loads_records_not_engines():
    """summary, history and dashboard read data: the records package, never an engine."""
    for module in ("fpga_flow.summary", "fpga_flow.history", "fpga_flow.dashboard"):
        loaded = loaded_by(module)
        assert module in loaded and "fpga_flow.records.estimate" in loaded
        engines = [name for name in loaded if name.startswith(ENGINES)]
        assert not engines, f"import {module} loads {engines}"


def test_records_import_no_engine():
    graph = import_graph()
    records = [module for module in graph if unit_of(module) == "records"]
    assert len(records) > 5
    for module in records:
        assert all(layer_of(target) in ("leaf", "records") for target in graph[module]), (module, graph[module])


def test_the_checks_see_a_violation(tmp_path, monkeypatch):
    """The contract fails on what it should: a leaf importing the pipeline inside a function,
    and two modules importing each other."""
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "errors.py").write_text("def f():\n    from fpga_flow.pipeline import run\n")
    (package / "pipeline.py").write_text("from fpga_flow import errors\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_DIR", package)
    graph = import_graph()
    assert graph["fpga_flow.errors"] == {"fpga_flow.pipeline": 2}
    assert list(climbing_imports(graph)) == ["fpga_flow.errors -> fpga_flow.pipeline"]
    assert cycles(graph) == [("fpga_flow.errors", "fpga_flow.pipeline")]
    assert unmarked_function_imports(package) == {"fpga_flow/errors.py": [2]}
    (package / "errors.py").write_text("def f():\n    # deferred: TensorFlow, heavy\n    from fpga_flow.pipeline import run\n")
    assert unmarked_function_imports(package) == {}


if __name__ == "__main__":
    graph = import_graph()
    climbing = climbing_imports(graph)
    groups = cycles(graph)
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports; "
          f"{len(climbing)} climbing imports; {len(groups)} cycles over {sum(map(len, groups))} modules")
    for edge, where in sorted(climbing.items()):
        print(f'    "{edge}": "{where}",')
    for group in groups:
        print(f"    {group!r},")
    unmarked = unmarked_function_imports()
    print(f"{sum(map(len, unmarked.values()))} fpga_flow imports inside functions with no 'deferred' comment, "
          f"in {len(unmarked)} files (UNMARKED_FUNCTION_IMPORTS)")
