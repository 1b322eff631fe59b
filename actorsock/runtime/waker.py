"""A one-slot wake-up signal for one waiting task.

Cheaper than a ``trio.Event`` per wait: the process loop parks on it, and
``wake()`` (synchronous, idempotent, callable from any task on the loop)
either reschedules the parked task or leaves a pending flag so the next
``wait()`` returns at once.
"""

from __future__ import annotations

import trio

__all__ = ["Waker"]


class Waker:
    """Parks one task until :meth:`wake` is called."""

    __slots__ = ("_pending", "_task", "waiting")

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None
        self._pending = False
        #: True while a task is parked in :meth:`wait` and no wake-up has
        #: come (a plain attribute: broadcasts read it once per recipient).
        self.waiting = False

    async def wait(self) -> None:
        """Return after the next :meth:`wake` (at once if one is pending).

        A checkpoint: it may raise ``trio.Cancelled``.
        """
        if self._pending:
            self._pending = False
            await trio.lowlevel.checkpoint()
            return
        if self._task is not None:
            raise RuntimeError("another task is already waiting on this Waker")
        self._task = trio.lowlevel.current_task()
        self.waiting = True
        await trio.lowlevel.wait_task_rescheduled(self._abort)

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
