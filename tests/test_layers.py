"""The module graph of actorsock: no import cycles, not even for type checking."""

from __future__ import annotations

import ast
from pathlib import Path

import actorsock

PACKAGE = Path(actorsock.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every actorsock module ``path`` imports, at run time or for type checking."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.startswith("actorsock"):
                found.add(module)
                found |= {f"{module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("actorsock")}
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in imports_of(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
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
                found.append(sorted(group))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_around_a_cycle():
    # Packages re-export their modules, so a package and its own modules are
    # left out: actorsock.pubsub -> actorsock.pubsub.topics is not a cycle.
    edges = graph()
    for name, targets in edges.items():
        edges[name] = {
            t for t in targets if not name.startswith(t + ".") and not t.startswith(name + ".")
        }
    assert cycles(edges) == []


def test_runtime_and_core_import_nothing_from_transports():
    # The arrows run transports -> runtime -> core, never back up.
    lower = ("actorsock.runtime", "actorsock.core")
    wrong = {
        name: sorted(t for t in targets if t.startswith("actorsock.transports"))
        for name, targets in graph().items()
        if name.startswith(lower)
    }
    assert {name: targets for name, targets in wrong.items() if targets} == {}
