"""The WebSocket transport: trio-websocket, with the hooks a connection actor needs.

trio-websocket does the WebSocket protocol (through wsproto). This module is
the one place that leans on its internals, so that a change underneath fails
here, loudly, and in ``tests/transports/test_websocket_bridge.py``:

* the server connection is built from bytes the front already read (the
  request head), and writes through the send queue of
  :class:`~actorsock.transports.fastpath.ConnectionStream`;
* the connection actor must wake up when a client message arrives instead of
  parking a task in ``get_message()``: :class:`ServerWebSocket` calls
  ``on_inbound`` after the library queues a message, and
  :meth:`ServerWebSocket.next_inbound` takes it without waiting; a message
  that arrives in one frame is queued with ``send_nowait`` (the library
  would spend a scheduler pass on each);
* ping and pong frames reach the handler (the library answers pings itself);
* a protocol error in the client's data is answered with a close frame
  carrying its code (1002 bad frame, 1007 bad UTF-8); the library alone would
  drop the TCP connection without one;
* the close code the server sent first (1002, 1007, 1009 too big) is kept, so
  the terminate reason can say what went wrong;
* once open, wsproto's finished handshake (an h11 connection and the parsed
  request) is replaced by :class:`_FinishedHandshake`; after the
  upgrade wsproto only asks it for (no) events;
* whole one-frame client messages are read without wsproto's general frame
  parser (:class:`_ProtocolWithFastInbound`), when wsproto holds nothing;
  the readiness hub hands such bytes to :meth:`ServerWebSocket._take_inbound`,
  which queues the messages without waking the library's reader task;
* such one-frame messages wait in a short list of :class:`ServerWebSocket`
  rather than the library's memory channel while the channel is empty; the
  channel keeps everything else (fragmented messages, pings, pongs, the
  end), so nothing in that list is ever newer than something in the channel.

Private members used: ``WSConnection.handshake``; of wsproto's ``Connection``:
``_events``, ``_proto`` and, in it, ``_frame_decoder.header``,
``_frame_decoder.buffer.buffer``, ``_message_decoder.opcode``, ``extensions``;
``WebSocketConnection._reader_task``,
``_get_request``, ``_handle_message_event``, ``_handle_ping_event``,
``_handle_pong_event``, ``_handle_close_connection_event``, ``_send``,
``_send_channel``, ``_recv_channel``, ``_message_parts``, ``_max_message_size``,
``_stream``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import trio
import trio_websocket
import wsproto
from trio_websocket import ConnectionClosed, WebSocketConnection
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage as WsBytesMessage
from wsproto.events import CloseConnection
from wsproto.events import Ping as WsPing
from wsproto.events import Pong as WsPong
from wsproto.events import TextMessage as WsTextMessage

from ..core.budget import ByteBudget
from ..core.frames import Binary, DataFrame, Frame, Ping, Pong, Text
from ..core.reasons import ErrorKind, ErrorReason, Reason, Remote
from ..core.transport import TransportClosed
from ..core.wire import PreparedFrame, decode_client_messages, encode_frame
from .fastpath import ConnectionStream

__all__ = ["ServerWebSocket", "accept_websocket"]

# Close codes the server sent first, and what they mean for terminate.
_SERVER_CLOSE_KINDS = {
    1002: ErrorKind.BADFRAME,
    1007: ErrorKind.BADENCODING,
    1009: ErrorKind.BADSIZE,
}

# How many complete client messages the library may hold before its reader
# stops reading the socket (TCP backpressure then slows the client down); the
# list of one-frame messages holds as many again at most.
INBOUND_QUEUE_SIZE = 4


class _FinishedHandshake:
    """Stands in for wsproto's handshake once the connection is open."""

    def events(self) -> Iterator[wsproto.events.Event]:
        return iter(())


class _ProtocolWithFastInbound(WSConnection):
    """wsproto's connection, reading the common client frames itself.

    While wsproto holds nothing (no partial frame, no fragmented message, no
    unread event), bytes made only of whole one-frame messages are read by
    :func:`~actorsock.core.wire.decode_client_messages` and queued as the
    very events wsproto would have produced, skipping its general parser (a
    fifth of the cost of an echo). Everything else, errors included, goes
    to wsproto.
    """

    def idle(self) -> bool:
        """True when the connection is open and wsproto holds nothing unread."""
        connection = self.connection
        if connection is None or connection.state is not ConnectionState.OPEN:
            return False
        proto = connection._proto
        decoder = proto._frame_decoder
        return (
            not connection._events
            and decoder.header is None
            and not decoder.buffer.buffer
            and proto._message_decoder.opcode is None
            and not proto.extensions
        )

    def receive_data(self, data: bytes | None) -> None:
        if data and self.idle():
            messages = decode_client_messages(data)
            if messages is not None:
                assert self.connection is not None
                events = self.connection._events
                for message in messages:
                    if isinstance(message, str):
                        events.append(WsTextMessage(data=message))
                    else:
                        events.append(WsBytesMessage(data=message))
                return
        super().receive_data(data)


class ServerWebSocket(WebSocketConnection):
    """A server-side trio-websocket connection that reports to its actor.

    Args:
        stream: The connection's stream, positioned at the start of the request.
        max_message_size: Larger client messages close the connection with 1009.
        on_inbound: Called (synchronously) whenever a client frame or the end
            of the connection becomes available.
        incomplete_budget: Shared by all connections: the bytes of client
            messages still arriving. A piece that does not fit sets
            :attr:`inbound_overflowed` (and calls ``on_inbound``); from then
            on client data is dropped, and the connection must be closed.

    Attributes:
        inbound_overflowed: True once a piece of a client message did not fit
            the shared budget.
    """

    def __init__(
        self,
        stream: ConnectionStream,
        *,
        max_message_size: int,
        on_inbound: Callable[[], None],
        incomplete_budget: ByteBudget,
    ) -> None:
        super().__init__(
            stream,
            _ProtocolWithFastInbound(ConnectionType.SERVER),
            message_queue_size=INBOUND_QUEUE_SIZE,
            max_message_size=max_message_size,
        )
        self._on_inbound = on_inbound
        self.stream = stream
        # One-frame client messages, older than anything in the library's
        # channel; filled only while ``_channel_may_hold`` is False. A list,
        # not a deque: it holds INBOUND_QUEUE_SIZE at most, and an empty list
        # is 56 bytes where an empty deque is 760, for every connection.
        self._one_frame_messages: list[str | bytes] = []
        # Set whenever the library's channel gets something; cleared when
        # next_inbound() finds it empty (so an idle connection never pays
        # for the channel's WouldBlock).
        self._channel_may_hold = False
        self.peer_close: tuple[int, str] | None = None
        self.sent_close_code: int | None = None
        self._budget = incomplete_budget
        self._incomplete_bytes = 0  # held in the budget for the message arriving
        self._inbound_overflowed = False

    # -- hooks into the library's reader task ---------------------------

    async def _handle_message_event(
        self, event: wsproto.events.BytesMessage | wsproto.events.TextMessage
    ) -> None:
        if (
            event.message_finished
            and not self._message_parts
            and len(event.data) <= self._max_message_size
        ):
            # The common case, a message in one frame, without the library's
            # scheduler pass per message (``await send`` there): queue it at
            # once while there is room; otherwise the library's own path.
            data = event.data if isinstance(event.data, str) else bytes(event.data)
            if self._queue_one_frame((data,)):
                return
            try:
                self._send_channel.send_nowait(data)
            except trio.WouldBlock:
                pass
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            else:
                self._channel_filled()
                return
        if self._inbound_overflowed:
            return  # closing: nothing more of this client's data is kept
        if not event.message_finished:
            if not self._budget.take(len(event.data)):
                self._inbound_overflowed = True
                self._on_inbound()
                return
            self._incomplete_bytes += len(event.data)
        await super()._handle_message_event(event)
        if event.message_finished:
            self.release_incomplete()
            self._channel_filled()

    def release_incomplete(self) -> None:
        """Give back to the shared budget what the message in progress held."""
        self._budget.give(self._incomplete_bytes)
        self._incomplete_bytes = 0

    async def _handle_ping_event(self, event: WsPing) -> None:
        await super()._handle_ping_event(event)
        await self._queue_control(Ping(bytes(event.payload)))

    async def _handle_pong_event(self, event: WsPong) -> None:
        await super()._handle_pong_event(event)
        await self._queue_control(Pong(bytes(event.payload)))

    async def _queue_control(self, frame: Frame) -> None:
        try:
            await self._send_channel.send(frame)  # type: ignore[arg-type]
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return
        self._channel_filled()

    def _channel_filled(self) -> None:
        """The library's channel got something (or ended): tell the actor."""
        self._channel_may_hold = True
        self._on_inbound()

    def _queue_one_frame(self, messages: tuple[str | bytes, ...] | list[str | bytes]) -> bool:
        """Queue whole client messages in the list if order and room allow."""
        queued = self._one_frame_messages
        if self._channel_may_hold or len(queued) + len(messages) > INBOUND_QUEUE_SIZE:
            return False
        queued.extend(messages)
        self._on_inbound()
        return True

    async def _handle_close_connection_event(self, event: CloseConnection) -> None:
        self.stream.data_open = False
        self._on_inbound()  # now, so no broadcast writes after the client's close
        if self._wsproto.state is ConnectionState.OPEN:
            # wsproto reports a protocol error in the client's data (bad UTF-8,
            # unmasked or malformed frame) as a CloseConnection event without
            # sending anything, and the library would then just drop TCP. Fail
            # the connection properly: send the close frame with that code.
            reason = (event.reason or "").encode()[:123].decode(errors="ignore")
            with contextlib.suppress(ConnectionClosed):
                await self._send(CloseConnection(code=event.code, reason=reason))
        elif self.sent_close_code is None:
            self.peer_close = (int(event.code), event.reason or "")
        await super()._handle_close_connection_event(event)
        self._channel_filled()

    async def _send(self, event: wsproto.events.Event) -> None:
        if isinstance(event, CloseConnection):
            self.stream.data_open = False
            if self.peer_close is None and self.sent_close_code is None:
                self.sent_close_code = int(event.code)
        await super()._send(event)

    async def _reader_task(self) -> None:
        try:
            await super()._reader_task()
        finally:
            self.stream.data_open = False
            self._channel_filled()

    def _take_inbound(self, data: bytes) -> bool:
        """Queue ``data`` if it is only whole one-frame client messages (see
        :meth:`ConnectionStream.set_inbound_shortcut`); runs in the hub's task.

        Returns:
            True if the messages were queued; False to leave ``data`` to the
            reader (anything but whole one-frame messages, a message over the
            size limit, no room, or the library's channel not yet drained).
        """
        protocol = self._wsproto
        assert isinstance(protocol, _ProtocolWithFastInbound)
        if self._message_parts or not protocol.idle():
            return False
        messages = decode_client_messages(data)
        if messages is None:
            return False
        if max(map(len, messages), default=0) > self._max_message_size:
            return False  # the library answers 1009
        # Without room (or behind the channel), the reader's own path: it
        # waits for room, which is the backpressure.
        return self._queue_one_frame(messages)

    # -- what the connection actor uses ---------------------------------

    # -- the Transport a session runs over (actorsock.core.transport) -----

    def next_inbound(self) -> Frame | None:
        """Return the next client frame, or None if none is waiting.

        Raises:
            TransportClosed: Once the connection has closed and every frame
                received before the close has been returned.
        """
        queued = self._one_frame_messages
        if queued:
            message = queued.pop(0)
            return Text(message) if isinstance(message, str) else Binary(message)
        if not self._channel_may_hold:
            return None
        try:
            item = self._recv_channel.receive_nowait()
        except trio.WouldBlock:
            self._channel_may_hold = False
            return None
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise TransportClosed("the WebSocket connection has closed") from None
        if isinstance(item, str):
            return Text(item)
        if isinstance(item, bytes | bytearray):
            return Binary(bytes(item))
        return item

    def send_frame(self, frame: DataFrame) -> bool:
        """Queue a data frame (never blocks); False if closing or refused by the policy."""
        return self.stream.offer(encode_frame(frame))

    def send_prepared(self, prepared: PreparedFrame) -> bool:
        """Queue a broadcast's frame, whose wire bytes were built once for all."""
        return self.stream.offer(prepared.websocket, prepared.key)

    @property
    def failed(self) -> bool:
        """True once a write to the socket failed."""
        return self.stream.broken is not None

    @property
    def inbound_overflowed(self) -> bool:
        """True once a piece of a client message did not fit the shared budget."""
        return self._inbound_overflowed

    supports_ping = True
    own_idle_rule = False

    @property
    def sent_frames(self) -> int:
        """Data frames accepted (see :attr:`ConnectionStream.sent_frames`)."""
        return self.stream.sent_frames

    @property
    def sent_bytes(self) -> int:
        """Bytes written (see :attr:`ConnectionStream.sent_bytes`)."""
        return self.stream.sent_bytes

    def before_park(self) -> None:
        """Open the direct lane: broadcasts may write past the session while it waits."""
        self.stream.open_lane()

    async def close(self, code: int, reason: str) -> None:
        """The closing handshake: send a close frame, wait for the client's."""
        await self.aclose(code, reason)

    def ended_reason(self) -> Reason:
        """``Remote`` for a client's close frame; else ``ErrorReason`` with the code
        sent, or 1006."""
        if self.peer_close is not None:
            return Remote(*self.peer_close)
        kind = _SERVER_CLOSE_KINDS.get(self.sent_close_code or 0)
        if kind is not None:
            return ErrorReason(kind, self.sent_close_code)
        return ErrorReason(ErrorKind.CLOSED, 1006)

    @property
    def data_open(self) -> bool:
        """True between the upgrade and the first close frame either way.

        Kept by the stream (:attr:`ConnectionStream.data_open`), which a
        broadcast touches anyway: reading it there saves a cache miss per
        recipient.
        """
        return self.stream.data_open

    async def send_control(self, frame: Ping | Pong) -> None:
        """Send a ping or pong through the library.

        Raises:
            TransportClosed: If the connection is closed or closing.
        """
        try:
            if self.closed:
                raise ConnectionClosed(self.closed)
            if isinstance(frame, Ping):
                await self._send(WsPing(payload=frame.data))
            else:
                await self._send(WsPong(payload=frame.data))
        except ConnectionClosed:
            raise TransportClosed("the WebSocket connection is closing") from None

    async def abort(self) -> None:
        """Close the TCP connection now, without a close handshake (a no-op once closed).

        Usually the close handshake has closed it already; a forceful close
        costs a cancelled scope and a caught ``Cancelled``, which a drain of
        thousands of connections would pay once each for nothing.
        """
        if not self.stream.closed:
            await trio.aclose_forcefully(self.stream)


async def accept_websocket(
    nursery: trio.Nursery,
    stream: ConnectionStream,
    *,
    subprotocol: str | None,
    headers: list[tuple[bytes, bytes]],
    max_message_size: int,
    on_inbound: Callable[[], None],
    incomplete_budget: ByteBudget,
) -> ServerWebSocket:
    """Complete the opening handshake of a request the front already read.

    Args:
        nursery: Where the library's reader task and the stream's flusher run.
        stream: The connection's stream, replaying the request head.
        subprotocol: The subprotocol to confirm, or None.
        headers: Extra response headers.
        max_message_size: See :class:`ServerWebSocket`.
        on_inbound: See :class:`ServerWebSocket`.
        incomplete_budget: See :class:`ServerWebSocket`.

    Returns:
        The open connection.

    Raises:
        ConnectionClosed: If the client went away during the handshake.
    """
    stream.attach(nursery)
    ws = ServerWebSocket(
        stream,
        max_message_size=max_message_size,
        on_inbound=on_inbound,
        incomplete_budget=incomplete_budget,
    )
    nursery.start_soon(ws._reader_task)
    request = await ws._get_request()
    await request.accept(subprotocol=subprotocol, extra_headers=headers)
    stream.open_inbound()
    stream.data_open = ws._wsproto.state is ConnectionState.OPEN
    if ws._wsproto.connection is not None:
        ws._wsproto.handshake = _FinishedHandshake()  # type: ignore[assignment]
        stream.set_inbound_shortcut(ws._take_inbound)
    return ws


def library_version() -> str:
    """The trio-websocket version this bridge runs on (for logs and tests)."""
    return getattr(trio_websocket, "__version__", "unknown")
