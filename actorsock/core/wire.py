"""WebSocket frames as bytes (RFC 6455, section 5.2): the common cases, fast.

Server to client: a frame a server sends is never masked, so the bytes of
one message are the same for every client that receives it. Broadcasts use
that: the frame is built once here and the same ``bytes`` object is written
to each socket.

Client to server: :func:`decode_client_messages` reads the frames nearly
every client sends, whole masked text or binary messages in one frame each,
in a few operations. It stops at the first frame that is anything else and
says where, so the caller hands the rest to the full protocol
implementation (wsproto), which also reports every error with the right
close code; :class:`FrameBoundaries` tells when the stream is between
messages, where that reading may start.

Server side, each :class:`WireFormat` (these WebSocket frames, the SSE
events of :mod:`actorsock.core.event_stream`) encodes a broadcast's
:class:`PreparedFrame` once, for all its recipients on that format.

Only whole, unfragmented messages are built or read, and no extension is
applied; the WebSocket layer negotiates none (``tests/transports`` pins that).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from .frames import Binary, DataFrame, Event, Frame, Ping, Pong, Text

__all__ = [
    "WEBSOCKET",
    "FrameBoundaries",
    "PreparedFrame",
    "WireFormat",
    "decode_client_messages",
    "encode_frame",
]

_OPCODES: dict[type, int] = {Text: 0x1, Event: 0x1, Binary: 0x2, Ping: 0x9, Pong: 0xA}
_FIN = 0x80
_MASKED = 0x80
_TEXT_HEAD = _FIN | 0x1
_BINARY_HEAD = _FIN | 0x2


def _payload_of(frame: Frame | Event) -> bytes:
    if isinstance(frame, Text):
        return frame.text.encode()
    if isinstance(frame, Event):
        return frame.data.encode()
    return frame.data


def encode_frame(frame: Frame | Event) -> bytes:
    """Return the bytes of ``frame`` as a server sends it.

    Args:
        frame: A :class:`Text`, :class:`Binary`, :class:`Ping` or :class:`Pong`;
            an :class:`Event` is a text frame of its ``data``.

    Raises:
        ValueError: For a control frame whose payload exceeds 125 bytes.
    """
    payload = _payload_of(frame)
    opcode = _OPCODES[type(frame)]
    size = len(payload)
    if opcode >= 0x8 and size > 125:
        raise ValueError("control frame payloads are limited to 125 bytes")
    if size < 126:
        header = bytes((_FIN | opcode, size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", _FIN | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", _FIN | opcode, 127, size)
    return header + payload


def decode_client_messages(
    data: bytes, start: int = 0, limit: int | None = None
) -> tuple[list[str | bytes], int]:
    """Read whole client messages, each in one masked frame, from ``data[start:]``.

    Args:
        data: Bytes from the socket; ``start`` must be at a frame boundary.
        start: Where to begin.
        limit: Most messages to read (all when None).

    Returns:
        The messages in order (``str`` for text, ``bytes`` for binary) and
        where reading stopped: at the end of ``data``, after ``limit``
        messages, or at the first frame that is anything else (a control
        frame, a fragment, a reserved bit, an unmasked frame, a length over
        65,535 bytes or not in its shortest form, invalid UTF-8 in a text
        message, or a frame cut short at the end of ``data``), which is left
        to the full protocol implementation.
    """
    messages: list[str | bytes] = []
    end = len(data)
    position = start
    while position < end and (limit is None or len(messages) < limit):
        message = _one_message(data, position, end)
        if message is None:
            break
        payload, position = message
        messages.append(payload)
    return messages, position


def _one_message(data: bytes, position: int, end: int) -> tuple[str | bytes, int] | None:
    """The one-frame message at ``position`` and where it ends, or None."""
    if end - position < 6:
        return None
    head, second = data[position], data[position + 1]
    if head not in (_TEXT_HEAD, _BINARY_HEAD) or not second & _MASKED:
        return None
    size = second & 0x7F
    position += 2
    if size == 126:
        if end - position < 6:
            return None
        (size,) = _UNSIGNED_SHORT.unpack_from(data, position)
        if size < 126:
            return None
        position += 2
    elif size == 127:
        return None
    mask = data[position : position + 4]
    position += 4
    stop = position + size
    if stop > end:
        return None
    payload = _unmask(data[position:stop], mask)
    if head == _BINARY_HEAD:
        return payload, stop
    try:
        return payload.decode("utf-8"), stop
    except UnicodeDecodeError:
        return None


class FrameBoundaries:
    """Where the client's frames end, followed over the bytes of its stream.

    Reads only frame heads (no payload is copied): :attr:`idle` is True when
    everything fed so far ends exactly at the end of a frame and no
    fragmented message is open, so that the next bytes start a new message
    and may be read by :func:`decode_client_messages` without the full
    protocol implementation, which then holds nothing either. Meaningful for
    well-formed streams only: once a stream breaks the protocol, the full
    implementation fails the connection.
    """

    __slots__ = ("_fragmented", "_head", "_remaining")

    def __init__(self) -> None:
        self._head = b""  # a frame head cut short
        self._remaining = 0  # payload bytes of the current frame still to come
        self._fragmented = False  # a data message has begun and not finished

    @property
    def idle(self) -> bool:
        """True at a frame boundary with no fragmented message open."""
        return not self._remaining and not self._head and not self._fragmented

    def feed(self, data: bytes) -> None:
        """Follow ``data``, the next bytes of the stream."""
        end = len(data)
        position = 0
        while position < end:
            if self._remaining:
                step = min(self._remaining, end - position)
                self._remaining -= step
                position += step
                continue
            head = self._head
            need = 2
            while True:
                if len(head) < need:
                    take = min(need - len(head), end - position)
                    head += data[position : position + take]
                    position += take
                    if len(head) < need:
                        self._head = head
                        return
                size = _head_size(head[1])
                if size == need:
                    break
                need = size
            self._head = b""
            self._begin(head)

    def _begin(self, head: bytes) -> None:
        fin, opcode, code = head[0] & _FIN, head[0] & 0x0F, head[1] & 0x7F
        if code == 126:
            (code,) = _UNSIGNED_SHORT.unpack_from(head, 2)
        elif code == 127:
            (code,) = _UNSIGNED_LONG.unpack_from(head, 2)
        self._remaining = code
        if opcode in (0x1, 0x2):  # a message begins
            self._fragmented = not fin
        elif opcode == 0x0 and fin:  # the last piece of one
            self._fragmented = False


def _head_size(second: int) -> int:
    """Bytes of a frame head, from its second byte (length code and mask bit)."""
    code = second & 0x7F
    extra = 2 if code == 126 else 8 if code == 127 else 0
    return 2 + extra + (4 if second & _MASKED else 0)


_UNSIGNED_SHORT = struct.Struct("!H")
_UNSIGNED_LONG = struct.Struct("!Q")


def _unmask(payload: bytes, mask: bytes) -> bytes:
    size = len(payload)
    if not size:
        return b""
    key = (mask * ((size >> 2) + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(
        size, "little"
    )


class WireFormat:
    """One way of putting a data frame on the wire (WebSocket, Server-Sent Events...).

    Args:
        name: For logs and ``repr``.
        encode: ``encode(frame) -> bytes``; may raise ``ValueError`` for a
            frame the format cannot carry (a binary frame over SSE).

    Identity is the key of :meth:`PreparedFrame.encoded`'s cache: make one
    instance per format, at import time.
    """

    __slots__ = ("encode", "name")

    def __init__(self, name: str, encode: Callable[[DataFrame], bytes]) -> None:
        self.name = name
        self.encode = encode

    def __repr__(self) -> str:
        return f"<WireFormat {self.name}>"


WEBSOCKET = WireFormat("websocket", encode_frame)
"""A frame as a server sends it over WebSocket (:func:`encode_frame`)."""


class PreparedFrame:
    """A broadcast's data frame, encoded at most once per wire format and shared.

    Every recipient of a broadcast gets the same object. The bytes of each
    wire format are built the first time a recipient on that format needs
    them, then reused by all the others: a broadcast to WebSocket and SSE
    clients encodes twice, whatever the number of clients.

    Attributes:
        frame: The data frame (:class:`Text`, :class:`Binary` or :class:`Event`).
        key: Coalescing key (see the ``coalesce`` send policy), or None.
    """

    __slots__ = ("_encodings", "_websocket", "frame", "key")

    def __init__(self, frame: DataFrame, key: object = None) -> None:
        self.frame = frame
        self.key = key
        self._websocket: bytes | None = None
        self._encodings: dict[WireFormat, bytes] | None = None

    @property
    def websocket(self) -> bytes:
        """The frame's WebSocket bytes (:data:`WEBSOCKET`), built on first use."""
        data = self._websocket
        if data is None:
            data = self._websocket = encode_frame(self.frame)
        return data

    def encoded(self, wire: WireFormat) -> bytes:
        """The frame's bytes in ``wire``, built on first use.

        Raises:
            ValueError: If ``wire`` cannot carry the frame (raised each time).
        """
        if wire is WEBSOCKET:
            return self.websocket
        encodings = self._encodings
        if encodings is None:
            encodings = self._encodings = {}
        data = encodings.get(wire)
        if data is None:
            data = encodings[wire] = wire.encode(self.frame)
        return data

    def __repr__(self) -> str:
        return f"<PreparedFrame {self.frame!r}>"
