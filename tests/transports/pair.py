"""A server-side ConnectionStream over real TCP, with a plain client socket."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Callable

import trio

from actorsock.core.send_queue import SendQueue
from actorsock.transports.fastpath import ConnectionStream


@contextlib.asynccontextmanager
async def tcp_pair(
    queue: SendQueue | None = None,
    on_trouble: Callable[[], None] = lambda: None,
    client_receive_buffer: int | None = None,
) -> AsyncIterator[tuple[ConnectionStream, socket.socket]]:
    """A server-side ConnectionStream and a plain blocking client socket.

    The client is synchronous on purpose: what it sends between two awaits of
    the test reaches the server's socket with no chance for the server to
    look in between (loopback queues the bytes before ``send`` returns).
    """
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    async with listener:
        port = listener.socket.getsockname()[1]
        client = socket.socket()
        if client_receive_buffer is not None:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, client_receive_buffer)
        client.connect(("127.0.0.1", port))
        accepted = await listener.accept()
        assert isinstance(accepted, trio.SocketStream)
        stream = ConnectionStream(
            accepted,
            queue if queue is not None else SendQueue(1 << 16, 64, "disconnect"),
            on_trouble=on_trouble,
        )
        try:
            yield stream, client
        finally:
            client.close()
            await stream.aclose()
