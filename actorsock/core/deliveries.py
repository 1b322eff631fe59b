"""Deliveries made in order, a slice at a time: how a large fan-out shares the loop.

A broadcast to 10,000 sockets costs about 100 ms of CPU. Made in one go, it
holds the event loop that long and every other client waits behind it (an
echo that should take a millisecond takes a hundred). A node's
:class:`DeliveryQueue` lets a publisher make the first slice of its
deliveries at once and keeps the rest; the runtime makes them a slice at a
time and lets other tasks run between slices.

Slice size
    16 writes, about 0.2 ms on a 2-core machine, the order of a BEAM
    process's time slice. While a fan-out runs, the CPU is shared between it
    and the rest of the loop about in the ratio of a slice to one pass over
    the other ready tasks: 64 doubled the round trip of 100 echo clients
    during a broadcast, 16 adds about a third. Each slice costs one
    scheduler pass (about 4 µs), under 3% of a large fan-out.

Order
    While deliveries wait here, every later delivery that must keep its
    order behind them (other broadcasts, :func:`~actorsock.core.process.send`)
    is queued behind them too. Each process therefore gets its messages in
    the order they were sent, exactly as if every delivery had been made at
    once.

Bound
    Past ``high_water`` waiting deliveries, a publisher makes the excess
    itself before it returns: a node that publishes faster than it can
    deliver slows its publishers down rather than growing this queue.

No I/O here: :class:`actorsock.runtime.node.Node` calls :meth:`DeliveryQueue.run`
from a task and yields between calls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any

__all__ = ["DeliveryQueue"]


class _Job:
    __slots__ = ("deliver", "next", "targets")

    def __init__(self, targets: Sequence[Any], deliver: Callable[[Any], object]) -> None:
        self.targets = targets
        self.deliver = deliver
        self.next = 0


class DeliveryQueue:
    """Deliveries accepted but not yet made, in the order they were accepted.

    Args:
        slice_size: Deliveries made in one step (by a publisher when nothing
            waits, and by each :meth:`run` of the runtime).
        high_water: Most deliveries left waiting when a publisher returns.
        on_pending: Called when the queue stops being empty (the runtime
            wakes its delivery task there).

    Attributes:
        pending: Deliveries waiting.
        deferred: Deliveries that have waited here since the start (a counter).

    Raises:
        ValueError: For a ``slice_size`` below 1 or a ``high_water`` below ``slice_size``.
    """

    __slots__ = ("_busy", "_jobs", "deferred", "high_water", "on_pending", "pending", "slice_size")

    def __init__(
        self,
        slice_size: int = 16,
        high_water: int = 1 << 16,
        on_pending: Callable[[], None] = lambda: None,
    ) -> None:
        if slice_size < 1:
            raise ValueError(f"slice_size must be at least 1, got {slice_size}")
        if high_water < slice_size:
            raise ValueError(
                f"high_water ({high_water}) must be at least slice_size ({slice_size})"
            )
        self.slice_size = slice_size
        self.high_water = high_water
        self.on_pending = on_pending
        self.pending = 0
        self.deferred = 0
        self._jobs: deque[_Job] = deque()
        # Above zero while deliveries are being made: whatever they send in
        # turn is queued, never made ahead of the rest.
        self._busy = 0

    def dispatch(self, targets: Iterable[Any], deliver: Callable[[Any], object]) -> int:
        """Deliver to ``targets`` in order: a first slice now if nothing waits, the rest later.

        Args:
            targets: Read in full before the first delivery (an iterator
                over a live collection is safe).
            deliver: Called once per target; a truthy result counts as delivered.

        Returns:
            Deliveries made now that succeeded, plus those left waiting.
        """
        remaining = iter(targets)
        if self.deferring:
            later = list(remaining)
            self.add(later, deliver)
            return len(later)
        now = list(islice(remaining, self.slice_size))
        later = list(remaining)
        # Queue the rest before delivering the first slice, so that anything a
        # delivery sends goes behind the whole fan-out.
        self._append(later, deliver)
        made = 0
        self._busy += 1
        try:
            for target in now:
                if deliver(target):
                    made += 1
        finally:
            self._busy -= 1
        self._relieve()
        return made + len(later)

    @property
    def deferring(self) -> bool:
        """True while a new delivery must queue behind others to keep its order."""
        return bool(self.pending or self._busy)

    def add(self, targets: Sequence[Any], deliver: Callable[[Any], object]) -> None:
        """Queue ``deliver(target)`` for every target, behind what already waits."""
        self._append(targets, deliver)
        self._relieve()

    def _append(self, targets: Sequence[Any], deliver: Callable[[Any], object]) -> None:
        if not targets:
            return
        was_idle = not self.pending
        self._jobs.append(_Job(targets, deliver))
        self.pending += len(targets)
        self.deferred += len(targets)
        if was_idle:
            self.on_pending()

    def _relieve(self) -> None:
        """Past the high-water mark, make the excess now (the publisher pays)."""
        if self.pending > self.high_water and not self._busy:
            self.run(self.pending - self.high_water)

    def run(self, limit: int | None = None) -> int:
        """Make up to ``limit`` (default: one slice) waiting deliveries, oldest first.

        Returns:
            How many were made.
        """
        limit = self.slice_size if limit is None else limit
        jobs = self._jobs
        made = 0
        self._busy += 1
        try:
            while jobs and made < limit:
                job = jobs[0]
                start = job.next
                stop = min(len(job.targets), start + limit - made)
                job.next = stop
                if stop == len(job.targets):
                    jobs.popleft()
                self.pending -= stop - start
                made += stop - start
                deliver, targets = job.deliver, job.targets
                for index in range(start, stop):
                    deliver(targets[index])
        finally:
            self._busy -= 1
        return made

    def __len__(self) -> int:
        return self.pending

    def __repr__(self) -> str:
        return f"<DeliveryQueue pending={self.pending} slice={self.slice_size}>"
