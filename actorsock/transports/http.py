"""HTTP/1.1 on one stream with h11: request heads, bodies, responses, keep-alive.

One h11 parser serves a stream for all its requests (keep-alive, pipelining):

    HeadReader -------->   a request head (400 / 414 / 431 for a bad one)
    read_body --------->   its body       (413 past the limit; 100 Continue
                                           first when the client waits for it)
    write_response / write_streaming      (Content-Length, or chunked)
    next_cycle --------->  True: the next request may follow on this stream

h11 decides whether the connection can be kept (HTTP/1.0, ``Connection:
close``, a body not read whole); a response that must end the stream is
written with ``close=True``.
"""

from __future__ import annotations

import os
from http import HTTPStatus

import h11
import trio

from ..core.request import Request, Response, StreamingResponse, split_target

__all__ = [
    "BodyTooLarge",
    "ClientGone",
    "HeadReader",
    "next_cycle",
    "read_body",
    "read_now",
    "response_head",
    "to_request",
    "write_response",
    "write_streaming",
]

RECEIVE_SIZE = 16384

# Statuses whose responses carry no content, whatever the handler gave
# (RFC 9110 sections 15.3.5 and 15.4.5); a body for them is left out.
_WITHOUT_CONTENT = (204, 304)


class ClientGone(Exception):
    """The client closed or broke the stream in the middle of a request."""


class BodyTooLarge(Exception):
    """The request body is larger than the server accepts (413)."""


async def _receive(stream: trio.abc.Stream) -> bytes:
    try:
        return bytes(await stream.receive_some(RECEIVE_SIZE))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return b""


class HeadReader:
    """Reads one request head into ``parser``, bounded by ``max_size``.

    Only the head counts against ``max_size``: bytes the client sent right
    behind it (a body, a pipelined request, a WebSocket client's first
    frames) wait in the parser, and ``parser.trailing_data`` returns them.

    Args:
        parser: The stream's h11 parser, at the start of a request cycle
            (it may hold a pipelined request already read).
        max_size: Most bytes a head may take.
    """

    __slots__ = ("_buffered", "_line_ended", "_received", "max_size", "parser")

    def __init__(self, parser: h11.Connection, max_size: int) -> None:
        self.parser = parser
        self.max_size = max_size
        held = parser.trailing_data[0]
        self._buffered = len(held)
        self._received = 0
        self._line_ended = b"\n" in held

    def feed(self, data: bytes) -> None:
        """Add bytes read from the client."""
        self._received += len(data)
        self._line_ended = self._line_ended or b"\n" in data
        self.parser.receive_data(data)

    def next_event(self) -> h11.Request | type[h11.NEED_DATA] | None:
        """The head if the bytes fed so far hold it whole; ``h11.NEED_DATA`` if
        they do not yet; None if the client closed before sending one.

        Raises:
            h11.RemoteProtocolError: For a malformed or oversize head; the
                error carries the status to answer with: 400, 414 when the
                request line alone is too long, 431 when the head is.
        """
        parser = self.parser
        try:
            event = parser.next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431 and not self._line_ended:
                raise h11.RemoteProtocolError("request target too long", 414) from None
            raise
        if isinstance(event, h11.Request):
            # h11 bounds only a head still incomplete; one that arrived whole
            # in the last read is measured here, without what followed it.
            consumed = self._buffered + self._received - len(parser.trailing_data[0])
            if consumed > self.max_size:
                if len(event.target) > self.max_size:
                    raise h11.RemoteProtocolError("request target too long", 414)
                raise h11.RemoteProtocolError("request head too large", 431)
            return event
        if event is h11.NEED_DATA:
            return h11.NEED_DATA
        return None

    async def read(self, stream: trio.abc.Stream) -> h11.Request | None:
        """Read from ``stream`` until the head is whole; None if the client
        closed first (before any byte of this request).

        Raises:
            h11.RemoteProtocolError: As :meth:`next_event`.
        """
        while True:
            event = self.next_event()
            if event is None or isinstance(event, h11.Request):
                return event
            data = await _receive(stream)
            if not data:
                return None
            self.feed(data)


def read_now(stream: trio.abc.Stream) -> bytes | None:
    """What a plain socket holds now, read without waiting.

    Returns:
        The bytes; ``b""`` at the end of the stream (or if it failed); None
        if nothing is there yet, or if the stream is not a plain socket
        (TLS), which cannot be read without waiting.
    """
    if not isinstance(stream, trio.SocketStream):
        return None
    try:
        return os.read(stream.socket.fileno(), RECEIVE_SIZE)
    except BlockingIOError:
        return None
    except OSError:
        return b""


async def read_body(stream: trio.abc.Stream, parser: h11.Connection, limit: int) -> bytes:
    """Read the body of the request ``parser`` has just returned, whole.

    Sends ``100 Continue`` first if the client waits for it.

    Raises:
        BodyTooLarge: Past ``limit`` bytes (the rest is not read).
        ClientGone: If the stream ends before the body does.
        h11.RemoteProtocolError: For broken framing (a bad chunk...).
    """
    if parser.they_are_waiting_for_100_continue:
        await _send(stream, parser.send(h11.InformationalResponse(status_code=100, headers=[])))
    body = bytearray()
    while True:
        event = parser.next_event()
        if event is h11.NEED_DATA:
            data = await _receive(stream)
            if not data:
                raise ClientGone("the client left in the middle of its request body")
            parser.receive_data(data)
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > limit:
                raise BodyTooLarge(f"request body over {limit} bytes")
        elif isinstance(event, h11.EndOfMessage):
            return bytes(body)
        else:  # ConnectionClosed
            raise ClientGone("the client closed in the middle of its request body")


def to_request(event: h11.Request, remote: tuple[str, int] | None) -> Request | None:
    """Build the handler-facing :class:`Request` from an h11 request head.

    Returns:
        None if the request target is in neither the origin form nor the
        absolute form (see :func:`~actorsock.core.request.split_target`),
        nor ``OPTIONS *`` (the asterisk form, RFC 9112 section 3.2.4), whose
        path is then ``*``.
    """
    if event.target == b"*" and event.method == b"OPTIONS":
        split: tuple[str, str] | None = ("*", "")
    else:
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


def _head(
    status: int,
    content_type: str,
    extra: tuple[tuple[str, str], ...],
    close: bool,
    length: int | None = None,
) -> h11.Response:
    # One Connection field: the response's own options (a 426 names
    # "upgrade"), and "close" when the stream ends after it.
    options = [value for name, value in extra if name.lower() == "connection"]
    if close:
        options.append("close")
    # A 204 carries no content, so neither its type nor its length (RFC
    # 9110 section 8.6: a server must not send Content-Length with a 204).
    headers = [] if status == 204 else [("content-type", content_type)]
    if length is not None and status != 204:
        headers.append(("content-length", str(length)))
    headers += [(name, value) for name, value in extra if name.lower() != "connection"]
    if options:
        headers.append(("connection", ", ".join(options)))
    try:
        reason = HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b""
    return h11.Response(status_code=status, headers=headers, reason=reason)


def _writer(parser: h11.Connection | None) -> h11.Connection:
    if (
        parser is None
        or parser.their_state is h11.ERROR
        or parser.our_state is not h11.SEND_RESPONSE
    ):
        return _fresh_writer()
    return parser


async def _send(stream: trio.abc.Stream, data: bytes) -> bool:
    try:
        await stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return False
    return True


async def write_response(
    stream: trio.abc.Stream,
    parser: h11.Connection | None,
    response: Response,
    *,
    head_only: bool = False,
    close: bool = False,
) -> None:
    """Send ``response`` whole (with ``Content-Length``).

    Args:
        stream: The client stream.
        parser: The h11 parser that read the request, or None when the
            response is written outside of it (after the head was handed on,
            or for a head it could not parse); the stream then closes.
        response: What to send.
        head_only: Leave the body out (answer to HEAD).
        close: The stream ends after this response (``Connection: close``).

    Errors from a client that went away are swallowed: there is nobody to
    tell (:func:`next_cycle` then says the stream is done).
    """
    body = response.body.encode() if isinstance(response.body, str) else response.body
    head_only = head_only or response.status in _WITHOUT_CONTENT
    writer = _writer(parser)
    close = close or writer is not parser
    data = writer.send(
        _head(response.status, response.content_type, response.headers, close, len(body))
    )
    if body and not head_only:
        data += writer.send(h11.Data(data=body))
    data += writer.send(h11.EndOfMessage())
    await _send(stream, data)


def switching_protocols(parser: h11.Connection, headers: list[tuple[str, str]]) -> bytes:
    """The bytes of a ``101 Switching Protocols`` answering the upgrade ``parser`` read.

    Raises:
        h11.LocalProtocolError: If a header name or value is not a valid field.
    """
    response = h11.InformationalResponse(
        status_code=101, headers=headers, reason=b"Switching Protocols"
    )
    return parser.send(response) or b""


def response_head(
    parser: h11.Connection,
    status: int,
    content_type: str,
    headers: tuple[tuple[str, str], ...],
    *,
    close: bool = False,
) -> bytes:
    """The bytes of a response head whose body follows in pieces.

    h11 frames the body by the client's version: chunked for HTTP/1.1 (a
    body written through ``parser`` is chunked for it), and up to the end of
    the connection for HTTP/1.0.
    """
    return parser.send(_head(status, content_type, headers, close))


async def write_streaming(
    stream: trio.abc.Stream,
    parser: h11.Connection,
    response: StreamingResponse,
    *,
    head_only: bool = False,
) -> bool:
    """Send the head, then each piece of the body as it is produced.

    Returns:
        True if the whole body went out; False if the client went away (the
        body's iteration is then stopped and the body closed).
    """
    body = response.body
    head_only = head_only or response.status in _WITHOUT_CONTENT
    head = response_head(parser, response.status, response.content_type, response.headers)
    complete = await _send(stream, head)
    try:
        if complete and not head_only:
            async for piece in body:
                data = piece.encode() if isinstance(piece, str) else piece
                if data and not await _send(stream, parser.send(h11.Data(data=data))):
                    complete = False
                    break
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            with trio.CancelScope(shield=True):
                await aclose()
    if complete:
        complete = await _send(stream, parser.send(h11.EndOfMessage()))
    return complete


def next_cycle(parser: h11.Connection) -> bool:
    """After a response: True if the stream may carry the next request (keep-alive)."""
    if parser.our_state is h11.DONE and parser.their_state is h11.DONE:
        parser.start_next_cycle()
        return True
    return False


def _fresh_writer() -> h11.Connection:
    """An h11 server connection ready to send a response with no request seen.

    Used when the request could not be parsed, so the parser that read it
    cannot write an answer.
    """
    parser = h11.Connection(h11.SERVER)
    parser.receive_data(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    parser.next_event()
    return parser
