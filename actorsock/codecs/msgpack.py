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
            raise DecodeError(f"invalid MessagePack: {exc}") from None


MSGPACK = MsgpackCodec()
