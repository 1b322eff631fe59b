"""Reading an HTTP/1.1 request head and writing a response, with h11.

The front reads only the head: a WebSocket upgrade carries no body, and the
plain endpoints served here (health check, demo page, later long-poll) answer
GET/HEAD. Every response closes the connection (``Connection: close``), which
keeps this edge small; clients that poll open a new connection per request.
"""

from __future__ import annotations

from http import HTTPStatus

import h11
import trio

from ..core.request import Request, Response, split_target

__all__ = ["read_request_head", "to_request", "write_response"]

RECEIVE_SIZE = 16384


async def read_request_head(
    stream: trio.abc.Stream, max_size: int
) -> tuple[h11.Connection, h11.Request | None]:
    """Read bytes until a full request head has arrived.

    Only the head counts against ``max_size``: bytes the client sent right
    behind it (a WebSocket client's first frames) wait in the parser, and
    ``parser.trailing_data`` returns them.

    Args:
        stream: The client stream.
        max_size: Most bytes a head may take.

    Returns:
        ``(parser, request)``: the h11 parser (to write the response with,
        holding any bytes after the head) and the parsed head (None if the
        client closed first).

    Raises:
        h11.RemoteProtocolError: For a malformed or oversize head; the error
            carries the status to answer with: 400, 414 when the request
            line alone is too long, 431 when the head is.
    """
    parser = h11.Connection(h11.SERVER, max_incomplete_event_size=max_size)
    line_ended = False
    received = 0
    while True:
        try:
            event = parser.next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431 and not line_ended:
                raise h11.RemoteProtocolError("request target too long", 414) from None
            raise
        if isinstance(event, h11.Request):
            # h11 bounds only a head still incomplete; one that arrived whole
            # in the last read is measured here, without what followed it.
            if received - len(parser.trailing_data[0]) > max_size:
                if len(event.target) > max_size:
                    raise h11.RemoteProtocolError("request target too long", 414)
                raise h11.RemoteProtocolError("request head too large", 431)
            return parser, event
        if event is not h11.NEED_DATA:
            return parser, None
        try:
            data = await stream.receive_some(RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return parser, None
        if not data:
            return parser, None
        received += len(data)
        line_ended = line_ended or b"\n" in data
        parser.receive_data(bytes(data))


def to_request(event: h11.Request, remote: tuple[str, int] | None) -> Request | None:
    """Build the handler-facing :class:`Request` from an h11 request head.

    Returns:
        None if the request target is in neither the origin form nor the
        absolute form (see :func:`~actorsock.core.request.split_target`).
    """
    split = split_target(event.target.decode("ascii", "replace"))
    if split is None:
        return None
    path, query = split
    headers = tuple(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers
    )
    return Request(
        method=event.method.decode("ascii", "replace"),
        path=path,
        query_string=query,
        headers=headers,
        remote=remote,
        http_version=event.http_version.decode("ascii", "replace"),
    )


async def write_response(
    stream: trio.abc.Stream,
    parser: h11.Connection | None,
    response: Response,
    *,
    head_only: bool = False,
) -> None:
    """Send ``response`` and mark the connection to be closed.

    Args:
        stream: The client stream.
        parser: The h11 parser that read the request, or None when the
            response is written outside of it (after the head was handed on).
        response: What to send.
        head_only: Leave the body out (answer to HEAD).

    Errors from a client that went away are swallowed: there is nobody to
    tell.
    """
    body = response.body.encode() if isinstance(response.body, str) else response.body
    # One Connection field: the response's own options (a 426 names
    # "upgrade") and "close", since this edge closes after every response.
    options = [value for name, value in response.headers if name.lower() == "connection"]
    headers = [
        ("content-type", response.content_type),
        ("content-length", str(len(body))),
        ("connection", ", ".join([*options, "close"])),
        *((name, value) for name, value in response.headers if name.lower() != "connection"),
    ]
    try:
        reason = HTTPStatus(response.status).phrase.encode()
    except ValueError:
        reason = b""
    try:
        if (
            parser is None
            or parser.their_state is h11.ERROR
            or parser.our_state is not h11.SEND_RESPONSE
        ):
            parser = _fresh_writer()
        data = parser.send(
            h11.Response(status_code=response.status, headers=headers, reason=reason)
        )
        if body and not head_only:
            data += parser.send(h11.Data(data=body))
        await stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


def _fresh_writer() -> h11.Connection:
    """An h11 server connection ready to send a response with no request seen.

    Used when the request could not be parsed, so the parser that read it
    cannot write an answer.
    """
    parser = h11.Connection(h11.SERVER)
    parser.receive_data(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    parser.next_event()
    return parser
