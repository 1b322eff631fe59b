"""The link between a session and its client, as the session loop sees it.

A session (:mod:`actorsock.runtime.session`) runs a
:class:`~actorsock.core.handler.Handler` over a :class:`Transport` and knows
nothing of WebSocket: the WebSocket transport, and later Server-Sent Events
and long-poll, implement this interface. Every method but :meth:`send_control`
and :meth:`close` is synchronous and never blocks: frames go into the
session's bounded send queue (see :mod:`actorsock.core.send_queue`) and are
written as the client takes them.

Lifecycle, as the session drives it::

    open (the transport's own handshake, before the session runs)
      -> next_inbound() / send_frame() / send_prepared() / send_control() ...
      -> close(code, reason)        the server ends it, or
         next_inbound() raises      the client ended it (TransportClosed)
      -> ended_reason()             how it ended, as a terminate reason
"""

from __future__ import annotations

from typing import Protocol

from ..errors import ActorsockError
from .frames import DataFrame, Frame, Ping, Pong
from .reasons import Reason
from .wire import PreparedFrame

__all__ = ["FrameRefused", "Transport", "TransportClosed"]


class TransportClosed(ActorsockError):
    """The client's side is gone: every frame it sent has been returned."""


class FrameRefused(ActorsockError, TypeError):
    """The transport cannot carry this frame (a binary frame over Server-Sent Events).

    Raised by :meth:`Transport.send_frame` and :meth:`Transport.send_prepared`;
    the session ends as a crash of the handler that sent it.
    """


class Transport(Protocol):
    """What the session loop needs of a client link.

    Attributes:
        data_open: True while data frames may be sent (from the open to the
            first close either way).
        failed: True once the link broke (a write failed); the session then
            ends with :meth:`ended_reason`.
        inbound_overflowed: True once the client sent more than the server
            can hold for it (the session closes with 1013).
        supports_ping: Whether :meth:`send_control` can ping the client
            (``ping_interval`` is ignored otherwise).
        own_idle_rule: True when the transport decides itself when a silent
            client is gone, and the session's ``idle_timeout`` does not apply:
            over Server-Sent Events the client sends nothing at all (a dead
            one shows as a failed write or the end of its socket); a
            long-poll session ends when no poll came for its session timeout.
        sent_frames: Data frames accepted so far.
        sent_bytes: Bytes written to the client so far.
    """

    @property
    def data_open(self) -> bool: ...

    @property
    def failed(self) -> bool: ...

    @property
    def inbound_overflowed(self) -> bool: ...

    @property
    def supports_ping(self) -> bool: ...

    @property
    def own_idle_rule(self) -> bool: ...

    @property
    def sent_frames(self) -> int: ...

    @property
    def sent_bytes(self) -> int: ...

    def next_inbound(self) -> Frame | None:
        """The next frame from the client, or None if none is waiting.

        Raises:
            TransportClosed: Once the client's side has ended.
        """

    def send_frame(self, frame: DataFrame) -> bool:
        """Queue a data frame; False if it was refused (closed, or by the send policy).

        Raises:
            FrameRefused: If the transport cannot carry this kind of frame.
        """

    def send_prepared(self, prepared: PreparedFrame) -> bool:
        """Queue a broadcast's frame, encoded once per wire format for every recipient.

        Raises:
            FrameRefused: If the transport cannot carry this kind of frame.
        """

    async def send_control(self, frame: Ping | Pong) -> None:
        """Send a control frame.

        Raises:
            TransportClosed: If the link is closed or closing.
        """

    async def close(self, code: int, reason: str) -> None:
        """End the link from the server's side (the caller bounds the wait)."""

    def ended_reason(self) -> Reason:
        """How the link ended, once it has (``Remote``, or ``ErrorReason(kind, code)``)."""

    def before_park(self) -> None:
        """The session is about to wait with nothing pending: a chance to let
        broadcasts write past it (the WebSocket direct lane)."""
