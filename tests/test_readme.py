"""Every Python block of README.md runs as written, and its app does what the text says."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import trio

from actorsock import App
from actorsock.testing import open_test_server

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def run_block(index: int) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"readme_block_{index}"}
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), namespace)
    return namespace


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
async def test_every_block_runs_and_its_app_serves(index, autojump_clock):
    namespace = run_block(index)
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value):
            # The testing section's own tests, with the fixtures they name.
            fixtures = {"autojump_clock": autojump_clock}
            await value(**{p: fixtures[p] for p in inspect.signature(value).parameters})
    app = namespace.get("app")
    if isinstance(app, App):
        async with open_test_server(app) as server:
            assert (await server.get("/healthz")).status == 200


async def test_the_tour_app_does_what_the_tour_says(autojump_clock):
    namespace = run_block(0)
    async with open_test_server(namespace["app"]) as server:
        async with server.connect("/echo") as ws:
            await ws.send_message("hi")
            assert await ws.get_message() == "hi"
        async with server.connect("/dashboard") as ws:
            with trio.fail_after(5):
                tick = json.loads(await ws.get_message())
            assert set(tick) == {"time", "load"}
            await trio.sleep(120)  # past idle_timeout: the server's pings keep it open
            assert not ws.closed
        async with server.connect("/rooms/a") as alice, server.connect("/rooms/a") as bob:
            await trio.testing.wait_all_tasks_blocked()
            await alice.send_message("hello bob")
            with trio.fail_after(5):
                assert await bob.get_message() == "hello bob"


async def test_the_http_endpoints_block_does_what_it_says(autojump_clock):
    block = next(i for i, text in enumerate(BLOCKS) if "StreamingResponse(lines())" in text)
    namespace = run_block(block)
    async with open_test_server(namespace["app"]) as server:
        post = await server.request(
            b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        )
        assert post.status == 201
        assert json.loads((await server.get("/notes")).body) == ["hello"]
        assert (await server.request(b"DELETE /notes HTTP/1.1\r\nHost: x\r\n\r\n")).status == 405
        countdown = await server.request(
            b"GET /countdown?from=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert countdown.status == 200
        assert countdown.headers["transfer-encoding"] == "chunked"
        assert b"2\n" in countdown.body and b"1\n" in countdown.body
