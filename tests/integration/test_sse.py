"""Server-Sent Events over real sockets, read by clients nobody here wrote.

httpx with httpx-sse parses the events as a browser would; h11 as a client
reads the raw body where the test needs what parsers hide (comments, the
chunked ending, an HTTP/1.0 response); headless Chromium's EventSource,
where Chromium is installed, reconnects with ``Last-Event-ID`` itself.
"""

from __future__ import annotations

import contextlib
import math
import socket
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import h11
import httpx
import msgpack
import pytest
import trio
from httpx_sse import connect_sse

from actorsock import (
    MSGPACK,
    App,
    Binary,
    Crash,
    ErrorReason,
    Event,
    FrameRefused,
    Handler,
    Reject,
    Remote,
    Shutdown,
    Text,
    broadcast_frame,
    send,
    subscribe,
)
from actorsock.testing import open_test_server

from .helpers import Echo, wait_for

ended: list[Any] = []


class Story(Handler):
    """Sends a fixed sequence of events as soon as the stream opens."""

    async def websocket_init(self) -> list[Any]:
        return [
            Text("first"),
            Text("one\ntwo\r\nthree\rfour"),
            Event("tick 1", event="tick", id="1", retry=2500),
            Event("", event="empty"),
            Event(" leading space kept", id="2"),
        ]

    async def terminate(self, reason: Any) -> None:
        ended.append(reason)


class Resume(Handler):
    """Counts on from the client's Last-Event-ID, one event per message it is sent."""

    async def init(self, request: Any) -> None:
        self.last = int(request.header("last-event-id") or 0)

    async def websocket_init(self) -> Event:
        self.last += 1
        return Event(f"event {self.last}", id=str(self.last))

    async def websocket_info(self, message: Any) -> Any:
        self.last += 1
        return Event(f"event {self.last}", id=str(self.last))

    async def terminate(self, reason: Any) -> None:
        ended.append(reason)


class Quiet(Handler):
    """Sends nothing; only the heartbeat speaks."""

    async def terminate(self, reason: Any) -> None:
        ended.append(reason)


class Flood(Handler):
    """64 KiB events as fast as the send queue takes them (for slow readers)."""

    async def websocket_init(self) -> None:
        self.send_after(0, "more")

    async def websocket_info(self, message: Any) -> list[Any]:
        self.send_after(0.001, "more")
        return [Text("x" * 65536)] * 4

    async def terminate(self, reason: Any) -> None:
        ended.append(reason)


class SendsBinary(Handler):
    async def websocket_init(self) -> list[Any]:
        return [Text("before"), Binary(b"\x00\x01")]

    async def terminate(self, reason: Any) -> None:
        ended.append(reason)


class Subscriber(Handler):
    """Follows the topic ``news`` (over whatever transport it is served)."""

    async def websocket_init(self) -> Text:
        subscribe("news")
        subscribe("packed", codec=MSGPACK)  # binary frames
        return Text("subscribed")

    async def terminate(self, reason: Any) -> None:
        ended.append(reason)


class Guarded(Handler):
    async def init(self, request: Any) -> Reject | None:
        if request.query.get("token") != "secret":
            return Reject(401, "who are you?\n")
        return None

    async def websocket_init(self) -> Text:
        return Text("welcome")


def make_app() -> App:
    return App(
        routes={"/ws/news": Subscriber, "/echo": Echo},
        sse_routes={
            "/story": Story,
            "/resume": Resume,
            "/quiet": Quiet,
            "/flood": Flood,
            "/binary": SendsBinary,
            "/news": Subscriber,
            "/guarded": Guarded,
        },
    )


opened: list[trio.SocketStream] = []


@pytest.fixture(autouse=True)
def clear_ended():
    # A plain fixture: pytest-trio does not order async autouse fixtures
    # before the test.
    ended.clear()
    opened.clear()


@asynccontextmanager
async def serving(app: App, **options: Any):
    """open_test_server, and the raw streams the block opened closed after it."""
    try:
        async with open_test_server(app, **options) as server:
            yield server
    finally:
        for stream in opened:
            await stream.aclose()


# -- a raw reader: h11 as the HTTP client ------------------------------------


class RawStream:
    """An event stream read through h11, body bytes kept as they came."""

    def __init__(self, stream: trio.SocketStream, client: h11.Connection) -> None:
        self.stream = stream
        self.client = client
        self.response: h11.Response | None = None
        self.body = b""
        self.ended = False  # the response body ended (last chunk, or close for HTTP/1.0)

    async def next_event(self) -> Any:
        while True:
            event = self.client.next_event()
            if event is h11.NEED_DATA:
                data = await self.stream.receive_some(65536)
                self.client.receive_data(data)
                continue
            if isinstance(event, h11.Data):
                self.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.ended = True
            return event

    async def read_until(self, predicate) -> None:
        while not predicate(self):
            event = await self.next_event()
            if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                self.ended = True
                return


async def open_raw(
    port: int, path: str, *, version: bytes = b"1.1", method: str = "GET", **headers: str
) -> RawStream:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    opened.append(stream)  # closed after the test
    client = h11.Connection(h11.CLIENT)
    fields = [("host", "127.0.0.1"), *((k.replace("_", "-"), v) for k, v in headers.items())]
    request = h11.Request(method=method, target=path, headers=fields)
    data = client.send(request) + client.send(h11.EndOfMessage())
    if version != b"1.1":  # h11 sends HTTP/1.1 only; it still reads the answer
        data = data.replace(b" HTTP/1.1\r\n", b" HTTP/" + version + b"\r\n", 1)
    await stream.send_all(data)
    raw = RawStream(stream, client)
    while raw.response is None:
        event = await raw.next_event()
        if isinstance(event, h11.Response):
            raw.response = event
    return raw


def header(response: h11.Response | None, name: bytes) -> bytes | None:
    assert response is not None
    return dict(response.headers).get(name)


@asynccontextmanager
async def sse_events(url: str, headers: dict[str, str] | None = None):
    """httpx-sse's parsed events of a GET, read in a thread by httpx's sync client.

    (Its async client, left before the end of a stream, leaves async
    generators for the garbage collector; a thread keeps it simple.) Yields
    the response and a channel of events; the thread is abandoned at the end
    of the block and ends when the server closes the stream.
    """
    send, receive = trio.open_memory_channel[Any](math.inf)
    token = trio.lowlevel.current_trio_token()

    def hand(value: Any) -> None:
        with contextlib.suppress(trio.RunFinishedError, trio.ClosedResourceError):
            trio.from_thread.run_sync(send.send_nowait, value, trio_token=token)

    def read() -> None:
        with (
            httpx.Client(timeout=None) as client,
            connect_sse(client, "GET", url, headers=dict(headers or {})) as source,
        ):
            hand(source.response)
            with contextlib.suppress(httpx.HTTPError):
                for event in source.iter_sse():
                    hand(event)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(trio.to_thread.run_sync, read, abandon_on_cancel=True))
        with trio.fail_after(10):
            response = await receive.receive()
        yield response, receive
        nursery.cancel_scope.cancel()


async def take(events: trio.MemoryReceiveChannel[Any], count: int) -> list[Any]:
    with trio.fail_after(10):
        return [await events.receive() for _ in range(count)]


async def next_event(events: trio.MemoryReceiveChannel[Any]) -> Any:
    (event,) = await take(events, 1)
    return event


# -- tests ------------------------------------------------------------------


async def test_events_arrive_in_order_with_their_fields():
    async with (
        serving(make_app()) as server,
        sse_events(server.url("/story", "http")) as (response, events),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        received = [
            (event.event, event.data, event.id, event.retry) for event in await take(events, 5)
        ]
    assert received == [
        ("message", "first", "", None),
        ("message", "one\ntwo\nthree\nfour", "", None),  # every line end splits
        ("tick", "tick 1", "1", 2500),
        ("empty", "", "1", None),  # the id sticks until the next one
        ("message", " leading space kept", "2", None),
    ]


async def test_last_event_id_reaches_init_and_the_stream_goes_on_after_it():
    app = make_app()
    async with (
        serving(app) as server,
        sse_events(server.url("/resume", "http"), headers={"Last-Event-ID": "41"}) as (
            _,
            events,
        ),
    ):
        first = await next_event(events)
        assert (first.id, first.data) == ("42", "event 42")
        (pid,) = app.connections()
        send(pid, "next")
        second = await next_event(events)
        assert (second.id, second.data) == ("43", "event 43")


async def test_a_quiet_stream_gets_a_heartbeat_comment_every_interval(autojump_clock):
    async with serving(make_app()) as server:
        raw = await open_raw(server.port, "/quiet")
        opened = trio.current_time()
        seen = []
        for _ in range(3):
            count = raw.body.count(b": keep-alive\n\n")
            await raw.read_until(lambda r, n=count: r.body.count(b": keep-alive\n\n") > n)
            seen.append(round(trio.current_time() - opened))
        assert seen == [15, 30, 45]  # sse.heartbeat_interval, 15 s by default
        assert raw.body == b": keep-alive\n\n" * 3  # comments only, nothing else
        await raw.stream.aclose()


async def test_the_heartbeat_interval_is_configurable_and_zero_turns_it_off(autojump_clock):
    async with serving(make_app(), sse__heartbeat_interval=2.0) as server:
        raw = await open_raw(server.port, "/quiet")
        opened = trio.current_time()
        await raw.read_until(lambda r: r.body)
        assert round(trio.current_time() - opened) == 2
        await raw.stream.aclose()
    async with serving(make_app(), sse__heartbeat_interval=0.0) as server:
        raw = await open_raw(server.port, "/quiet")
        with trio.move_on_after(120):
            await raw.read_until(lambda r: r.body)
        assert raw.body == b"" and not raw.ended
        await raw.stream.aclose()


async def test_an_sse_session_does_not_end_for_lack_of_client_data(autojump_clock):
    # WebSocket sessions end after idle_timeout without client data; an SSE
    # client sends nothing at all, so the rule does not apply to it.
    async with serving(make_app(), websocket__idle_timeout=1.0) as server:
        raw = await open_raw(server.port, "/quiet")
        with trio.move_on_after(100):
            await raw.read_until(lambda r: r.ended)
        assert not raw.ended and ended == []
        assert raw.body.count(b": keep-alive") == 6
        await raw.stream.aclose()
        await wait_for(lambda: ended == [Remote()])


async def test_the_client_leaving_ends_the_session_as_remote():
    async with serving(make_app()) as server:
        raw = await open_raw(server.port, "/quiet")
        await wait_for(lambda: server.app.statistics().connections == 1)
        await raw.stream.aclose()
        await wait_for(lambda: ended == [Remote()])
        assert server.app.statistics().connections == 0


async def test_a_reader_that_stops_reading_meets_the_send_policy():
    async with serving(make_app(), websocket__send_queue_bytes=1 << 20) as server:
        sock = trio.socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await sock.connect(("127.0.0.1", server.port))
        slow = trio.SocketStream(sock)
        await slow.send_all(b"GET /flood HTTP/1.1\r\nhost: x\r\n\r\n")  # and never reads
        async with (
            sse_events(server.url("/story", "http")) as (_, events),
        ):
            await wait_for(lambda: any(r == ErrorReason("send_overflow", 1013) for r in ended))
            # The slow reader's overflow touched nobody else.
            got = [event.data for event in await take(events, 5)]
            assert got[0] == "first" and len(got) == 5
        stats = server.app.statistics()
        assert stats.send_overflows == 1
        await slow.aclose()


async def test_server_shutdown_ends_every_stream_cleanly():
    app = make_app()
    async with serving(app) as server:
        readers = [await open_raw(server.port, "/quiet") for _ in range(3)]
        await wait_for(lambda: app.statistics().connections == 3)
        await app.shutdown()
        for raw in readers:
            with trio.fail_after(5):
                await raw.read_until(lambda r: r.ended)
            assert raw.ended  # the last chunk: a whole body, not a cut stream
            assert raw.client.their_state is h11.DONE
    assert ended == [Shutdown()] * 3


async def test_a_binary_frame_is_refused_at_the_handler():
    async with serving(make_app()) as server:
        raw = await open_raw(server.port, "/binary")
        with trio.fail_after(5):
            await raw.read_until(lambda r: r.ended)
        assert raw.body == b"data: before\n\n"  # nothing of the binary frame went out
        await wait_for(lambda: len(ended) == 1)
        (reason,) = ended
        assert isinstance(reason, Crash) and isinstance(reason.exception, FrameRefused)
        assert "text only" in str(reason.exception)


async def test_a_broadcast_reaches_websocket_and_sse_subscribers_alike():
    app = make_app()
    async with (
        serving(app) as server,
        server.connect("/ws/news") as ws,
        sse_events(server.url("/news", "http")) as (_, events),
    ):
        assert (await next_event(events)).data == "subscribed"
        assert await ws.get_message() == "subscribed"
        for n in range(3):
            broadcast_frame("news", {"n": n})
        for n in range(3):
            assert (await next_event(events)).data == f'{{"n":{n}}}'
            assert await ws.get_message() == f'{{"n":{n}}}'
        # A binary broadcast cannot go over SSE: that subscriber's session
        # ends as a crash; the WebSocket one gets it.
        broadcast_frame("packed", {"n": 9})
        assert await ws.get_message() == msgpack.packb({"n": 9})
        await wait_for(lambda: len(ended) == 1)
        assert isinstance(ended[0], Crash) and isinstance(ended[0].exception, FrameRefused)


async def test_methods_of_an_sse_route():
    async with serving(make_app()) as server:
        head = await server.request(b"HEAD /quiet HTTP/1.1\r\nhost: x\r\n\r\n")
        assert head.status == 200 and head.body == b""
        assert head.headers["content-type"] == "text/event-stream; charset=utf-8"
        post = await server.request(
            b"POST /quiet HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi"
        )
        assert post.status == 405 and post.headers["allow"] == "GET, HEAD, OPTIONS"
        options = await server.request(b"OPTIONS /quiet HTTP/1.1\r\nhost: x\r\n\r\n")
        assert options.status == 204 and options.headers["allow"] == "GET, HEAD, OPTIONS"
        assert server.app.statistics().connections_total == 0  # no session ran


async def test_init_can_refuse_an_event_stream():
    async with serving(make_app()) as server, httpx.AsyncClient() as client:
        refused = await client.get(server.url("/guarded", "http"))
        assert refused.status_code == 401 and refused.text == "who are you?\n"
        async with sse_events(server.url("/guarded?token=secret", "http")) as (_, events):
            assert (await next_event(events)).data == "welcome"


async def test_an_http_1_0_client_reads_events_to_the_end_of_the_connection():
    app = make_app()
    async with serving(app) as server:
        raw = await open_raw(server.port, "/story", version=b"1.0")
        assert header(raw.response, b"transfer-encoding") is None  # not chunked
        await raw.read_until(lambda r: r.body.count(b"\n\n") == 5)
        assert raw.body.startswith(b"data: first\n\ndata: one\ndata: two\ndata: three\n")
        await app.shutdown()
        await raw.read_until(lambda r: r.ended)
        assert raw.ended


async def test_event_streams_count_against_max_connections():
    async with serving(make_app(), server__max_connections=2) as server:
        readers = [await open_raw(server.port, "/quiet") for _ in range(2)]
        full = await open_raw(server.port, "/quiet")
        assert full.response is not None and full.response.status_code == 503
        for raw in readers:
            await raw.stream.aclose()
        await wait_for(lambda: server.app.statistics().connections == 0)
        again = await open_raw(server.port, "/quiet")
        assert again.response is not None and again.response.status_code == 200
        await again.stream.aclose()


async def test_a_parked_sse_session_gets_broadcasts_through_its_lane():
    from actorsock.core.event_stream import EVENT_STREAM_CHUNKED

    app = make_app()
    async with (
        serving(app) as server,
        server.connect("/ws/news") as ws,
        sse_events(server.url("/news", "http")) as (_, events),
    ):
        assert (await next_event(events)).data == "subscribed"
        assert await ws.get_message() == "subscribed"
        sse_pid = next(p for p in app.connections() if p.direct_wire is EVENT_STREAM_CHUNKED)
        await wait_for(lambda: sse_pid.direct_fd >= 0)  # parked: the lane is open
        for n in range(3):
            broadcast_frame("news", {"n": n})
        assert [e.data for e in await take(events, 3)] == ['{"n":0}', '{"n":1}', '{"n":2}']
        assert [await ws.get_message() for _ in range(3)] == ['{"n":0}', '{"n":1}', '{"n":2}']
        stats = {s.pid: s for s in app.connection_statistics()}
        assert stats[sse_pid].messages_out == 4  # "subscribed" and the three, counted
