"""Topics over real sockets: both delivery paths, order, codecs, two independent clients."""

from __future__ import annotations

import contextlib
import itertools

import msgpack
import trio
import trio.lowlevel
from websockets.sync.client import connect as sync_connect

from actorsock import (
    JSON,
    MSGPACK,
    App,
    Handler,
    Text,
    broadcast,
    broadcast_frame,
    broadcast_from,
    default_pubsub,
    send,
    subscribe,
    subscriber_count,
)
from actorsock.core.sent_tally import SentTally
from actorsock.runtime.loop import current_loop
from actorsock.testing import open_test_server

from .helpers import wait_for

_topics = itertools.count()


def subscriber(topic: str, **attributes):
    """A handler subscribed to ``topic`` that writes mailbox messages as ``info:<msg>``.

    A client text "others:<x>" is sent to every other subscriber's mailbox.
    """

    class Subscriber(Handler):
        async def websocket_init(self):
            subscribe(topic)
            return Text("subscribed")

        async def websocket_handle(self, frame):
            if isinstance(frame, Text) and frame.text.startswith("others:"):
                broadcast_from(self.pid, topic, frame.text[7:])
            return None

        async def websocket_info(self, message):
            return Text(f"info:{message}")

    for name, value in attributes.items():
        setattr(Subscriber, name, value)
    return Subscriber


@contextlib.asynccontextmanager
async def mixed_subscribers(server, topic, count, receive):
    """``count`` trio-websocket clients and one ``websockets`` client (in a thread) on /sub.

    Yields ``(clients, results)`` once all are subscribed to ``topic``. The
    thread calls ``receive(client)`` and appends what it returns to
    ``results``, which is complete when the block has ended.
    """
    url = server.url("/sub")
    ready = trio.Event()
    results = []

    def websockets_client(token):
        with sync_connect(url) as client:
            assert client.recv(timeout=5) == "subscribed"
            trio.from_thread.run_sync(ready.set, trio_token=token)
            return receive(client)

    async def run_thread():
        token = trio.lowlevel.current_trio_token()
        results.append(await trio.to_thread.run_sync(websockets_client, token))

    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(server.connect("/sub")) for _ in range(count)]
        for ws in clients:
            assert await ws.get_message() == "subscribed"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_thread)
            await ready.wait()
            await wait_for(lambda: subscriber_count(topic) == count + 1)
            yield clients, results


async def test_broadcast_frame_reaches_trio_websocket_and_websockets_clients():
    topic = f"t{next(_topics)}"
    async with (
        open_test_server(App(routes={"/sub": subscriber(topic)})) as server,
        server.connect("/sub") as ws,
    ):
        assert await ws.get_message() == "subscribed"
        ready = trio.Event()
        url = server.url("/sub")

        def websockets_client(token):
            with sync_connect(url) as client:
                assert client.recv(timeout=5) == "subscribed"
                # The client offers permessage-deflate; the server must not
                # accept it (frames are shared between clients).
                extensions = client.response.headers.get("Sec-WebSocket-Extensions")
                trio.from_thread.run_sync(ready.set, trio_token=token)
                return extensions, client.recv(timeout=5), client.recv(timeout=5)

        async with trio.open_nursery() as nursery:
            result = []

            async def run_thread():
                token = trio.lowlevel.current_trio_token()
                result.append(await trio.to_thread.run_sync(websockets_client, token))

            nursery.start_soon(run_thread)
            await ready.wait()
            await wait_for(lambda: subscriber_count(topic) == 2)
            assert broadcast_frame(topic, Text("frame one")) == 2
            assert broadcast(topic, "message two") == 2
        assert result == [(None, "frame one", "info:message two")]
        assert await ws.get_message() == "frame one"
        assert await ws.get_message() == "info:message two"


async def test_idle_subscribers_get_a_broadcast_through_their_lanes(monkeypatch):
    """Parked connections are written to by descriptor; counts reach statistics."""
    topic = f"t{next(_topics)}"
    app = App(routes={"/sub": subscriber(topic)})
    counted = []
    real_add = SentTally.add

    def add(tally, fds, frames, size):
        counted.append((len(fds), frames, size))
        real_add(tally, fds, frames, size)

    monkeypatch.setattr(SentTally, "add", add)
    async with (
        open_test_server(app) as server,
        mixed_subscribers(server, topic, 4, lambda client: client.recv(timeout=5)) as (
            clients,
            results,
        ),
    ):
        await trio.testing.wait_all_tasks_blocked()  # every connection parked
        before = app.statistics().messages_out
        assert broadcast_frame(topic, Text("by descriptor")) == 5
        for ws in clients:
            assert await ws.get_message() == "by descriptor"
        assert counted == [(5, 1, len(b"\x81\x0dby descriptor"))]
        assert app.statistics().messages_out - before == 5
        assert all(c.messages_out == 2 for c in app.connection_statistics())
    assert results == ["by descriptor"]


async def test_broadcast_from_skips_the_sender():
    topic = f"t{next(_topics)}"
    async with (
        open_test_server(App(routes={"/sub": subscriber(topic)})) as server,
        server.connect("/sub") as a,
        server.connect("/sub") as b,
        server.connect("/sub") as c,
    ):
        for ws in (a, b, c):
            assert await ws.get_message() == "subscribed"
        await a.send_message("others:hello")
        assert await b.get_message() == "info:hello"
        assert await c.get_message() == "info:hello"
        await a.send_message("others:second")  # a got nothing in between
        await b.send_message("others:from b")
        assert await a.get_message() == "info:from b"


async def test_order_is_kept_across_mailbox_and_direct_paths():
    topic = f"t{next(_topics)}"

    async with (
        open_test_server(App(routes={"/sub": subscriber(topic)})) as server,
        server.connect("/sub") as ws,
    ):
        assert await ws.get_message() == "subscribed"
        expected = []
        for i in range(200):
            if i % 3:
                broadcast(topic, i)
                expected.append(f"info:{i}")
            else:
                broadcast_frame(topic, Text(f"frame:{i}"))
                expected.append(f"frame:{i}")
            if i % 17 == 0:
                await trio.lowlevel.checkpoint()  # let the connection run now and then
        got = [await ws.get_message() for _ in expected]
        assert got == expected


async def test_values_are_encoded_once_per_codec():
    topic = f"t{next(_topics)}"
    app = App(routes={"/json": subscriber(topic), "/msgpack": subscriber(topic, codec=MSGPACK)})
    async with (
        open_test_server(app) as server,
        server.connect("/json") as j1,
        server.connect("/json") as j2,
        server.connect("/msgpack") as m1,
        server.connect("/msgpack") as m2,
    ):
        for ws in (j1, j2, m1, m2):
            assert await ws.get_message() == "subscribed"
        before = default_pubsub.statistics().encodings
        assert broadcast_frame(topic, {"cpu": 0.5, "name": "héllo"}) == 4
        assert default_pubsub.statistics().encodings - before == 2
        for ws in (j1, j2):
            text = await ws.get_message()
            assert text == JSON.encode({"cpu": 0.5, "name": "héllo"}).text
        for ws in (m1, m2):
            data = await ws.get_message()
            assert msgpack.unpackb(data) == {"cpu": 0.5, "name": "héllo"}


async def test_subscriptions_end_with_the_connection():
    topic = f"t{next(_topics)}"
    async with open_test_server(App(routes={"/sub": subscriber(topic)})) as server:
        async with server.connect("/sub") as ws:
            assert await ws.get_message() == "subscribed"
            assert subscriber_count(topic) == 1
        await wait_for(lambda: subscriber_count(topic) == 0)
        assert broadcast_frame(topic, Text("nobody")) == 0


async def test_broadcast_from_a_plain_thread():
    topic = f"t{next(_topics)}"
    async with (
        open_test_server(App(routes={"/sub": subscriber(topic)})) as server,
        server.connect("/sub") as ws,
    ):
        assert await ws.get_message() == "subscribed"

        def publisher():
            broadcast_frame(topic, Text("direct from thread"))
            broadcast(topic, "mailbox from thread")

        await trio.to_thread.run_sync(publisher)
        assert await ws.get_message() == "direct from thread"
        assert await ws.get_message() == "info:mailbox from thread"


async def test_a_fan_out_larger_than_a_slice_keeps_order_and_lets_other_tasks_run():
    topic = f"t{next(_topics)}"
    deliveries = current_loop().deliveries
    deliveries.slice_size = 2  # this trio run only: 7 subscribers take 4 slices
    deliveries.pacer.most = 1  # one slice per yield, whatever the wall clock says
    async with (
        open_test_server(App(routes={"/sub": subscriber(topic)})) as server,
        contextlib.AsyncExitStack() as stack,
    ):
        clients = [await stack.enter_async_context(server.connect("/sub")) for _ in range(7)]
        for ws in clients:
            assert await ws.get_message() == "subscribed"
        pids = default_pubsub.subscribers(topic)

        # Another task sees the queue shrink: it ran between slices.
        assert broadcast_frame(topic, Text("frame:start")) == 7
        assert deliveries.pending == 5
        seen = []
        while deliveries.pending:
            seen.append(deliveries.pending)
            await trio.lowlevel.checkpoint()
        assert set(seen) & {3, 1}

        expected = ["frame:start"]
        for i in range(60):
            if i % 3 == 0:
                broadcast_frame(topic, Text(f"frame:{i}"))
                expected.append(f"frame:{i}")
            elif i % 3 == 1:
                broadcast(topic, i)
                expected.append(f"info:{i}")
            else:
                for pid in pids:  # sent while the fan-out above is still under way
                    send(pid, f"sent {i}")
                expected.append(f"info:sent {i}")
            if i % 7 == 0:
                await trio.lowlevel.checkpoint()
        for ws in clients:
            assert [await ws.get_message() for _ in expected] == expected


async def test_frames_published_faster_than_a_fan_out_arrive_batched_whole_and_in_order():
    topic = f"t{next(_topics)}"
    deliveries = current_loop().deliveries
    deliveries.slice_size = 2  # this trio run only: each fan-out to 6 leaves 4 waiting
    expected = [f"frame:{i}" for i in range(60)] + [f'{{"n":{i}}}' for i in range(60)]
    async with (
        open_test_server(App(routes={"/sub": subscriber(topic)})) as server,
        mixed_subscribers(
            server, topic, 5, lambda client: [client.recv(timeout=10) for _ in expected]
        ) as (clients, results),
    ):
        encodings = default_pubsub.statistics().encodings
        # No checkpoint in between: each publication after the first
        # queues behind the fan-outs before it, ready frames first, then
        # values encoded per codec (two kinds that never share a batch).
        for i in range(60):
            assert broadcast_frame(topic, Text(f"frame:{i}")) == 6
        for i in range(60):
            assert broadcast_frame(topic, {"n": i}) == 6
        assert default_pubsub.statistics().batched >= 100
        for ws in clients:
            assert [await ws.get_message() for _ in expected] == expected
    assert results == [expected]
    assert default_pubsub.statistics().encodings - encodings == 60 + 60
