"""Bad input gets the exact status or close code, and the server keeps serving others."""

from __future__ import annotations

import pytest
import trio
from trio_websocket import ConnectionClosed
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as sync_connect

from actorsock import App, Crash, ErrorReason, Handler, Ping, Text
from actorsock.testing import TestServer, open_test_server

from .helpers import (
    KEY,
    Echo,
    RawClient,
    frame,
    lifecycle_handler,
    reasons,
    upgrade_request,
    wait_for,
)


async def still_echoes(server: TestServer) -> None:
    async with server.connect("/echo") as ws:
        await ws.send_message("still here")
        assert await ws.get_message() == "still here"


def make_app(**extra):
    handler, events = lifecycle_handler()
    return App(routes={"/echo": Echo, "/ws": handler, **extra}), events


def head(path="/echo", **headers):
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec_WebSocket_Key": KEY,
    "Sec_WebSocket_Version": "13",
}


@pytest.mark.parametrize(
    ("raw", "status", "header"),
    [
        (head("/nowhere"), 404, None),
        (head("/nowhere", **UPGRADE), 404, None),
        (head("/echo"), 426, ("upgrade", "websocket")),
        (head("/echo", **{**UPGRADE, "Sec_WebSocket_Key": None}), 400, None),
        (head("/echo", **{**UPGRADE, "Sec_WebSocket_Key": "short"}), 400, None),
        (
            head("/echo", **{**UPGRADE, "Sec_WebSocket_Version": "8"}),
            426,
            ("sec-websocket-version", "13"),
        ),
        (head("/echo", **{**UPGRADE, "Connection": "keep-alive"}), 400, None),
        (head("/echo", **UPGRADE).replace(b"GET", b"POST", 1), 405, ("allow", "GET")),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, None),
        (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431, None),
        (head("/healthz").replace(b"GET", b"DELETE", 1), 405, None),
    ],
    ids=[
        "unknown-path",
        "unknown-ws-path",
        "no-upgrade",
        "no-key",
        "bad-key",
        "version-8",
        "no-connection-upgrade",
        "post",
        "garbage",
        "head-too-large",
        "delete-healthz",
    ],
)
async def test_malformed_requests_get_exact_statuses(raw, status, header):
    app, _ = make_app()
    async with open_test_server(app) as server:
        reply = await server.request(raw)
        assert reply.status == status
        if header:
            assert reply.headers.get(header[0]) == header[1]
        await still_echoes(server)


async def test_oversize_message_closes_1009():
    app, events = make_app()
    async with open_test_server(app, websocket__max_message_size=1024) as server:
        async with server.connect("/ws") as ws:
            await ws.send_message("x" * 1024)
            assert await ws.get_message() == "x" * 1024
            await ws.send_message("x" * 5000)
            with pytest.raises(ConnectionClosed) as caught:
                await ws.get_message()
            assert caught.value.reason.code == 1009
        await wait_for(lambda: reasons(events))
        assert reasons(events) == [ErrorReason("badsize", 1009)]
        await still_echoes(server)


@pytest.mark.parametrize(
    ("data", "code", "kind"),
    [
        (frame(0x1, b"\xff\xfe invalid utf-8"), 1007, "badencoding"),
        (frame(0x1, b"unmasked", masked=False), 1002, "badframe"),
        (frame(0x3, b"reserved opcode"), 1002, "badframe"),
        (frame(0x9, b"p" * 126), 1002, "badframe"),  # control frame too long
    ],
    ids=["invalid-utf8", "unmasked", "reserved-opcode", "long-ping"],
)
async def test_protocol_violations_close_with_the_right_code(data, code, kind):
    app, events = make_app()
    async with open_test_server(app) as server:
        client = await RawClient.connect(server.port, "/ws")
        await client.send(data)
        with trio.fail_after(5):
            assert await client.read_close_code() == code
        await client.aclose()
        await wait_for(lambda: reasons(events))
        assert reasons(events) == [ErrorReason(kind, code)]
        await still_echoes(server)


async def test_fragmented_messages_are_assembled_between_single_frame_ones():
    app, _ = make_app()
    async with open_test_server(app) as server:
        client = await RawClient.connect(server.port, "/ws")
        await client.send(frame(0x1, b"one"))
        await client.send(frame(0x1, b"two, ", fin=False) + frame(0x0, b"in parts"))
        await client.send(frame(0x2, b"\x00three"))
        assert await client.read_frame() == (0x1, b"one")
        assert await client.read_frame() == (0x1, b"two, in parts")
        assert await client.read_frame() == (0x2, b"\x00three")
        await client.aclose()


async def test_many_messages_in_one_write_are_all_answered_in_order():
    # More than the inbound queue holds at once, and frames cut across writes:
    # the server must take them through its slower paths without losing one.
    app, _ = make_app()
    async with open_test_server(app) as server:
        client = await RawClient.connect(server.port, "/ws")
        burst = b"".join(frame(0x1, b"m%d" % i) for i in range(60))
        await client.send(burst)
        cut = frame(0x1, b"split across writes")
        await client.send(cut[:5])
        await trio.testing.wait_all_tasks_blocked()
        await client.send(cut[5:] + frame(0x9, b"ping") + frame(0x2, b"\x00last"))
        with trio.fail_after(5):
            for i in range(60):
                assert await client.read_frame() == (0x1, b"m%d" % i)
            rest = [await client.read_frame() for _ in range(3)]
        # The library answers the ping from its reader, ahead of the echoes.
        assert [f for f in rest if f[0] != 0xA] == [
            (0x1, b"split across writes"),
            (0x2, b"\x00last"),
        ]
        assert (0xA, b"ping") in rest
        await client.aclose()


class Narrator(Handler):
    """Answers every frame it is given, pings included, so order can be read back."""

    async def websocket_handle(self, frame):
        if isinstance(frame, Ping):
            return Text("ping " + frame.data.decode())
        if isinstance(frame, Text):
            return frame
        return None


async def test_one_frame_messages_keep_their_place_among_pings_and_fragments():
    # One-frame messages and everything else (pings, fragmented messages)
    # reach the handler by two queues; the handler must still see them in
    # the order the client sent them, whichever path each write takes.
    app = App(routes={"/ws": Narrator})
    async with open_test_server(app) as server:
        client = await RawClient.connect(server.port, "/ws")
        writes = [
            frame(0x1, b"a"),
            frame(0x9, b"1"),
            frame(0x1, b"b"),
            frame(0x1, b"c", fin=False) + frame(0x0, b"c"),
            frame(0x1, b"d"),
            frame(0x1, b"e") + frame(0x9, b"2") + frame(0x1, b"f"),
            frame(0x1, b"g"),
        ]
        for data in writes:
            await client.send(data)
        expected = ["a", "ping 1", "b", "cc", "d", "e", "ping 2", "f", "g"]
        seen: list[str] = []
        with trio.fail_after(5):
            while len(seen) < len(expected):
                opcode, payload = await client.read_frame()
                if opcode == 0x1:
                    seen.append(payload.decode())
        assert seen == expected
        await client.aclose()


async def test_client_that_disconnects_mid_message():
    app, events = make_app()
    async with open_test_server(app) as server:
        client = await RawClient.connect(server.port, "/ws")
        await client.send(frame(0x1, b"first half ", fin=False))
        await client.aclose()
        await wait_for(lambda: reasons(events))
        assert reasons(events) == [ErrorReason("closed", 1006)]
        await still_echoes(server)


async def test_client_that_never_finishes_its_handshake(autojump_clock):
    app, _ = make_app()
    async with open_test_server(app, server__handshake_timeout=10.0) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        await stream.send_all(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no end of head
        start = trio.current_time()
        with trio.fail_after(60):
            assert await stream.receive_some(100) == b""
        assert 10.0 <= trio.current_time() - start < 11.0
        await stream.aclose()
        await still_echoes(server)


async def test_upgrade_accepted_but_client_never_speaks_is_not_a_handshake_problem(autojump_clock):
    app, events = make_app()
    async with open_test_server(app, websocket__idle_timeout=30.0) as server:
        client = await RawClient.connect(server.port, "/ws")
        with trio.fail_after(100):
            assert await client.read_close_code() == 1000  # idle timeout, not a cut
        await client.aclose()
        await wait_for(lambda: reasons(events))
        assert type(reasons(events)[0]).__name__ == "Timeout"


async def test_cross_origin_websocket_is_refused():
    app, _ = make_app()
    async with open_test_server(app, server__allowed_origins=["https://good.example"]) as server:
        bad = upgrade_request("/echo", Origin="https://evil.example")
        assert (await server.request(bad)).status == 403

        def allowed(origin):
            with sync_connect(server.url("/echo"), origin=origin) as ws:
                ws.send("ok")
                return ws.recv(timeout=5)

        def unlisted_origin():
            with pytest.raises(InvalidStatus) as caught:
                sync_connect(server.url("/echo"), origin="https://evil.example")
            return caught.value.response.status_code

        assert await trio.to_thread.run_sync(allowed, "https://good.example") == "ok"
        same_site = f"http://127.0.0.1:{server.port}"
        assert await trio.to_thread.run_sync(allowed, same_site) == "ok"
        assert await trio.to_thread.run_sync(unlisted_origin) == 403
        await still_echoes(server)


async def test_one_crashing_connection_does_not_touch_the_others():
    app, events = make_app()
    async with open_test_server(app) as server:
        async with (
            server.connect("/ws") as victim,
            server.connect("/ws") as bystander,
            server.connect("/echo") as echo,
        ):
            await victim.send_message("crash")
            with pytest.raises(ConnectionClosed) as caught:
                await victim.get_message()
            assert caught.value.reason.code == 1011
            for ws in (bystander, echo):
                await ws.send_message("fine")
                assert await ws.get_message() == "fine"
        await wait_for(lambda: len(reasons(events)) == 2)
    crash = [r for r in reasons(events) if isinstance(r, Crash)]
    assert len(crash) == 1 and str(crash[0].exception) == "handler bug"
    assert app.statistics().crashes == 1


async def test_a_client_offering_compression_gets_none_and_still_talks():
    # The transport negotiates no extension: a client offering
    # permessage-deflate (websockets does by default) must get plain frames.
    app, _ = make_app()
    async with open_test_server(app) as server:

        def talk() -> tuple[list[str], str]:
            with sync_connect(server.url("/echo"), compression="deflate") as ws:
                ws.send("hello " * 100)
                reply = ws.recv(timeout=5)
                return [str(e) for e in ws.protocol.extensions], reply

        extensions, reply = await trio.to_thread.run_sync(talk)
        assert extensions == [] and reply == "hello " * 100
