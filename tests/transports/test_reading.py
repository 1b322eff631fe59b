"""How a connection stream reads: edge-triggered readiness over real TCP sockets."""

from __future__ import annotations

import socket

import pytest
import trio

from actorsock.transports.readiness import readiness_hub

from .pair import tcp_pair


async def test_the_prefix_then_data_then_the_end_of_the_stream():
    async with tcp_pair() as (stream, client):
        with trio.fail_after(5):
            assert await stream.receive_some(100) == b"HEAD"
            client.sendall(b"hello")
            assert await stream.receive_some(100) == b"hello"
            # The reader waits on an emptied socket; data and the client's FIN
            # then arrive together: one edge for both. After reading the data,
            # the reader must not wait for another edge to see the end.
            async with trio.open_nursery() as nursery:
                received: list[bytes] = []

                async def read_two() -> None:
                    received.append(await stream.receive_some(100))
                    received.append(await stream.receive_some(100))

                nursery.start_soon(read_two)
                await trio.testing.wait_all_tasks_blocked()
                client.sendall(b"partial")
                client.shutdown(socket.SHUT_WR)
            assert received == [b"partial", b""]


async def test_data_larger_than_the_buffer_is_read_without_waiting_for_more():
    async with tcp_pair() as (stream, client):
        await stream.receive_some(100)
        payload = bytes(range(256)) * 64  # 16 KiB in one write
        client.sendall(payload)
        received = b""
        with trio.fail_after(5):
            while len(received) < len(payload):
                received += await stream.receive_some(1000)
        assert received == payload


async def test_closing_wakes_a_waiting_reader_and_forgets_the_socket():
    hub = readiness_hub()
    assert hub is not None  # Linux: epoll is there
    async with tcp_pair() as (stream, _client):
        await stream.receive_some(100)
        raised = []

        async def reader() -> None:
            try:
                await stream.receive_some(100)
            except trio.ClosedResourceError:
                raised.append(True)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            watched = len(hub)
            assert watched >= 1
            await stream.aclose()
        assert raised == [True]
        assert len(hub) == watched - 1
        with pytest.raises(trio.ClosedResourceError):
            await stream.receive_some(100)


async def test_many_short_messages_each_wake_the_reader():
    async with tcp_pair() as (stream, client):
        await stream.receive_some(100)
        with trio.fail_after(5):
            for i in range(50):
                client.sendall(b"m%d" % i)
                assert await stream.receive_some(100) == b"m%d" % i


async def test_the_hub_hands_bytes_to_the_shortcut_while_the_reader_waits():
    async with tcp_pair() as (stream, client):
        taken: list[bytes] = []
        arrived = trio.Event()

        def take(data: bytes) -> bool:
            if not data.startswith(b"take"):
                return False
            taken.append(data)
            arrived.set()
            return True

        stream.set_inbound_shortcut(take)
        assert await stream.receive_some(100) == b"HEAD"
        client.sendall(b"first")  # read by the reader itself: the hub is not watching yet
        assert await stream.receive_some(100) == b"first"
        received: list[bytes] = []
        async with trio.open_nursery() as nursery:

            async def reader() -> None:
                received.append(await stream.receive_some(100))
                received.append(await stream.receive_some(100))

            nursery.start_soon(reader)
            with trio.fail_after(5):
                for i in range(3):
                    await trio.testing.wait_all_tasks_blocked()
                    arrived = trio.Event()
                    client.sendall(b"take %d" % i)
                    await arrived.wait()
                assert received == []  # the reader slept through all three
                client.sendall(b"keep")
                await trio.testing.wait_all_tasks_blocked()
                client.shutdown(socket.SHUT_WR)
        assert taken == [b"take 0", b"take 1", b"take 2"]
        assert received == [b"keep", b""]


async def test_bytes_the_hub_read_respect_the_readers_size():
    async with tcp_pair() as (stream, client):
        stream.set_inbound_shortcut(lambda data: False)
        await stream.receive_some(100)
        client.sendall(b"1")
        assert await stream.receive_some(100) == b"1"
        async with trio.open_nursery() as nursery:
            chunks: list[bytes] = []

            async def reader() -> None:
                while sum(map(len, chunks)) < 10:
                    chunks.append(await stream.receive_some(4))

            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            client.sendall(b"0123456789")
        assert chunks == [b"0123", b"4567", b"89"]
