"""Runs a :class:`~actorsock.core.handler.Handler` as a process over any transport.

Theory of operation
-------------------
A session is one trio task. The handler's callbacks run strictly one at a
time in it. The task parks on a :class:`~actorsock.runtime.waker.LaneWaker`
that three things wake: a message in the mailbox, a frame from the client,
and trouble on the link. Its deadlines (idle timeout, server pings) come
from one loop timer per session that sends it a private message, re-armed
only when it fires or must fire sooner. The link to the client is a
:class:`~actorsock.core.transport.Transport`; this module knows nothing of
WebSocket, Server-Sent Events or long-poll.

Lifecycle (a transport module opens the link between ``init`` and ``run``)::

    init(request) --Reject / crash ---------------- (the transport answers) -> Normal / Crash
        v
    open the link (the transport's handshake) --fails------------> ErrorReason("closed")
        v
    websocket_init()
        v
    loop, alternating fairly between client frames and mailbox messages:
        stop requested (server shutdown) ------- close 1001 ----------> Shutdown
        mailbox overflow (policy disconnect) --- close 1013 --> ErrorReason("mailbox_overflow")
        send queue overflow (slow client) ------ close 1013 --> ErrorReason("send_overflow")
        more incomplete input than the server holds  1013 ----> ErrorReason("inbound_overflow")
        no client data for idle_timeout -------- close 1000 ----------> Timeout
            (not where the transport keeps its own idle rule: SSE, long-poll)
        client frame  -> websocket_handle(frame) -> commands
        message       -> websocket_info(msg)     -> commands
            Close(c, r) / Stop -------------- close c / 1000 ---------> Stop
            callback raised ----------------- close 1011 -------------> Crash(exc)
        the client ended the link ------------------------------------> transport.ended_reason()
        cancelled (drain timeout passed) ------------------------------> Shutdown

Every frame goes through the session's bounded send queue. A broadcast
frame sent straight to the process
(:class:`~actorsock.core.wire.PreparedFrame`) is written at once when the
session is parked with an empty mailbox; otherwise it waits in the mailbox
behind earlier messages and is written when its turn comes, so a client's
output keeps the order in which things were sent to it. Just before it
parks, the session lets the transport open a direct lane
(:meth:`~actorsock.core.transport.Transport.before_park`); its waker closes
the lane in the same step as any wake-up.

Whatever the path, the transport module closes the link, then
:meth:`Session.finish` runs ``terminate(reason)`` exactly once, then the pid
dies (registries forget it, monitors get ``Down``).
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from ..core.budget import ByteBudget
from ..core.frames import (
    Binary,
    Close,
    Command,
    Event,
    Ping,
    Pong,
    SetOptions,
    Stop,
    Text,
    commands_of,
)
from ..core.handler import Handler
from ..core.options import ConnectionOptions
from ..core.process import exit_process, reset_current_pid, set_current_pid
from ..core.reasons import (
    Crash,
    ErrorKind,
    ErrorReason,
    Normal,
    Reason,
    Shutdown,
    StopReason,
    Timeout,
)
from ..core.request import Accept, Reject, Request, Response
from ..core.send_queue import SendQueue
from ..core.timers import TimerRef
from ..core.transport import FrameRefused, Transport, TransportClosed
from ..core.wire import PreparedFrame
from ..logging import ContextLogger
from .actor import run_terminate, spawn_process
from .stats import ConnectionStatistics, Counters
from .waker import LaneWaker

__all__ = ["Opening", "Session", "SessionCrash", "SessionServices", "serve_session"]

# Callbacks a busy session runs before it lets other tasks run.
_STEPS_PER_YIELD = 4
_DATA_FRAMES = (Text, Binary, Event)

# Mailbox message of the session's own deadline timer (idle timeout and
# server pings); the loop takes it and re-checks its deadlines.
_DEADLINE = object()


class SessionCrash(Exception):
    """A handler callback raised: :attr:`exc` (already logged by the session)."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(repr(exc))
        self.exc = exc


def crash_reason(exc: BaseException) -> Crash:
    """The terminate reason of a crash that has been logged.

    The traceback stays (``terminate`` may format it), but the finished
    frames' locals go: they hold the session, which the reason outlives (as
    the pid's exit reason), and would keep it all for the cycle collector.
    """
    traceback.clear_frames(exc.__traceback__)
    return Crash(exc)


@dataclass(frozen=True, slots=True)
class SessionServices:
    """What every session of a server shares, whatever its transport.

    Attributes:
        options: Connection defaults (the handler's class attributes win).
        counters: Server counters to update.
        incomplete_budget: The server-wide bound on bytes of client messages
            still arriving (see :class:`~actorsock.core.budget.ByteBudget`).
        log: The server logger (each session adds its pid, route and remote).
        on_start: Called with each session once its pid exists.
        on_end: Called with each pid after ``terminate`` has run.
    """

    options: ConnectionOptions
    counters: Counters
    incomplete_budget: ByteBudget
    log: Any
    on_start: Callable[[Session], None] = lambda session: None
    on_end: Callable[[Any], None] = lambda pid: None

    def session(self, handler_class: type[Handler], request: Request, **context: Any) -> Session:
        """A fresh ``handler_class()`` for ``request``, as a session not started yet.

        Args:
            handler_class: The route's handler.
            request: What ``init`` sees (also ``handler.request``).
            **context: Extra pairs for the session's log lines (``transport="sse"``).
        """
        handler = handler_class()
        handler.request = request
        session = Session(
            handler, request, self.options, self.counters, self.incomplete_budget, self.log
        )
        remote = f"{request.remote[0]}:{request.remote[1]}" if request.remote else "?"
        session.log = ContextLogger(
            self.log, pid=session.pid, route=request.route, remote=remote, **context
        )
        return session


def _pick(handler_value: Any, default: Any) -> Any:
    return default if handler_value is None else handler_value


class Session:
    """One handler instance run as a process, over a transport given to :meth:`run`.

    Args:
        handler: A fresh instance of the route's handler class.
        request: The request that opened the session.
        options: Server-wide defaults; the handler's class attributes win.
        counters: Server counters to update.
        incomplete_budget: The server-wide bound on bytes of client messages
            still arriving (see :class:`~actorsock.core.budget.ByteBudget`).
        log: A logger carrying the session's context (pid, route, remote).

    Attributes:
        pid: The process; exists from construction, dies in :meth:`finish`.
        waker: What the session parks on.
        wake: ``waker.wake``, bound once: what transports call to wake the
            session (one callable shared by the pid, the stream and the
            reader, rather than one bound method each).
        queue: The bounded send queue the transport writes from.
        max_message_size: The handler's bound on one client message.
        transport: The link, while :meth:`run` runs (None before).
    """

    # Slots: a session lives as long as its client, and a broadcast reads
    # it once per recipient (no per-instance dict to allocate or to miss).
    __slots__ = (
        "close_timeout",
        "counters",
        "deadline_timer",
        "handler",
        "idle_timeout",
        "incomplete_budget",
        "last_activity",
        "last_ping",
        "log",
        "max_message_size",
        "messages_in",
        "pid",
        "ping_interval",
        "queue",
        "request",
        "transport",
        "wake",
        "waker",
    )

    def __init__(
        self,
        handler: Handler,
        request: Request,
        options: ConnectionOptions,
        counters: Counters,
        incomplete_budget: ByteBudget,
        log: Any,
    ) -> None:
        self.handler = handler
        self.request = request
        self.counters = counters
        self.incomplete_budget = incomplete_budget
        self.log = log
        self.close_timeout = options.close_timeout
        self.idle_timeout = float(_pick(handler.idle_timeout, options.idle_timeout))
        self.ping_interval = float(_pick(handler.ping_interval, options.ping_interval))
        self.max_message_size = int(_pick(handler.max_message_size, options.max_message_size))
        waker = LaneWaker()
        self.wake = waker.wake
        self.pid, self.waker = spawn_process(
            handler, options.mailbox_size, options.overflow, waker, self.wake
        )
        waker.lane = self.pid
        self.queue = SendQueue(
            int(_pick(handler.send_queue_bytes, options.send_queue_bytes)),
            int(_pick(handler.send_queue_messages, options.send_queue_messages)),
            _pick(handler.send_overflow, options.send_overflow),
        )
        self.transport: Transport | None = None
        self.messages_in = 0
        self.last_activity = 0.0
        self.last_ping = 0.0
        self.deadline_timer: TimerRef[Any] | None = None

    def statistics(self) -> ConnectionStatistics:
        """A snapshot of this session's counters."""
        queue, transport = self.queue, self.transport
        return ConnectionStatistics(
            pid=self.pid,
            route=self.request.route,
            messages_in=self.messages_in,
            messages_out=transport.sent_frames if transport is not None else 0,
            bytes_out=transport.sent_bytes if transport is not None else 0,
            queued_bytes=queue.queued_bytes,
            queued_messages=queue.depth,
            peak_queued_bytes=queue.peak_bytes,
            dropped=queue.dropped,
            coalesced=queue.coalesced,
            mailbox=len(self.pid.mailbox),
        )

    async def _call(self, callback: Awaitable[Any]) -> Any:
        try:
            return await callback
        except Exception as exc:
            raise SessionCrash(exc) from exc

    async def init(self) -> Accept | Reject:
        """Run ``init(request)``; what the transport should do with the request.

        Raises:
            SessionCrash: If ``init`` raised or returned something else than
                None, Accept or Reject (logged here; answer with 500).
        """
        request = self.request
        try:
            decision = await self._call(self.handler.init(request))
            if decision is not None and not isinstance(decision, Accept | Reject):
                raise SessionCrash(
                    TypeError(
                        f"init returned {decision!r}; return None, Accept(...) or Reject(...)"
                    )
                )
            accept = decision or Accept()
            offered = request.subprotocols
            if isinstance(accept, Accept) and accept.subprotocol not in (None, *offered):
                raise SessionCrash(
                    ValueError(
                        f"init chose subprotocol {accept.subprotocol!r}, which the "
                        f"client did not offer ({offered})"
                    )
                )
        except SessionCrash as crash:
            self.log.error("init crashed", exc_info=crash.exc)
            raise
        if isinstance(accept, Reject):
            self.log.info("rejected in init", status=accept.status)
        return accept

    async def open(self, opening: Opening, nursery: trio.Nursery | None) -> Transport | Reason:
        """Everything before :meth:`run`, the way every transport does it.

        ``init``; a crash is answered with ``opening.refuse(500)``
        (``Crash``), a ``Reject`` with ``opening.refuse(its response)``
        (``Normal``); otherwise ``opening.open_transport(accept, nursery)``
        opens the link (None if the client went away:
        ``ErrorReason("closed", 1006)``).

        Returns:
            The open link, to pass to :meth:`run`; or the terminate reason
            of a session that never opened (pass it to :meth:`finish`).
            (Two steps, not one that runs the session too: nothing of the
            opening stays referenced while the session runs.)
        """
        try:
            decision = await self.init()
        except SessionCrash as crash:
            await opening.refuse(Response(500, "internal server error\n"))
            return crash_reason(crash.exc)
        if isinstance(decision, Reject):
            await opening.refuse(Response(decision.status, decision.body, headers=decision.headers))
            return Normal()
        transport = await opening.open_transport(decision, nursery)
        if transport is None:
            return ErrorReason(ErrorKind.CLOSED, 1006)
        return transport

    async def run(self, transport: Transport) -> Reason:
        """Serve the handler over the open ``transport`` until the session ends.

        Returns:
            The terminate reason (pass it to :meth:`finish`).
        """
        self.transport = transport
        if transport.own_idle_rule:
            self.idle_timeout = math.inf
        self.counters.opened()
        self.last_activity = self.last_ping = trio.current_time()
        try:
            reason = await self._execute(await self._call(self.handler.websocket_init()))
            return reason or await self._loop(transport)
        except (SessionCrash, FrameRefused) as crash:
            # A frame the transport cannot carry is the handler's mistake too.
            exc = crash.exc if isinstance(crash, SessionCrash) else crash
            self.counters.crashes += 1
            self.log.error("handler crashed", exc_info=exc)
            await self._close(1011, "internal error")
            return crash_reason(exc)

    async def _loop(self, transport: Transport) -> Reason:
        pid, handler = self.pid, self.handler
        mailbox = pid.mailbox
        prefer_client = True
        steps_without_yield = 0
        clock = trio.lowlevel.current_clock()  # trio.current_time() in two frames fewer
        while True:
            if pid.stop_request is not None:
                await self._close(
                    1001 if isinstance(pid.stop_request, Shutdown) else 1000, "server shutting down"
                )
                return pid.stop_request
            if mailbox.overflowed:
                self.counters.overflows += 1
                return await self._disconnect(
                    ErrorKind.MAILBOX_OVERFLOW,
                    "mailbox overflow",
                    "mailbox overflow; disconnecting slow connection",
                    capacity=mailbox.capacity,
                    dropped=mailbox.dropped,
                )
            if self.queue.overflowed:
                return await self._send_overflow()
            if transport.inbound_overflowed:
                return await self._inbound_overflow()
            if transport.failed:
                return transport.ended_reason()
            now = clock.current_time()
            if now >= self.last_activity + self.idle_timeout:
                await self._close(1000, "idle timeout")
                return Timeout()
            frame = None
            if prefer_client or not mailbox:
                try:
                    frame = transport.next_inbound()
                except TransportClosed:
                    return transport.ended_reason()
                # A ping only once the link was read: a close frame the
                # client already sent is seen first, and no ping follows it.
                if (
                    frame is None
                    and self.ping_interval
                    and now >= self._ping_due()
                    and transport.supports_ping
                ):
                    self.last_ping = now
                    try:
                        await transport.send_control(Ping())
                    except TransportClosed:
                        return transport.ended_reason()
            if frame is not None:
                prefer_client = False
                self.last_activity = now
                self.messages_in += 1
                self.counters.messages_in += 1
                # _call() inlined: this runs once per client message.
                try:
                    result = await handler.websocket_handle(frame)
                except Exception as exc:
                    raise SessionCrash(exc) from exc
            elif mailbox:
                prefer_client = True
                message = mailbox.pop()
                if message is _DEADLINE:
                    continue
                if isinstance(message, PreparedFrame):
                    transport.send_prepared(message)
                    continue
                result = await self._call(handler.websocket_info(message))
            else:
                wake_at = self.last_activity + self.idle_timeout
                if self.ping_interval:
                    wake_at = min(wake_at, self._ping_due())
                steps_without_yield = 0
                self._arm_deadline(wake_at, now)
                transport.before_park()
                await self.waker.wait()
                continue
            if result is None:
                pass
            elif result.__class__ in _DATA_FRAMES and transport.data_open:
                # One data frame, the usual reply: what _execute() would do.
                transport.send_frame(result)
            else:
                reason = await self._execute(result)
                if reason is not None:
                    return reason
            # Sends do not yield (they are queued), so a busy session gives
            # other tasks and its client's reader a turn every few callbacks;
            # not after each one, which would cost a scheduler pass per message.
            steps_without_yield += 1
            if steps_without_yield >= _STEPS_PER_YIELD:
                steps_without_yield = 0
                await trio.lowlevel.checkpoint()

    def _arm_deadline(self, wake_at: float, now: float) -> None:
        """Make sure the deadline timer fires by ``wake_at`` (``now`` is the loop's clock).

        One timer per session, re-armed lazily: client activity only moves
        ``last_activity``; a timer that fires early just makes the loop look
        again. Cheaper than a cancel scope around every wait.
        """
        timer, loop = self.deadline_timer, self.pid.loop
        if timer is not None:
            if timer.active and now < timer.deadline <= wake_at:
                return
            loop.cancel_timer(timer)
        self.deadline_timer = loop.schedule_timer(
            self.pid, max(0.0, wake_at - now), _DEADLINE, None, system=True
        )

    def _ping_due(self) -> float:
        return max(self.last_activity, self.last_ping) + self.ping_interval

    async def _execute(self, result: Any) -> Reason | None:
        """Carry out a callback's commands in order; return a reason to stop."""
        try:
            commands: tuple[Command, ...] = commands_of(result)
        except TypeError as exc:
            raise SessionCrash(exc) from None
        transport = self.transport
        assert transport is not None
        for command in commands:
            if isinstance(command, Text | Binary | Event):
                if not transport.data_open:
                    return transport.ended_reason()
                transport.send_frame(command)
            elif isinstance(command, Ping | Pong):
                try:
                    await transport.send_control(command)
                except TransportClosed:
                    return transport.ended_reason()
            elif isinstance(command, Close):
                await self._close(command.code, command.reason)
                return StopReason()
            elif isinstance(command, Stop):
                await self._close(1000, "")
                return StopReason()
            elif (
                isinstance(command, SetOptions)
                and command.idle_timeout is not None
                and not transport.own_idle_rule
            ):
                self.idle_timeout = command.idle_timeout
        return None

    async def _send_overflow(self) -> Reason:
        queue = self.queue
        self.counters.send_overflows += 1
        fields = {"queued_bytes": queue.queued_bytes, "dropped": queue.dropped}
        queue.discard_pending()
        return await self._disconnect(
            ErrorKind.SEND_OVERFLOW,
            "send queue full",
            "send queue full; disconnecting slow client",
            max_bytes=queue.max_bytes,
            **fields,
        )

    async def _inbound_overflow(self) -> Reason:
        budget = self.incomplete_budget
        self.counters.inbound_overflows += 1
        return await self._disconnect(
            ErrorKind.INBOUND_OVERFLOW,
            "server busy: too much incomplete data",
            "incomplete client messages fill the server's bound; disconnecting this client",
            held_bytes=budget.used,
            max_bytes=budget.limit,
        )

    async def _disconnect(
        self, kind: ErrorKind, close_reason: str, event: str, **fields: Any
    ) -> Reason:
        """End a session that passed one of its bounds: log, close 1013, ``ErrorReason(kind)``."""
        self.log.warning(event, **fields)
        await self._close(1013, close_reason)
        return ErrorReason(kind, 1013)

    async def _close(self, code: int, reason: str) -> None:
        transport = self.transport
        if transport is None:
            return
        with trio.move_on_after(self.close_timeout):
            await transport.close(code, reason)

    async def finish(self, reason: Reason, *, opened: bool, started: float) -> None:
        """End the process: ``terminate(reason)`` once, then the pid dies.

        Call it once, after the link is closed, shielded from cancellation.

        Args:
            reason: How the session ended.
            opened: Whether the link opened (only then it is counted and
                logged as a connection).
            started: When the session started (trio clock), for the log.
        """
        if self.deadline_timer is not None:
            self.pid.loop.cancel_timer(self.deadline_timer)
            self.deadline_timer = None
        await run_terminate(self.handler.terminate, reason, self.log)
        exit_process(self.pid, reason)
        if opened:
            self.counters.closed(reason.name, self.statistics())
            self.log.info(
                "close",
                reason=reason.name,
                detail=repr(reason),
                duration=round(trio.current_time() - started, 3),
            )


class _NoNursery:
    """Stands for the session's nursery where the link runs no task of its own."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc_info: object) -> bool:
        return False


_NO_NURSERY = _NoNursery()


class Opening(Protocol):
    """How one transport opens a session's link, refuses it, and lets it go.

    One object per session, not three closures: it lives as long as the
    session, and each closure would be a function and its cells more for
    the garbage collector to walk, per connection.

    Attributes:
        runs_tasks: True if the link runs tasks of its own (a reader, a
            watcher): the session then opens a nursery for them, cancelled
            when it ends. (Not otherwise: a nursery is a cancel scope to
            enter and ten objects to keep, per connection.)
    """

    @property
    def runs_tasks(self) -> bool: ...

    async def open_transport(
        self, accept: Accept, nursery: trio.Nursery | None
    ) -> Transport | None:
        """Open the link once ``init`` accepted; None if the client went away.

        ``nursery`` is the session's, for the transport's own tasks
        (cancelled when the session ends); None unless :attr:`runs_tasks`.
        """
        ...

    async def refuse(self, response: Response) -> None:
        """Answer a request ``init`` refused or crashed on."""
        ...

    async def release(self, transport: Transport | None) -> None:
        """Close what is left of the link (``transport`` is None if it never opened)."""
        ...


async def serve_session(session: Session, opening: Opening, services: SessionServices) -> None:
    """The life every transport gives a session, from ``init`` to the pid's death.

    ``services.on_start(session)``; :meth:`Session.open` (``init``, then
    ``opening.open_transport`` or ``opening.refuse``), :meth:`Session.run`,
    then, shielded whatever happened, ``opening.release(transport)`` (close
    the socket), :meth:`Session.finish` and ``services.on_end(pid)``. The
    session's pid is the current pid throughout. The terminate reason is
    then ``session.pid.exit_reason``.

    Args:
        session: A session not started yet.
        opening: Its transport's way to open, refuse and release the link.
        services: What the server's sessions share (its hooks are called here).
    """
    token = set_current_pid(session.pid)
    started = trio.current_time()
    reason: Reason | None = None  # Shutdown() if nothing else ends it
    services.on_start(session)
    try:
        async with trio.open_nursery() if opening.runs_tasks else _NO_NURSERY as nursery:
            try:
                opened = await session.open(opening, nursery)
                reason = opened if isinstance(opened, Reason) else await session.run(opened)
            finally:
                if nursery is not None:
                    nursery.cancel_scope.cancel()
    finally:
        try:
            with trio.CancelScope(shield=True):
                transport = session.transport
                await opening.release(transport)
                await session.finish(
                    reason or Shutdown(), opened=transport is not None, started=started
                )
        finally:
            services.on_end(session.pid)
            reset_current_pid(token)
