"""No single request takes down anything but itself; refusals free their slot at once."""

from __future__ import annotations

import h11
import pytest
import trio
from structlog.testing import capture_logs
from websockets.sync.client import connect as sync_connect

import actorsock.transports.front as front_module
import actorsock.transports.websocket_route as connection_module
from actorsock import App, Handler, Reject, Text
from actorsock.testing import open_test_server
from actorsock.transports.http import HeadReader
from actorsock.transports.websocket import ServerWebSocket

from .helpers import KEY, Echo, EchoCrowd, RawClient, frame, read_reply, status_of, wait_for

CROWD = 200


def upgrade(path: str = "/echo", *lines: bytes, host: bytes = b"127.0.0.1") -> bytes:
    head = [
        b"GET " + path.encode() + b" HTTP/1.1",
        b"Host: " + host,
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: " + KEY.encode(),
        b"Sec-WebSocket-Version: 13",
        *lines,
    ]
    return b"\r\n".join(head) + b"\r\n\r\n"


# Bytes in the head that some layer decodes, and what the server must answer.
VECTORS = [
    ("idna-host", upgrade(host=b"xn--zz"), 400),
    ("latin1-host", upgrade(host=b"caf\xe9.example"), 400),
    ("idna-host-plain-http", b"GET /healthz HTTP/1.1\r\nHost: xn--zz\r\n\r\n", 400),
    (
        "connection",
        upgrade("/echo").replace(b"Connection: Upgrade", b"Connection: Upgr\xe4de"),
        400,
    ),
    ("protocol", upgrade("/echo", b"Sec-WebSocket-Protocol: chat, \xe9t\xe9"), 400),
    ("extensions", upgrade("/echo", b"Sec-WebSocket-Extensions: deflate\xff"), 400),
    ("origin", upgrade("/echo", b"Origin: http://\xe9vil.example"), 403),
    ("cookie", upgrade("/echo", b"Cookie: a=\xe9\xff; b"), 101),
    ("query", upgrade("/echo?name=%ff%fe&x=\xe9".replace("\xe9", "%e9")), 101),
    ("target-byte", b"GET /echo\xe9 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("header-name-byte", upgrade("/echo", b"X-\xe9: 1"), 400),
]


@pytest.mark.slow
async def test_bytes_that_layers_decode_get_a_4xx_and_nobody_else_notices():
    app = App(routes={"/echo": Echo})
    crowd = EchoCrowd(CROWD)
    async with open_test_server(app) as server, trio.open_nursery() as nursery:
        nursery.start_soon(crowd.run, server)
        await crowd.wait_connected()
        for name, raw, status in VECTORS:
            assert status_of(await read_reply(server.port, raw)) == status, name
        await trio.sleep(0.3)  # a few more rounds for everybody
        crowd.stop()
    crowd.assert_unharmed(min_rounds=3)
    assert app.statistics().connections_total == CROWD + 2  # nobody had to reconnect


class Victim(Handler):
    """Raises in the callback the test names in the query string (?fail=init...)."""

    async def init(self, request):
        if request.query.get("fail") == "init":
            raise RuntimeError("injected in init")

    async def websocket_init(self):
        if self.request.query.get("fail") == "websocket_init":
            raise RuntimeError("injected in websocket_init")

    async def websocket_handle(self, frame):
        return frame

    async def terminate(self, reason):
        if self.request.query.get("fail") == "terminate":
            raise RuntimeError("injected in terminate")


class OneShot:
    """Arms one injection point: the next call through it raises."""

    def __init__(self) -> None:
        self.armed: str | None = None

    def fire(self, stage: str) -> None:
        if self.armed == stage:
            self.armed = None
            raise RuntimeError(f"injected at {stage}")


def inject_everywhere(monkeypatch: pytest.MonkeyPatch, shot: OneShot) -> None:
    """Wrap each stage of serving a stream so that ``shot`` can make it raise."""
    next_head_event = HeadReader.next_event
    to_request = front_module.to_request
    origin_allowed = front_module.origin_allowed
    accept = connection_module.open_websocket
    next_inbound = ServerWebSocket.next_inbound

    def read_head_hook(self):
        event = next_head_event(self)
        if isinstance(event, h11.Request):
            shot.fire("head read")
        return event

    def routing_hook(event, peer):
        shot.fire("routing")
        return to_request(event, peer)

    def origin_hook(request, allowed):
        shot.fire("origin check")
        return origin_allowed(request, allowed)

    async def upgrade_hook(*args, **kwargs):
        shot.fire("upgrade")
        return await accept(*args, **kwargs)

    def first_frame_hook(self):
        frame = next_inbound(self)
        if isinstance(frame, Text) and frame.text == "victim":
            shot.fire("first frame")
        return frame

    monkeypatch.setattr(HeadReader, "next_event", read_head_hook)
    monkeypatch.setattr(front_module, "to_request", routing_hook)
    monkeypatch.setattr(front_module, "origin_allowed", origin_hook)
    monkeypatch.setattr(connection_module, "open_websocket", upgrade_hook)
    monkeypatch.setattr(ServerWebSocket, "next_inbound", first_frame_hook)


# stage armed, query of the victim's request, what the victim sees
STAGES = [
    ("head read", "", 500),
    ("routing", "", 500),
    ("origin check", "", 500),
    ("upgrade", "", None),  # the WebSocket layer owns the stream: it just ends
    (None, "fail=init", 500),
    (None, "fail=websocket_init", 1011),
    ("first frame", "", None),  # the stream just ends (TCP closed)
    (None, "fail=terminate", 1000),
]


@pytest.mark.slow
async def test_an_exception_at_any_stage_ends_that_stream_only(monkeypatch):
    shot = OneShot()
    app = App(routes={"/echo": Echo, "/victim": Victim})
    crowd = EchoCrowd(CROWD)
    async with open_test_server(app) as server, trio.open_nursery() as nursery:
        nursery.start_soon(crowd.run, server)
        await crowd.wait_connected()
        inject_everywhere(monkeypatch, shot)
        for stage, query, outcome in STAGES:
            shot.armed = stage
            with capture_logs() as lines:
                seen = await victim_outcome(server.port, f"/victim?{query}")
                await wait_for(lambda: len(app.connections()) == CROWD)
            assert shot.armed is None, f"{stage} was never reached"
            assert seen == outcome, (stage, query)
            crashed = [line for line in lines if line["log_level"] == "error"]
            assert len(crashed) == 1, (stage, query, crashed)  # logged once
            assert crashed[0].get("remote") or crashed[0].get("pid"), crashed[0]
        monkeypatch.undo()
        await trio.sleep(0.3)
        crowd.stop()
        async with server.connect("/echo") as ws:  # and newcomers still get in
            await ws.send_message("after")
            assert await ws.get_message() == "after"
    crowd.assert_unharmed(min_rounds=3)


async def victim_outcome(port: int, path: str) -> int | None:
    """Connect to ``path`` and send one frame: the HTTP status or close code seen."""
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        client = RawClient(stream)
        await stream.send_all(upgrade(path))
        try:
            head = await client._read_until(b"\r\n\r\n")
        except (EOFError, trio.BrokenResourceError):
            await stream.aclose()
            return None
        if not head.startswith(b"HTTP/1.1 101"):
            await stream.aclose()
            return status_of(head)
        try:
            await client.send(frame(0x1, b"victim"))
            while True:
                opcode, payload = await client.read_frame()
                if opcode == 0x1:
                    await client.send(frame(0x8, b"\x03\xe8"))
                elif opcode == 0x8:
                    return int.from_bytes(payload[:2], "big")
        except (EOFError, trio.BrokenResourceError):
            return None
        finally:
            await stream.aclose()


# -- refused upgrades free their slot ------------------------------------


class Picky(Handler):
    async def init(self, request):
        if "reject" in request.query:
            return Reject(401, "no")
        if "crash" in request.query:
            raise RuntimeError("init bug")
        return None


REFUSALS = [
    ("bad-key", upgrade().replace(KEY.encode(), b"short"), 400),
    ("two-keys", upgrade("/echo", b"Sec-WebSocket-Key: " + KEY.encode()), 400),
    ("two-versions", upgrade("/echo", b"Sec-WebSocket-Version: 13"), 400),
    ("bad-host", upgrade(host=b"xn--zz"), 400),
    ("no-upgrade", b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 426),
    ("version-8", upgrade().replace(b"Version: 13", b"Version: 8"), 426),
    ("post", upgrade().replace(b"GET", b"POST", 1), 405),
    ("cross-origin", upgrade("/echo", b"Origin: https://evil.example"), 403),
    ("init-reject", upgrade("/picky?reject"), 401),
    ("init-crash", upgrade("/picky?crash"), 500),
    ("body", upgrade("/echo", b"Content-Length: 5") + b"hello", 400),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
]


@pytest.mark.parametrize(("raw", "status"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
async def test_each_refusal_kind_frees_its_slot_at_once(raw, status):
    app = App(routes={"/echo": Echo, "/picky": Picky})
    async with open_test_server(app, server__max_connections=5) as server:
        for _ in range(5):
            assert status_of(await read_reply(server.port, raw)) == status
            # Counted right after the answer: nothing waits for a timeout.
            await wait_for(lambda: app.admission_statistics().connections == 0, timeout=1.0)
        clients = [await RawClient.connect(server.port, "/echo") for _ in range(5)]
        assert app.admission_statistics().connections == 5
        assert status_of(await read_reply(server.port, upgrade())) == 503
        for client in clients:
            await client.aclose()
        await wait_for(lambda: app.admission_statistics().connections == 0, timeout=1.0)


async def test_a_client_that_leaves_mid_handshake_frees_its_slot():
    app = App(routes={"/echo": Echo})
    async with open_test_server(app, server__max_connections=1) as server:
        for _ in range(3):
            stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            await stream.send_all(upgrade()[:40])
            await stream.aclose()
        await wait_for(lambda: app.admission_statistics().handshakes == 0, timeout=1.0)
        client = await RawClient.connect(server.port, "/echo")
        await client.aclose()


# -- RFC 9112 / RFC 6455 cases of the opening handshake ---------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (upgrade("/echo", b"Sec-WebSocket-Key: " + KEY.encode()), 400),
        (upgrade("/echo", b"Sec-WebSocket-Version: 13"), 400),
        (upgrade().replace(b"Upgrade: websocket", b"Upgrade: foo, websocket"), 101),
        (
            upgrade().replace(
                b"Connection: Upgrade", b"Connection: keep-alive\r\nConnection: Upgrade"
            ),
            101,
        ),
        (upgrade().replace(b"GET /echo", b"GET http://127.0.0.1:1/echo"), 101),
        (b"GET http://127.0.0.1/healthz?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 200),
        (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
        (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 204),  # the server's own options
        (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # the asterisk is for OPTIONS only
    ],
    ids=[
        "two-keys",
        "two-versions",
        "upgrade-token-list",
        "two-connection-lines",
        "absolute-form-upgrade",
        "absolute-form-http",
        "target-too-long",
        "head-too-large",
        "asterisk-form",
        "asterisk-form-get",
    ],
)
async def test_handshake_edge_cases_get_the_status_the_rfcs_ask(raw, status):
    app = App(routes={"/echo": Echo})
    async with open_test_server(app) as server:
        assert status_of(await read_reply(server.port, raw)) == status


async def test_426_carries_one_connection_header():
    app = App(routes={"/echo": Echo})
    async with open_test_server(app) as server:
        reply = await read_reply(server.port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    head = reply.split(b"\r\n\r\n")[0].lower().split(b"\r\n")
    connection = [line for line in head if line.startswith(b"connection:")]
    assert connection == [b"connection: upgrade, close"]
    assert b"upgrade: websocket" in head


async def test_an_upgrade_that_is_a_token_list_speaks_websocket_with_a_real_client():
    app = App(routes={"/echo": Echo})
    async with open_test_server(app) as server:

        def talk() -> str:
            headers = {"Upgrade": "foo, websocket"}
            with sync_connect(server.url("/echo"), additional_headers=headers) as ws:
                ws.send("through the list")
                return ws.recv(timeout=5)

        assert await trio.to_thread.run_sync(talk) == "through the list"


async def test_only_the_head_counts_against_max_head_size():
    # A 200-byte head in two packets, then at once a 20 KB first message.
    app = App(routes={"/echo": Echo})
    async with open_test_server(app, server__max_head_size=1024) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        client = RawClient(stream)
        head = upgrade()
        message = b"m" * 20000
        await stream.send_all(head[:100])
        await trio.sleep(0.05)
        await stream.send_all(head[100:] + frame(0x1, message))
        with trio.fail_after(5):
            assert (await client._read_until(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
            assert await client.read_frame() == (0x1, message)
        await stream.aclose()


# -- sockets that never speak ------------------------------------------------


async def test_silent_sockets_cannot_lock_real_clients_out():
    app = App(routes={"/echo": Echo})
    silent: list[trio.SocketStream] = []
    async with open_test_server(app, server__max_handshakes=32) as server:
        try:
            for _ in range(200):
                silent.append(await trio.open_tcp_stream("127.0.0.1", server.port))
            await wait_for(lambda: app.admission_statistics().evicted >= 200 - 32)
            assert app.admission_statistics().handshakes <= 32
            async with server.connect("/echo") as ws:
                await ws.send_message("in")
                assert await ws.get_message() == "in"
            assert (await server.get("/healthz")).status == 200
        finally:
            for stream in silent:
                await stream.aclose()


# -- memory ----------------------------------------------------------------


async def test_incomplete_messages_share_one_server_wide_bound():
    app = App(routes={"/echo": Echo})
    async with open_test_server(app, server__max_incomplete_bytes=100_000) as server:
        keeper = await RawClient.connect(server.port, "/echo")
        greedy = await RawClient.connect(server.port, "/echo")
        await keeper.send(frame(0x1, b"k" * 60_000, fin=False))
        await wait_for(lambda: app.statistics().incomplete_bytes == 60_000)
        await greedy.send(frame(0x1, b"g" * 60_000, fin=False))
        with trio.fail_after(5):
            assert await greedy.read_close_code() == 1013
        await greedy.aclose()
        await keeper.send(frame(0x0, b"k" * 10))  # the rest of its message
        with trio.fail_after(5):
            assert await keeper.read_frame() == (0x1, b"k" * 60_010)
        await wait_for(lambda: app.statistics().incomplete_bytes == 0)
        assert app.statistics().inbound_overflows == 1
        await keeper.aclose()


async def test_a_closed_connection_gives_back_its_incomplete_bytes():
    app = App(routes={"/echo": Echo})
    async with open_test_server(app, server__max_incomplete_bytes=100_000) as server:
        for _ in range(5):  # 5 x 60 KB would not fit at once
            client = await RawClient.connect(server.port, "/echo")
            await client.send(frame(0x1, b"x" * 60_000, fin=False))
            await wait_for(lambda: app.statistics().incomplete_bytes == 60_000)
            await client.aclose()
            await wait_for(lambda: app.statistics().incomplete_bytes == 0)
        assert app.statistics().inbound_overflows == 0
