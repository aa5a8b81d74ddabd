"""Dependencies between dsar's packages point inwards (docs/architecture.md): the domain imports
nothing of the others, no two packages import each other, and nothing in the package imports the
top-level ``flows`` (flows call dsar, never the other way).

Every module under src/dsar is parsed with ``ast`` (nothing is imported): every ``import`` and
``from ... import`` counts, at module level or inside a function, ``TYPE_CHECKING`` or not. A
node of the graph is a sub-package (``dsar.services``, ``dsar.letters`` ...) or a top-level
module (``dsar.cli``, ``dsar.app``, ``dsar.settings``: the entry points and their wiring).

There are no known exceptions: the letters<->services cycle (services rendered letters through
the concrete renderer) and the CLI's and demo's imports of flows (Prefect control) went with the
LetterRenderer and Orchestrator ports (issue 9).

``python -m tests.unit.test_import_graph`` prints the graph and its cycles.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "dsar"
ENTRY_POINTS = frozenset({"dsar.__main__", "dsar.cli", "dsar.app", "dsar.settings"})
# What the domain may import besides itself (docs/architecture.md: calendars, Unicode's confusables tables).
DOMAIN_THIRD_PARTY = frozenset({"dateutil", "holidays", "confusable_homoglyphs"})


@dataclass(frozen=True)
class Import:
    module: str  # the importing module (dsar.letters.outbox)
    target: str  # the module it imports from (dsar.services.ports, flows.control, dsar)
    names: tuple[str, ...]  # what `from target import ...` names (a module when target is a package root)
    line: int

    def nodes(self) -> set[str]:
        """The graph nodes it depends on: the target's, or (``from dsar import settings``) each name's."""
        node = node_of(self.target)
        if node is not None:
            return {node}
        return {n for name in self.names if (n := node_of(f"{self.target}.{name}")) is not None}

    def __str__(self) -> str:
        return f"{self.module}:{self.line} -> {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> Iterator[Import]:
    if isinstance(node, ast.Import):
        yield from (Import(module, a.name, (), node.lineno) for a in node.names)
        return
    if node.level:  # relative: from the module's package, one level up per extra dot
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    yield Import(module, source, tuple(a.name for a in node.names), node.lineno)


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.extend(_imports(node, module, path.name == "__init__.py"))
    return tuple(found)


def node_of(name: str) -> str | None:
    """The graph node of a dsar module (its sub-package, or itself at the top level); None for
    the package root and for anything outside dsar."""
    parts = name.split(".")
    if parts[0] != "dsar" or len(parts) < 2:
        return None
    return f"dsar.{parts[1]}"


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for imp in imports():
        source = node_of(imp.module)
        if source is None:
            continue
        edges.setdefault(source, set())
        for target in imp.nodes() - {source}:
            edges[source].add(target)
            edges.setdefault(target, set())
    return edges


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found, key=sorted)


def evidence(component: frozenset[str]) -> list[str]:
    """The imports that hold a cycle together, as ``module:line -> target``."""
    return sorted(str(i) for i in imports() if node_of(i.module) in component and (i.nodes() & component) - {node_of(i.module)})


def flows_importers() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for i in imports():
        if i.target.split(".")[0] == "flows":
            out.setdefault(i.module, []).append(str(i))
    return out


# --- the rules ------------------------------------------------------------------------------


def test_the_graph_sees_every_package_and_entry_point() -> None:
    nodes = set(graph())
    packages = {f"dsar.{p.name}" for p in PACKAGE.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    assert {"dsar.domain", "dsar.services", "dsar.persistence", "dsar.connectors", "dsar.letters"} <= nodes
    assert packages <= nodes and ENTRY_POINTS <= nodes


def test_the_domain_imports_nothing_of_dsar_but_the_domain() -> None:
    outside = [
        str(i)
        for i in imports()
        if node_of(i.module) == "dsar.domain" and i.target.split(".")[0] in ("dsar", "flows") and i.nodes() != {"dsar.domain"}
    ]
    assert outside == []


def test_the_domain_imports_only_the_standard_library_and_its_calendars() -> None:
    allowed = set(sys.stdlib_module_names) | DOMAIN_THIRD_PARTY | {"dsar", "__future__"}
    found = sorted(str(i) for i in imports() if node_of(i.module) == "dsar.domain" and i.target and i.target.split(".")[0] not in allowed)
    assert found == []


def test_no_two_packages_import_each_other() -> None:
    found = cycles(graph())
    assert found == [], f"import cycles: {[(sorted(c), evidence(c)) for c in found]}"


def test_nothing_in_dsar_imports_flows() -> None:
    assert flows_importers() == {}


def test_the_cycle_finder_finds_cycles_and_only_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]
    assert cycles({"a": {"b"}, "b": set(), "c": {"b"}}) == []
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}) == [frozenset({"a", "b"}), frozenset({"c", "d"})]


if __name__ == "__main__":
    for source, targets in sorted(graph().items()):
        print(f"{source} -> {', '.join(sorted(targets)) or '-'}")
    for component in cycles(graph()):
        print("cycle:", " <-> ".join(sorted(component)), *evidence(component), sep="\n  ")
    for lines in flows_importers().values():
        print("imports flows:", *lines, sep="\n  ")
