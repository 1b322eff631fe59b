"""A one-slot wake-up signal for one waiting task.

Cheaper than a ``trio.Event`` per wait: the process loop parks on it, and
``wake()`` (synchronous, idempotent, callable from any task on the loop)
either reschedules the parked task or leaves a pending flag so the next
``wait()`` returns at once.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from ..core.process import Pid

__all__ = ["LaneWaker", "Waker"]


class Waker:
    """Parks one task until :meth:`wake` is called."""

    __slots__ = ("_pending", "_task", "waiting")

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None
        self._pending = False
        #: True while a task is parked in :meth:`wait` and no wake-up has
        #: come (a plain attribute: broadcasts read it once per recipient).
        self.waiting = False

    def wait(self) -> Awaitable[None]:
        """Await it to return after the next :meth:`wake` (at once if one is pending).

        A checkpoint: it may raise ``trio.Cancelled``. (Not a coroutine of
        its own: it hands back trio's, one frame less for every parked task.)

        Raises:
            RuntimeError: If another task is already waiting.
        """
        if self._pending:
            self._pending = False
            return trio.lowlevel.checkpoint()  # noqa: ASYNC105 (the caller awaits it)
        if self._task is not None:
            raise RuntimeError("another task is already waiting on this Waker")
        self._task = trio.lowlevel.current_task()
        self.waiting = True
        return trio.lowlevel.wait_task_rescheduled(self._abort)  # noqa: ASYNC105 (likewise)

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._task = None
        self.waiting = False
        return trio.lowlevel.Abort.SUCCEEDED

    def wake(self) -> None:
        """Wake the waiting task, or make the next wait return immediately."""
        task = self._task
        if task is not None:
            self._task = None
            self.waiting = False
            trio.lowlevel.reschedule(task)
        else:
            self._pending = True


class LaneWaker(Waker):
    """A connection's waker: waking it first closes its pid's direct lane.

    While the connection is parked, broadcasts write to its socket through
    :attr:`~actorsock.core.process.Pid.direct_fd`. Everything that wakes the
    connection (a message, a client frame, trouble on the socket) may leave
    something pending that a later direct write would overtake, so the lane
    closes in the same step as the wake-up; the connection opens it again
    when it next parks.

    Attributes:
        lane: The pid whose lane this waker closes (None: none yet).
    """

    __slots__ = ("lane",)

    def __init__(self) -> None:
        super().__init__()
        self.lane: Pid | None = None

    # Waker's methods called directly, not through super(): wake() runs for
    # every message and client frame a connection gets.

    def wake(self) -> None:
        if self.lane is not None:
            self.lane.direct_fd = -1
        Waker.wake(self)

    def _abort(self, raise_cancel: object) -> trio.lowlevel.Abort:
        if self.lane is not None:
            self.lane.direct_fd = -1
        return Waker._abort(self, raise_cancel)
