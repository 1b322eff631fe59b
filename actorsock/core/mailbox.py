"""A bounded mailbox with an overflow policy.

Messages arrive faster than a process handles them when the process is slow
(a client that reads slowly, a handler doing heavy work). An unbounded queue
would turn that into unbounded memory, so every mailbox has a capacity and a
policy for what happens when it is full:

* ``disconnect`` (default): refuse the message and mark the mailbox
  ``overflowed``; the runtime then ends the process with
  ``ErrorReason("mailbox_overflow", 1013)`` and closes a connection with 1013.
* ``drop_oldest``: discard the oldest queued message to make room.
* ``drop_newest``: refuse the new message, keep the queue as it is.

Every refused or discarded message is counted in ``dropped``. System messages
(``Down`` notifications) use :meth:`Mailbox.push_system`, which ignores the
bound: they are few (one per monitor) and must never be lost.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import Any

__all__ = ["DEFAULT_MAILBOX_SIZE", "Mailbox", "Overflow"]

DEFAULT_MAILBOX_SIZE = 1024


class Overflow(StrEnum):
    """What a full mailbox does with a new message."""

    DISCONNECT = "disconnect"
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


class Mailbox:
    """A FIFO of messages with a capacity and an overflow policy.

    Args:
        capacity: Most messages held at once (at least 1).
        policy: The :class:`Overflow` policy, or its string value.

    Attributes:
        dropped: Messages refused or discarded because the mailbox was full.
        overflowed: True once a ``disconnect`` mailbox refused a message.
    """

    __slots__ = ("_queue", "capacity", "dropped", "overflowed", "policy")

    def __init__(
        self, capacity: int = DEFAULT_MAILBOX_SIZE, policy: Overflow | str = Overflow.DISCONNECT
    ) -> None:
        if capacity < 1:
            raise ValueError("mailbox capacity must be at least 1")
        # Made on the first message: idle processes cost no deque.
        self._queue: deque[Any] | None = None
        self.capacity = capacity
        self.policy = Overflow(policy)
        self.dropped = 0
        self.overflowed = False

    def push(self, message: Any) -> bool:
        """Queue ``message``, applying the overflow policy when full.

        Returns:
            True if ``message`` is now queued, False if it was refused.
        """
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        if len(queue) < self.capacity:
            queue.append(message)
            return True
        self.dropped += 1
        if self.policy is Overflow.DROP_OLDEST:
            queue.popleft()
            queue.append(message)
            return True
        if self.policy is Overflow.DISCONNECT:
            self.overflowed = True
        return False

    def push_system(self, message: Any) -> None:
        """Queue a system message regardless of the capacity."""
        if self._queue is None:
            self._queue = deque()
        self._queue.append(message)

    def pop(self) -> Any:
        """Remove and return the oldest message.

        Raises:
            IndexError: If the mailbox is empty.
        """
        if self._queue is None:
            raise IndexError("pop from an empty mailbox")
        return self._queue.popleft()

    def clear(self) -> None:
        """Discard every queued message (used when the process ends)."""
        self._queue = None

    def __len__(self) -> int:
        return len(self._queue) if self._queue is not None else 0

    def __bool__(self) -> bool:
        return bool(self._queue)
