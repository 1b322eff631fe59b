"""Typed exit reasons, the values passed to ``terminate(reason)``.

They mirror Cowboy's websocket terminate reasons and Erlang's exit reasons:

=====================  ======================================================
``Normal()``        ended on its own without error: an actor returned
                    :class:`~actorsock.core.frames.Stop` or its callbacks
                    finished, or a connection was turned down before the
                    upgrade (``init`` rejected it).
``Remote(c, r)``    the client sent a close frame with code ``c`` and reason
                    ``r`` (``1005`` when the frame carried no code).
``StopReason()``    the handler asked to end the connection by returning
                    ``Stop`` or ``Close``.
``Timeout()``       no data arrived from the client within ``idle_timeout``.
``Crash(exc)``      a callback raised ``exc``.
``Shutdown()``      the server or a supervisor is shutting the process down.
``ErrorReason(k, c)``  the connection failed: ``k`` is an :class:`ErrorKind`
                      (``"closed"``, ``"badencoding"``, ``"badframe"``,
                      ``"badsize"``, ``"mailbox_overflow"``,
                      ``"send_overflow"``, ``"inbound_overflow"``; each
                      member documents its close code); ``c`` is the close
                      code involved, when any. Named apart from
                      :class:`~actorsock.errors.ActorsockError`, the root of
                      the exceptions actorsock raises; its log name is ``"error"``.
=====================  ======================================================

``reason.abnormal`` tells a supervisor whether a ``transient`` child should be
restarted: only ``Crash`` and ``ErrorReason`` are abnormal.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Crash",
    "ErrorKind",
    "ErrorReason",
    "Normal",
    "Reason",
    "Remote",
    "Shutdown",
    "StopReason",
    "Timeout",
]


class Reason:
    """Base class of every exit reason."""

    __slots__ = ()

    @property
    def abnormal(self) -> bool:
        """True when the exit is a failure (``Crash`` or ``ErrorReason``)."""
        return False

    @property
    def name(self) -> str:
        """Short lower-case name for logs, such as ``"remote"``."""
        return type(self).__name__.lower()


@dataclass(frozen=True, slots=True)
class Normal(Reason):
    """The process finished without error."""


@dataclass(frozen=True, slots=True)
class Remote(Reason):
    """The peer closed the WebSocket with a close frame.

    Attributes:
        code: The close code the peer sent (1005 when it sent none).
        reason: The close reason text the peer sent, possibly empty.
    """

    code: int = 1005
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StopReason(Reason):
    """The handler itself asked to stop (returned the ``Stop`` or ``Close`` command).

    Named apart from the :class:`~actorsock.core.frames.Stop` command it
    answers; its log name is ``"stop"``.
    """

    @property
    def name(self) -> str:
        return "stop"


@dataclass(frozen=True, slots=True)
class Timeout(Reason):
    """The idle timeout elapsed without data from the client."""


@dataclass(frozen=True, slots=True)
class Crash(Reason):
    """A callback raised an exception.

    Attributes:
        exception: The exception that was raised.
    """

    exception: BaseException

    @property
    def abnormal(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Shutdown(Reason):
    """The process was asked to stop by its supervisor or the server."""


class ErrorKind(StrEnum):
    """What made a connection fail (``ErrorReason.kind``); each compares equal to its word."""

    CLOSED = "closed"
    """TCP lost without a close frame (1006)."""
    BADENCODING = "badencoding"
    """A text message that is not UTF-8 (1007)."""
    BADFRAME = "badframe"
    """A frame that breaks the protocol (1002)."""
    BADSIZE = "badsize"
    """A message over ``max_message_size`` (1009)."""
    MAILBOX_OVERFLOW = "mailbox_overflow"
    """The mailbox was full and its policy is ``disconnect`` (1013)."""
    SEND_OVERFLOW = "send_overflow"
    """The send queue was full and its policy is ``disconnect`` (1013)."""
    INBOUND_OVERFLOW = "inbound_overflow"
    """Incomplete client messages reached ``server.max_incomplete_bytes`` (1013)."""


@dataclass(frozen=True, slots=True)
class ErrorReason(Reason):
    """The connection failed because of the transport or a resource bound.

    Attributes:
        kind: What failed (:class:`ErrorKind`; a plain word is converted, an
            unknown one raises ``ValueError``).
        code: The WebSocket close code involved, when there is one.
    """

    kind: ErrorKind
    code: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ErrorKind(self.kind))

    @property
    def abnormal(self) -> bool:
        return True

    @property
    def name(self) -> str:
        return "error"


def __getattr__(name: str) -> object:
    # The reason was called Error until 0.1.0; the old name still works, with a warning.
    if name == "Error":
        warnings.warn(
            "actorsock's Error reason is now ErrorReason", DeprecationWarning, stacklevel=2
        )
        return ErrorReason
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
