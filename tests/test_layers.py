"""Modules depend only downwards: no import circle anywhere, not even under TYPE_CHECKING.

An import circle means a responsibility in the wrong place (DESIGN.md, "Layers"), so this
counts every import statement, including function-level and TYPE_CHECKING ones, as
``../shared/tools/import_cycles.py`` does. In the switch, the builder (switch/builder.py) is
the one module that imports every API, application and endpoint module; the core imports
none of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import eventsocket

PACKAGE_ROOT = Path(eventsocket.__file__).parent


def _module_graph(root: Path) -> dict[str, set[str]]:
    modules: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    levels = package.split(".")
                    prefix = ".".join(levels[: len(levels) - node.level + 1])
                    base = f"{prefix}.{node.module}" if node.module else prefix
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                # a package importing its own submodule is not a circle
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                child = pending.pop()
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_checker_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_circle() -> None:
    assert _cycles(_module_graph(PACKAGE_ROOT)) == []


def test_the_core_imports_no_module_loaded_into_it() -> None:
    graph = _module_graph(PACKAGE_ROOT)
    above: tuple[str, ...] = ("eventsocket.switch.api", "eventsocket.switch.apps", "eventsocket.switch.calls")
    above += ("eventsocket.switch.session", "eventsocket.switch.endpoints", "eventsocket.switch.builder")
    assert sorted(t for t in graph["eventsocket.switch.core"] if t.startswith(above)) == []
