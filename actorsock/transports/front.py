"""The front: one listening port for WebSocket and plain HTTP.

Every accepted stream goes through :meth:`Front.handle`, one request after
another while the stream is kept alive::

    wait for a request head (handshake_timeout for the first, keep_alive_timeout
    after that; the stream counts as a handshake, see core.admission)
      timeout / client gone / evicted .................. close
      request line too long ............................ 414
      head too large ................................... 431
      malformed head, bad Host, unusable target ........ 400
    WebSocket route?
      broken upgrade ................................... 405 / 400 / 426 (core.handshake)
      cross-site origin not allowed .................... 403
      server full or shutting down ..................... 503
      otherwise ........................................ on_websocket(...), holding a slot
    an upgrade to a path that is no route .............. 404
    anything else ...................................... Endpoints.exchange (transports.endpoints):
                                                         404 / 405 / 413 / 408 / 500, or the
                                                         endpoint's answer; then the next request
      a GET on a session route (SSE) ................... 503 when full, else its entry,
                                                         holding a slot

Every refusal of the front closes the stream; the endpoints keep it when
they can. A stream closed while the client may still be sending its request
(a body refused unread, a malformed head) closes lingering
(:func:`close_lingering`), so the client reads its answer.

Containment: nothing raised while serving one stream leaves
:meth:`Front.handle`. Whatever escapes the steps above (a bug in actorsock,
in a library under it, in a handler's ``terminate``) is logged once with the
stream's address and path, answered with 500 if nothing was answered yet,
and ends that stream only: the listener and the other connections never see
it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import h11
import trio

from ..core.admission import Admission
from ..core.handshake import (
    HttpError,
    check_request,
    check_upgrade,
    origin_allowed,
    wants_upgrade,
)
from ..core.request import Request, Response
from ..core.routes import RouteMatch, Router
from .endpoints import Endpoints, Handover
from .http import HeadReader, read_now, to_request, write_response

__all__ = ["LINGER_TIMEOUT", "Front", "close_lingering", "close_quietly"]

WebSocketEntry = Callable[[trio.abc.Stream, h11.Connection, bytes, Request, Any], Awaitable[None]]

# What serves a stream handed over, and its arguments after the stream.
_Handover = tuple[Callable[..., Awaitable[None]], tuple[Any, ...]]

CLOSE_TIMEOUT = 2.0
"""Seconds a TLS stream gets to say goodbye before it is closed forcefully."""

LINGER_TIMEOUT = 5.0
"""Seconds a refused client may go on sending after its answer (see :func:`close_lingering`)."""


async def close_quietly(stream: trio.abc.Stream) -> None:
    """Close ``stream``, giving TLS a moment for its goodbye, ignoring errors."""
    with trio.move_on_after(CLOSE_TIMEOUT) as scope:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.aclose()
    if scope.cancelled_caught:
        await trio.aclose_forcefully(stream)


async def close_lingering(stream: trio.abc.Stream) -> None:
    """Close ``stream`` after an answer the client may still be sending behind.

    A client refused in the middle of its request (a body too large, a
    malformed head) may still be writing. Closing a socket with unread data
    makes the kernel reset the connection, and the reset can destroy the
    answer before the client reads it: most clients write their whole body
    before they read, and see only "connection reset". So, as RFC 9112
    section 9.6 asks, the server ends its side first, then reads and drops
    what still comes, until the client closes or :data:`LINGER_TIMEOUT` passes.
    """
    with (
        trio.move_on_after(LINGER_TIMEOUT),
        contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError),
    ):
        if isinstance(stream, trio.abc.HalfCloseableStream):
            await stream.send_eof()
        while await stream.receive_some(65536):
            pass
    await close_quietly(stream)


def _peer(stream: trio.abc.Stream) -> tuple[str, int] | None:
    inner: Any = stream
    while isinstance(inner, trio.SSLStream):
        inner = inner.transport_stream
    if isinstance(inner, trio.SocketStream):
        try:
            host, port, *_ = inner.socket.getpeername()
        except OSError:
            return None
        return str(host), int(port)
    return None


def _closed(stream: trio.abc.Stream) -> bool:
    """True if the socket under ``stream`` is closed (False when not a socket)."""
    inner: Any = stream
    while isinstance(inner, trio.SSLStream):
        inner = inner.transport_stream
    return isinstance(inner, trio.SocketStream) and inner.socket.fileno() < 0


_FULL = HttpError(
    503, "server is at its connection limit or shutting down", (("retry-after", "5"),)
)


def _error_response(error: HttpError) -> Response:
    return Response(error.status, error.message + "\n", headers=error.headers)


def _single(group: BaseExceptionGroup[Exception]) -> BaseException:
    """The one exception of a group of one, else the group (for the log)."""
    if len(group.exceptions) == 1 and not isinstance(group.exceptions[0], BaseExceptionGroup):
        return group.exceptions[0]
    return group


@dataclasses.dataclass(slots=True)
class _Served:
    """What :meth:`Front.handle` knows of one stream, for its log line and its end."""

    remote: str
    path: str | None = None
    answered: bool = False  # a refusal, or the upgrade, has been sent
    parser: h11.Connection | None = None  # knows whether an HTTP response went out

    def nothing_sent(self) -> bool:
        """True while no byte of an answer to the current request has been sent."""
        parser = self.parser
        return not self.answered and (
            parser is None or parser.our_state in (h11.IDLE, h11.SEND_RESPONSE)
        )


class Front:
    """Routes each request of an accepted stream to a WebSocket handler or an HTTP endpoint.

    Args:
        ws_routes: Patterns → handler classes (or anything ``on_websocket`` takes).
        http_routes: The plain HTTP routes (see :class:`~actorsock.transports.endpoints.Endpoints`).
        on_websocket: Runs an accepted upgrade: ``(stream, parser, early,
            request, target)``, where ``parser`` is the h11 parser that
            read the request (it writes the 101) and ``early`` what the
            client sent behind its head. Owns the stream from then on.
        admission: Counts handshakes and connection slots; the front takes a
            slot just before ``on_websocket`` and gives it back when that
            returns, however it returns.
        allowed_origins: See :func:`~actorsock.core.handshake.origin_allowed`.
        handshake_timeout: Seconds a client has to send its first request head.
        keep_alive_timeout: Seconds a kept-alive stream may wait for its next request.
        max_head_size: Largest request head accepted, in bytes.
        log: A structlog logger.
    """

    def __init__(
        self,
        *,
        ws_routes: Router[Any],
        http_routes: Endpoints,
        on_websocket: WebSocketEntry,
        admission: Admission,
        allowed_origins: Sequence[str],
        handshake_timeout: float,
        keep_alive_timeout: float,
        max_head_size: int,
        log: Any,
    ) -> None:
        self.ws_routes = ws_routes
        self.http_routes = http_routes
        self.on_websocket = on_websocket
        self.admission = admission
        self.allowed_origins = tuple(allowed_origins)
        self.handshake_timeout = handshake_timeout
        self.keep_alive_timeout = keep_alive_timeout
        self.max_head_size = max_head_size
        self.log = log

    async def handle(self, stream: trio.abc.Stream) -> None:
        """Serve one accepted stream to its end. Raises nothing but cancellation."""
        peer = _peer(stream)
        served = _Served(f"{peer[0]}:{peer[1]}" if peer else "?")
        try:
            handover = await self._serve(stream, peer, served)
            if handover is not None:
                # Here, after _serve has returned: its frame (the parser, the
                # parsed head) must not live as long as the connection. The
                # slot _serve took is given back whatever happens in there.
                served.answered = True
                entry, arguments = handover
                del handover
                try:
                    serving = entry(stream, *arguments)
                    del arguments  # the session holds what it needs, and lets go
                    await serving
                finally:
                    self.admission.release()
        except* Exception as group:
            self.log.error(
                "stream crashed", remote=served.remote, path=served.path, exc_info=_single(group)
            )
            if served.nothing_sent():
                with trio.move_on_after(CLOSE_TIMEOUT):
                    await write_response(stream, None, Response(500, "internal server error\n"))
        finally:
            # The normal paths close the stream themselves (the connection
            # does, once it owns it); after a crash or a cancellation nothing
            # else will. Checked first: a forceful close of a closed stream
            # still costs a caught Cancelled, once per connection of a drain.
            if not _closed(stream):
                await trio.aclose_forcefully(stream)

    async def _serve(
        self, stream: trio.abc.Stream, peer: tuple[str, int] | None, served: _Served
    ) -> _Handover | None:
        """Answer the stream's requests until it ends, or until one opens a session.

        Returns:
            What serves the stream from now on and its arguments (a slot
            taken): an accepted upgrade, or a GET on a session route (SSE);
            None once the stream is done and closed.
        """
        # One parser for the stream's whole life: keep-alive and pipelined
        # requests follow each other through it.
        parser = h11.Connection(h11.SERVER, max_incomplete_event_size=self.max_head_size)
        served.parser = parser
        first = True
        while True:
            served.answered = False
            served.path = None
            event = await self._read_head(stream, parser, served, first)
            if event is None:
                break
            request = to_request(event, peer)
            if request is None:
                await self._refuse(
                    stream, parser, served, HttpError(400, "unsupported request target"), False
                )
                break
            served.path = request.path
            head_only = request.method == "HEAD"
            error = check_request(request)
            if error is not None:
                await self._refuse(stream, parser, served, error, head_only)
                break
            ws_match = self.ws_routes.match(request.path)
            if ws_match is not None:
                upgrade = await self._upgrade(stream, parser, served, request, ws_match)
                if upgrade is None:
                    break
                served.parser = None
                return self.on_websocket, upgrade
            if wants_upgrade(request) and self.http_routes.routes.match(request.path) is None:
                refusal = HttpError(404, "no WebSocket route here")
                await self._refuse(stream, parser, served, refusal, head_only)
                break
            answered = await self.http_routes.exchange(stream, parser, request)
            if isinstance(answered, Handover):
                if not self.admission.admit():
                    await self._refuse(stream, parser, served, _FULL, head_only)
                    break
                route = answered.route
                return route.entry, (parser, answered.request, route.target)
            if not answered:
                break
            first = False
        if parser.their_state in (h11.SEND_BODY, h11.ERROR):
            await close_lingering(stream)  # refused while it may still be sending
        else:
            await close_quietly(stream)
        return None

    async def _read_head(
        self, stream: trio.abc.Stream, parser: h11.Connection, served: _Served, first: bool
    ) -> h11.Request | None:
        """Wait for a request head as a counted handshake; None if none came.

        A head already there (pipelined behind the last one, or in the
        socket when the first is looked for: a client that connected and
        sent at once) is taken without waiting, so with no timeout and no
        handshake slot. Otherwise the wait counts against the admission as
        a handshake (evictable), the first one on a stream and every
        keep-alive wait after it.
        """
        head = HeadReader(parser, self.max_head_size)
        try:
            event = head.next_event()
            if event is h11.NEED_DATA and first:
                data = read_now(stream)
                if data is not None:
                    if not data:
                        return None  # the client closed at once
                    head.feed(data)
                    event = head.next_event()
            if event is None or isinstance(event, h11.Request):
                return event
            return await self._wait_for_head(stream, head, served, first)
        except h11.RemoteProtocolError as exc:
            self.log.info("malformed request", remote=served.remote, error=str(exc))
            served.answered = True
            with trio.move_on_after(CLOSE_TIMEOUT):
                await write_response(stream, None, Response(exc.error_status_hint, f"{exc}\n"))
            return None

    async def _wait_for_head(
        self, stream: trio.abc.Stream, head: HeadReader, served: _Served, first: bool
    ) -> h11.Request | None:
        timeout = self.handshake_timeout if first else self.keep_alive_timeout
        with trio.move_on_after(timeout) as scope:
            ticket = self.admission.begin_handshake(scope.cancel)
            try:
                return await head.read(stream)
            finally:
                self.admission.end_handshake(ticket)
        parser = head.parser
        if trio.current_time() < scope.deadline:
            self.log.info("handshake evicted for a newer client", remote=served.remote)
        elif (
            parser.their_state is h11.IDLE
            and not parser.trailing_data[0]
            and timeout != self.handshake_timeout
        ):
            pass  # an idle keep-alive stream: closing it is routine
        else:
            self.log.info("handshake timeout", remote=served.remote, timeout=timeout)
        return None

    async def _upgrade(
        self,
        stream: trio.abc.Stream,
        parser: h11.Connection,
        served: _Served,
        request: Request,
        match: RouteMatch[Any],
    ) -> tuple[h11.Connection, bytes, Request, Any] | None:
        """Check an upgrade and take its slot; None once refused (answered)."""
        head_only = request.method == "HEAD"
        request = self._with_route(request, match)
        refusal = self._refuse_upgrade(request)
        if refusal is None and not self.admission.admit():
            refusal = _FULL
        if refusal is not None:
            await self._refuse(stream, parser, served, refusal, head_only)
            return None
        early = parser.trailing_data[0]  # the client's first frames, if any
        return parser, early, request, match.target

    async def _refuse(
        self,
        stream: trio.abc.Stream,
        parser: h11.Connection,
        served: _Served,
        error: HttpError,
        head_only: bool,
    ) -> None:
        """Answer ``error`` and end the stream."""
        self.log.info(
            "request refused",
            remote=served.remote,
            path=served.path,
            status=error.status,
            why=error.message,
        )
        served.answered = True
        await write_response(
            stream, parser, _error_response(error), head_only=head_only, close=True
        )

    @staticmethod
    def _with_route(request: Request, match: RouteMatch[Any]) -> Request:
        return dataclasses.replace(request, path_params=match.params, route=match.pattern)

    def _refuse_upgrade(self, request: Request) -> HttpError | None:
        error = check_upgrade(request)
        if error is not None:
            return error
        if not origin_allowed(request, self.allowed_origins):
            return HttpError(403, f"origin {request.origin} is not allowed")
        return None
