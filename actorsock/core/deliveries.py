"""Deliveries made in order, a slice at a time: how a large fan-out shares the loop.

A broadcast to ten thousand sockets takes tens of milliseconds of CPU,
system calls included (bench/README.md has the figures). Made in one go, it
holds the event loop that long and every other client waits behind it (an
echo that should take a millisecond would take as long). A loop's
:class:`DeliveryQueue` lets a publisher make the first slice of its
deliveries at once and keeps the rest; the runtime makes them a slice at a
time and lets other tasks run between slices.

Deliveries are made a run of targets at a time through a
``deliver(targets, items)`` function: it hands one or more *items*
(messages, frames) to each target in order and returns how many
deliveries were made (items taken, summed over the targets). One call per
run of targets, not per target, lets it hoist what every target shares and
saves a Python call per recipient on the hottest loop of a broadcast.

Slice size
    16 targets, the order of a BEAM process's time slice. While a fan-out
    runs, the CPU is shared between it and the rest of the loop about in the
    ratio of a slice to one pass over the other ready tasks, so a larger
    slice lengthens other clients' round trips during a broadcast and a
    smaller one spends more of the broadcast in scheduler passes (one per
    slice). The measurements behind 16 are in bench/README.md, "Design
    figures".

Order
    While deliveries wait here, every later delivery that must keep its
    order behind them (other broadcasts, :func:`~actorsock.core.process.send`)
    is queued behind them too. Each process therefore gets its messages in
    the order they were sent, exactly as if every delivery had been made at
    once.

Batches
    A publication that queues behind a waiting one with the same targets and
    the same ``deliver`` joins it, up to ``batch_limit`` items: each target
    then gets both in one call (for a socket, one ``writev`` instead of one
    ``write`` each). Only the last waiting publication is joined, and only
    before its first delivery, so every target still gets everything in the
    order it was sent. A publisher that outpaces the fan-out therefore costs
    fewer system calls per message the further it is ahead.

Bound
    Past ``high_water`` waiting deliveries (items times targets), a
    publisher makes them itself, a slice at a time, until no more than that
    wait: a loop that publishes faster than it can deliver slows its
    publishers down rather than growing this queue.

Pace
    A yield costs a scheduler pass: with nothing else to run, slices of 16
    spend a measurable share of a broadcast in passes that let no other task
    in (bench/README.md, "Design figures"). The queue's :class:`Pacer`
    therefore lets the runtime make up to four slices between yields while
    the yields come back at once (faster than any other task's step would
    let them), and one slice again as soon as a yield shows that another
    task ran. The pace follows the wall
    clock, not trio's; it changes when deliveries are made, never their
    order.

No I/O here: :class:`actorsock.runtime.loop.Loop` calls :meth:`DeliveryQueue.run`
from a task and yields between calls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

__all__ = ["Deliver", "DeliveryQueue", "Pacer"]

Deliver = Callable[[list[Any], list[Any]], int]
"""``deliver(targets, items)``: hand ``items`` in order to each of ``targets``.

Returns how many deliveries were made (items taken, summed over targets).
"""


class _Job:
    __slots__ = ("deliver", "items", "next", "targets")

    def __init__(self, targets: list[Any], items: list[Any], deliver: Deliver) -> None:
        self.targets = targets
        self.items = items
        self.deliver = deliver
        self.next = 0


class DeliveryQueue:
    """Deliveries accepted but not yet made, in the order they were accepted.

    Args:
        slice_size: Targets served in one step (by a publisher when nothing
            waits, and by each :meth:`run` of the runtime).
        high_water: Most deliveries (items times targets) left waiting when a
            publisher returns.
        batch_limit: Most items one waiting publication gathers from those
            queued behind it (1: none).
        on_pending: Called when the queue stops being empty (the runtime
            wakes its delivery task there).

    Attributes:
        pacer: How many slices the runtime makes between two yields.
        pending: Deliveries waiting (items times targets).
        deferred: Deliveries that have waited here since the start (a counter).
        batched: Items that joined a waiting publication (a counter).

    Raises:
        ValueError: For a ``slice_size`` or ``batch_limit`` below 1, or a
            ``high_water`` below ``slice_size``.
    """

    __slots__ = (
        "_busy",
        "_jobs",
        "batch_limit",
        "batched",
        "deferred",
        "high_water",
        "on_pending",
        "pacer",
        "pending",
        "slice_size",
    )

    def __init__(
        self,
        slice_size: int = 16,
        high_water: int = 1 << 16,
        batch_limit: int = 64,
        on_pending: Callable[[], None] = lambda: None,
    ) -> None:
        if slice_size < 1:
            raise ValueError(f"slice_size must be at least 1, got {slice_size}")
        if batch_limit < 1:
            raise ValueError(f"batch_limit must be at least 1, got {batch_limit}")
        if high_water < slice_size:
            raise ValueError(
                f"high_water ({high_water}) must be at least slice_size ({slice_size})"
            )
        self.slice_size = slice_size
        self.high_water = high_water
        self.batch_limit = batch_limit
        self.on_pending = on_pending
        self.pending = 0
        self.deferred = 0
        self.batched = 0
        self.pacer = Pacer()
        self._jobs: deque[_Job] = deque()
        # Above zero while deliveries are being made: whatever they send in
        # turn is queued, never made ahead of the rest.
        self._busy = 0

    def dispatch(self, targets: Iterable[Any], item: Any, deliver: Deliver) -> int:
        """Deliver ``item`` to ``targets``: a first slice now if nothing waits, the rest later.

        Args:
            targets: Read in full before the first delivery (an iterator
                over a live collection is safe).
            item: What each target gets.
            deliver: Called as ``deliver([target, ...], [item, ...])``.

        Returns:
            Targets that took the item now, plus those left waiting.
        """
        remaining = iter(targets)
        if self.deferring:
            later = list(remaining)
            self.add(later, item, deliver)
            return len(later)
        now = list(islice(remaining, self.slice_size))
        later = list(remaining)
        # Queue the rest before delivering the first slice, so that anything a
        # delivery sends goes behind the whole fan-out.
        self._append(later, item, deliver)
        made = 0
        self._busy += 1
        try:
            if now:
                made = deliver(now, [item])
        finally:
            self._busy -= 1
        self._relieve()
        return made + len(later)

    @property
    def deferring(self) -> bool:
        """True while a new delivery must queue behind others to keep its order."""
        return bool(self.pending or self._busy)

    def add(self, targets: list[Any], item: Any, deliver: Deliver) -> None:
        """Queue ``item`` for every target, behind what already waits."""
        self._append(targets, item, deliver)
        self._relieve()

    def _append(self, targets: list[Any], item: Any, deliver: Deliver) -> None:
        if not targets:
            return
        was_idle = not self.pending
        jobs = self._jobs
        last = jobs[-1] if jobs else None
        if (
            last is not None
            and last.next == 0
            and len(last.items) < self.batch_limit
            and last.deliver == deliver
            and last.targets == targets
        ):
            last.items.append(item)
            self.batched += 1
        else:
            jobs.append(_Job(targets, [item], deliver))
        self.pending += len(targets)
        self.deferred += len(targets)
        if was_idle:
            self.on_pending()

    def _relieve(self) -> None:
        """Past the high-water mark, deliver until below it (the publisher pays)."""
        if self._busy:
            return
        while self.pending > self.high_water:
            self.run()

    def run(self, limit: int | None = None) -> int:
        """Serve up to ``limit`` (default: one slice) waiting targets, oldest first.

        Returns:
            How many deliveries were made (items times targets).
        """
        limit = self.slice_size if limit is None else limit
        jobs = self._jobs
        served = made = 0
        self._busy += 1
        try:
            while jobs and served < limit:
                job = jobs[0]
                start = job.next
                stop = min(len(job.targets), start + limit - served)
                job.next = stop
                if stop == len(job.targets):
                    jobs.popleft()
                served += stop - start
                count = (stop - start) * len(job.items)
                self.pending -= count
                made += count
                job.deliver(job.targets[start:stop], job.items)
        finally:
            self._busy -= 1
        return made

    def __len__(self) -> int:
        return self.pending

    def __repr__(self) -> str:
        return f"<DeliveryQueue pending={self.pending} slice={self.slice_size}>"


class Pacer:
    """How many slices to make before the next yield.

    Args:
        quiet: A yield that took at most this long (seconds) found no other
            task to run.
        most: Most slices between two yields.

    Attributes:
        slices: Slices to make before the next yield; doubles after each
            quiet yield up to ``most``, back to 1 after any other.
    """

    __slots__ = ("most", "quiet", "slices")

    def __init__(self, quiet: float = 20e-6, most: int = 4) -> None:
        if most < 1:
            raise ValueError(f"most must be at least 1, got {most}")
        self.quiet = quiet
        self.most = most
        self.slices = 1

    def yielded(self, seconds: float) -> None:
        """Note how long the last yield took."""
        self.slices = min(self.slices * 2, self.most) if seconds <= self.quiet else 1

    def reset(self) -> None:
        """Start again at one slice (a new fan-out after a pause)."""
        self.slices = 1
