"""The WebSocket transport: wsproto's public API, with pure fast paths beside it.

The upgrade is answered by the h11 parser that read it (the front checked
the head, :func:`~actorsock.core.handshake.switching_headers` names the 101's
headers); then RFC 6455 is wsproto's: a
:class:`wsproto.connection.Connection` reads the client's frames and writes
control frames (pongs, close); it is made when first needed and dropped when
it holds nothing again. Nothing else of wsproto, trio-websocket, h11
or trio is touched but their documented API; trio-websocket stays the
client of the tests and of :mod:`actorsock.testing`. Two paths skip wsproto
where the figures need it, both pure code in :mod:`actorsock.core.wire`,
checked against wsproto frame by frame in ``tests/transports``:

* data frames to the client are built by
  :func:`~actorsock.core.wire.encode_frame` (a broadcast's bytes once for
  all recipients) and written through the connection's send queue;
* client bytes that start at a frame boundary, with no fragmented message
  open (:class:`~actorsock.core.wire.FrameBoundaries` follows that), are
  read by :func:`~actorsock.core.wire.decode_client_messages` as long as
  they are whole one-frame messages: nearly every client message. The first
  frame that is anything else, and everything after it, goes to wsproto,
  which then holds nothing the fast path skipped.

No reader task: the session reads in its own task when the readiness hub
says data came (:meth:`ConnectionStream.read_nowait`), and only when every
message read before was taken, so a client that sends faster than its
handler works meets TCP backpressure. (A TLS stream, which cannot be read
without waiting, has a small reader task instead.)

Closing: a client's close frame is answered at once, and the session then
ends with ``Remote(code, reason)``; a protocol error in the client's data
is answered with a close frame carrying wsproto's code (1002, 1007), a
message over ``max_message_size`` with 1009; the session ends with
``ErrorReason`` of that kind. The server's own close waits for the
client's answer (the caller bounds the wait).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import trio
from wsproto import ConnectionType
from wsproto.connection import Connection, ConnectionState
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    TextMessage,
)
from wsproto.events import Ping as WsPing
from wsproto.events import Pong as WsPong

from ..core.budget import ByteBudget
from ..core.frames import Binary, DataFrame, Frame, Ping, Pong, Text
from ..core.reasons import ErrorKind, ErrorReason, Reason, Remote
from ..core.transport import TransportClosed
from ..core.wire import FrameBoundaries, PreparedFrame, decode_client_messages, encode_frame
from .fastpath import ConnectionStream, StreamBacked

__all__ = ["ServerWebSocket", "open_websocket"]

# Close codes the server sent first, and what they mean for terminate.
_SERVER_CLOSE_KINDS = {
    1002: ErrorKind.BADFRAME,
    1007: ErrorKind.BADENCODING,
    1009: ErrorKind.BADSIZE,
}

# Client messages decoded ahead of the handler at most; the rest of what was
# read waits as bytes.
INBOUND_BATCH = 4


class ServerWebSocket(StreamBacked):
    """The server side of one open WebSocket, as a :class:`~actorsock.core.transport.Transport`.

    Args:
        stream: The connection's stream (the 101 already written).
        max_message_size: Larger client messages close the connection with 1009.
        on_inbound: Called (synchronously) when client data or the end of the
            connection may be waiting: wakes the session.
        incomplete_budget: Shared by all connections: the bytes of client
            messages still arriving. A piece that does not fit sets
            :attr:`inbound_overflowed` (and calls ``on_inbound``).

    Attributes:
        peer_close: ``(code, reason)`` of the client's close frame, if it sent one first.
        sent_close_code: The close code the server sent first, if it did.
        inbound_overflowed: True once a piece of a client message did not fit
            the shared budget (from then on client data is dropped).
    """

    supports_ping = True
    own_idle_rule = False

    # Slots: one per connection, for as long as it lives.
    __slots__ = (
        "_boundaries",
        "_budget",
        "_close_answered",
        "_events",
        "_incomplete_bytes",
        "_max_message_size",
        "_message_size",
        "_on_inbound",
        "_parts",
        "_protocol",
        "_reading",
        "_ready",
        "_tls_arrived",
        "_tls_may_read",
        "_unread",
        "inbound_overflowed",
        "peer_close",
        "sent_close_code",
        "stream",
    )

    def __init__(
        self,
        stream: ConnectionStream,
        *,
        max_message_size: int,
        on_inbound: Callable[[], None],
        incomplete_budget: ByteBudget,
        early: bytes = b"",
    ) -> None:
        self.stream = stream
        # wsproto's connection, made when first needed (a frame the fast path
        # leaves to it, a control frame to send) and dropped when it holds
        # nothing again: most connections never need its 1.7 KB.
        self._protocol: Connection | None = None
        self._max_message_size = max_message_size
        self._on_inbound = on_inbound
        self._budget = incomplete_budget
        self._boundaries = FrameBoundaries()
        # Decoded client frames not yet taken; a list (it holds INBOUND_BATCH
        # at most, and an empty list is smaller than an empty deque).
        self._ready: list[Frame] = []
        self._unread = early  # read from the socket, not decoded yet
        self._events: Iterator[Event] | None = None  # wsproto's events of what it was fed
        # A fragmented message arriving (made for the first fragment: most
        # connections never get one).
        self._parts: list[str | bytes] | None = None
        self._message_size = 0
        self._incomplete_bytes = 0  # held in the budget for that message
        self._reading = True  # False once the client's side has ended
        # A TLS stream's reader task: told when the session took everything
        # it read, and telling when it read more.
        self._tls_may_read: trio.Event | None = None
        self._tls_arrived: trio.Event | None = None
        self.peer_close: tuple[int, str] | None = None
        self.sent_close_code: int | None = None
        self.inbound_overflowed = False
        self._close_answered = False  # the client answered the server's close frame

    # -- the Transport the session sees -----------------------------------

    def next_inbound(self) -> Frame | None:
        """The next client frame, read now if the socket holds it; None if none is there.

        Raises:
            TransportClosed: Once the client's side has ended and every frame
                received before was returned.
        """
        ready = self._ready
        while True:
            if ready:
                return ready.pop(0)
            if self._events is not None:
                self._take_events()
            elif self._unread:
                self._decode()
            elif not self._reading:
                raise TransportClosed("the WebSocket connection has closed")
            elif not self._read():
                return None

    def send_frame(self, frame: DataFrame) -> bool:
        """Queue a data frame (never blocks); False if closing or refused by the policy."""
        return self.stream.offer(encode_frame(frame))

    def send_prepared(self, prepared: PreparedFrame) -> bool:
        """Queue a broadcast's frame, whose bytes were built once for all."""
        return self.stream.offer(prepared.websocket, prepared.key)

    async def send_control(self, frame: Ping | Pong) -> None:
        """Send a ping or a pong.

        Raises:
            TransportClosed: If the connection is closing or closed.
        """
        if self._state() is not ConnectionState.OPEN or self.stream.broken is not None:
            raise TransportClosed("the WebSocket connection is closing")
        event = WsPing(payload=frame.data) if isinstance(frame, Ping) else WsPong(frame.data)
        self.stream.write_control(self._wsproto().send(event))
        await trio.lowlevel.checkpoint()

    async def close(self, code: int, reason: str) -> None:
        """The closing handshake: send a close frame, wait for the client's."""
        if self._state() is ConnectionState.OPEN:
            self._send_close(code, reason)
        await self.stream.flush()
        while self._reading and not self._close_answered:
            if self._events is not None or self._unread:
                self._discard_inbound()
            elif not self._read():
                await self._wait_for_data()

    def _discard_inbound(self) -> None:
        """Take what the client sent after the server's close frame (dropped)."""
        self._ready.clear()
        try:
            self.next_inbound()
        except TransportClosed:
            return

    def ended_reason(self) -> Reason:
        """``Remote`` for a client's close frame; else ``ErrorReason`` with the
        code the server sent, or 1006."""
        if self.peer_close is not None:
            return Remote(*self.peer_close)
        kind = _SERVER_CLOSE_KINDS.get(self.sent_close_code or 0)
        if kind is not None:
            return ErrorReason(kind, self.sent_close_code)
        return ErrorReason(ErrorKind.CLOSED, 1006)

    def before_park(self) -> None:
        """Open the direct lane: broadcasts may write past the session while it waits."""
        self.stream.open_lane()

    # -- wsproto, when needed ------------------------------------------------

    def _wsproto(self) -> Connection:
        protocol = self._protocol
        if protocol is None:
            # Open, at a message boundary: what a connection after the
            # handshake is (the handshake itself was h11's).
            protocol = self._protocol = Connection(ConnectionType.SERVER)
        return protocol

    def _state(self) -> ConnectionState:
        protocol = self._protocol
        return ConnectionState.OPEN if protocol is None else protocol.state

    # -- reading -------------------------------------------------------------

    def _read(self) -> bool:
        """Read what the socket holds now; False if nothing (everything was taken)."""
        if self._tls_may_read is not None:  # a TLS stream: its reader task reads
            self._tls_may_read.set()
            return False
        try:
            data = self.stream.read_nowait()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if data is None:
            return False
        if not data:
            self._end_of_stream()
            return True
        self._unread = data
        return True

    async def _wait_for_data(self) -> None:
        arrived = self._tls_arrived
        if arrived is not None:
            await arrived.wait()
        else:
            await self.stream.wait_for_data()

    def _decode(self) -> None:
        """Turn unread bytes into frames: the fast path while it can, else wsproto."""
        data, self._unread = self._unread, b""
        if self.inbound_overflowed or self._state() is not ConnectionState.OPEN:
            if self._state() is ConnectionState.LOCAL_CLOSING:
                self._feed(data)  # only the client's close frame matters now
            return
        position = 0
        if self._boundaries.idle:
            messages, position = decode_client_messages(data, 0, INBOUND_BATCH)
            if messages and max(map(len, messages)) <= self._max_message_size:
                ready = self._ready
                for message in messages:
                    ready.append(Text(message) if isinstance(message, str) else Binary(message))
                if position < len(data):
                    self._unread = data[position:]
                return
            position = 0
        self._feed(data[position:] if position else data)

    def _feed(self, data: bytes) -> None:
        self._boundaries.feed(data)
        self._wsproto().receive_data(data)
        self._events = self._wsproto().events()

    def _take_events(self) -> None:
        """Take wsproto's events until a frame is ready for the session (or none is left)."""
        events = self._events
        assert events is not None
        for event in events:
            self._on_event(event)
            if self._ready or not self._reading:
                return
        self._events = None
        if self._boundaries.idle and self._state() is ConnectionState.OPEN:
            self._protocol = None  # holds nothing now

    def _on_event(self, event: Event) -> None:
        if isinstance(event, TextMessage | BytesMessage):
            self._on_message(event)
        elif isinstance(event, WsPing):
            if self._state() is ConnectionState.OPEN:
                self.stream.write_control(self._wsproto().send(event.response()))
            self._ready.append(Ping(bytes(event.payload)))
        elif isinstance(event, WsPong):
            self._ready.append(Pong(bytes(event.payload)))
        elif isinstance(event, CloseConnection):
            self._on_close(event)

    def _on_message(self, event: TextMessage | BytesMessage) -> None:
        if self.inbound_overflowed or self._state() is not ConnectionState.OPEN:
            return  # closing: nothing more of this client's data is kept
        data = event.data if isinstance(event.data, str) else bytes(event.data)
        self._message_size += len(data)
        if self._message_size > self._max_message_size:
            self.release_incomplete()
            self._fail(1009, "message too big")
            return
        if not event.message_finished:
            if not self._budget.take(len(data)):
                self.inbound_overflowed = True
                self._on_inbound()
                return
            self._incomplete_bytes += len(data)
            if self._parts is None:
                self._parts = [data]
            else:
                self._parts.append(data)
            return
        if self._parts:
            self._parts.append(data)
            parts, self._parts = self._parts, None
            data = "".join(parts) if isinstance(data, str) else b"".join(parts)  # type: ignore[arg-type]
            self.release_incomplete()
        self._message_size = 0
        self._ready.append(Text(data) if isinstance(data, str) else Binary(data))

    def _on_close(self, event: CloseConnection) -> None:
        state = self._state()
        if state is ConnectionState.OPEN:
            # wsproto reports an error in the client's data (bad UTF-8, an
            # unmasked or malformed frame) as a CloseConnection it did not
            # receive: fail the connection with a close frame of that code.
            self._fail(event.code, event.reason or "")
        elif state is ConnectionState.REMOTE_CLOSING:
            self.peer_close = (int(event.code), event.reason or "")
            self.stream.data_open = False
            self.stream.write_control(self._wsproto().send(event.response()))
            self._stop_reading()
        else:  # our close, answered
            self._close_answered = True
            self._stop_reading()

    def _fail(self, code: int, reason: str) -> None:
        """Close with ``code`` because of the client's data; read no more of it."""
        self._send_close(code, reason.encode()[:123].decode(errors="ignore"))
        self._stop_reading()

    def _send_close(self, code: int, reason: str) -> None:
        self.stream.data_open = False
        if self.peer_close is None and self.sent_close_code is None:
            self.sent_close_code = code
        self.stream.write_control(self._wsproto().send(CloseConnection(code=code, reason=reason)))

    def _end_of_stream(self) -> None:
        self.stream.data_open = False
        self._stop_reading()

    def _stop_reading(self) -> None:
        self._reading = False
        self._unread = b""
        self._events = None
        self.release_incomplete()
        self._parts = None
        self._on_inbound()

    def release_incomplete(self) -> None:
        """Give back to the shared budget what the message in progress held."""
        self._budget.give(self._incomplete_bytes)
        self._incomplete_bytes = 0

    # -- a TLS stream: a reader task -------------------------------------------

    def read_in_a_task(self, nursery: trio.Nursery) -> None:
        """Read with a task of ``nursery``: for a stream that cannot be read
        without waiting (TLS)."""
        self._tls_may_read = trio.Event()
        self._tls_arrived = trio.Event()
        nursery.start_soon(self._read_for_the_session)

    async def _read_for_the_session(self) -> None:
        """One read each time the session took everything read before."""
        while self._reading:
            may_read = self._tls_may_read
            assert may_read is not None
            await may_read.wait()
            self._tls_may_read = trio.Event()
            try:
                data = await self.stream.receive_some()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if data:
                self._unread = data
            else:
                self._end_of_stream()
            arrived, self._tls_arrived = self._tls_arrived, trio.Event()
            assert arrived is not None
            arrived.set()
            self._on_inbound()

    async def abort(self) -> None:
        """Close the TCP connection now, without a close handshake (a no-op once closed).

        A plain socket is closed at once (nothing to wait for); a forceful
        close, which costs a cancelled scope and a caught ``Cancelled``, is
        kept for TLS, whose goodbye could wait: a drain of thousands of
        connections would pay it once each for nothing.
        """
        stream = self.stream
        if stream.closed:
            return
        if isinstance(stream.transport_stream, trio.SocketStream):
            await stream.aclose()
        else:
            await trio.aclose_forcefully(stream)


async def open_websocket(
    nursery: trio.Nursery | None,
    stream: ConnectionStream,
    response: bytes,
    early: bytes,
    *,
    handshake_timeout: float,
    max_message_size: int,
    on_inbound: Callable[[], None],
    incomplete_budget: ByteBudget,
) -> ServerWebSocket | None:
    """Write the upgrade's answer and open the connection.

    Args:
        nursery: The session's, where a TLS stream's reader runs (and its
            flusher); None for a plain socket, whose flusher then runs
            beside the connection's task, in the nursery that started it
            (it ends when the socket is closed).
        stream: The connection's stream.
        response: The ``101 Switching Protocols`` bytes.
        early: Bytes the client sent behind its head (its first frames).
        handshake_timeout: Seconds the 101 may take to leave, when the
            kernel does not take it at once (a client that does not read).
        max_message_size: See :class:`ServerWebSocket`.
        on_inbound: See :class:`ServerWebSocket`.
        incomplete_budget: See :class:`ServerWebSocket`.

    Returns:
        The open connection; None if the client went away or did not read
        the 101 in time.
    """
    flusher_home = nursery or trio.lowlevel.current_task().parent_nursery
    assert flusher_home is not None  # a connection's task is always in a nursery
    stream.attach(flusher_home)
    if not stream.write_control(response):
        return None
    if stream.queue:
        # Only then a timeout: a cancel scope for every connection would
        # cost the accept path for the rare client that does not read.
        with trio.move_on_after(handshake_timeout):
            await stream.flush()
    if stream.queue or stream.broken is not None:
        return None
    stream.data_open = True
    ws = ServerWebSocket(
        stream,
        max_message_size=max_message_size,
        on_inbound=on_inbound,
        incomplete_budget=incomplete_budget,
        early=early,
    )
    if stream.reads_without_waiting:
        stream.on_data(on_inbound)
    else:
        assert nursery is not None  # runs_tasks said so
        ws.read_in_a_task(nursery)
    return ws
