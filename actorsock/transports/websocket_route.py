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

import trio

from ..core.handler import Handler
from ..core.request import Accept, Request, Response
from ..core.transport import Transport
from ..runtime.session import SessionServices, serve_session
from .fastpath import ConnectionStream
from .front import close_quietly
from .http import write_response
from .websocket import ServerWebSocket, open_websocket

__all__ = ["serve_websocket"]


async def serve_websocket(
    stream: trio.abc.Stream,
    head: bytes,
    early: bytes,
    request: Request,
    handler_class: type[Handler],
    *,
    services: SessionServices,
    handshake_timeout: float,
) -> None:
    """Serve one accepted upgrade request with a fresh ``handler_class()``.

    Args:
        stream: The client stream (owned from now on; closed on return).
        head: The canonical opening handshake (see
            :func:`~actorsock.core.handshake.upgrade_head`).
        early: Bytes the client sent behind its head (its first frames).
        request: The parsed request, with path params and route.
        handler_class: The route's :class:`Handler` subclass.
        services: What the server's sessions share (options, counters...).
        handshake_timeout: Seconds to complete the upgrade once ``init`` returned.
    """
    session = services.session(handler_class, request)
    pid = session.pid
    channel = ConnectionStream(
        stream, session.queue, on_trouble=session.waker.wake, gate=session.waker
    )
    # Broadcast frames go past the handler, straight to the socket, while
    # the session is parked (see FrameSink and Pid.direct_fd).
    pid.frame_sink = channel
    channel.lane = pid
    services.on_start(pid, session.statistics)

    async def refuse(response: Response) -> None:
        await write_response(channel, None, response)

    async def upgrade(accept: Accept, nursery: trio.Nursery) -> ServerWebSocket | None:
        nonlocal head, early
        # This frame lives as long as the session: let go of the opening bytes.
        opening, head, early = (head, early), b"", b""
        with trio.move_on_after(handshake_timeout):
            ws = await open_websocket(
                nursery,
                channel,
                *opening,
                subprotocol=accept.subprotocol,
                headers=[(name.encode(), value.encode()) for name, value in accept.headers],
                max_message_size=session.max_message_size,
                on_inbound=session.waker.wake,
                incomplete_budget=services.incomplete_budget,
            )
            if ws is not None:
                session.log.info("open", subprotocol=accept.subprotocol)
            return ws
        return None

    async def release(ws: Transport | None) -> None:
        if isinstance(ws, ServerWebSocket):
            ws.release_incomplete()
            await ws.abort()
        else:
            await close_quietly(channel)

    try:
        await serve_session(session, upgrade, refuse, release)
    finally:
        services.on_end(pid)
