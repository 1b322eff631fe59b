"""MessagePack in binary frames."""

from __future__ import annotations

from typing import Any

import msgpack

from ..core.frames import Binary, Frame
from .base import DecodeError

__all__ = ["MSGPACK", "MsgpackCodec"]


class MsgpackCodec:
    """MessagePack (str as str, bytes as bin) in :class:`Binary` frames."""

    name = "msgpack"

    def encode(self, value: Any) -> Frame:
        """Return a binary frame holding ``value`` as MessagePack.

        Raises:
            TypeError: If ``value`` cannot be packed.
        """
        return Binary(msgpack.packb(value, use_bin_type=True))

    def decode(self, frame: Frame) -> Any:
        """Unpack a binary frame.

        Raises:
            DecodeError: For other frame types or malformed MessagePack.
        """
        if not isinstance(frame, Binary):
            raise DecodeError(f"MessagePack needs a Binary frame, not {type(frame).__name__}")
        try:
            return msgpack.unpackb(frame.data, raw=False)
        except (ValueError, msgpack.UnpackException) as exc:
            # Some of msgpack's errors carry no text (FormatError for a
            # reserved byte such as 0xc1): name the kind and the place then.
            why = str(exc) or f"{type(exc).__name__} in {len(frame.data)} bytes"
            raise DecodeError(f"invalid MessagePack: {why}") from None


MSGPACK = MsgpackCodec()
