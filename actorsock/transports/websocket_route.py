"""Serving one accepted upgrade: ``init``, the upgrade, the session, the end.

The front hands an upgrade request here with its stream. This module opens
the WebSocket (the transport) and runs a :class:`~actorsock.runtime.session.Session`
over it; the session loop itself knows nothing of WebSocket::

    session (pid, mailbox, send queue)
      init(request)  --crash--> 500 ----------------------------> Crash
                     --Reject--> its status --------------------> Normal
      upgrade (101)  --client gone, too slow--------------------> ErrorReason("closed", 1006)
      session.run(websocket) -----------------------------------> its reason
    close the socket, then session.finish(reason): terminate once, the pid dies
    (serve_session: the life every transport gives a session)
"""

from __future__ import annotations

from collections.abc import Awaitable

import h11
import trio

from ..core.budget import ByteBudget
from ..core.handler import Handler
from ..core.handshake import switching_headers
from ..core.request import Accept, Request, Response
from ..core.transport import Transport
from ..runtime.session import Session, SessionServices, serve_session
from .fastpath import ConnectionStream
from .front import close_quietly
from .http import switching_protocols, write_response
from .websocket import ServerWebSocket, open_websocket

__all__ = ["serve_websocket"]


def serve_websocket(
    stream: trio.abc.Stream,
    parser: h11.Connection,
    early: bytes,
    request: Request,
    handler_class: type[Handler],
    *,
    services: SessionServices,
    handshake_timeout: float,
) -> Awaitable[None]:
    """Serve one accepted upgrade request with a fresh ``handler_class()``: await it.

    (A function returning the session's life, not a coroutine of its own: one
    frame less held for as long as the connection lives.)

    Args:
        stream: The client stream (owned from now on; closed before the
            returned awaitable finishes).
        parser: The h11 parser that read the upgrade request (it writes
            the 101; let go of once it has).
        early: Bytes the client sent behind its head (its first frames).
        request: The parsed request, with path params and route.
        handler_class: The route's :class:`Handler` subclass.
        services: What the server's sessions share (options, counters...).
        handshake_timeout: Seconds the 101 may take to leave once ``init`` returned.
    """
    session = services.session(handler_class, request)
    pid = session.pid
    channel = ConnectionStream(stream, session.queue, on_trouble=session.wake, gate=session.waker)
    # Broadcast frames go past the handler, straight to the socket, while
    # the session is parked (see FrameSink and Pid.direct_fd).
    pid.frame_sink = channel
    channel.lane = pid
    opening = _WebSocketOpening(
        session, channel, parser, early, services.incomplete_budget, handshake_timeout
    )
    return serve_session(session, opening, services)


class _WebSocketOpening:
    """The upgrade of one session (see :class:`~actorsock.runtime.session.Opening`)."""

    __slots__ = ("budget", "channel", "early", "handshake_timeout", "parser", "session")

    def __init__(
        self,
        session: Session,
        channel: ConnectionStream,
        parser: h11.Connection | None,
        early: bytes,
        budget: ByteBudget,
        handshake_timeout: float,
    ) -> None:
        self.session = session
        self.channel = channel
        self.parser = parser
        self.early = early
        self.budget = budget
        self.handshake_timeout = handshake_timeout

    @property
    def runs_tasks(self) -> bool:
        # A reader task for a stream that cannot be read without waiting (TLS).
        return not self.channel.reads_without_waiting

    async def open_transport(
        self, accept: Accept, nursery: trio.Nursery | None
    ) -> ServerWebSocket | None:
        session, parser, early = self.session, self.parser, self.early
        # This object lives as long as the session: let go of the parser
        # (and the request it read) and of the opening bytes.
        self.parser, self.early = None, b""
        assert parser is not None
        response = switching_protocols(
            parser, switching_headers(session.request, accept.subprotocol, accept.headers)
        )
        del parser
        ws = await open_websocket(
            nursery,
            self.channel,
            response,
            early,
            handshake_timeout=self.handshake_timeout,
            max_message_size=session.max_message_size,
            on_inbound=session.wake,
            incomplete_budget=self.budget,
        )
        if ws is not None:
            session.log.info("open", subprotocol=accept.subprotocol)
        return ws

    async def refuse(self, response: Response) -> None:
        self.parser = None
        await write_response(self.channel, None, response)

    async def release(self, transport: Transport | None) -> None:
        if isinstance(transport, ServerWebSocket):
            transport.release_incomplete()
            await transport.abort()
        else:
            await close_quietly(self.channel)
