"""How a connection stream reads: edge-triggered readiness over real TCP sockets."""

from __future__ import annotations

import socket

import pytest
import trio

from actorsock.transports.readiness import readiness_hub

from .pair import tcp_pair


async def test_data_then_the_end_of_the_stream():
    async with tcp_pair() as (stream, client):
        with trio.fail_after(5):
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
    async with tcp_pair() as (stream, client):
        client.sendall(b"x")
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
        with trio.fail_after(5):
            for i in range(50):
                client.sendall(b"m%d" % i)
                assert await stream.receive_some(100) == b"m%d" % i


async def test_a_session_reads_without_waiting_when_the_hub_says_data_came():
    async with tcp_pair() as (stream, client):
        told = []
        stream.on_data(lambda: told.append(True))
        assert stream.reads_without_waiting
        assert stream.read_nowait() is None  # nothing yet: one failed read...
        assert stream.read_nowait() is None  # ...and none more until the hub speaks
        client.sendall(b"first")
        with trio.fail_after(5):
            while not told:
                await trio.testing.wait_all_tasks_blocked()
                await trio.sleep(0.001)
        assert stream.read_nowait() == b"first"
        assert stream.read_nowait() is None  # a short read emptied the socket
        client.sendall(b"0123456789")
        await stream.wait_for_data()
        assert stream.read_nowait(4) == b"0123"  # a full read: read on without waiting
        assert stream.read_nowait(100) == b"456789"
        client.shutdown(socket.SHUT_WR)
        await stream.wait_for_data()
        assert stream.read_nowait() == b""  # the end of the stream
        assert len(told) >= 3
