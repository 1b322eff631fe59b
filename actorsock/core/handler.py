"""The behaviours users subclass: :class:`Handler` for connections, :class:`Actor` for workers.

Handler — a WebSocket connection as a process
=============================================

One handler instance serves one connection. The runtime calls its callbacks
strictly one at a time, so handler state needs no locks.

Callbacks
---------
``async init(request) -> None | Accept | Reject``
    Runs before the upgrade with the HTTP :class:`~actorsock.core.request.Request`
    (path, path params, query, headers, cookies, remote address). Return
    ``Reject(status, body, headers)`` to answer with plain HTTP instead, or
    ``Accept(subprotocol=..., headers=...)`` to pick a subprotocol.
``async websocket_init() -> result``
    Runs once after the upgrade. Register in registries and start timers here.
``async websocket_handle(frame) -> result``
    A frame from the client: ``Text``, ``Binary``, ``Ping`` or ``Pong``.
    Pings are already answered by the WebSocket layer.
``async websocket_info(message) -> result``
    Anything sent to the connection's pid: broadcasts, timer ticks, ``Down``.
``async terminate(reason) -> None``
    Runs exactly once, whatever ended the connection (see
    :mod:`actorsock.core.reasons`). The socket is already closed; there is
    nothing to return.

A ``result`` is ``None``, a frame, a command, or a list of them (see
:mod:`actorsock.core.frames`); frames go out in order.

Options (class attributes; ``None`` takes the server configuration)
--------------------------------------------------------------------
=====================  =========  ==========================================
``idle_timeout``        60 s       no client data for this long → ``Timeout``
``ping_interval``       off        send a ping when the client is quiet this long
``max_message_size``    1 MiB      larger client messages → close 1009
``mailbox_size``        1024       mailbox capacity
``overflow``            disconnect ``disconnect`` (close 1013), ``drop_oldest``,
                                   ``drop_newest``
``send_queue_bytes``    1 MiB      bytes waiting for a slow client, at most
``send_queue_messages`` 1024       frames waiting for a slow client, at most
``send_overflow``       disconnect full send queue: ``disconnect`` (close 1013),
                                   ``drop_oldest``, ``drop_newest``,
                                   ``coalesce`` (newest per key wins)
``codec``               JSON       how topic broadcasts of plain values are
                                   encoded for this connection (``JSON`` text
                                   or ``MSGPACK`` binary)
=====================  =========  ==========================================

Errors
------
An exception in a callback closes this connection with 1011, calls
``terminate(Crash(exc))``, logs the traceback with the connection's pid, route
and remote address, and affects no other connection.

Actor — a process without a socket
==================================
``init()``, ``handle_info(message)`` and ``terminate(reason)``; ``init`` and
``handle_info`` may return :class:`~actorsock.core.frames.Stop` to end
normally. Run actors under a :class:`~actorsock.runtime.supervisor.Supervisor`
or an :class:`~actorsock.app.App`'s ``children``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .process import MonitorRef, Pid, demonitor, monitor
from .reasons import Reason
from .request import Accept, Reject, Request

if TYPE_CHECKING:
    from .frames import Command, Frame
    from .timers import TimerRef

__all__ = ["Actor", "Handler", "Process"]


class Process:
    """What handlers and actors share: their pid, timers and monitors.

    The runtime sets ``pid`` before the first callback runs.
    """

    mailbox_size: ClassVar[int | None] = None
    overflow: ClassVar[str | None] = None
    # How topic values are encoded for this process (a codec from
    # actorsock.codecs); None means JSON.
    codec: ClassVar[Any] = None

    pid: Pid

    def send_after(self, delay: float, message: Any) -> TimerRef:
        """Send ``message`` to this process after ``delay`` seconds."""
        return self.pid.loop.schedule_timer(self.pid, delay, message, None)

    def send_interval(self, interval: float, message: Any) -> TimerRef:
        """Send ``message`` to this process every ``interval`` seconds.

        The first message arrives after one interval. The timer ends with the
        process or with :meth:`cancel_timer`.
        """
        return self.pid.loop.schedule_timer(self.pid, interval, message, interval)

    def cancel_timer(self, ref: TimerRef) -> bool:
        """Cancel a timer; True if it had not fired (or, for intervals, was running)."""
        return self.pid.loop.cancel_timer(ref)

    def monitor(self, pid: Pid) -> MonitorRef:
        """Receive ``Down(ref, pid, reason)`` when ``pid`` ends."""
        return monitor(pid, watcher=self.pid)

    def demonitor(self, ref: MonitorRef) -> bool:
        """Stop a monitor started with :meth:`monitor`."""
        return demonitor(ref)


class Handler(Process):
    """Base class of WebSocket connection handlers; see the module docstring."""

    idle_timeout: ClassVar[float | None] = None
    ping_interval: ClassVar[float | None] = None
    max_message_size: ClassVar[int | None] = None
    send_queue_bytes: ClassVar[int | None] = None
    send_queue_messages: ClassVar[int | None] = None
    send_overflow: ClassVar[str | None] = None

    request: Request

    async def init(self, request: Request) -> Accept | Reject | None:
        """Decide on the upgrade; the default accepts without a subprotocol."""
        return None

    async def websocket_init(self) -> Command | list[Command] | None:
        """Run once after the upgrade; the default does nothing."""
        return None

    async def websocket_handle(self, frame: Frame) -> Command | list[Command] | None:
        """Handle a client frame; the default ignores it."""
        return None

    async def websocket_info(self, message: Any) -> Command | list[Command] | None:
        """Handle a mailbox message; the default ignores it."""
        return None

    async def terminate(self, reason: Reason) -> None:
        """Clean up once the connection has ended; the default does nothing."""


class Actor(Process):
    """Base class of worker processes that have no socket."""

    async def init(self) -> Command | None:
        """Run once when the actor starts; return ``Stop()`` to end at once."""
        return None

    async def handle_info(self, message: Any) -> Command | None:
        """Handle a mailbox message; return ``Stop()`` to end normally."""
        return None

    async def terminate(self, reason: Reason) -> None:
        """Clean up; runs exactly once when the actor ends."""
