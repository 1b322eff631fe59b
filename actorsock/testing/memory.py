"""A handler's session without a server: an in-memory transport, the test as its client.

Using with pytest-trio (timers and idle timeouts on ``MockClock``)::

    from actorsock import Handler, Text
    from actorsock.testing import open_session

    class Echo(Handler):
        async def websocket_handle(self, frame):
            return frame

    async def test_echo():
        async with open_session(Echo) as client:
            client.send(Text("hi"))
            assert await client.receive() == Text("hi")

The session is the very one every transport runs
(:class:`~actorsock.runtime.session.Session`): the same callbacks, commands,
deadlines, send queue and policies, terminate reasons. Frames the handler
sends wait in that bounded send queue until the client :meth:`receives
<SessionClient.receive>` them, so a client that does not read fills it and
meets the handler's ``send_overflow`` policy.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any

import trio

from ..config import Config
from ..core.budget import ByteBudget
from ..core.frames import Binary, DataFrame, Frame, Ping, Pong, Text
from ..core.handler import Handler
from ..core.process import Pid
from ..core.reasons import ErrorKind, ErrorReason, Reason, Remote, Shutdown
from ..core.request import Accept, Request, Response
from ..core.send_queue import SendQueue
from ..core.transport import Transport, TransportClosed
from ..core.wire import PreparedFrame, encode_frame
from ..logging import get_logger
from ..runtime.session import SessionServices, serve_session
from ..runtime.stats import Counters

__all__ = ["MemoryTransport", "SessionClient", "open_session"]

_OPCODE_FRAMES: dict[int, Callable[[bytes], Frame]] = {
    0x1: lambda payload: Text(payload.decode()),
    0x2: Binary,
    0x9: Ping,
    0xA: Pong,
}


def _split_frame(data: bytes) -> tuple[Frame, int] | None:
    """The first whole server frame in ``data`` and its size, or None."""
    if len(data) < 2:
        return None
    opcode, length, start = data[0] & 0x0F, data[1] & 0x7F, 2
    if length == 126:
        (length,), start = struct.unpack_from("!H", data, 2), 4
    elif length == 127:
        (length,), start = struct.unpack_from("!Q", data, 2), 10
    if len(data) < start + length:
        return None
    return _OPCODE_FRAMES[opcode](bytes(data[start : start + length])), start + length


class MemoryTransport:
    """A :class:`~actorsock.core.transport.Transport` in memory.

    Data frames are encoded (as a WebSocket server would) into the session's
    send queue, under its policy, and decoded again when the client takes
    them; control frames are kept in :attr:`controls`.

    Args:
        queue: The session's send queue.
        wake: Wakes the session (its waker's ``wake``).

    Attributes:
        controls: Pings and pongs the session sent, in order.
        closed_with: ``(code, reason)`` once the session closed the link.
    """

    supports_ping = True
    own_idle_rule = False
    failed = False
    inbound_overflowed = False

    def __init__(self, queue: SendQueue, wake: Callable[[], None]) -> None:
        self.queue = queue
        self._wake = wake
        self._inbound: deque[Frame] = deque()
        self._client_close: tuple[int, str] | None = None
        self._data_open = True
        self.controls: list[Ping | Pong] = []
        self.closed_with: tuple[int, str] | None = None
        self._changed = trio.Event()

    # -- the Transport the session sees ---------------------------------

    @property
    def data_open(self) -> bool:
        return self._data_open

    @property
    def sent_frames(self) -> int:
        return self.queue.accepted

    @property
    def sent_bytes(self) -> int:
        return self.queue.sent_bytes

    def next_inbound(self) -> Frame | None:
        if self._inbound:
            return self._inbound.popleft()
        if self._client_close is not None:
            raise TransportClosed("the client closed the session")
        return None

    def send_frame(self, frame: DataFrame) -> bool:
        return self._queue(encode_frame(frame), None)

    def send_prepared(self, prepared: PreparedFrame) -> bool:
        return self._queue(prepared.websocket, prepared.key)

    def _queue(self, data: bytes, key: Hashable | None) -> bool:
        if not self._data_open:
            return False
        accepted = self.queue.push(data, key)
        if self.queue.overflowed:
            self._wake()
        self._notify()
        return accepted

    async def send_control(self, frame: Ping | Pong) -> None:
        if not self._data_open:
            raise TransportClosed("the session is closing")
        self.controls.append(frame)
        self._notify()
        await trio.lowlevel.checkpoint()

    async def close(self, code: int, reason: str) -> None:
        if self.closed_with is None:
            self.closed_with = (code, reason)
        self._data_open = False
        self._notify()
        await trio.lowlevel.checkpoint()

    def ended_reason(self) -> Reason:
        if self._client_close is not None:
            return Remote(*self._client_close)
        return ErrorReason(ErrorKind.CLOSED, 1006)

    def before_park(self) -> None:
        pass

    # -- the client's side ------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def client_send(self, frame: Frame) -> None:
        self._inbound.append(frame)
        self._wake()

    def client_close(self, code: int, reason: str) -> None:
        self._client_close = (code, reason)
        self._data_open = False
        self._wake()

    def take_frame(self) -> Frame | None:
        """The oldest data frame waiting for the client, taken out of the queue."""
        waiting = b"".join(bytes(view) for view in self.queue.buffers(64))
        split = _split_frame(waiting)
        if split is None:
            return None
        frame, size = split
        self.queue.consumed(size)
        return frame

    async def changed(self) -> None:
        """Return after the session next sends, closes or is told something."""
        await self._changed.wait()


class SessionClient:
    """The test's end of a session opened by :func:`open_session`.

    Attributes:
        handler: The handler instance the session runs.
        pid: The session's pid (send it messages: ``websocket_info``).
        transport: The :class:`MemoryTransport`.
        reason: The terminate reason, once the session has ended.
        refused: The HTTP response ``init`` was answered with (a ``Reject``
            or a crash), if it refused.
    """

    def __init__(self, handler: Handler, pid: Pid, transport: MemoryTransport) -> None:
        self.handler = handler
        self.pid = pid
        self.transport = transport
        self.reason: Reason | None = None
        self.refused: Response | None = None
        self._ended = trio.Event()

    def send(self, frame: Frame) -> None:
        """Send a frame to the handler (``websocket_handle``)."""
        self.transport.client_send(frame)

    async def receive(self) -> Frame:
        """The next data frame the handler sent (waits for it).

        Raises:
            TransportClosed: If the session closes with nothing left to read.
        """
        while True:
            frame = self.transport.take_frame()
            if frame is not None:
                return frame
            if self.transport.closed_with is not None or self._ended.is_set():
                raise TransportClosed(f"the session closed: {self.transport.closed_with}")
            await self.transport.changed()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the session from the client's side (``Remote(code, reason)``)."""
        self.transport.client_close(code, reason)

    @property
    def closed_with(self) -> tuple[int, str] | None:
        """``(code, reason)`` the server closed with, if it did."""
        return self.transport.closed_with

    async def ended(self) -> Reason:
        """Wait for the session to end; its terminate reason."""
        await self._ended.wait()
        assert self.reason is not None
        return self.reason


class _MemoryOpening:
    """Opens the in-memory link at once; a refusal is kept for the test."""

    def __init__(self, client: SessionClient, transport: MemoryTransport) -> None:
        self.client = client
        self.transport = transport

    runs_tasks = False

    async def open_transport(self, accept: Accept, nursery: trio.Nursery | None) -> MemoryTransport:
        return self.transport

    async def refuse(self, response: Response) -> None:
        self.client.refused = response

    async def release(self, transport: Transport | None) -> None:
        pass


@asynccontextmanager
async def open_session(
    handler_class: type[Handler],
    request: Request | None = None,
    config: Config | None = None,
    **options: Any,
) -> AsyncIterator[SessionClient]:
    """Run ``handler_class()`` over an in-memory transport for the block.

    Args:
        handler_class: The handler to test.
        request: What ``init`` sees (default: ``GET /``).
        config: Base options; ``**options`` override them as
            ``websocket__idle_timeout=5``.

    On exit a session still running is stopped as at server shutdown
    (``Shutdown()``), and the block waits for its ``terminate``.
    """
    config = (config or Config()).replace(**options) if options else (config or Config())
    request = request or Request("GET", "/")
    services = SessionServices(
        config.websocket, Counters(), ByteBudget(config.server.max_incomplete_bytes), get_logger()
    )
    session = services.session(handler_class, request)
    handler = session.handler
    transport = MemoryTransport(session.queue, session.wake)
    client = SessionClient(handler, session.pid, transport)

    opening = _MemoryOpening(client, transport)

    async def lifecycle() -> None:
        try:
            await serve_session(session, opening, services)
        finally:
            client.reason = session.pid.exit_reason
            client._ended.set()
            transport._notify()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lifecycle)
        try:
            yield client
        finally:
            if not client._ended.is_set():
                session.pid.request_stop(Shutdown())
                with trio.CancelScope(shield=True):
                    await client._ended.wait()
