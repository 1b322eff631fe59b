"""Supervision decisions, free of I/O: what to restart and when to give up.

Theory of operation
-------------------
A supervisor owns an ordered list of children. When a child ends it asks
three questions, each answered here:

1. Should this child come back? :func:`should_restart`, from its restart
   type and exit reason::

       restart     \\ reason   normal/stop/shutdown   crash/error
       permanent                restart                restart
       transient                remove                 restart
       temporary                remove                 remove

2. Is the supervisor restarting too often? :class:`RestartIntensity` keeps
   the restart times of the last ``period`` seconds; more than
   ``max_restarts`` of them means the supervisor stops all its children and
   fails to its parent (Elixir's default: 3 restarts in 5 seconds).

3. Which other children go down with it? :func:`affected_children`, from the
   strategy: ``one_for_one`` only the child, ``one_for_all`` every child,
   ``rest_for_one`` the child and those started after it. Affected children
   are stopped in reverse start order and started again in start order.

A child that is stopped on purpose by its supervisor (shutdown, or as part of
``one_for_all``) is not subject to these rules.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from enum import StrEnum
from typing import TypeVar

from .reasons import Reason

__all__ = [
    "DEFAULT_MAX_RESTARTS",
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_SHUTDOWN",
    "Restart",
    "RestartIntensity",
    "Strategy",
    "affected_children",
    "should_restart",
]

DEFAULT_MAX_RESTARTS = 3
DEFAULT_MAX_SECONDS = 5.0
DEFAULT_SHUTDOWN = 5.0

T = TypeVar("T")


class Strategy(StrEnum):
    """How the failure of one child affects its siblings."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class Restart(StrEnum):
    """When an ended child is started again."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


def should_restart(restart: Restart | str, reason: Reason) -> bool:
    """Decide whether a child that ended with ``reason`` comes back."""
    restart = Restart(restart)
    if restart is Restart.PERMANENT:
        return True
    if restart is Restart.TRANSIENT:
        return reason.abnormal
    return False


def affected_children(strategy: Strategy | str, children: Sequence[T], failed: T) -> list[T]:
    """Return the children to restart after ``failed`` ended, in start order.

    Args:
        strategy: The supervisor's strategy.
        children: All current children, in start order; must contain ``failed``.
        failed: The child that ended.
    """
    strategy = Strategy(strategy)
    if strategy is Strategy.ONE_FOR_ONE:
        return [failed]
    if strategy is Strategy.ONE_FOR_ALL:
        return list(children)
    index = list(children).index(failed)
    return list(children[index:])


class RestartIntensity:
    """Counts restarts in a sliding window.

    Args:
        max_restarts: Restarts allowed within ``period`` (0 forbids any).
        period: Window length in seconds.
    """

    def __init__(
        self, max_restarts: int = DEFAULT_MAX_RESTARTS, period: float = DEFAULT_MAX_SECONDS
    ) -> None:
        if max_restarts < 0 or period <= 0:
            raise ValueError("max_restarts must be >= 0 and period > 0")
        self.max_restarts = max_restarts
        self.period = period
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Record a restart at ``now``.

        Returns:
            False when this restart exceeds the intensity: the supervisor
            must give up.
        """
        times = self._times
        times.append(now)
        while times and times[0] <= now - self.period:
            times.popleft()
        return len(times) <= self.max_restarts
