"""Timers as a deadline heap: ``send_after`` and ``send_interval`` bookkeeping.

Theory of operation
-------------------
A timer is a message due at a deadline. All timers of a loop live in one
:class:`TimerHeap`; the runtime's timer driver sleeps until
:meth:`TimerHeap.next_deadline`, calls :meth:`TimerHeap.pop_due` with the
current time and sends each due message. Times are plain floats from the
caller's clock, so the driver can use trio's clock and tests can use
``trio.testing.MockClock``.

* One-shot timers fire once; interval timers are put back with their next
  deadline (``previous + interval``, so they do not drift). When the driver
  falls behind by more than an interval, the missed ticks are skipped rather
  than fired in a burst.
* Cancelling marks the timer; the heap drops it lazily and rebuilds itself
  when cancelled entries dominate, so cancelled timers cannot pile up.
* A timer whose destination has ended is dropped when it comes due (its
  interval ends with it).
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Destination", "TimerHeap", "TimerRef"]


class Destination(Protocol):
    """Where a timer's message goes (a pid, for the runtime)."""

    @property
    def alive(self) -> bool:
        """False once it has ended: its timers are dropped."""


# Generic over the destination, so that this module needs nothing of
# core.process, which uses it.
D = TypeVar("D", bound=Destination)


class TimerRef(Generic[D]):
    """Handle of a scheduled timer; pass it to ``cancel_timer``.

    Attributes:
        deadline: When the timer fires next (clock seconds).
        interval: Seconds between firings, or None for a one-shot timer.
        system: Delivered past the mailbox bound (runtime timers only).
    """

    __slots__ = ("active", "deadline", "dest", "interval", "message", "seq", "system")

    def __init__(
        self,
        seq: int,
        deadline: float,
        dest: D,
        message: Any,
        interval: float | None,
        system: bool = False,
    ) -> None:
        self.system = system
        self.seq = seq
        self.deadline = deadline
        self.dest = dest
        self.message = message
        self.interval = interval
        self.active = True

    def __repr__(self) -> str:
        kind = f"every {self.interval}s" if self.interval else "once"
        return f"<TimerRef {self.seq} to {self.dest!r} {kind} at {self.deadline:.3f}>"


class TimerHeap(Generic[D]):
    """Timers ordered by deadline."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerRef[D]]] = []
        self._seq = itertools.count()
        self._active = 0

    def schedule(
        self,
        now: float,
        delay: float,
        dest: D,
        message: Any,
        interval: float | None = None,
        system: bool = False,
    ) -> TimerRef[D]:
        """Add a timer.

        Args:
            now: The current clock time.
            delay: Seconds from ``now`` to the first firing (>= 0).
            dest: The pid that receives ``message``.
            message: What is sent.
            interval: For a repeating timer, seconds between firings (> 0).
            system: Deliver past the mailbox bound (the runtime's own timers).

        Raises:
            ValueError: For a negative delay or a non-positive interval.
        """
        if delay < 0:
            raise ValueError("timer delay must be >= 0")
        if interval is not None and interval <= 0:
            raise ValueError("timer interval must be > 0")
        ref = TimerRef(next(self._seq), now + delay, dest, message, interval, system)
        heapq.heappush(self._heap, (ref.deadline, ref.seq, ref))
        self._active += 1
        return ref

    def cancel(self, ref: TimerRef[D]) -> bool:
        """Cancel ``ref``. Returns True if it had not fired or been cancelled yet."""
        if not ref.active:
            return False
        ref.active = False
        self._active -= 1
        if len(self._heap) > 64 and self._active < len(self._heap) // 2:
            self._heap = [item for item in self._heap if item[2].active]
            heapq.heapify(self._heap)
        return True

    def next_deadline(self) -> float | None:
        """Return the earliest deadline of an active timer, or None."""
        heap = self._heap
        while heap and not heap[0][2].active:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> list[TimerRef[D]]:
        """Remove and return the timers due at ``now``, earliest first.

        Interval timers are rescheduled; timers whose destination has ended
        are dropped and not returned.
        """
        heap = self._heap
        due: list[TimerRef[D]] = []
        while heap and heap[0][0] <= now:
            _, _, ref = heapq.heappop(heap)
            if not ref.active:
                continue
            if not ref.dest.alive:
                ref.active = False
                self._active -= 1
                continue
            due.append(ref)
            if ref.interval is None:
                ref.active = False
                self._active -= 1
            else:
                ref.deadline += ref.interval
                if ref.deadline <= now:
                    ref.deadline = now + ref.interval
                ref.seq = next(self._seq)
                heapq.heappush(heap, (ref.deadline, ref.seq, ref))
        return due

    def __len__(self) -> int:
        return self._active
