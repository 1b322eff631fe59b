"""Wire formats: turn Python values into frames and back, free of I/O.

Each codec has ``encode(value) -> Frame`` and ``decode(frame) -> value``:

* :data:`JSON` sends text frames (compact JSON, UTF-8);
* :data:`MSGPACK` sends binary frames (MessagePack).

A broadcast that reaches many connections should encode once and send the
same frame to each of them.
"""

from .base import Codec, DecodeError
from .json import JSON, JsonCodec
from .msgpack import MSGPACK, MsgpackCodec

__all__ = ["JSON", "MSGPACK", "Codec", "DecodeError", "JsonCodec", "MsgpackCodec"]
