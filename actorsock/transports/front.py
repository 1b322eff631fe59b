"""The front: one listening port for WebSocket and plain HTTP.

Every accepted stream goes through :meth:`Front.handle`::

    read request head (within handshake_timeout, max_head_size)
      timeout / client gone ........................... close
      malformed head ................................... 400 (431 if too large)
    WebSocket route?
      broken upgrade ................................... 405 / 400 / 426 (core.handshake)
      cross-site origin not allowed .................... 403
      server full or shutting down ..................... 503
      otherwise ........................................ on_websocket(...)
    HTTP route?
      method other than GET/HEAD ....................... 405
      otherwise ........................................ endpoint(request) (crash -> 500)
    anything else ...................................... 404

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

from ..core.handshake import HttpError, check_upgrade, origin_allowed, wants_upgrade
from ..core.request import Request, Response
from ..core.routes import RouteMatch, Router
from .http import read_request_head, to_request, write_response

__all__ = ["Front", "HttpEndpoint", "close_quietly"]

HttpEndpoint = Callable[[Request], Awaitable[Response]]
WebSocketEntry = Callable[[trio.abc.Stream, bytes, Request, Any], Awaitable[None]]

CLOSE_TIMEOUT = 2.0


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


def _error_response(error: HttpError) -> Response:
    return Response(error.status, error.message + "\n", headers=error.headers)


class Front:
    """Routes each accepted stream to a WebSocket handler or an HTTP endpoint.

    Args:
        ws_routes: Patterns → handler classes (or anything ``on_websocket`` takes).
        http_routes: Patterns → ``async endpoint(request) -> Response``.
        on_websocket: Runs an accepted upgrade; owns the stream from then on
            and must call ``release`` when the connection ends.
        admit: Reserves a connection slot; False means full (503).
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
        admit: Callable[[], bool],
        allowed_origins: Sequence[str],
        handshake_timeout: float,
        max_head_size: int,
        log: Any,
    ) -> None:
        self.ws_routes = ws_routes
        self.http_routes = http_routes
        self.on_websocket = on_websocket
        self.admit = admit
        self.allowed_origins = tuple(allowed_origins)
        self.handshake_timeout = handshake_timeout
        self.max_head_size = max_head_size
        self.log = log

    async def handle(self, stream: trio.abc.Stream) -> None:
        """Serve one accepted stream to its end."""
        upgrade = None
        try:
            upgrade = await self._route(stream)
        finally:
            if upgrade is None:
                await close_quietly(stream)
        if upgrade is not None:
            # Called here, not in _route, so that no parsing state stays
            # referenced for the life of the connection.
            await self.on_websocket(stream, *upgrade)

    async def _route(self, stream: trio.abc.Stream) -> tuple[bytes, Request, Any] | None:
        """Answer a plain HTTP request, or return what an accepted upgrade needs.

        Returns:
            None once the request has been answered (or the client left);
            ``(head, request, handler_class)`` for an upgrade to hand over.
        """
        peer = _peer(stream)
        remote = f"{peer[0]}:{peer[1]}" if peer else "?"
        parser: h11.Connection | None = None
        event: h11.Request | None = None
        with trio.move_on_after(self.handshake_timeout) as timer:
            try:
                parser, event, head = await read_request_head(stream, self.max_head_size)
            except h11.RemoteProtocolError as exc:
                self.log.info("malformed request", remote=remote, error=str(exc))
                await write_response(
                    stream,
                    h11.Connection(h11.SERVER),
                    Response(exc.error_status_hint, "malformed request\n"),
                )
                return None
        if timer.cancelled_caught:
            self.log.info("handshake timeout", remote=remote, timeout=self.handshake_timeout)
            return None
        if event is None or parser is None:
            return None
        request = to_request(event, peer)
        head_only = request.method == "HEAD"
        ws_match = self.ws_routes.match(request.path)
        if ws_match is not None:
            request = self._with_route(request, ws_match)
            refusal = self._refuse_upgrade(request)
            if refusal is None:
                return head, request, ws_match.target
            self.log.info(
                "upgrade refused",
                remote=remote,
                path=request.path,
                status=refusal.status,
                why=refusal.message,
            )
            await write_response(stream, parser, _error_response(refusal), head_only=head_only)
            return None
        response = await self._serve_http(request)
        self.log.debug(
            "http", remote=remote, method=request.method, path=request.path, status=response.status
        )
        await write_response(stream, parser, response, head_only=head_only)
        return None

    @staticmethod
    def _with_route(request: Request, match: RouteMatch[Any]) -> Request:
        return dataclasses.replace(request, path_params=match.params, route=match.pattern)

    def _refuse_upgrade(self, request: Request) -> HttpError | None:
        error = check_upgrade(request)
        if error is not None:
            return error
        if not origin_allowed(request, self.allowed_origins):
            return HttpError(403, f"origin {request.origin} is not allowed")
        if not self.admit():
            return HttpError(
                503, "server is at its connection limit or shutting down", (("retry-after", "5"),)
            )
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
