"""Runs one WebSocket connection as a process driving a :class:`~actorsock.core.handler.Handler`.

Theory of operation
-------------------
The connection is one trio task (plus trio-websocket's reader task). The
handler's callbacks run strictly one at a time in that task. The task parks
on a :class:`~actorsock.runtime.waker.Waker` that three things wake: a message
in the mailbox, a frame from the client, and the end of the connection. Its
deadlines (idle timeout, server pings) come from one node timer per
connection that sends it a private message, re-armed only when it fires or
must fire sooner.

Lifecycle::

    init(request) --Reject--------------------------------------------> Normal
        | crash -> HTTP 500 ----------------------------------------> Crash
        v
    upgrade (101) --client gone / too slow--------------------------> Error("closed")
        v
    websocket_init()
        v
    loop, alternating fairly between client frames and mailbox messages:
        stop requested (server shutdown) ------- close 1001 ----------> Shutdown
        mailbox overflow (policy disconnect) --- close 1013 ----------> Error("mailbox_overflow")
        send queue overflow (slow client) ------ close 1013 ----------> Error("send_overflow")
        incomplete messages over the server's bound  close 1013 ------> Error("inbound_overflow")
        no client data for idle_timeout -------- close 1000 ----------> Timeout
        client frame  -> websocket_handle(frame) -> commands
        message       -> websocket_info(msg)     -> commands
            Close(c, r) / Stop -------------- close c / 1000 ---------> Stop
            callback raised ----------------- close 1011 -------------> Crash(exc)
        client closed with a close frame -------------------------------> Remote(code, reason)
        protocol violation / oversize ---------- close 1002/1007/1009 -> Error(kind, code)
        TCP lost ---------------------------------------------------------> Error("closed", 1006)
        cancelled (drain timeout passed) --------------------------------> Shutdown

Every byte sent goes through the connection's bounded send queue (see
:mod:`actorsock.transports.fastpath`). A frame broadcast straight to the
connection (:class:`~actorsock.core.wire.PreparedFrame`) is written at once
when the connection is parked with an empty mailbox; otherwise it waits in
the mailbox behind earlier messages and is written when its turn comes, so a
connection's output keeps the order in which things were sent to it. Just
before it parks, the connection opens its pid's direct lane
(:attr:`~actorsock.core.process.Pid.direct_fd`), through which broadcasts
write to the socket without touching the connection's objects; its
:class:`~actorsock.runtime.waker.LaneWaker` closes the lane in the same step
as any wake-up.

Whatever the path, the socket is closed, then ``terminate(reason)`` runs
exactly once, then the pid dies (registries forget it, monitors get ``Down``).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from ..core.budget import ByteBudget
from ..core.frames import Binary, Close, Command, Ping, Pong, SetOptions, Stop, Text, commands_of
from ..core.handler import Handler
from ..core.options import ConnectionOptions
from ..core.process import exit_process, reset_current_pid, set_current_pid
from ..core.reasons import Crash, Error, Normal, Reason, Remote, Shutdown, Timeout
from ..core.reasons import Stop as StopReason
from ..core.request import Accept, Reject, Request, Response
from ..core.send_queue import SendQueue
from ..core.timers import TimerRef
from ..core.wire import PreparedFrame, encode_frame
from ..logging import ContextLogger
from ..transports.fastpath import ConnectionStream
from ..transports.front import close_quietly
from ..transports.http import write_response
from ..transports.websocket import ConnectionClosed, ServerWebSocket, accept_websocket
from .actor import run_terminate, spawn_process
from .stats import ConnectionStatistics, Counters
from .waker import LaneWaker

__all__ = ["run_connection"]

# Callbacks a busy connection runs before it lets other tasks run.
_STEPS_PER_YIELD = 4
_DATA_FRAMES = (Text, Binary)

# Mailbox message of the connection's own deadline timer (idle timeout and
# server pings); the loop takes it and re-checks its deadlines.
_DEADLINE = object()

# Close codes the server sent first, and what they mean for terminate.
_SERVER_CLOSE_KINDS = {1002: "badframe", 1007: "badencoding", 1009: "badsize"}


class _CallbackCrash(Exception):
    """Wraps an exception raised by a handler callback."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(repr(exc))
        self.exc = exc


def _crash(exc: BaseException) -> Crash:
    """The terminate reason of a crash, logged already.

    The traceback stays (``terminate`` may format it), but the finished
    frames' locals go: they hold this connection, which the reason outlives
    (as the pid's exit reason), and would keep it all for the cycle
    collector.
    """
    traceback.clear_frames(exc.__traceback__)
    return Crash(exc)


def _pick(handler_value: Any, default: Any) -> Any:
    return default if handler_value is None else handler_value


class _Connection:
    # Slots: a connection lives as long as its client, and a broadcast reads
    # it once per recipient (no per-instance dict to allocate or to miss).
    __slots__ = (
        "channel",
        "counters",
        "deadline_timer",
        "handler",
        "handshake_timeout",
        "idle_timeout",
        "incomplete_budget",
        "last_activity",
        "last_ping",
        "log",
        "max_message_size",
        "messages_in",
        "options",
        "pid",
        "ping_interval",
        "queue",
        "request",
        "stream",
        "waker",
        "ws",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        head: bytes,
        early: bytes,
        request: Request,
        handler: Handler,
        options: ConnectionOptions,
        handshake_timeout: float,
        counters: Counters,
        incomplete_budget: ByteBudget,
        log: Any,
    ) -> None:
        self.stream = stream
        self.handshake_timeout = handshake_timeout
        self.incomplete_budget = incomplete_budget
        self.request = request
        self.handler = handler
        self.options = options
        self.counters = counters
        self.log = log
        self.idle_timeout = float(_pick(handler.idle_timeout, options.idle_timeout))
        self.ping_interval = float(_pick(handler.ping_interval, options.ping_interval))
        self.max_message_size = int(_pick(handler.max_message_size, options.max_message_size))
        waker = LaneWaker()
        self.pid, self.waker = spawn_process(handler, options.mailbox_size, options.overflow, waker)
        waker.lane = self.pid
        self.queue = SendQueue(
            int(_pick(handler.send_queue_bytes, options.send_queue_bytes)),
            int(_pick(handler.send_queue_messages, options.send_queue_messages)),
            _pick(handler.send_overflow, options.send_overflow),
        )
        self.channel = ConnectionStream(
            stream, head, self.queue, on_trouble=self.waker.wake, gate=self.waker, early=early
        )
        self.ws: ServerWebSocket | None = None
        self.messages_in = 0
        self.last_activity = 0.0
        self.last_ping = 0.0
        self.deadline_timer: TimerRef | None = None
        # Broadcast frames go past the handler, straight to the socket, while
        # the task is parked (see FrameSink and Pid.direct_fd).
        self.pid.frame_sink = self.channel
        self.channel.lane = self.pid

    def statistics(self) -> ConnectionStatistics:
        """A snapshot of this connection's counters."""
        queue = self.queue
        return ConnectionStatistics(
            pid=self.pid,
            route=self.request.route,
            messages_in=self.messages_in,
            messages_out=self.channel.sent_frames,
            bytes_out=self.channel.sent_bytes,
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
            raise _CallbackCrash(exc) from exc

    async def serve(self, nursery: trio.Nursery) -> Reason:
        handler, request = self.handler, self.request
        try:
            decision = await self._call(handler.init(request))
            if decision is not None and not isinstance(decision, Accept | Reject):
                raise _CallbackCrash(
                    TypeError(
                        f"init returned {decision!r}; return None, Accept(...) or Reject(...)"
                    )
                )
        except _CallbackCrash as crash:
            self.log.error("init crashed", exc_info=crash.exc)
            await write_response(self.stream, None, Response(500, "internal server error\n"))
            return _crash(crash.exc)
        if isinstance(decision, Reject):
            await write_response(
                self.stream,
                None,
                Response(decision.status, decision.body, headers=decision.headers),
            )
            self.log.info("rejected in init", status=decision.status)
            return Normal()
        accept = decision or Accept()
        if accept.subprotocol is not None and accept.subprotocol not in request.subprotocols:
            error = ValueError(
                f"init chose subprotocol {accept.subprotocol!r}, which the "
                f"client did not offer ({request.subprotocols})"
            )
            self.log.error("init crashed", exc_info=error)
            await write_response(self.stream, None, Response(500, "internal server error\n"))
            return Crash(error)
        with trio.move_on_after(self.handshake_timeout):
            with contextlib.suppress(ConnectionClosed):
                self.ws = await accept_websocket(
                    nursery,
                    self.channel,
                    subprotocol=accept.subprotocol,
                    headers=[(name.encode(), value.encode()) for name, value in accept.headers],
                    max_message_size=self.max_message_size,
                    on_inbound=self.waker.wake,
                    incomplete_budget=self.incomplete_budget,
                )
        if self.ws is None:
            return Error("closed", 1006)
        self.counters.opened()
        self.log.info("open", subprotocol=accept.subprotocol)
        self.last_activity = self.last_ping = trio.current_time()
        try:
            reason = await self._execute(await self._call(handler.websocket_init()))
            return reason or await self._loop()
        except _CallbackCrash as crash:
            self.counters.crashes += 1
            self.log.error("handler crashed", exc_info=crash.exc)
            await self._close(1011, "internal error")
            return _crash(crash.exc)

    async def _loop(self) -> Reason:
        ws, pid, handler = self.ws, self.pid, self.handler
        assert ws is not None
        mailbox = pid.mailbox
        prefer_client = True
        steps_without_yield = 0
        while True:
            if pid.stop_request is not None:
                await self._close(
                    1001 if isinstance(pid.stop_request, Shutdown) else 1000, "server shutting down"
                )
                return pid.stop_request
            if mailbox.overflowed:
                self.counters.overflows += 1
                return await self._disconnect(
                    "mailbox_overflow",
                    "mailbox overflow",
                    "mailbox overflow; disconnecting slow connection",
                    capacity=mailbox.capacity,
                    dropped=mailbox.dropped,
                )
            if self.queue.overflowed:
                return await self._send_overflow()
            if ws.inbound_overflowed:
                return await self._inbound_overflow()
            if self.channel.broken is not None:
                return self._closed_reason()
            now = trio.current_time()
            if now >= self.last_activity + self.idle_timeout:
                await self._close(1000, "idle timeout")
                return Timeout()
            if self.ping_interval and now >= self._ping_due():
                self.last_ping = now
                try:
                    await ws.send_control(Ping())
                except ConnectionClosed:
                    return self._closed_reason()
            frame = None
            if prefer_client or not mailbox:
                try:
                    frame = ws.next_inbound()
                except ConnectionClosed:
                    return self._closed_reason()
            if frame is not None:
                prefer_client = False
                self.last_activity = now
                self.messages_in += 1
                self.counters.messages_in += 1
                # _call() inlined: this runs once per client message.
                try:
                    result = await handler.websocket_handle(frame)
                except Exception as exc:
                    raise _CallbackCrash(exc) from exc
            elif mailbox:
                prefer_client = True
                message = mailbox.pop()
                if message is _DEADLINE:
                    continue
                if isinstance(message, PreparedFrame):
                    ws.send_data(message.data, message.key)
                    continue
                result = await self._call(handler.websocket_info(message))
            else:
                wake_at = self.last_activity + self.idle_timeout
                if self.ping_interval:
                    wake_at = min(wake_at, self._ping_due())
                steps_without_yield = 0
                self._arm_deadline(wake_at, now)
                self.channel.open_lane()
                await self.waker.wait()
                continue
            if result is None:
                pass
            elif result.__class__ in _DATA_FRAMES and ws.data_open:
                # One data frame, the usual reply: what _execute() would do.
                ws.send_data(encode_frame(result))
            else:
                reason = await self._execute(result)
                if reason is not None:
                    return reason
            # Sends do not yield (they are queued), so a busy connection gives
            # other tasks and its client's reader a turn every few callbacks;
            # not after each one, which would cost a scheduler pass per message.
            steps_without_yield += 1
            if steps_without_yield >= _STEPS_PER_YIELD:
                steps_without_yield = 0
                await trio.lowlevel.checkpoint()

    def _arm_deadline(self, wake_at: float, now: float) -> None:
        """Make sure the deadline timer fires by ``wake_at`` (``now`` is the loop's clock).

        One timer per connection, re-armed lazily: client activity only moves
        ``last_activity``; a timer that fires early just makes the loop look
        again. Cheaper than a cancel scope around every wait.
        """
        timer, node = self.deadline_timer, self.pid.node
        if timer is not None:
            if timer.active and now < timer.deadline <= wake_at:
                return
            node.cancel_timer(timer)
        self.deadline_timer = node.schedule_timer(
            self.pid, max(0.0, wake_at - now), _DEADLINE, None, system=True
        )

    def cancel_deadline(self) -> None:
        """Drop the deadline timer (the connection has ended)."""
        if self.deadline_timer is not None:
            self.pid.node.cancel_timer(self.deadline_timer)
            self.deadline_timer = None

    def _ping_due(self) -> float:
        return max(self.last_activity, self.last_ping) + self.ping_interval

    async def _execute(self, result: Any) -> Reason | None:
        """Carry out a callback's commands in order; return a reason to stop."""
        try:
            commands: tuple[Command, ...] = commands_of(result)
        except TypeError as exc:
            raise _CallbackCrash(exc) from None
        ws = self.ws
        assert ws is not None
        for command in commands:
            if isinstance(command, Text | Binary):
                if not ws.data_open:
                    return self._closed_reason()
                ws.send_data(encode_frame(command))
            elif isinstance(command, Ping | Pong):
                try:
                    await ws.send_control(command)
                except ConnectionClosed:
                    return self._closed_reason()
            elif isinstance(command, Close):
                await self._close(command.code, command.reason)
                return StopReason()
            elif isinstance(command, Stop):
                await self._close(1000, "")
                return StopReason()
            elif isinstance(command, SetOptions) and command.idle_timeout is not None:
                self.idle_timeout = command.idle_timeout
        return None

    async def _send_overflow(self) -> Reason:
        queue = self.queue
        self.counters.send_overflows += 1
        fields = {"queued_bytes": queue.queued_bytes, "dropped": queue.dropped}
        queue.discard_pending()
        return await self._disconnect(
            "send_overflow",
            "send queue full",
            "send queue full; disconnecting slow client",
            max_bytes=queue.max_bytes,
            **fields,
        )

    async def _inbound_overflow(self) -> Reason:
        budget = self.incomplete_budget
        self.counters.inbound_overflows += 1
        return await self._disconnect(
            "inbound_overflow",
            "server busy: too much incomplete data",
            "incomplete client messages fill the server's bound; disconnecting this client",
            held_bytes=budget.used,
            max_bytes=budget.limit,
        )

    async def _disconnect(self, kind: str, close_reason: str, event: str, **fields: Any) -> Reason:
        """End a connection that passed one of its bounds: log, close 1013, ``Error(kind)``."""
        self.log.warning(event, **fields)
        await self._close(1013, close_reason)
        return Error(kind, 1013)

    def _closed_reason(self) -> Reason:
        ws = self.ws
        assert ws is not None
        if ws.peer_close is not None:
            return Remote(*ws.peer_close)
        kind = _SERVER_CLOSE_KINDS.get(ws.sent_close_code or 0)
        if kind is not None:
            return Error(kind, ws.sent_close_code)
        return Error("closed", 1006)

    async def _close(self, code: int, reason: str) -> None:
        ws = self.ws
        if ws is None:
            return
        with trio.move_on_after(self.options.close_timeout):
            await ws.aclose(code, reason)


async def run_connection(
    stream: trio.abc.Stream,
    head: bytes,
    early: bytes,
    request: Request,
    handler_class: type[Handler],
    *,
    options: ConnectionOptions,
    handshake_timeout: float,
    counters: Counters,
    incomplete_budget: ByteBudget,
    log: Any,
    on_start: Callable[[Any, Callable[[], ConnectionStatistics]], None] = lambda pid, probe: None,
    on_end: Callable[[Any], None] = lambda pid: None,
) -> None:
    """Serve one accepted upgrade request with a fresh ``handler_class()``.

    Args:
        stream: The client stream (owned from now on; closed on return).
        head: The canonical opening handshake (see
            :func:`~actorsock.core.handshake.upgrade_head`).
        early: Bytes the client sent behind its head (its first frames).
        request: The parsed request, with path params and route.
        handler_class: The route's :class:`Handler` subclass.
        options: Server-wide connection defaults.
        handshake_timeout: Seconds to complete the upgrade once ``init`` returned.
        counters: Server counters to update.
        incomplete_budget: The server-wide bound on bytes of client messages
            still arriving (see :class:`~actorsock.core.budget.ByteBudget`).
        log: The server logger; the connection binds pid, route and remote.
        on_start: Called with the pid and a statistics probe as soon as the pid exists.
        on_end: Called with the pid after ``terminate`` has run.
    """
    handler = handler_class()
    handler.request = request
    remote = f"{request.remote[0]}:{request.remote[1]}" if request.remote else "?"
    conn = _Connection(
        stream,
        head,
        early,
        request,
        handler,
        options,
        handshake_timeout,
        counters,
        incomplete_budget,
        log,
    )
    pid = conn.pid
    conn.log = ContextLogger(log, pid=pid, route=request.route, remote=remote)
    on_start(pid, conn.statistics)
    token = set_current_pid(pid)
    started = trio.current_time()
    reason: Reason = Shutdown()
    try:
        async with trio.open_nursery() as nursery:
            try:
                reason = await conn.serve(nursery)
            finally:
                nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            if conn.ws is None:
                await close_quietly(conn.channel)
            else:
                conn.ws.release_incomplete()
                await conn.ws.abort()
        conn.cancel_deadline()
        await run_terminate(handler.terminate, reason, conn.log)
        exit_process(pid, reason)
        if conn.ws is not None:
            counters.closed(reason.name, conn.statistics())
            conn.log.info(
                "close",
                reason=reason.name,
                detail=repr(reason),
                duration=round(trio.current_time() - started, 3),
            )
        on_end(pid)
        reset_current_pid(token)
