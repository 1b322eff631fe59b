"""Serving plain HTTP routes: the method, the body, the endpoint, the response.

One request of a kept-alive stream goes through :meth:`Endpoints.exchange`::

    OPTIONS * (the server itself) ....................... 204
    no route ............................................ 404
    method the route lacks .............................. 405 with Allow
    OPTIONS the route does not name ..................... 204 with Allow
    Content-Length over max_body_size ................... 413 (body left unread; closes)
    body over max_body_size while it arrives ............ 413 (closes)
    body not whole within body_timeout (slowloris) ...... 408 (closes)
    broken framing (a bad chunk) ........................ 400 (closes)
    client gone mid-body ................................ (closes, nothing sent)
    endpoint raised ..................................... 500
    GET on a session route (SSE) ........................ Handover: the front takes a
                                                          connection slot and hands
                                                          the stream over
    otherwise ........................................... its Response (Content-Length)
                                                          or StreamingResponse (chunked)

A refusal made before the body is read keeps the stream only if the body
could be read (and dropped) first; a client that waits for ``100 Continue``
gets the refusal instead, and the stream closes. A stream closed with the
client's request unread closes lingering (the front's ``close_lingering``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import h11
import trio

from ..core.methods import MethodTable
from ..core.request import Request, Response, StreamingResponse
from ..core.routes import Router
from .http import BodyTooLarge, ClientGone, next_cycle, read_body, write_response, write_streaming

__all__ = ["Endpoints", "Handover", "HttpEndpoint", "HttpTarget", "SessionRoute"]

HttpEndpoint = Callable[[Request], Awaitable[Response | StreamingResponse]]
"""``async def endpoint(request) -> Response | StreamingResponse``."""

HttpTarget = HttpEndpoint | Mapping[str, HttpEndpoint]
"""What an HTTP route maps to: an endpoint (GET), or methods to endpoints."""

SessionEntry = Callable[[trio.abc.Stream, h11.Connection, Request, Any], Awaitable[None]]
"""Serves a stream handed over: ``(stream, parser, request, target)``; owns the stream."""


@dataclasses.dataclass(frozen=True, slots=True)
class SessionRoute:
    """An HTTP route whose GET becomes a long-lived session (Server-Sent Events).

    Attributes:
        target: What ``entry`` serves (a Handler subclass).
        entry: Takes the stream over once the request (and its body) is read.
        content_type: Of the response, for the head a ``HEAD`` gets.
    """

    target: Any
    entry: SessionEntry
    content_type: str


@dataclasses.dataclass(frozen=True, slots=True)
class Handover:
    """:meth:`Endpoints.exchange`'s answer for a :class:`SessionRoute`: serve it."""

    route: SessionRoute
    request: Request


async def _no_body() -> AsyncIterator[bytes]:
    return
    yield b""


def _declared_length(request: Request) -> int | None:
    value = request.header("content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


class Endpoints:
    """The HTTP routes of a front.

    Args:
        routes: Patterns → endpoints or method tables (see :data:`HttpTarget`).
        max_body_size: Largest request body read, in bytes (413 beyond).
        body_timeout: Seconds a request body has to arrive whole (408 beyond).
        log: A structlog logger.
    """

    def __init__(
        self,
        routes: Router[MethodTable[HttpEndpoint | SessionRoute]],
        *,
        max_body_size: int,
        body_timeout: float,
        log: Any,
    ) -> None:
        self.routes = routes
        self.max_body_size = max_body_size
        self.body_timeout = body_timeout
        self.log = log

    async def exchange(
        self, stream: trio.abc.Stream, parser: h11.Connection, request: Request
    ) -> bool | Handover:
        """Answer one request.

        Returns:
            True if the stream may carry another request, False if it is
            done; a :class:`Handover` for a GET on a :class:`SessionRoute`
            (its body read, nothing answered yet).
        """
        if request.path == "*":  # OPTIONS *: the server's options, no resource's
            return await self._refuse(stream, parser, request, Response(204))
        match = self.routes.match(request.path)
        if match is None:
            return await self._refuse(stream, parser, request, Response(404, "not found\n"))
        table = match.target
        pick = table.pick(request.method)
        if pick is None:
            refusal = Response(405, "method not allowed\n", headers=(("allow", table.allow),))
            return await self._refuse(stream, parser, request, refusal)
        declared = _declared_length(request)
        if declared is not None and declared > self.max_body_size:
            await write_response(stream, parser, self._too_large(), close=True)
            return False
        with trio.move_on_after(self.body_timeout) as timer:
            try:
                body = await read_body(stream, parser, self.max_body_size)
            except BodyTooLarge:
                await write_response(stream, parser, self._too_large(), close=True)
                return False
            except ClientGone:
                return False
            except h11.RemoteProtocolError as exc:
                refusal = Response(400, f"malformed request body: {exc}\n")
                await write_response(stream, parser, refusal, close=True)
                return False
        if timer.cancelled_caught:
            refusal = Response(408, "the request body did not arrive in time\n")
            await write_response(stream, parser, refusal, close=True)
            return False
        request = dataclasses.replace(
            request, body=body, path_params=match.params, route=match.pattern
        )
        endpoint = pick.endpoint
        if isinstance(endpoint, SessionRoute):
            if not pick.head_only:
                return Handover(endpoint, request)
            response: Response | StreamingResponse = StreamingResponse(
                _no_body(), content_type=endpoint.content_type
            )
        elif endpoint is None:  # OPTIONS, answered for the route
            response = Response(204, headers=(("allow", table.allow),))
        else:
            response = await self._call(endpoint, request)
        self.log.debug("http", method=request.method, path=request.path, status=response.status)
        if isinstance(response, StreamingResponse):
            done = await write_streaming(stream, parser, response, head_only=pick.head_only)
            return done and next_cycle(parser)
        await write_response(stream, parser, response, head_only=pick.head_only)
        return next_cycle(parser)

    async def _call(self, endpoint: HttpEndpoint, request: Request) -> Response | StreamingResponse:
        try:
            response = await endpoint(request)
        except Exception:
            self.log.exception("http endpoint crashed", path=request.path)
            return Response(500, "internal server error\n")
        if not isinstance(response, Response | StreamingResponse):
            self.log.error(
                "http endpoint returned no response", path=request.path, got=repr(response)
            )
            return Response(500, "internal server error\n")
        return response

    def _too_large(self) -> Response:
        return Response(413, f"request body over {self.max_body_size} bytes\n")

    async def _refuse(
        self, stream: trio.abc.Stream, parser: h11.Connection, request: Request, refusal: Response
    ) -> bool:
        """Answer without serving; drop a small body first so the stream can go on."""
        head_only = request.method == "HEAD"
        if parser.they_are_waiting_for_100_continue:
            await write_response(stream, parser, refusal, head_only=head_only, close=True)
            return False
        with (
            trio.move_on_after(self.body_timeout),
            contextlib.suppress(BodyTooLarge, ClientGone, h11.RemoteProtocolError),
        ):
            await read_body(stream, parser, self.max_body_size)
        close = parser.their_state is not h11.DONE
        await write_response(stream, parser, refusal, head_only=head_only, close=close)
        return next_cycle(parser)
