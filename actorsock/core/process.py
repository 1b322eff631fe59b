"""Pids, message sending and monitors: the bookkeeping of processes.

Theory of operation
-------------------
A process (a connection or a worker actor) is one trio task owned by the
runtime. Its :class:`Pid` is the handle everybody else holds: it carries the
process's mailbox, a ``wake`` callback the runtime installs, and the lists of
who watches it. Nothing here does I/O or imports trio, so every rule below is
unit-tested without an event loop.

* :func:`send` appends to the mailbox and wakes the process. It never blocks
  and never raises for a dead pid (it returns False, as Erlang's ``!`` drops
  messages to dead processes silently). From a thread other than the one the
  pid's loop runs on, it hands the delivery to that loop.
* :func:`monitor` asks for a :class:`Down` message when a pid ends; a pid that
  has already ended produces one at once.
* :func:`exit_process` is called once by the runtime when a process ends: it
  marks the pid dead, drops its queued messages, runs exit hooks (registries
  forget the pid there) and sends ``Down`` to the watchers.

Lifecycle of a pid::

    alive --(exit_process: normal end, crash, stop, timeout, shutdown)--> dead
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import DeadPidError, NotInActorError
from .mailbox import Mailbox
from .reasons import Reason

if TYPE_CHECKING:
    from .deliveries import DeliveryQueue
    from .timers import TimerRef
    from .wire import PreparedFrame, WireFormat

__all__ = [
    "Down",
    "FrameSink",
    "Gate",
    "Loop",
    "MonitorRef",
    "Pid",
    "cancel_timer",
    "deliver_messages",
    "deliver_system",
    "demonitor",
    "exit_process",
    "fan_out_messages",
    "monitor",
    "self_pid",
    "send",
    "send_after",
    "send_interval",
]


class Loop(Protocol):
    """What a pid needs from the runtime it lives on."""

    @property
    def thread_id(self) -> int:
        """Identifier of the thread running the loop."""
        ...

    @property
    def deliveries(self) -> DeliveryQueue:
        """Deliveries waiting their turn behind a large fan-out."""
        ...

    def call_soon_threadsafe(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop; callable from any thread."""
        ...

    def fan_out_frames(self, pids: list[Pid], frames: list[PreparedFrame]) -> int:
        """Hand a broadcast's data frames to each of ``pids``, in order.

        The runtime's one fan-out (:func:`actorsock.runtime.fan_out.fan_out_frames`).
        """
        ...

    def schedule_timer(
        self,
        dest: Pid,
        delay: float,
        message: Any,
        interval: float | None,
        *,
        system: bool = False,
    ) -> TimerRef:
        """Send ``message`` to ``dest`` after ``delay`` (and every ``interval``).

        ``system=True`` delivers past the mailbox bound (runtime timers).
        """
        ...

    def cancel_timer(self, ref: TimerRef) -> bool:
        """Cancel a timer made by :meth:`schedule_timer`."""
        ...


_ids = itertools.count(1)
_current: ContextVar[Pid | None] = ContextVar("actorsock_current_pid", default=None)


class Gate(Protocol):
    """Whether frames may go past a process's mailbox right now."""

    @property
    def waiting(self) -> bool:
        """True while the process is parked with nothing pending for it."""
        ...


class FrameSink(Protocol):
    """A connection's socket, where broadcast data frames go past its handler.

    The runtime installs one as :attr:`Pid.frame_sink`. Frames may be offered
    only while ``gate.waiting`` is true: the connection's task is parked, so
    nothing sent to it earlier is still pending and writing now keeps the
    order. Otherwise they go through the mailbox.
    """

    @property
    def gate(self) -> Gate:
        """Open while the connection's task is parked on an empty mailbox."""
        ...

    def offer_frames(self, frames: Sequence[PreparedFrame]) -> int:
        """Queue frames in order (encoded for the sink's wire format), write
        what the socket takes; return how many were taken."""
        ...

    def take_written(self, frames: Sequence[PreparedFrame], written: int) -> int:
        """Take frames whose first ``written`` WebSocket bytes the lane wrote
        (see :attr:`Pid.direct_fd`); return how many were taken."""
        ...


def _no_wake() -> None:
    """Placeholder wake callback used before the runtime installs its own."""


class Pid:
    """An opaque, hashable, printable handle to a process.

    Pids are made by the runtime; hold them, compare them, send to them.
    ``str(pid)`` looks like ``<0.42>``.

    Two attributes serve broadcasts to connections (the runtime sets them):
    :attr:`frame_sink`, the connection's socket stream (None for other
    processes), :attr:`direct_wire`, the wire format of what may be written
    to that socket (WebSocket frames, SSE events), and :attr:`direct_fd`,
    the socket's descriptor while a data
    frame may be written to it at once with nothing else checked (the
    connection is parked on an empty mailbox and nothing waits in its send
    queue), else -1. Anything that could make a direct write overtake what
    was sent before (a wake-up, a queued byte, a close) sets it back to -1
    before it happens. It lives on the pid because a broadcast reads it for
    every recipient and the pid is the one object it touches anyway.
    """

    __slots__ = (
        "__weakref__",
        "_alive",
        "_exit_hooks",
        "_id",
        "_loop",
        "_monitors",
        "_wake",
        "_watching",
        "codec",
        "direct_fd",
        "direct_wire",
        "exit_reason",
        "frame_sink",
        "mailbox",
        "stop_request",
    )

    _id: int
    _loop: Loop
    _alive: bool
    _wake: Callable[[], None]
    # Made on first use: most processes are never monitored, and an empty
    # container per pid is an object more for the garbage collector to walk.
    _exit_hooks: list[Callable[[Pid], None]] | None
    _monitors: dict[MonitorRef, Pid] | None
    _watching: dict[MonitorRef, None] | None  # an ordered set
    mailbox: Mailbox
    exit_reason: Reason | None
    stop_request: Reason | None
    frame_sink: FrameSink | None
    direct_fd: int
    direct_wire: WireFormat | None
    codec: Any

    def __init__(self) -> None:
        raise TypeError("pids are created by the actorsock runtime")

    @classmethod
    def _spawn(cls, loop: Loop, mailbox: Mailbox) -> Pid:
        """Create a live pid on ``loop`` (runtime use only)."""
        pid = object.__new__(cls)
        pid._id = next(_ids)
        pid._loop = loop
        pid._alive = True
        pid._wake = _no_wake
        pid._exit_hooks = None
        pid._monitors = None
        pid._watching = None
        pid.mailbox = mailbox
        pid.exit_reason = None
        pid.stop_request = None
        pid.frame_sink = None
        pid.direct_fd = -1
        pid.direct_wire = None
        pid.codec = None
        return pid

    @property
    def alive(self) -> bool:
        """True until the process has ended."""
        return self._alive

    @property
    def loop(self) -> Loop:
        """The runtime loop this process runs on (its timers, deliveries, fan-out)."""
        return self._loop

    def add_exit_hook(self, hook: Callable[[Pid], None]) -> None:
        """Call ``hook(pid)`` when the process ends (registries use this)."""
        if self._exit_hooks is None:
            self._exit_hooks = [hook]
        else:
            self._exit_hooks.append(hook)

    def remove_exit_hook(self, hook: Callable[[Pid], None]) -> None:
        """Forget a hook added with :meth:`add_exit_hook`; unknown hooks are ignored."""
        if self._exit_hooks is not None:
            with contextlib.suppress(ValueError):
                self._exit_hooks.remove(hook)

    def request_stop(self, reason: Reason) -> None:
        """Ask the process to end with ``reason`` at its next step (runtime use)."""
        if self._alive and self.stop_request is None:
            self.stop_request = reason
            self._wake()

    def __repr__(self) -> str:
        return f"<0.{self._id}>"

    def __hash__(self) -> int:
        return self._id

    def __eq__(self, other: object) -> bool:
        return self is other

    def __lt__(self, other: Pid) -> bool:
        return self._id < other._id


@dataclass(frozen=True, slots=True)
class Down:
    """Message sent to a watcher when a monitored process ends.

    Attributes:
        ref: The reference :func:`monitor` returned.
        pid: The process that ended.
        reason: Its exit reason.
    """

    ref: MonitorRef
    pid: Pid
    reason: Reason


class MonitorRef:
    """Reference to one monitor; pass it to :func:`demonitor`."""

    __slots__ = ("target", "watcher")

    def __init__(self, watcher: Pid, target: Pid) -> None:
        self.watcher = watcher
        self.target = target

    def __repr__(self) -> str:
        return f"<MonitorRef {self.watcher!r} watches {self.target!r}>"


def self_pid() -> Pid:
    """Return the pid of the process running the current code.

    Raises:
        NotInActorError: When called outside of an actor or connection.
    """
    pid = _current.get()
    if pid is None:
        raise NotInActorError("self_pid() was called outside of an actor or connection")
    return pid


def current_pid_or_none() -> Pid | None:
    """Return the current process's pid, or None outside of one."""
    return _current.get()


def set_current_pid(pid: Pid | None) -> Any:
    """Make ``pid`` the current process for this context (runtime use).

    Returns:
        A token to pass to ``reset_current_pid``.
    """
    return _current.set(pid)


def reset_current_pid(token: Any) -> None:
    """Undo :func:`set_current_pid`."""
    _current.reset(token)


def send(pid: Pid, message: Any) -> bool:
    """Put ``message`` into ``pid``'s mailbox without blocking.

    Safe to call from any trio task and from any thread.

    Args:
        pid: The destination.
        message: Any Python object; it reaches ``websocket_info`` or
            ``handle_info`` unchanged (it is not copied).

    Returns:
        True if the message was queued (from another thread, or while the
        loop is still delivering a large broadcast: handed on while the pid
        was alive). False if the pid has ended or its full mailbox refused
        the message (policies ``drop_newest`` and ``disconnect``).
    """
    if not pid._alive:
        return False
    loop = pid._loop
    if threading.get_ident() != loop.thread_id:
        loop.call_soon_threadsafe(send, pid, message)
        return True
    deliveries = loop.deliveries
    if deliveries.deferring:
        # A fan-out is still being delivered; this message goes behind it,
        # so that the receiver sees what was sent in the order it was sent.
        deliveries.add([pid], message, fan_out_messages)
        return True
    return deliver(pid, message)


def deliver(pid: Pid, message: Any) -> bool:
    """Queue ``message`` for ``pid`` on the pid's own thread (see :func:`send`)."""
    if not pid._alive:
        return False
    mailbox = pid.mailbox
    if mailbox.push(message):
        pid._wake()
        return True
    if mailbox.overflowed:
        pid._wake()
    return False


def deliver_messages(pid: Pid, messages: list[Any]) -> int:
    """Queue ``messages`` for ``pid`` in order and wake it once (see :func:`deliver`).

    Returns:
        How many the mailbox took.
    """
    if not pid._alive:
        return 0
    mailbox = pid.mailbox
    taken = 0
    for message in messages:
        if mailbox.push(message):
            taken += 1
    if taken or mailbox.overflowed:
        pid._wake()
    return taken


def fan_out_messages(pids: list[Pid], messages: list[Any]) -> int:
    """Queue ``messages`` for each of ``pids`` (a :data:`~actorsock.core.deliveries.Deliver`).

    Returns:
        How many messages the mailboxes took, summed over ``pids``.
    """
    taken = 0
    for pid in pids:
        taken += deliver_messages(pid, messages)
    return taken


def monitor(target: Pid, watcher: Pid | None = None) -> MonitorRef:
    """Ask for a :class:`Down` message when ``target`` ends.

    Args:
        target: The process to watch.
        watcher: Who receives ``Down``; defaults to the current process.

    Returns:
        A reference for :func:`demonitor`. If ``target`` has already ended,
        ``Down`` is queued immediately.

    Raises:
        NotInActorError: When no watcher is given outside of a process.
    """
    watcher = watcher if watcher is not None else self_pid()
    ref = MonitorRef(watcher, target)
    if target._alive:
        if target._monitors is None:
            target._monitors = {}
        target._monitors[ref] = watcher
        if watcher._watching is None:
            watcher._watching = {}
        watcher._watching[ref] = None
    else:
        assert target.exit_reason is not None
        deliver_system(watcher, Down(ref, target, target.exit_reason))
    return ref


def demonitor(ref: MonitorRef) -> bool:
    """Cancel a monitor. Returns True if it was still active."""
    watching, monitors = ref.watcher._watching, ref.target._monitors
    if watching is not None:
        watching.pop(ref, None)
    return monitors is not None and monitors.pop(ref, None) is not None


def exit_process(pid: Pid, reason: Reason) -> None:
    """Mark ``pid`` as ended with ``reason`` and notify everyone concerned.

    Runs once per pid (later calls do nothing). Exit hooks run first, so a
    watcher that looks a key up in a registry after ``Down`` no longer finds
    the dead pid there.
    """
    if not pid._alive:
        return
    pid._alive = False
    pid.exit_reason = reason
    pid.mailbox.clear()
    pid._wake = _no_wake
    pid.frame_sink = None
    pid.direct_fd = -1
    hooks, pid._exit_hooks = pid._exit_hooks, None
    for hook in hooks or ():
        hook(pid)
    watching, pid._watching = pid._watching, None
    for ref in watching or ():
        if ref.target._monitors is not None:
            ref.target._monitors.pop(ref, None)
    watchers, pid._monitors = pid._monitors, None
    for ref, watcher in (watchers or {}).items():
        if watcher._watching is not None:
            watcher._watching.pop(ref, None)
        deliver_system(watcher, Down(ref, pid, reason))


def deliver_system(pid: Pid, message: Any) -> None:
    """Queue a runtime message for ``pid`` past its mailbox bound (``Down``, deadlines)."""
    if pid._alive:
        pid.mailbox.push_system(message)
        pid._wake()


def ensure_alive(pid: Pid) -> Pid:
    """Return ``pid`` if it is alive.

    Raises:
        DeadPidError: If it has ended.
    """
    if not pid._alive:
        raise DeadPidError(f"{pid!r} has ended")
    return pid


def send_after(dest: Pid, delay: float, message: Any) -> TimerRef:
    """Send ``message`` to ``dest`` once, ``delay`` seconds from now.

    Call it from the pid's loop (any task there); from other threads use
    :func:`send`.

    Returns:
        A reference for :func:`cancel_timer`.
    """
    return dest._loop.schedule_timer(dest, delay, message, None)


def send_interval(dest: Pid, interval: float, message: Any) -> TimerRef:
    """Send ``message`` to ``dest`` every ``interval`` seconds until cancelled or ``dest`` ends.

    The first message arrives one interval from now; late ticks are skipped,
    not bunched.
    """
    return dest._loop.schedule_timer(dest, interval, message, interval)


def cancel_timer(ref: TimerRef) -> bool:
    """Cancel a timer. Returns True if it was still pending."""
    return ref.dest._loop.cancel_timer(ref)
