"""The front: one listening port for WebSocket and plain HTTP.

Every accepted stream goes through :meth:`Front.handle`::

    wait for the request head (handshake_timeout, max_head_size; the
    stream counts as a handshake, see core.admission)
      timeout / client gone / evicted .................. close
      request line too long ............................ 414
      head too large ................................... 431
      malformed head, bad Host, unusable target ........ 400
    WebSocket route?
      broken upgrade ................................... 405 / 400 / 426 (core.handshake)
      cross-site origin not allowed .................... 403
      server full or shutting down ..................... 503
      otherwise ........................................ on_websocket(...), holding a slot
    HTTP route?
      method other than GET/HEAD ....................... 405
      otherwise ........................................ endpoint(request) (crash -> 500)
    anything else ...................................... 404

Containment: nothing raised while serving one stream leaves
:meth:`Front.handle`. Whatever escapes the steps above (a bug in actorsock,
in a library under it, in a handler's ``terminate``) is logged once with the
stream's address and path, answered with 500 if nothing was answered yet,
and ends that stream only: the listener and the other connections never see
it.

Later transports (long-poll, server-sent events) are HTTP routes of this same
front, so they share the port, the limits and the logs.
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
    upgrade_head,
    wants_upgrade,
)
from ..core.request import Request, Response
from ..core.routes import RouteMatch, Router
from .http import read_request_head, to_request, write_response

__all__ = ["Front", "HttpEndpoint", "close_quietly"]

HttpEndpoint = Callable[[Request], Awaitable[Response]]
WebSocketEntry = Callable[[trio.abc.Stream, bytes, bytes, Request, Any], Awaitable[None]]

CLOSE_TIMEOUT = 2.0
"""Seconds a TLS stream gets to say goodbye before it is closed forcefully."""


async def close_quietly(stream: trio.abc.Stream) -> None:
    """Close ``stream``, giving TLS a moment for its goodbye, ignoring errors."""
    with trio.move_on_after(CLOSE_TIMEOUT) as scope:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.aclose()
    if scope.cancelled_caught:
        await trio.aclose_forcefully(stream)


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
    answered: bool = False  # a response (or the upgrade) has been sent


class Front:
    """Routes each accepted stream to a WebSocket handler or an HTTP endpoint.

    Args:
        ws_routes: Patterns → handler classes (or anything ``on_websocket`` takes).
        http_routes: Patterns → ``async endpoint(request) -> Response``.
        on_websocket: Runs an accepted upgrade: ``(stream, head, early,
            request, target)``, where ``head`` is the canonical opening
            handshake and ``early`` what the client sent behind its head.
            Owns the stream from then on.
        admission: Counts handshakes and connection slots; the front takes a
            slot just before ``on_websocket`` and gives it back when that
            returns, however it returns.
        allowed_origins: See :func:`~actorsock.core.handshake.origin_allowed`.
        handshake_timeout: Seconds a client has to send its request head.
        max_head_size: Largest request head accepted, in bytes.
        log: A structlog logger.
    """

    def __init__(
        self,
        *,
        ws_routes: Router[Any],
        http_routes: Router[HttpEndpoint],
        on_websocket: WebSocketEntry,
        admission: Admission,
        allowed_origins: Sequence[str],
        handshake_timeout: float,
        max_head_size: int,
        log: Any,
    ) -> None:
        self.ws_routes = ws_routes
        self.http_routes = http_routes
        self.on_websocket = on_websocket
        self.admission = admission
        self.allowed_origins = tuple(allowed_origins)
        self.handshake_timeout = handshake_timeout
        self.max_head_size = max_head_size
        self.log = log

    async def handle(self, stream: trio.abc.Stream) -> None:
        """Serve one accepted stream to its end. Raises nothing but cancellation."""
        peer = _peer(stream)
        served = _Served(f"{peer[0]}:{peer[1]}" if peer else "?")
        try:
            await self._serve(stream, peer, served)
        except* Exception as group:
            self.log.error(
                "stream crashed", remote=served.remote, path=served.path, exc_info=_single(group)
            )
            if not served.answered:
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
    ) -> None:
        upgrade = await self._route(stream, peer, served)
        if upgrade is None:
            await close_quietly(stream)
            return
        # Called here, not in _route, so that no parsing state stays
        # referenced for the life of the connection. The slot taken in
        # _route is given back whatever happens in there.
        served.answered = True
        try:
            await self.on_websocket(stream, *upgrade)
        finally:
            self.admission.release()

    async def _read_head(
        self, stream: trio.abc.Stream, served: _Served
    ) -> tuple[h11.Connection, h11.Request] | None:
        """Wait for the request head as a counted handshake; None if none came."""
        with trio.move_on_after(self.handshake_timeout) as scope:
            ticket = self.admission.begin_handshake(scope.cancel)
            try:
                parser, event = await read_request_head(stream, self.max_head_size)
            except h11.RemoteProtocolError as exc:
                self.log.info("malformed request", remote=served.remote, error=str(exc))
                served.answered = True
                await write_response(stream, None, Response(exc.error_status_hint, f"{exc}\n"))
                return None
            finally:
                self.admission.end_handshake(ticket)
        if scope.cancelled_caught:
            timed_out = trio.current_time() >= scope.deadline
            self.log.info(
                "handshake timeout" if timed_out else "handshake evicted for a newer client",
                remote=served.remote,
                timeout=self.handshake_timeout,
            )
            return None
        if event is None:
            return None
        return parser, event

    async def _route(
        self, stream: trio.abc.Stream, peer: tuple[str, int] | None, served: _Served
    ) -> tuple[bytes, bytes, Request, Any] | None:
        """Answer a plain HTTP request, or return what an accepted upgrade needs.

        Returns:
            None once the request has been answered (or the client left);
            ``(head, early, request, handler_class)`` for an upgrade to hand over,
            with a connection slot taken.
        """
        head = await self._read_head(stream, served)
        if head is None:
            return None
        parser, event = head
        request = to_request(event, peer)
        if request is None:
            await self._refuse(
                stream, parser, served, HttpError(400, "unsupported request target"), False
            )
            return None
        served.path = request.path
        head_only = request.method == "HEAD"
        error = check_request(request)
        if error is not None:
            await self._refuse(stream, parser, served, error, head_only)
            return None
        ws_match = self.ws_routes.match(request.path)
        if ws_match is not None:
            request = self._with_route(request, ws_match)
            refusal = self._refuse_upgrade(request)
            if refusal is not None:
                await self._refuse(stream, parser, served, refusal, head_only)
                return None
            if not self.admission.admit():
                refusal = HttpError(
                    503,
                    "server is at its connection limit or shutting down",
                    (("retry-after", "5"),),
                )
                await self._refuse(stream, parser, served, refusal, head_only)
                return None
            early = parser.trailing_data[0]  # the client's first frames, if any
            return upgrade_head(request), early, request, ws_match.target
        response = await self._serve_http(request)
        self.log.debug(
            "http",
            remote=served.remote,
            method=request.method,
            path=request.path,
            status=response.status,
        )
        served.answered = True
        await write_response(stream, parser, response, head_only=head_only)
        return None

    async def _refuse(
        self,
        stream: trio.abc.Stream,
        parser: h11.Connection,
        served: _Served,
        error: HttpError,
        head_only: bool,
    ) -> None:
        self.log.info(
            "request refused",
            remote=served.remote,
            path=served.path,
            status=error.status,
            why=error.message,
        )
        served.answered = True
        await write_response(stream, parser, _error_response(error), head_only=head_only)

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

    async def _serve_http(self, request: Request) -> Response:
        match = self.http_routes.match(request.path)
        if match is None:
            if wants_upgrade(request):
                return Response(404, "no WebSocket route here\n")
            return Response(404, "not found\n")
        if request.method not in ("GET", "HEAD"):
            return Response(405, "method not allowed\n", headers=(("allow", "GET, HEAD"),))
        request = self._with_route(request, match)
        try:
            return await match.target(request)
        except Exception:
            self.log.exception("http endpoint crashed", path=request.path)
            return Response(500, "internal server error\n")
