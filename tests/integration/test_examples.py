"""The examples work as their docstrings say."""

from __future__ import annotations

import json

import msgpack
import trio

from actorsock.testing import open_test_server
from examples.broadcast import app as broadcast_app
from examples.msgpack_frames import app as msgpack_app
from examples.workers import app as workers_app

from .helpers import RawClient, frame


async def test_broadcast_reaches_everyone_including_the_sender():
    async with (
        open_test_server(broadcast_app) as server,
        server.connect("/ws") as a,
        server.connect("/ws") as b,
        server.connect("/ws") as c,
        server.connect("/echo") as echo,
    ):
        await trio.sleep(0.05)
        await a.send_message("from a")
        for ws in (a, b, c):
            assert await ws.get_message() == "from a"
        await echo.send_message("echo only")
        assert await echo.get_message() == "echo only"
        with trio.move_on_after(0.2) as nothing:
            await b.get_message()
        assert nothing.cancelled_caught  # echo traffic is not broadcast


async def test_msgpack_calculator():
    async with open_test_server(msgpack_app) as server, server.connect("/calc") as ws:
        await ws.send_message(msgpack.packb({"op": "add", "args": [1, 2]}))
        assert msgpack.unpackb(await ws.get_message()) == {"ok": True, "result": 3}
        await ws.send_message(b"\xc1")
        reply = msgpack.unpackb(await ws.get_message())
        assert reply["ok"] is False and "DecodeError" in reply["error"]


async def test_worker_and_thread_push_to_feed_clients():
    async with open_test_server(workers_app) as server, server.connect("/feed") as ws:
        sources = set()
        with trio.fail_after(6):
            while sources != {"clock", "thread"}:
                sources.add(json.loads(await ws.get_message())["source"])


async def test_broadcast_echo_answers_a_ping_with_one_pong_and_nothing_else():
    async with open_test_server(broadcast_app) as server:
        client = await RawClient.connect(server.port, "/echo")
        await client.send(frame(0x9, b"are you there"))
        await client.send(frame(0x1, b"after the ping"))
        with trio.fail_after(5):
            first = await client.read_frame()
            second = await client.read_frame()
        assert first == (0xA, b"are you there")  # the pong
        assert second == (0x1, b"after the ping")  # and no ping came back
        await client.aclose()
