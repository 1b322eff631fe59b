"""The direct lane: broadcasts written straight to a parked connection's socket.

A pid's ``direct_fd`` lets :func:`fan_out.fan_out_frames` write without
looking at the connection's objects. These tests pin when the stream opens
and closes it, and that whatever a direct write cannot finish goes on in
order through the stream's queue. Real TCP sockets throughout.
"""

from __future__ import annotations

import ast
import socket
import struct
from pathlib import Path

import pytest
import trio

from actorsock.core.frames import Binary, Text
from actorsock.core.send_queue import SendQueue
from actorsock.core.wire import PreparedFrame
from actorsock.runtime.fan_out import TALLY, fan_out_frames
from actorsock.runtime.waker import LaneWaker
from actorsock.transports import fastpath
from actorsock.transports.fastpath import ConnectionStream

from .pair import tcp_pair
from .test_writing import receive_exactly


class Gate:
    def __init__(self, waiting: bool = True) -> None:
        self.waiting = waiting


def wire(stream: ConnectionStream, loop, gate: Gate | None = None):
    """Make ``stream`` the socket of a fresh pid, as a connection does, and open its lane."""
    pid = loop.spawn()
    pid.frame_sink = stream
    stream.lane = pid
    stream.gate = gate or Gate()
    stream.data_open = True
    stream.open_lane()
    return pid


async def test_a_parked_connection_gets_broadcasts_through_its_descriptor(loop, monkeypatch):
    async with tcp_pair() as (stream, client):
        pid = wire(stream, loop)
        assert pid.direct_fd == stream.transport_stream.socket.fileno()
        # The lane writes without asking the stream: its offer must not run.
        monkeypatch.setattr(ConnectionStream, "offer", None)
        one, two = PreparedFrame(Text("one")), PreparedFrame(Binary(b"two"))
        assert fan_out_frames([pid], [one]) == 1
        assert fan_out_frames([pid], [one, two]) == 2
        expected = one.websocket + one.websocket + two.websocket
        assert receive_exactly(client, len(expected)) == expected
        # Counted in the tally, not the queue, and reported by the stream.
        assert stream.queue.accepted == 0
        assert (stream.sent_frames, stream.sent_bytes) == (3, len(expected))
        assert pid.direct_fd >= 0  # still open: everything was taken whole
    # Closing the stream folds the tally into its queue's counters.
    assert (stream.queue.accepted, stream.queue.sent_bytes) == (3, len(expected))


async def test_the_lane_stays_shut_unless_the_stream_could_write_at_once(loop):
    async with tcp_pair() as (stream, _client):
        pid = loop.spawn()
        stream.lane = pid
        stream.open_lane()
        assert pid.direct_fd == -1  # data not open yet (before the upgrade)
        stream.data_open = True
        stream.queue.push(b"waiting", None)
        stream.open_lane()
        assert pid.direct_fd == -1  # bytes queued: a direct write would overtake them


async def test_whatever_could_reorder_a_direct_write_closes_the_lane(loop):
    async with tcp_pair() as (stream, client):
        pid = wire(stream, loop)
        stream.data_open = False  # a close frame, either way
        assert pid.direct_fd == -1

        stream.data_open = True
        stream.open_lane()
        waker = LaneWaker()
        waker.lane = pid
        waker.wake()  # a message, a client frame or trouble: the connection must run first
        assert pid.direct_fd == -1

        stream.open_lane()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        assert fan_out_frames([pid], [PreparedFrame(Text("x"))]) == 0
        assert pid.direct_fd == -1 and stream.broken is not None
        stream.open_lane()
        assert pid.direct_fd == -1  # and it never opens on a broken socket

    assert pid.direct_fd == -1


async def test_closing_the_stream_closes_the_lane_before_the_descriptor(loop):
    async with tcp_pair() as (stream, _client):
        pid = wire(stream, loop)
        assert pid.direct_fd >= 0
        await stream.aclose()
        # A descriptor number is reused by the next connection: never write to it.
        assert pid.direct_fd == -1
        assert fan_out_frames([pid], [PreparedFrame(Text("late"))]) == 0


async def test_a_write_the_kernel_cuts_short_goes_on_in_order_through_the_queue(loop):
    queue = SendQueue(max_bytes=1 << 22, max_messages=4096, policy="disconnect")
    gate = Gate()
    async with (
        tcp_pair(queue, client_receive_buffer=4096) as (stream, client),
        trio.open_nursery() as nursery,
    ):
        stream.attach(nursery)
        pid = wire(stream, loop, gate)
        big = [PreparedFrame(Binary(struct.pack(">I", i) * 2000)) for i in range(60)]
        for start in range(0, len(big), 3):
            assert fan_out_frames([pid], big[start : start + 3]) == 3
            if pid.direct_fd < 0:
                break
        assert pid.direct_fd == -1 and queue.queued_bytes > 0  # the kernel was full
        rest = big[start + 3 :]
        # With the lane shut, later frames queue behind (as the core path would).
        for prepared in rest:
            assert stream.offer(prepared.websocket, prepared.key)
        expected = b"".join(prepared.websocket for prepared in big)
        assert await trio.to_thread.run_sync(receive_exactly, client, len(expected)) == expected
        await trio.testing.wait_all_tasks_blocked()
        assert queue.queued_bytes == 0
        assert (stream.sent_frames, stream.sent_bytes) == (len(big), len(expected))
        # Caught up while the connection stayed parked: the lane is open again.
        assert pid.direct_fd >= 0


async def test_a_frame_cut_at_the_end_of_a_batch_is_finished(loop):
    async with tcp_pair() as (stream, client), trio.open_nursery() as nursery:
        stream.attach(nursery)
        pid = wire(stream, loop)
        frames = [PreparedFrame(Text("first")), PreparedFrame(Text("second"))]
        # As if a direct writev had stopped three bytes into the last frame.
        written = len(frames[0].websocket) + 3
        fastpath.os.write(pid.direct_fd, (frames[0].websocket + frames[1].websocket)[:written])
        pid.direct_fd = -1
        assert stream.take_written(frames, written) == 2
        expected = frames[0].websocket + frames[1].websocket
        assert await trio.to_thread.run_sync(receive_exactly, client, len(expected)) == expected
        assert stream.queue.queued_bytes == 0


async def test_a_pid_without_an_open_lane_takes_the_way_of_its_sink(loop):
    async with tcp_pair() as (stream, client):
        busy = wire(stream, loop, Gate(waiting=False))
        busy.direct_fd = -1  # woken: frames must wait behind what woke it
        other = loop.spawn()  # no socket at all
        frame = PreparedFrame(Text("hi"))
        assert fan_out_frames([busy, other], [frame]) == 2
        assert [m.frame for m in [busy.mailbox.pop()]] == [Text("hi")]
        assert other.mailbox.pop() == Text("hi")
        client.setblocking(False)
        with pytest.raises(BlockingIOError):
            client.recv(16)  # nothing was written to the socket
        assert TALLY.get(stream.transport_stream.socket.fileno()) == (0, 0)


def test_one_function_is_the_fan_out():
    # Every broadcast goes through runtime.fan_out.fan_out_frames, the node's
    # included; no other module defines a fan-out of its own.
    import actorsock
    from actorsock.runtime.loop import Loop

    assert Loop.fan_out_frames is fan_out_frames
    package = Path(actorsock.__file__).parent
    defined = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        for node in ast.parse(path.read_text()).body  # module-level functions
        if isinstance(node, ast.FunctionDef)
        and node.name.startswith("fan_out")
        and "frame" in node.name
    ]
    assert defined == ["runtime/fan_out.py"]
