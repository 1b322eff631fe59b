"""Slow clients over real sockets: one client stops reading among many that read.

Each test connects readers (trio-websocket clients that read everything) and
one raw client with a small receive buffer that never reads after the
upgrade. Frames are broadcast straight to every socket in paced batches; the
readers must get every frame in order whatever happens to the slow client,
and the server must keep what it queues for the slow client within the
bound.
"""

from __future__ import annotations

import contextlib
import itertools

import pytest
import trio

from actorsock import App, ErrorReason, Handler, Text, broadcast_frame, subscribe
from actorsock.core.send_queue import CONTROL_ALLOWANCE
from actorsock.runtime.loop import current_loop
from actorsock.testing import open_test_server

from .helpers import RawClient, wait_for

READERS = 4
FRAMES = 400
PAYLOAD = 4000  # bytes per frame: 1.6 MB per client, far past kernel buffers + queue
BATCH = 8  # frames per batch; readers drain each batch before the next
QUEUE_BYTES = 64 * 1024

_topics = itertools.count()


def make_app(policy: str, topic: str) -> tuple[App, list]:
    started: list = []
    ended: list = []

    class Subscriber(Handler):
        send_queue_bytes = QUEUE_BYTES
        send_overflow = policy

        async def websocket_init(self):
            subscribe(topic)
            started.append(self.pid)

        async def terminate(self, reason):
            ended.append((self.pid, reason))

    return App(routes={"/sub": Subscriber}), [started, ended]


def payload(i: int) -> Text:
    return Text(f"{i:06d}".ljust(PAYLOAD, "."))


def index_of(text: str) -> int:
    return int(text[:6])


async def run_scenario(policy: str, slice_size: int, slow_reads_after: bool = True):
    """Broadcast FRAMES frames; return (app, slow pid, what the slow client read, stats).

    With a ``slice_size`` below the number of subscribers, each batch of
    frames queues behind the first one's fan-out and reaches each socket
    in one write (the send policy then meets several frames at a time).
    """
    current_loop().deliveries.slice_size = slice_size  # this trio run only
    topic = f"slow{next(_topics)}"
    app, (started, ended) = make_app(policy, topic)
    peak_seen = 0
    async with open_test_server(app, websocket__close_timeout=0.5) as server:
        slow = await RawClient.connect(server.port, "/sub", receive_buffer=4096)
        await wait_for(lambda: len(started) == 1)
        slow_pid = started[0]
        readers = []
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(slow.aclose)  # last out, even on failure
            for _ in range(READERS):
                readers.append(await stack.enter_async_context(server.connect("/sub")))
            await wait_for(lambda: len(started) == 1 + READERS)
            received: list[list[int]] = [[] for _ in readers]

            async def read_all(ws, into):
                for _ in range(FRAMES):
                    into.append(index_of(await ws.get_message()))

            with trio.fail_after(60):
                async with trio.open_nursery() as nursery:
                    for ws, into in zip(readers, received, strict=True):
                        nursery.start_soon(read_all, ws, into)
                    for start in range(0, FRAMES, BATCH):
                        for i in range(start, min(start + BATCH, FRAMES)):
                            broadcast_frame(topic, payload(i))
                        for stats in app.connection_statistics():
                            if stats.pid is slow_pid:
                                peak_seen = max(peak_seen, stats.queued_bytes)
                        done = min(start + BATCH, FRAMES)
                        await wait_for(lambda d=done: all(len(r) >= d for r in received))
            # Every reader got every frame, in order, whatever the slow one did.
            for got in received:
                assert got == list(range(FRAMES))
            if policy == "disconnect":
                # Closed with 1013 on overflow; the close handshake may wait
                # close_timeout for this client, which never reads: wait for
                # the end rather than race it.
                await wait_for(lambda: any(pid is slow_pid for pid, _ in ended))
            slow_stats = [s for s in app.connection_statistics() if s.pid is slow_pid]
            slow_read: list[int] = []
            if slow_stats and slow_reads_after:
                # The slow client catches up: read what the kernel and the
                # queue still hold, then one more frame sent now.
                # (another key, so coalescing does not replace the last frame)
                broadcast_frame(topic, Text("final".ljust(10, ".")), key="final")
                with trio.fail_after(30):
                    while True:
                        opcode, data = await slow.read_frame()
                        assert opcode == 0x1
                        if data.startswith(b"final"):
                            break
                        slow_read.append(index_of(data.decode()))
        statistics = app.statistics()
        batched = current_loop().deliveries.batched
        assert batched > 0 if slice_size < 1 + READERS else batched == 0
    return slow_pid, slow_stats, slow_read, ended, peak_seen, statistics


SLICES = pytest.mark.parametrize("slice_size", [16, 2], ids=["one-frame-writes", "batched"])


def assert_within_bound(peak_seen: int, slow_stats) -> None:
    assert peak_seen <= QUEUE_BYTES + CONTROL_ALLOWANCE
    for stats in slow_stats:
        assert stats.peak_queued_bytes <= QUEUE_BYTES


@SLICES
async def test_disconnect_closes_the_slow_client_with_1013(slice_size):
    slow_pid, slow_stats, _, ended, peak_seen, statistics = await run_scenario(
        "disconnect", slice_size
    )
    assert slow_stats == []  # it was gone before the broadcasts ended
    reasons = dict(ended)
    assert reasons[slow_pid] == ErrorReason("send_overflow", 1013)
    assert statistics.send_overflows == 1
    assert statistics.closed_by_reason.get("error") == 1
    assert peak_seen <= QUEUE_BYTES + CONTROL_ALLOWANCE


@SLICES
async def test_drop_newest_keeps_what_was_queued_first(slice_size):
    _, slow_stats, slow_read, _, peak_seen, statistics = await run_scenario(
        "drop_newest", slice_size
    )
    assert_within_bound(peak_seen, slow_stats)
    [stats] = slow_stats
    assert stats.dropped > 0 and statistics.dropped >= stats.dropped
    # A prefix without gaps: the newest frames were the ones refused.
    assert slow_read == list(range(len(slow_read)))
    assert 0 < len(slow_read) < FRAMES
    assert len(slow_read) + stats.dropped == FRAMES


@SLICES
async def test_drop_oldest_keeps_the_newest_frames(slice_size):
    _, slow_stats, slow_read, _, peak_seen, _ = await run_scenario("drop_oldest", slice_size)
    assert_within_bound(peak_seen, slow_stats)
    [stats] = slow_stats
    assert stats.dropped > 0
    assert slow_read == sorted(set(slow_read))  # in order, no repeats
    assert slow_read[0] == 0 and slow_read[-1] == FRAMES - 1
    # What is missing is one run in the middle: the oldest queued ones.
    gaps = [b - a for a, b in itertools.pairwise(slow_read) if b - a > 1]
    assert len(gaps) == 1
    assert len(slow_read) + stats.dropped == FRAMES


@SLICES
async def test_coalesce_keeps_only_the_latest_frame_per_key(slice_size):
    _, slow_stats, slow_read, _, peak_seen, _ = await run_scenario("coalesce", slice_size)
    assert_within_bound(peak_seen, slow_stats)
    [stats] = slow_stats
    assert stats.coalesced > FRAMES // 2
    assert stats.peak_queued_bytes <= 2 * (PAYLOAD + 10)  # never more than ~one frame waits
    assert slow_read == sorted(set(slow_read))
    assert slow_read[-1] == FRAMES - 1
    assert len(slow_read) + stats.coalesced + stats.dropped == FRAMES
