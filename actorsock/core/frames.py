"""Frames and commands: what handler callbacks receive and return.

A client frame reaches ``websocket_handle`` as :class:`Text`, :class:`Binary`,
:class:`Ping` or :class:`Pong`. A callback answers with nothing (``None``), one
item, or a list of items; each item is a frame to send or a command:

* :class:`Close` sends a close frame with the given code and reason, then
  ends the connection (terminate reason ``Stop``);
* :class:`Stop` ends the connection with close code 1000;
* :class:`SetOptions` changes options of the running connection
  (``idle_timeout`` today), like Cowboy's ``set_options`` command.

Items run in the order they were returned; nothing after a ``Close`` or
``Stop`` runs. :func:`commands_of` turns any callback result into a tuple and
rejects values that are neither, so a mistake shows up as a crash with a clear
message instead of a silently dropped reply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "Binary",
    "Close",
    "Command",
    "Frame",
    "Ping",
    "Pong",
    "SetOptions",
    "Stop",
    "Text",
    "commands_of",
]


@dataclass(frozen=True, slots=True)
class Text:
    """A text frame. ``text`` is a ``str``; it goes on the wire as UTF-8."""

    text: str


@dataclass(frozen=True, slots=True)
class Binary:
    """A binary frame carrying ``data``."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """A ping control frame (payload up to 125 bytes).

    Pings from the client are answered with a pong by the WebSocket layer
    before the handler sees them, as Cowboy does.
    """

    data: bytes = b""


@dataclass(frozen=True, slots=True)
class Pong:
    """A pong control frame (payload up to 125 bytes)."""

    data: bytes = b""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with ``code`` and ``reason``, then stop.

    Attributes:
        code: A close code allowed on the wire (1000, 1001, 1003, 1007-1014,
            or 3000-4999).
        reason: Text sent with the close frame (at most 123 bytes as UTF-8).
    """

    code: int = 1000
    reason: str = ""

    def __post_init__(self) -> None:
        if not (self.code in _SENDABLE_CLOSE_CODES or 3000 <= self.code <= 4999):
            raise ValueError(f"close code {self.code} may not be sent on the wire")
        if len(self.reason.encode()) > 123:
            raise ValueError("close reason is longer than 123 bytes")


@dataclass(frozen=True, slots=True)
class Stop:
    """End the connection (close code 1000); ``terminate`` gets ``Stop()``."""


@dataclass(frozen=True, slots=True)
class SetOptions:
    """Change options of the running connection.

    Attributes:
        idle_timeout: New idle timeout in seconds; ``None`` leaves it as is,
            ``float("inf")`` disables it.
    """

    idle_timeout: float | None = None


_SENDABLE_CLOSE_CODES = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)

Frame: TypeAlias = Text | Binary | Ping | Pong
Command: TypeAlias = Frame | Close | Stop | SetOptions
_COMMAND_TYPES = (Text, Binary, Ping, Pong, Close, Stop, SetOptions)


def commands_of(result: Any) -> tuple[Command, ...]:
    """Normalise a callback's return value into a tuple of commands.

    Args:
        result: ``None``, one frame or command, or an iterable of them.

    Returns:
        The commands in order; empty for ``None``.

    Raises:
        TypeError: If the value, or one of its items, is neither a frame nor
            a command (``str`` and ``bytes`` included: wrap them in ``Text``
            or ``Binary``).
    """
    if result is None:
        return ()
    if isinstance(result, _COMMAND_TYPES):
        return (result,)
    if isinstance(result, str | bytes | bytearray) or not isinstance(result, Iterable):
        raise TypeError(
            f"a callback returned {result!r}; return None, a frame (Text, Binary, Ping, Pong), "
            "a command (Close, Stop, SetOptions) or a list of them"
        )
    items = tuple(result)
    for item in items:
        if not isinstance(item, _COMMAND_TYPES):
            raise TypeError(
                f"a callback returned a list holding {item!r}, "
                "which is neither a frame nor a command"
            )
    return items
