"""How a connection stream writes data frames: at once, in one writev, or queued."""

from __future__ import annotations

import socket
import struct

import trio

from actorsock.core.frames import Binary, Text
from actorsock.core.send_queue import SendQueue
from actorsock.core.wire import PreparedFrame
from actorsock.transports import fastpath

from .pair import tcp_pair


def receive_exactly(client: socket.socket, size: int) -> bytes:
    client.settimeout(10)
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        assert chunk, "the server closed early"
        data += chunk
    return data


async def test_several_frames_leave_in_one_writev_in_order(monkeypatch):
    calls = []

    def counting_writev(fd, buffers):
        calls.append(len(buffers))
        return real_writev(fd, buffers)

    real_writev = fastpath.os.writev
    monkeypatch.setattr(fastpath.os, "writev", counting_writev)
    async with tcp_pair() as (stream, client):
        stream.data_open = True  # as after the upgrade
        frames = [PreparedFrame(Text(f"m{i}")) for i in range(5)]
        assert stream.offer_frames(frames) == 5
        assert stream.offer_frames([PreparedFrame(Binary(b"one"))]) == 1
        expected = b"".join(f.websocket for f in frames) + PreparedFrame(Binary(b"one")).websocket
        assert receive_exactly(client, len(expected)) == expected
        assert calls == [5]  # one system call for the five; a lone frame takes write()
        queue = stream.queue
        assert (queue.accepted, queue.sent_bytes, queue.queued_bytes) == (6, len(expected), 0)


async def test_frames_the_kernel_cannot_take_wait_in_order_past_the_policy():
    queue = SendQueue(max_bytes=64 * 1024, max_messages=1024, policy="drop_newest")
    sent: list[bytes] = []
    async with (
        tcp_pair(queue, client_receive_buffer=4096) as (stream, client),
        trio.open_nursery() as nursery,
    ):
        stream.attach(nursery)
        stream.data_open = True
        big = [PreparedFrame(Binary(struct.pack(">I", i) * 1000)) for i in range(400)]
        # Batches of four until the kernel is full and the queue past its bound.
        for start in range(0, len(big), 4):
            batch = big[start : start + 4]
            taken = stream.offer_frames(batch)
            sent.extend(prepared.websocket for prepared in batch[:taken])
            if taken < len(batch):
                break
        assert queue.dropped > 0 and queue.queued_bytes <= queue.max_bytes
        # A prefix: none skipped.
        assert sent == [prepared.websocket for prepared in big[: len(sent)]]
        # The client reads again: the flusher writes the rest, in order.
        expected = b"".join(sent)
        assert await trio.to_thread.run_sync(receive_exactly, client, len(expected)) == expected
        assert queue.accepted == len(sent) and queue.sent_bytes == len(expected)
        assert queue.queued_bytes == 0


async def test_a_broken_socket_takes_nothing_and_reports_trouble():
    troubles = []
    async with tcp_pair(on_trouble=lambda: troubles.append(1)) as (stream, client):
        stream.data_open = True
        # Close with a reset (on loopback it reaches the server's socket
        # before close() returns), so the server's next write fails.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        frames = [PreparedFrame(Text("a")), PreparedFrame(Text("b"))]
        assert stream.offer_frames(frames) == 0
        assert isinstance(stream.broken, OSError) and troubles == [1]
        assert stream.offer_frames(frames) == 0  # and nothing more is tried
        assert troubles == [1] and stream.queue.accepted == 0


async def test_data_frames_are_refused_before_the_upgrade_and_after_a_close_frame():
    async with tcp_pair() as (stream, client):
        one, two = PreparedFrame(Text("1")), PreparedFrame(Text("2"))
        assert stream.offer_frames([one]) == 0 and stream.offer_frames([one, two]) == 0
        stream.data_open = True
        assert stream.offer_frames([one, two]) == 2
        stream.data_open = False  # a close frame went either way
        assert stream.offer(one.websocket) is False and stream.offer_frames([one, two]) == 0
        # Control bytes (the close handshake) still go out.
        await stream.send_all(b"\x88\x00")
        expected = one.websocket + two.websocket + b"\x88\x00"
        assert receive_exactly(client, len(expected)) == expected
        assert stream.queue.accepted == 2
