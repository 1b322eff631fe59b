"""Client WebSocket frames built by hand (RFC 6455, 5.2), so tests can break the rules."""

from __future__ import annotations

import os
import struct


def client_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    mask: bytes | None = None,
    rsv: int = 0,
    masked: bool = True,
) -> bytes:
    """One frame in its shortest length form; ``mask`` random unless given."""
    head = bytes(((0x80 if fin else 0) | rsv | opcode,))
    bit = 0x80 if masked else 0
    size = len(payload)
    if size < 126:
        head += bytes((bit | size,))
    elif size < 1 << 16:
        head += bytes((bit | 126,)) + struct.pack("!H", size)
    else:
        head += bytes((bit | 127,)) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    mask = os.urandom(4) if mask is None else mask
    key = (mask * (size // 4 + 1))[:size]
    masked_payload = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(
        size, "big"
    )
    return head + mask + masked_payload
