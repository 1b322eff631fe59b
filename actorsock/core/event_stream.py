"""Server-Sent Events as bytes (WHATWG HTML, section 9.2 "Server-sent events").

An event is a block of ``field: value`` lines ended by a blank line; a
``data:`` line per line of the message (the browser joins them with
``\\n``), ``event:`` for its name, ``id:`` for the id the browser sends back
as ``Last-Event-ID`` when it reconnects, ``retry:`` for its reconnection
delay. A line that starts with ``:`` is a comment, which the browser
ignores: it is the heartbeat that keeps proxies from closing an idle stream.

Over HTTP/1.1 the stream is a chunked body (RFC 9112, section 7.1), so each
write is one chunk; a broadcast caches its chunk per wire format
(:data:`EVENT_STREAM_CHUNKED`) like its WebSocket bytes. An HTTP/1.0 client
gets the bare events (:data:`EVENT_STREAM`) and the end of the stream is the
end of the connection. No I/O here.
"""

from __future__ import annotations

import re

from .frames import Binary, DataFrame, Event, Text
from .wire import WireFormat

__all__ = [
    "CONTENT_TYPE",
    "EVENT_STREAM",
    "EVENT_STREAM_CHUNKED",
    "HEARTBEAT",
    "LAST_CHUNK",
    "chunk",
    "encode_event",
]

# Line ends of event data, as the browser's parser splits them.
_LINE_END = re.compile(r"\r\n|\r|\n")

CONTENT_TYPE = "text/event-stream; charset=utf-8"
"""The media type of an event stream (always UTF-8)."""

HEARTBEAT = b": keep-alive\n\n"
"""A comment block: browsers ignore it, proxies see traffic."""

LAST_CHUNK = b"0\r\n\r\n"
"""The end of a chunked body (no trailers)."""


def encode_event(frame: DataFrame) -> bytes:
    """The bytes of one event carrying ``frame``.

    :class:`Text` is an event of the default type (``message``) with the text
    as its data; :class:`Event` adds its ``event``, ``id`` and ``retry``
    fields. Data is split into one ``data:`` line per line, whatever its
    line ends, so the browser rebuilds it with ``\\n``.

    Raises:
        ValueError: For :class:`Binary`: Server-Sent Events carry text only.
    """
    if isinstance(frame, Binary):
        raise ValueError(
            "Server-Sent Events carry text only: send Text or Event "
            f"(encode bytes, as base64 for instance), not {frame!r:.60}"
        )
    lines: list[str] = []
    if isinstance(frame, Event):
        data = frame.data
        if frame.event is not None:
            lines.append(f"event: {frame.event}\n")
        if frame.id is not None:
            lines.append(f"id: {frame.id}\n")
        if frame.retry is not None:
            lines.append(f"retry: {frame.retry}\n")
    else:
        assert isinstance(frame, Text)
        data = frame.text
    lines.extend(f"data: {line}\n" for line in _LINE_END.split(data))
    lines.append("\n")
    return "".join(lines).encode()


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked body (``data`` must not be empty)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


EVENT_STREAM = WireFormat("event-stream", encode_event)
"""Events for a client that reads to the end of the connection (HTTP/1.0)."""

EVENT_STREAM_CHUNKED = WireFormat("event-stream-chunked", lambda frame: chunk(encode_event(frame)))
"""Events, one chunk each, for an HTTP/1.1 client."""
