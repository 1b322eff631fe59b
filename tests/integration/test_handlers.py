"""Handler callbacks and commands over real sockets, with two independent clients."""

from __future__ import annotations

import pytest
import trio
from trio_websocket import ConnectionClosed
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as sync_connect

from actorsock import (
    Accept,
    App,
    Binary,
    Crash,
    Handler,
    Ping,
    Pong,
    Reject,
    Remote,
    Text,
    registry,
    send,
)
from actorsock.testing import open_test_server

from .helpers import Echo, lifecycle_handler, reasons, wait_for


async def test_echo_with_trio_websocket_client():
    async with (
        open_test_server(App(routes={"/echo": Echo})) as server,
        server.connect("/echo") as ws,
    ):
        await ws.send_message("hello")
        assert await ws.get_message() == "hello"
        await ws.send_message(b"\x00\x01binary")
        assert await ws.get_message() == b"\x00\x01binary"
        big = "x" * 200_000
        await ws.send_message(big)
        assert await ws.get_message() == big


async def test_echo_with_the_websockets_library_in_a_thread():
    async with open_test_server(App(routes={"/echo": Echo})) as server:

        def client():
            with sync_connect(server.url("/echo"), open_timeout=5) as ws:
                ws.send("héllo")
                text = ws.recv(timeout=5)
                ws.send(b"\xff\x00")
                data = ws.recv(timeout=5)
                ws.ping(b"p").wait(5)
                return text, data

        assert await trio.to_thread.run_sync(client) == ("héllo", b"\xff\x00")


async def test_init_sees_the_request():
    handler, events = lifecycle_handler()
    async with (
        open_test_server(App(routes={"/rooms/{room}": handler})) as server,
        server.connect(
            "/rooms/blue%20room?user=ann&x=1",
            extra_headers=[(b"Cookie", b"sid=42"), (b"X-Trace", b"t1")],
        ) as ws,
    ):
        await ws.send_message("ping")
        assert await ws.get_message() == "ping"
        request = events[0][1]
        assert request.path_params == {"room": "blue room"}
        assert request.route == "/rooms/{room}"
        assert request.query == {"user": "ann", "x": "1"}
        assert request.cookies == {"sid": "42"} and request.header("x-trace") == "t1"
        assert request.remote[0] == "127.0.0.1" and request.remote[1] > 0


async def refused_upgrade(url):
    """The HTTP response the ``websockets`` client got for an upgrade the server refused."""

    def connect():
        with pytest.raises(InvalidStatus) as caught:
            sync_connect(url, open_timeout=5)
        return caught.value.response

    return await trio.to_thread.run_sync(connect)


async def test_init_may_reject_before_the_upgrade():
    class Gate(Handler):
        async def init(self, request):
            if request.query.get("token") != "secret":
                return Reject(401, "bad token", headers=(("www-authenticate", "Token"),))
            return None

    async with open_test_server(App(routes={"/ws": Gate})) as server:
        response = await refused_upgrade(server.url("/ws?token=wrong"))
        assert response.status_code == 401 and response.body == b"bad token"
        assert response.headers["www-authenticate"] == "Token"
        async with server.connect("/ws?token=secret") as ws:
            assert ws.closed is None


async def test_init_chooses_a_subprotocol():
    class Chat(Handler):
        async def init(self, request):
            assert request.subprotocols == ("v2.chat", "v1.chat")
            return Accept(subprotocol="v1.chat", headers=(("x-server", "actorsock"),))

    async with (
        open_test_server(App(routes={"/ws": Chat})) as server,
        server.connect("/ws", subprotocols=["v2.chat", "v1.chat"]) as ws,
    ):
        assert ws.subprotocol == "v1.chat"
        assert (b"x-server", b"actorsock") in ws.handshake_headers


async def test_init_answering_with_a_header_http_cannot_carry_is_its_crash():
    ended = []

    class Sloppy(Handler):
        async def init(self, request):
            return Accept(headers=(("x-user", "alice\r\nset-cookie: admin=1"),))

        async def terminate(self, reason):
            ended.append(reason)

    async with open_test_server(App(routes={"/ws": Sloppy})) as server:
        response = await refused_upgrade(server.url("/ws"))
        assert response.status_code == 500
        assert "set-cookie" not in response.headers  # nothing was injected
        await wait_for(lambda: ended)
    assert isinstance(ended[0], Crash) and isinstance(ended[0].exception, ValueError)


async def test_returned_frames_go_out_in_order_and_close_stops():
    handler, events = lifecycle_handler()
    async with open_test_server(App(routes={"/ws": handler})) as server:
        async with server.connect("/ws") as ws:
            await ws.send_message("frames")
            assert [await ws.get_message() for _ in range(3)] == ["one", b"two", "three"]
            await ws.send_message("close")
            assert await ws.get_message() == "bye"
            with pytest.raises(ConnectionClosed) as caught:
                await ws.get_message()
            assert caught.value.reason.code == 4001
            assert caught.value.reason.reason == "asked to close"
        await wait_for(lambda: reasons(events))
    assert [type(r).__name__ for r in reasons(events)] == ["StopReason"]


async def test_pings_and_pongs_reach_the_handler():
    handler, events = lifecycle_handler()
    async with (
        open_test_server(App(routes={"/ws": handler})) as server,
        server.connect("/ws") as ws,
    ):
        await ws.ping(b"are you there")  # returns once the server's pong arrived
        await ws.pong(b"unsolicited")
        await ws.send_message("sync")
        assert await ws.get_message() == "sync"
        frames = [value for name, value in events if name == "handle"]
        assert frames == [Ping(b"are you there"), Pong(b"unsolicited"), Text("sync")]


async def test_messages_from_tasks_and_threads_reach_websocket_info():
    handler, events = lifecycle_handler()
    async with open_test_server(App(routes={"/ws": handler})) as server:
        async with server.connect("/ws") as a, server.connect("/ws") as b:
            for ws in (a, b):
                await ws.send_message("register:group")
                assert await ws.get_message() == "registered"
            assert registry.dispatch("group", lambda pid, _: send(pid, "from task")) == 2
            for ws in (a, b):
                assert await ws.get_message() == "info:from task"

            def from_thread():
                return registry.dispatch("group", lambda pid, _: send(pid, "from thread"))

            assert await trio.to_thread.run_sync(from_thread) == 2
            for ws in (a, b):
                assert await ws.get_message() == "info:from thread"
        await wait_for(lambda: len(reasons(events)) == 2)
    assert registry.lookup("group") == []
    assert all(isinstance(r, Remote) and r.code == 1000 for r in reasons(events))


async def test_frames_and_messages_interleave_fairly():
    class Busy(Handler):
        async def websocket_init(self):
            for i in range(50):
                send(self.pid, i)

        async def websocket_handle(self, frame):
            return Text("client:" + frame.text)

        async def websocket_info(self, message):
            return Text(f"info:{message}")

    async with open_test_server(App(routes={"/ws": Busy})) as server, server.connect("/ws") as ws:
        await ws.send_message("hi")
        got = [await ws.get_message() for _ in range(51)]
        # Not stuck behind the 50 queued messages: a busy connection yields
        # every few callbacks, and the client frame is taken at the next turn.
        assert got.index("client:hi") < 25
        assert [g for g in got if g.startswith("info")] == [f"info:{i}" for i in range(50)]


def test_binary_frames_type():
    assert Binary(b"x") != Text("x")
