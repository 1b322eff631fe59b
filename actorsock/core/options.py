"""Connection options: the one place their defaults are written.

The ``[websocket]`` section of the configuration is this dataclass
(:class:`actorsock.config.WebSocketConfig` is another name for it), and every
option is also a :class:`~actorsock.core.handler.Handler` class attribute of
the same name that overrides it for one route.
"""

from __future__ import annotations

from dataclasses import dataclass

from .mailbox import DEFAULT_MAILBOX_SIZE, Overflow
from .send_queue import SendPolicy

__all__ = ["ConnectionOptions", "EventStreamOptions", "LongPollOptions"]


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """Server-wide defaults for connections; handler class attributes override them.

    Attributes:
        idle_timeout: Seconds without client data before ``Timeout`` (Cowboy's
            ``idle_timeout``); a handler may change it with ``SetOptions``.
        ping_interval: Seconds of client silence before the server pings
            (the pong counts as client data); 0 disables pings.
        max_message_size: Largest client message in bytes (close 1009 beyond).
        mailbox_size: Mailbox capacity, in messages.
        overflow: What a full mailbox does (:class:`~actorsock.core.mailbox.Overflow`).
        close_timeout: Seconds to wait for the client's close frame.
        send_queue_bytes: Bound of the send queue in bytes.
        send_queue_messages: Bound of the send queue in frames.
        send_overflow: What a full send queue does
            (:class:`~actorsock.core.send_queue.SendPolicy`).
    """

    idle_timeout: float = 60.0
    ping_interval: float = 0.0
    max_message_size: int = 1 << 20
    mailbox_size: int = DEFAULT_MAILBOX_SIZE
    overflow: str = Overflow.DISCONNECT.value
    close_timeout: float = 5.0
    send_queue_bytes: int = 1 << 20
    send_queue_messages: int = 1024
    send_overflow: str = SendPolicy.DISCONNECT.value


@dataclass(frozen=True, slots=True)
class EventStreamOptions:
    """Options of Server-Sent Events streams (the ``[sse]`` section).

    Attributes:
        heartbeat_interval: Seconds between the comment lines that keep
            proxies from closing an idle stream; 0 sends none.
    """

    heartbeat_interval: float = 15.0


@dataclass(frozen=True, slots=True)
class LongPollOptions:
    """Options of long-poll sessions (the ``[long_poll]`` section).

    Attributes:
        poll_timeout: Seconds a poll is held open with nothing to answer
            (then answered empty; below the idle limit of common proxies).
        session_timeout: Seconds a session lives with no poll attached
            (then it ends with ``Timeout()``).
    """

    poll_timeout: float = 20.0
    session_timeout: float = 30.0
