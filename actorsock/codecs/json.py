"""JSON in text frames."""

from __future__ import annotations

import json
from typing import Any

from ..core.frames import Binary, Frame, Text
from .base import DecodeError

__all__ = ["JSON", "JsonCodec"]


class JsonCodec:
    """Compact JSON (no spaces, UTF-8 kept as is) in :class:`Text` frames."""

    name = "json"

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    def encode(self, value: Any) -> Frame:
        """Return a text frame holding ``value`` as JSON.

        Raises:
            TypeError: If ``value`` is not JSON-serialisable.
        """
        return Text(self._encoder.encode(value))

    def decode(self, frame: Frame) -> Any:
        """Parse a text frame (binary frames must hold UTF-8 JSON).

        Raises:
            DecodeError: For control frames or invalid JSON.
        """
        if isinstance(frame, Text):
            payload: str | bytes = frame.text
        elif isinstance(frame, Binary):
            payload = frame.data
        else:
            raise DecodeError(f"JSON cannot decode a {type(frame).__name__} frame")
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise DecodeError(f"invalid JSON: {exc}") from None


JSON = JsonCodec()
