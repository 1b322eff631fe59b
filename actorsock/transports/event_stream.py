"""Server-Sent Events: any Handler served over ``text/event-stream``.

A GET on an SSE route (``App(sse_routes=...)``) runs a
:class:`~actorsock.runtime.session.Session` over an :class:`EventStream`,
the same session a WebSocket runs over::

    init(request)   request.header("last-event-id") says where a reconnecting
                    browser stopped
      --crash--> 500 / --Reject--> its status ---------------------> Crash / Normal
    200 text/event-stream (chunked on HTTP/1.1)
    websocket_init(), then websocket_info(...) as usual; what callbacks return
    goes out as events: Text -> data lines, Event -> event/id/retry/data lines,
    Binary -> FrameRefused (the handler crashes, with that error in the log)
    every sse.heartbeat_interval seconds: a comment line (": keep-alive")
    client closes the stream --------------------------------------> Remote()
    a write fails ------------------------------------------------> ErrorReason("closed")
    the server stops (1001) / Stop / Close -- last chunk, then close -> Shutdown / StopReason

The client sends nothing after its request, so there is no idle timeout
(:attr:`EventStream.own_idle_rule`); a socket read is kept waiting only to see the
client leave. Events go through the session's bounded send queue like
WebSocket frames, under the same ``send_overflow`` policy; a broadcast's
event bytes are built once per wire format and shared
(:meth:`~actorsock.core.wire.PreparedFrame.encoded`).
"""

from __future__ import annotations

from collections.abc import Callable

import h11
import trio

from ..core.event_stream import (
    CONTENT_TYPE,
    EVENT_STREAM,
    EVENT_STREAM_CHUNKED,
    HEARTBEAT,
    LAST_CHUNK,
    chunk,
)
from ..core.frames import DataFrame, Ping, Pong
from ..core.handler import Handler
from ..core.options import EventStreamOptions
from ..core.reasons import Crash, ErrorKind, ErrorReason, Reason, Remote
from ..core.request import Accept, Request, Response
from ..core.transport import FrameRefused, Transport, TransportClosed
from ..core.wire import PreparedFrame
from ..runtime.session import Session, SessionServices, serve_session
from .fastpath import ConnectionStream, StreamBacked
from .front import close_quietly
from .http import response_head, write_response

__all__ = ["EventStream", "serve_event_stream"]

# Proxies must neither cache nor buffer the stream (nginx reads X-Accel-Buffering).
_STREAM_HEADERS = (("cache-control", "no-cache"), ("x-accel-buffering", "no"))


class EventStream(StreamBacked):
    """A :class:`~actorsock.core.transport.Transport` over an SSE response body.

    Args:
        stream: The client stream, head already written.
        chunked: True for HTTP/1.1 (each write a chunk), False for HTTP/1.0.
    """

    supports_ping = True  # a ping is the heartbeat comment
    own_idle_rule = True
    inbound_overflowed = False

    def __init__(self, stream: ConnectionStream, chunked: bool) -> None:
        self.stream = stream
        self.chunked = chunked
        self.wire = stream.wire
        self._heartbeat = chunk(HEARTBEAT) if chunked else HEARTBEAT
        self.client_gone = False

    def next_inbound(self) -> None:
        """Nothing comes from the client; raises once it has left.

        Raises:
            TransportClosed: Once the client closed the stream.
        """
        if self.client_gone:
            raise TransportClosed("the client closed the event stream")

    def send_frame(self, frame: DataFrame) -> bool:
        """Queue ``frame`` as one event.

        Raises:
            FrameRefused: For a :class:`~actorsock.core.frames.Binary` frame.
        """
        try:
            data = self.wire.encode(frame)
        except ValueError as exc:
            raise FrameRefused(str(exc)) from None
        return self.stream.offer(data)

    def send_prepared(self, prepared: PreparedFrame) -> bool:
        """Queue a broadcast's event (its bytes shared by every SSE recipient).

        Raises:
            FrameRefused: For a broadcast of a binary frame.
        """
        try:
            data = prepared.encoded(self.wire)
        except ValueError as exc:
            raise FrameRefused(str(exc)) from None
        return self.stream.offer(data, prepared.key)

    async def send_control(self, frame: Ping | Pong) -> None:
        """A ping writes the heartbeat comment; a pong has no meaning here.

        Raises:
            TransportClosed: If the stream is closing.
        """
        if not self.stream.data_open:
            raise TransportClosed("the event stream is closing")
        if isinstance(frame, Ping):
            self.stream.offer(self._heartbeat)
        await trio.lowlevel.checkpoint()

    async def close(self, code: int, reason: str) -> None:
        """End the response: what is queued goes out, then the last chunk.

        SSE has no close code: ``code`` and ``reason`` only go to the log.
        The browser reconnects after its ``retry`` delay unless the page
        closes its ``EventSource``.
        """
        stream = self.stream
        if not stream.data_open:
            return
        stream.data_open = False
        if stream.broken is None and not self.client_gone:
            try:
                if self.chunked:
                    await stream.send_all(LAST_CHUNK)  # written after what is queued
                else:
                    await stream.flush()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    def ended_reason(self) -> Reason:
        """``Remote()`` when the client closed; ``Crash`` for a broadcast it
        could not carry; else ``ErrorReason("closed")``."""
        broken = self.stream.broken
        if isinstance(broken, FrameRefused):
            return Crash(broken)
        if self.client_gone and broken is None:
            return Remote()
        return ErrorReason(ErrorKind.CLOSED, None)

    def before_park(self) -> None:
        """Open the direct lane: broadcasts may write past the session while it waits."""
        self.stream.open_lane()

    async def watch_client(self, wake: Callable[[], None]) -> None:
        """Read the socket until the client leaves, then say so (``wake()``).

        Whatever the client sends is dropped: it may send nothing that would
        be answered on this stream.
        """
        try:
            while await self.stream.receive_some():
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        self.client_gone = True
        wake()


async def serve_event_stream(
    stream: trio.abc.Stream,
    parser: h11.Connection,
    request: Request,
    handler_class: type[Handler],
    *,
    services: SessionServices,
    sse: EventStreamOptions,
) -> None:
    """Serve one SSE request with a fresh ``handler_class()``.

    Args:
        stream: The client stream (owned from now on; closed on return).
        parser: The stream's h11 parser, which read ``request`` (its body too).
        request: The GET request, with path params and route.
        handler_class: The route's :class:`Handler` subclass.
        services: What the server's sessions share (options, counters...).
        sse: The ``[sse]`` options (heartbeat interval).
    """
    session = services.session(handler_class, request, transport="sse")
    session.ping_interval = sse.heartbeat_interval  # the heartbeat, on the session's deadline
    pid = session.pid
    chunked = parser.their_http_version is not None and parser.their_http_version >= b"1.1"
    channel = ConnectionStream(
        stream,
        session.queue,
        on_trouble=session.wake,
        gate=session.waker,
        wire=EVENT_STREAM_CHUNKED if chunked else EVENT_STREAM,
    )
    # Broadcasts reach a parked session past its mailbox, through the lane
    # (events encoded once for every SSE recipient) or the sink.
    pid.frame_sink = channel
    channel.lane = pid

    opening = _EventStreamOpening(session, channel, parser, chunked)
    del parser  # the opening writes the head with it, then lets go
    await serve_session(session, opening, services)


class _EventStreamOpening:
    """The response head of one SSE session (see :class:`~actorsock.runtime.session.Opening`)."""

    __slots__ = ("channel", "chunked", "parser", "session")

    runs_tasks = True  # a watcher of the client's side of the stream

    def __init__(
        self, session: Session, channel: ConnectionStream, parser: h11.Connection, chunked: bool
    ) -> None:
        self.session = session
        self.channel = channel
        # Only for the response head: dropped once it is written, rather
        # than kept for as long as the stream lives.
        self.parser: h11.Connection | None = parser
        self.chunked = chunked

    async def refuse(self, response: Response) -> None:
        parser, self.parser = self.parser, None
        await write_response(self.channel, parser, response, close=True)

    async def open_transport(
        self, accept: Accept, nursery: trio.Nursery | None
    ) -> EventStream | None:
        assert nursery is not None
        parser, self.parser = self.parser, None
        assert parser is not None
        channel, chunked = self.channel, self.chunked
        head = response_head(
            parser, 200, CONTENT_TYPE, (*_STREAM_HEADERS, *accept.headers), close=not chunked
        )
        del parser
        channel.attach(nursery)
        try:
            await channel.send_all(head)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return None
        channel.data_open = True
        events = EventStream(channel, chunked)
        nursery.start_soon(events.watch_client, self.session.wake)
        self.session.log.info("open")
        return events

    async def release(self, transport: Transport | None) -> None:
        await close_quietly(self.channel)
