"""Server-to-client WebSocket frames as bytes (RFC 6455, section 5.2).

A frame a server sends is never masked, so the bytes of one message are the
same for every client that receives it. Broadcasts use that: the frame is
built once here and the same ``bytes`` object is written to each socket.

Only whole, unfragmented messages are built, and no extension is applied;
the WebSocket layer negotiates none (``tests/transports`` pins that).
"""

from __future__ import annotations

import struct

from .frames import Binary, Frame, Ping, Pong, Text

__all__ = ["PreparedFrame", "encode_frame"]

_OPCODES: dict[type, int] = {Text: 0x1, Binary: 0x2, Ping: 0x9, Pong: 0xA}
_FIN = 0x80


def _payload_of(frame: Frame) -> bytes:
    if isinstance(frame, Text):
        return frame.text.encode()
    return frame.data


def encode_frame(frame: Frame) -> bytes:
    """Return the bytes of ``frame`` as a server sends it.

    Args:
        frame: A :class:`Text`, :class:`Binary`, :class:`Ping` or :class:`Pong`.

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


class PreparedFrame:
    """A data frame together with its wire bytes, built once and shared.

    Attributes:
        frame: The :class:`Text` or :class:`Binary` frame.
        data: Its bytes on the wire.
        key: Coalescing key (see the ``coalesce`` send policy), or None.
    """

    __slots__ = ("data", "frame", "key")

    def __init__(self, frame: Text | Binary, key: object = None) -> None:
        self.frame = frame
        self.data = encode_frame(frame)
        self.key = key

    def __repr__(self) -> str:
        return f"<PreparedFrame {self.frame!r} {len(self.data)} bytes>"
