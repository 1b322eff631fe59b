"""Frames and commands: what handler callbacks receive and return.

A client frame reaches ``websocket_handle`` as :class:`Text`, :class:`Binary`,
:class:`Ping` or :class:`Pong`. A callback answers with nothing (``None``), one
item, or a list of items; each item is a frame to send or a command. Data
frames are :class:`Text`, :class:`Binary` and :class:`Event`, a text
message with Server-Sent Events fields (an event name, an id, a reconnection
delay) that WebSocket sends as plain text, so one handler serves both
transports. Commands:

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
    "DataFrame",
    "Event",
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
class Event:
    """A text message with the fields of a Server-Sent Event (WHATWG HTML, 9.2).

    Over Server-Sent Events it is one event: ``event:``, ``id:`` and
    ``retry:`` lines for the fields given, and a ``data:`` line per line of
    ``data``. Over WebSocket it is a text frame carrying ``data`` alone.

    Attributes:
        data: The message; may hold several lines (``\\n``, ``\\r\\n`` or ``\\r``).
        event: The event name (EventSource's ``addEventListener(name)``);
            None for the default, ``message``.
        id: The event id; the browser sends the last one back as
            ``Last-Event-ID`` when it reconnects. None leaves it unset.
        retry: Milliseconds the browser waits before reconnecting.

    Raises:
        ValueError: If ``event`` or ``id`` holds a line break (or ``id`` a
            NUL, which browsers ignore the id for), or ``retry`` is negative.
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    def __post_init__(self) -> None:
        for field, value in (("event", self.event), ("id", self.id)):
            if value is not None and ("\n" in value or "\r" in value):
                raise ValueError(f"an event's {field} cannot hold a line break: {value!r}")
        if self.id is not None and "\0" in self.id:
            raise ValueError(f"an event id cannot hold NUL: {self.id!r}")
        if self.retry is not None and self.retry < 0:
            raise ValueError(f"retry must be 0 or more milliseconds, not {self.retry}")


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
"""A frame from the client (what ``websocket_handle`` receives)."""
DataFrame: TypeAlias = Text | Binary | Event
"""A message to the client, what transports carry as data."""
Command: TypeAlias = Frame | Event | Close | Stop | SetOptions
"""Anything a callback may return."""
_COMMAND_TYPES = (Text, Binary, Event, Ping, Pong, Close, Stop, SetOptions)


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
            f"a callback returned {result!r}; return None, a frame (Text, Binary, Event, "
            "Ping, Pong), "
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
