"""The layer contract of ``fpga_flow``: modules import downward only, and no import cycle.

Every ``import`` statement of every module under ``fpga_flow/`` is read from its AST,
those inside functions included (a function-level import closes a cycle just as a
top-level one does, only later). Modules belong to layers, lowest first:

    leaf       errors, fixed, boards, layers, rundir, toolchain
    records    config, summary (the models run summaries are made of)
    engine     convert, csim, emulate, estimate, precision, fit, rtl, reports, attention,
               synth, compat, model_io, train, fidelity
    store/view cache, history, dashboard
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
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "fpga_flow"
PACKAGE = "fpga_flow"

LAYERS: dict[str, tuple[str, ...]] = {
    "leaf": ("errors", "fixed", "boards", "layers", "rundir", "toolchain"),
    "records": ("config", "summary"),
    "engine": ("convert", "csim", "csim_split", "emulate", "estimate", "precision", "fit", "rtl", "reports", "attention", "synth",
               "compat", "model_io", "train", "fidelity"),
    "store/view": ("cache", "history", "dashboard"),
    "pipeline": ("pipeline",),
    "product": ("deploy", "sweep", "api"),
    "cli": ("cli", "__main__"),
}
RANK = {unit: rank for rank, units in enumerate(LAYERS.values()) for unit in units}
LAYER_OF = {unit: layer for layer, units in LAYERS.items() for unit in units}

# Imports that climb a layer today: "importer -> imported" (modules), and why. Remove an
# entry when its import goes; add none (move the shared thing down instead).
ALLOWED: dict[str, str] = {
    # summary.py takes its section models from the modules that fill them; they move into
    # a data-only records package (the next session's work, docs/architecture.md).
    "fpga_flow.summary -> fpga_flow.cache": "section model CacheUse",
    "fpga_flow.summary -> fpga_flow.convert": "section model HLSSettings",
    "fpga_flow.summary -> fpga_flow.deploy": "deploy/__init__ runs on the way to deploy.section",
    "fpga_flow.summary -> fpga_flow.deploy.section": "section model DeployRecord",
    "fpga_flow.summary -> fpga_flow.estimate": "section model Estimate",
    "fpga_flow.summary -> fpga_flow.fit": "section model FitResult",
    "fpga_flow.summary -> fpga_flow.precision": "section models ClosureRecord, OverflowRecord",
    "fpga_flow.summary -> fpga_flow.rtl": "rtl/__init__ runs on the way to rtl.records",
    "fpga_flow.summary -> fpga_flow.rtl.records": "section models RTLSection, RTLSimSection, GatesSection",
    "fpga_flow.summary -> fpga_flow.synth": "section model SynthesisResult",
}

# Groups of modules that import each other (counting function-level imports), as sorted
# tuples. The aim is none.
ALLOWED_CYCLES: list[tuple[str, ...]] = [
    # One group, closed by convert's function-level import of precision
    # (tie_state_quantizer_types) through the emulator (precision -> emulate.realize ->
    # convert). It opens once that workaround moves into compat (docs/architecture.md).
    # The pipeline package took the build's steps, driver and publish out of it (24 -> 8).
    ("fpga_flow.convert", "fpga_flow.emulate.attention", "fpga_flow.emulate.diagnose", "fpga_flow.emulate.graph",
     "fpga_flow.emulate.realize", "fpga_flow.emulate.recurrent", "fpga_flow.emulate.spatial", "fpga_flow.precision"),
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
            # the importer is not itself inside (the root package excepted: everything is).
            parent = target.rpartition(".")[0]
            while parent and parent != PACKAGE:
                if not (module == parent or module.startswith(parent + ".")):
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


def climbing_imports(graph: dict[str, dict[str, int]]) -> dict[str, str]:
    """``importer -> imported`` for every import into a higher layer, with where it is."""
    found = {}
    for module, targets in graph.items():
        unit = unit_of(module)
        if unit == PACKAGE:
            continue  # the package's __init__ registers extensions and loads the API lazily
        for target, line in targets.items():
            imported = unit_of(target)
            if imported != unit and imported != PACKAGE and RANK[imported] > RANK[unit]:
                found[f"{module} -> {target}"] = (f"line {line}: {LAYER_OF[unit]} {unit} imports "
                                                  f"{LAYER_OF[imported]} {imported}")
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
