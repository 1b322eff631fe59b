"""The codec interface shared by every wire format."""

from __future__ import annotations

from typing import Any, Protocol

from ..core.frames import Frame
from ..errors import ActorsockError

__all__ = ["Codec", "DecodeError"]


class DecodeError(ActorsockError, ValueError):
    """A frame could not be decoded by a codec (wrong frame type or bad payload)."""


class Codec(Protocol):
    """Encodes values into frames and decodes frames into values."""

    name: str

    def encode(self, value: Any) -> Frame:
        """Return the frame carrying ``value``."""
        ...

    def decode(self, frame: Frame) -> Any:
        """Return the value carried by ``frame``.

        Raises:
            DecodeError: For a frame of the wrong type or a malformed payload.
        """
        ...
