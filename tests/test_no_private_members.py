"""No module of actorsock touches a private member (``_name``) of another library.

Every ``._name`` attribute actorsock reads or writes must be one that
actorsock itself defines (a ``self._name`` assignment, a ``_name`` method or
class attribute, a ``__slots__`` entry); and nothing is imported under a
private name from trio, trio-websocket, wsproto, h11, structlog or msgpack.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import actorsock

PACKAGE = Path(actorsock.__file__).parent
LIBRARIES = {"trio", "trio_websocket", "wsproto", "h11", "structlog", "msgpack"}


def _own_private_names(trees: list[ast.Module]) -> set[str]:
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls", "pid"):
                    names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)  # __slots__ entries
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def private_uses(source: str, own: set[str]) -> list[str]:
    """The private members of others that ``source`` touches."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            name = node.attr
            if name.startswith("_") and not name.startswith("__") and name not in own:
                found.append(f"line {node.lineno}: .{name}")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] in LIBRARIES
        ):
            found += [
                f"line {node.lineno}: from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name.startswith("_")
            ]
            if any(part.startswith("_") for part in node.module.split(".")):
                found.append(f"line {node.lineno}: from {node.module}")
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))
OWN = _own_private_names([ast.parse(path.read_text()) for path in SOURCES])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_member_of_another_library(path):
    assert private_uses(path.read_text(), OWN) == []


def test_the_check_finds_what_it_looks_for():
    # What the WebSocket bridge did before it drove wsproto's public API.
    source = (
        "from trio_websocket._impl import WebSocketConnection\n"
        "def f(ws, connection):\n"
        "    ws._reader_task.handshake = None\n"
        "    return connection._proto._frame_decoder\n"
    )
    assert sorted(private_uses(source, OWN)) == [
        "line 1: from trio_websocket._impl",
        "line 3: ._reader_task",
        "line 4: ._frame_decoder",
        "line 4: ._proto",
    ]
