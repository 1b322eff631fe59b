"""The loop: the runtime services of one trio run (timers, deliveries, fan-out).

A :class:`Loop` is what a :class:`~actorsock.core.process.Pid` points to. It
knows the thread of its trio loop (so ``send`` from other threads can hop
onto it), owns the :class:`~actorsock.core.timers.TimerHeap` of every
``send_after``/``send_interval`` and runs the single task that fires them.
Timers use ``trio.current_time()``, so they follow ``trio.testing.MockClock``.

It also owns the :class:`~actorsock.core.deliveries.DeliveryQueue` of the
loop and runs the task that makes large fan-outs a slice at a time, with a
checkpoint between slices so other tasks (and the I/O poll) get their turn
(a few slices per checkpoint while no other task wants to run; see
:class:`~actorsock.core.deliveries.Pacer`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import trio

from ..core.deliveries import DeliveryQueue
from ..core.mailbox import Mailbox
from ..core.process import Pid, deliver, deliver_system
from ..core.timers import TimerHeap, TimerRef
from .fan_out import fan_out_frames
from .waker import Waker

__all__ = ["Loop", "current_loop"]


class Loop:
    """Runtime services of one trio loop; get it with :func:`current_loop`."""

    def __init__(self) -> None:
        self._thread_id = threading.get_ident()
        self._token = trio.lowlevel.current_trio_token()
        self.timers: TimerHeap[Pid] = TimerHeap()
        self._timer_waker = Waker()
        self._delivery_waker = Waker()
        self._deliveries = DeliveryQueue(on_pending=self._delivery_waker.wake)
        self.processes = 0

    fan_out_frames = staticmethod(fan_out_frames)
    """How broadcasts hand frames to pids (:func:`actorsock.runtime.fan_out.fan_out_frames`)."""

    @property
    def thread_id(self) -> int:
        """The thread the loop runs on."""
        return self._thread_id

    @property
    def deliveries(self) -> DeliveryQueue:
        """Deliveries waiting behind a large fan-out (made by :meth:`run_deliveries`)."""
        return self._deliveries

    def call_soon_threadsafe(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop; from any thread. Dropped once the loop has ended."""
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(fn, *args)

    def spawn(self, mailbox: Mailbox, wake: Callable[[], None]) -> Pid:
        """Create a pid whose messages wake the process through ``wake``."""
        pid = Pid._spawn(self, mailbox)
        pid._wake = wake
        return pid

    def schedule_timer(
        self,
        dest: Pid,
        delay: float,
        message: Any,
        interval: float | None,
        *,
        system: bool = False,
    ) -> TimerRef:
        """Send ``message`` to ``dest`` after ``delay`` seconds, then every ``interval``.

        Raises:
            RuntimeError: When called from another thread (use ``send`` there).
            ValueError: For a negative delay or a non-positive interval.
        """
        if threading.get_ident() != self._thread_id:
            raise RuntimeError("timers are set from the loop's thread; from threads use send()")
        earliest = self.timers.next_deadline()
        ref = self.timers.schedule(trio.current_time(), delay, dest, message, interval, system)
        if earliest is None or ref.deadline < earliest:
            self._timer_waker.wake()
        return ref

    def cancel_timer(self, ref: TimerRef) -> bool:
        """Cancel a timer; True if it was still pending."""
        return self.timers.cancel(ref)

    async def run_timers(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Fire due timers forever (runs as the first child of an app's tree)."""
        task_status.started()
        timers = self.timers
        while True:
            deadline = timers.next_deadline()
            if deadline is None:
                await self._timer_waker.wait()
            else:
                with trio.move_on_at(deadline):
                    await self._timer_waker.wait()
            for ref in timers.pop_due(trio.current_time()):
                if ref.system:
                    deliver_system(ref.dest, ref.message)
                else:
                    deliver(ref.dest, ref.message)

    async def run_deliveries(self) -> None:
        """Make waiting deliveries a few slices at a time, forever (a system task)."""
        deliveries = self._deliveries
        pacer = deliveries.pacer
        while True:
            await self._delivery_waker.wait()
            pacer.reset()
            while deliveries.pending:
                deliveries.run(deliveries.slice_size * pacer.slices)
                started = time.perf_counter()
                await trio.lowlevel.checkpoint()
                pacer.yielded(time.perf_counter() - started)


_LOOP: trio.lowlevel.RunVar[Loop] = trio.lowlevel.RunVar("actorsock_loop")


def current_loop() -> Loop:
    """Return the loop of the current trio run, creating it on first use.

    There is one loop per ``trio.run``: every app and actor in the run shares
    its timers and its delivery queue. Their drivers run as trio system
    tasks, so they live as long as the run.

    Raises:
        RuntimeError: Outside of ``trio.run``.
    """
    try:
        return _LOOP.get()
    except LookupError:
        loop = Loop()
        _LOOP.set(loop)
        trio.lowlevel.spawn_system_task(loop.run_timers, name="actorsock-timers")
        trio.lowlevel.spawn_system_task(loop.run_deliveries, name="actorsock-deliveries")
        return loop
