"""The code's shape, held as a test: no import circle between the project's parts, no import
that runs up the layers, no SQL outside the store, no command module that imports another.
docs/design.md ("The clinic wing") draws the layers this test holds."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("alliance", "analysis", "reports", "instrument")

# Each part, and the parts it may not import (directly or through a function-level import).
# Read down the list: a part may import the parts after it, never one before.
CLINIC_LAYERS = (
    "analysis.clinic",
    "analysis.benchmark|analysis.monitor",  # side by side: neither imports the other
    "analysis.store",
    "analysis.ruptures",
)
SQL = re.compile(r"\b(SELECT |INSERT INTO|CREATE (TEMP )?TABLE|ALTER TABLE|DELETE FROM)")


def _modules() -> Iterator[tuple[str, Path]]:
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


MODULES = dict(_modules())


def _imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports anywhere in its file, relative imports resolved,
    ``from package import module`` taken as the module."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in MODULES else base)
    return {m for m in found if m in MODULES}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _part(module: str) -> str:
    """The part a module belongs to: a package directly under analysis/ (its subpackages
    included), a module of analysis/ or reports/ on its own, instrument/ as one."""
    parts = module.split(".")
    if parts[0] == "instrument":
        return "instrument"
    if parts[0] == "analysis" and len(parts) > 1 and (ROOT / "analysis" / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_parts_import_each_other_in_no_circle() -> None:
    parts: dict[str, set[str]] = {}
    for module, imported in GRAPH.items():
        here = _part(module)
        parts.setdefault(here, set()).update(_part(m) for m in imported if _part(m) != here)
    assert _circles(parts) == []


def test_the_circle_check_finds_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _in(module: str, layer: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in layer.split("|"))


@pytest.mark.parametrize("layer", CLINIC_LAYERS)
def test_the_clinic_wing_imports_only_downwards(layer: str) -> None:
    above = CLINIC_LAYERS[: CLINIC_LAYERS.index(layer)]
    side = layer.split("|")
    wrong = sorted(
        f"{module} imports {imported}"
        for module, imports in GRAPH.items()
        if _in(module, layer)
        for imported in imports
        if any(_in(imported, a) for a in above)
        or (len(side) > 1 and any(_in(imported, s) for s in side if not _in(module, s)))
    )
    assert wrong == []


def test_analysis_and_instrument_never_import_the_command_line() -> None:
    wrong = sorted(
        f"{m} imports {i}"
        for m, imports in GRAPH.items()
        if not m.startswith(("reports", "alliance"))
        for i in imports
        if i.startswith("reports")
    )
    assert wrong == []


def test_nothing_imports_the_front_door() -> None:
    """alliance/ sits on top: the packages it wraps never import it."""
    wrong = sorted(
        f"{m} imports {i}"
        for m, imports in GRAPH.items()
        if not m.startswith("alliance")
        for i in imports
        if i.startswith("alliance")
    )
    assert "alliance.survey" in GRAPH["alliance.reporting"]  # the graph sees the package
    assert wrong == []


def test_the_export_pipeline_loads_nothing_of_the_store() -> None:
    seen, todo = set(), ["analysis.pipeline"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(GRAPH[module])
    assert sorted(m for m in seen if _in(m, "analysis.store|analysis.monitor")) == []


# SQL that touches no store: the module, and why. Each opens only an in-memory database.
NOT_THE_STORE = {
    "analysis.ingest.fhir_bulk": "DuckDB's JSON reader parses an NDJSON bulk export",
}


def test_no_sql_outside_the_store() -> None:
    wrong = sorted(
        name
        for name, path in MODULES.items()
        if not _in(name, "analysis.store")
        and name not in NOT_THE_STORE
        and SQL.search(path.read_text(encoding="utf-8"))
    )
    assert wrong == []
    for name in NOT_THE_STORE:  # an in-memory database, and no store module imported
        text = MODULES[name].read_text(encoding="utf-8")
        assert re.findall(r"duckdb\.connect\(([^)]*)\)", text) == [""], name
        assert not any(_in(m, "analysis.store") for m in GRAPH[name]), name


def test_no_command_module_imports_another() -> None:
    commands = [m for m in MODULES if m.startswith("reports.cli_") and m != "reports.cli_common"]
    wrong = sorted(f"{m} imports {i}" for m in commands for i in GRAPH[m] if i in commands)
    assert wrong == []


def test_the_graph_sees_imports_at_every_depth() -> None:
    """A relative import, an import inside a function, and ``from package import module``."""
    assert "analysis.ruptures.course" in GRAPH["analysis.pipeline"]
    assert "analysis.monitor" in GRAPH["analysis.clinic.compare"]
    assert "analysis.clinic.structure" in GRAPH["reports.cli_validate"]  # inside a function
