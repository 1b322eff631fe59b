"""The bookkeeping layers must not import trio (or do I/O): they are unit-tested bare."""

import ast
from pathlib import Path

import pytest

import actorsock

PACKAGE = Path(actorsock.__file__).parent
PURE = sorted(
    [
        *PACKAGE.joinpath("core").glob("*.py"),
        *PACKAGE.joinpath("codecs").glob("*.py"),
        *PACKAGE.joinpath("pubsub").glob("*.py"),
    ]
)
FORBIDDEN = {"trio", "trio_websocket", "wsproto", "h11", "socket", "asyncio", "structlog"}


@pytest.mark.parametrize("path", PURE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pure_module_imports_no_io(path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 2:
            # from ..x import y: only the root error module is allowed above core/codecs
            allowed = {"errors", "core.frames"}
            if path.parent.name == "pubsub":
                allowed |= {"codecs", "codecs.base", "core.process", "core.registry", "core.wire"}
            assert node.module in allowed, f"{path} imports ..{node.module}"
    assert not imported & FORBIDDEN, f"{path.name} imports {imported & FORBIDDEN}"


def test_there_are_pure_modules():
    names = {p.stem for p in PURE}
    assert {"registry", "mailbox", "timers", "supervision", "process", "json"} <= names
    assert {"send_queue", "wire", "topics", "adapter"} <= names
