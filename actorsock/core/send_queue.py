"""A connection's bounded outbound queue and what happens when it is full.

Everything a connection sends to its client passes through one
:class:`SendQueue`: frames its handler returns, frames broadcast straight to
its socket, and the control frames of the WebSocket layer (pongs, close).
Writers take bytes from the head and report how many the socket accepted, so
a frame may leave in several pieces but frames never interleave.

A client that stops reading fills the kernel's socket buffer and then this
queue. The queue is bounded in bytes and in messages; a data frame that does
not fit meets the connection's :class:`SendPolicy`:

* ``disconnect`` (default): refuse it and mark the queue ``overflowed``; the
  runtime closes the connection with 1013 and discards what was queued.
* ``drop_oldest``: discard queued frames from the front (never one already
  partly written) until the new one fits.
* ``drop_newest``: refuse the new frame.
* ``coalesce``: a frame with a key replaces the queued, not yet written frame
  with the same key, whether the queue is full or not (the latest value is
  all a dashboard needs); if it still does not fit, the oldest frames go.

Control frames ignore the policy but not the bound: past ``max_bytes`` plus a
small allowance the queue overflows whatever the policy, so a client that
sends pings and never reads cannot grow it.

Nothing here does I/O; it is unit-tested without sockets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from enum import StrEnum

__all__ = ["CONTROL_ALLOWANCE", "SendPolicy", "SendQueue"]

# Room above max_bytes for control frames (pongs, the close frame).
CONTROL_ALLOWANCE = 16 * 1024


class SendPolicy(StrEnum):
    """What a full send queue does with a new data frame."""

    DISCONNECT = "disconnect"
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"
    COALESCE = "coalesce"


class _Entry:
    __slots__ = ("control", "data", "key")

    def __init__(self, data: bytes, key: Hashable | None, control: bool = False) -> None:
        self.data: bytes | None = data  # None once discarded
        self.key = key
        self.control = control


class SendQueue:
    """FIFO of encoded frames with byte and message bounds.

    Args:
        max_bytes: Most bytes queued at once (at least 1).
        max_messages: Most data frames queued at once (at least 1).
        policy: The :class:`SendPolicy`, or its string value.

    Attributes:
        queued_bytes: Bytes waiting to be written (including a partly
            written head frame's remainder).
        peak_bytes: Highest ``queued_bytes`` seen.
        dropped: Data frames refused or discarded by the policy.
        coalesced: Data frames replaced by a newer frame with the same key.
        overflowed: True once the queue asked for its connection to close.
        sent_bytes: Bytes written to the socket.
        accepted: Data frames accepted (written at once or queued). A writer
            that hands a frame to the socket while the queue is empty, without
            queueing it, adds to ``sent_bytes`` and ``accepted`` itself.
    """

    __slots__ = (
        "_by_key",
        "_entries",
        "_head_offset",
        "_messages",
        "accepted",
        "coalesced",
        "dropped",
        "max_bytes",
        "max_messages",
        "overflowed",
        "peak_bytes",
        "policy",
        "queued_bytes",
        "sent_bytes",
    )

    def __init__(
        self,
        max_bytes: int = 1 << 20,
        max_messages: int = 1024,
        policy: SendPolicy | str = SendPolicy.DISCONNECT,
    ) -> None:
        if max_bytes < 1 or max_messages < 1:
            raise ValueError("send queue bounds must be at least 1")
        self.max_bytes = max_bytes
        self.max_messages = max_messages
        self.policy = SendPolicy(policy)
        # A deque only while something is queued: an idle connection's queue
        # then costs no deque (about 600 bytes, times every connection).
        self._entries: deque[_Entry] | tuple[()] = ()
        self._by_key: dict[Hashable, _Entry] = {}
        self._head_offset = 0
        self._messages = 0
        self.queued_bytes = 0
        self.peak_bytes = 0
        self.dropped = 0
        self.coalesced = 0
        self.overflowed = False
        self.sent_bytes = 0
        self.accepted = 0

    # -- adding ----------------------------------------------------------

    def push(self, data: bytes, key: Hashable | None = None) -> bool:
        """Queue one data frame, applying the policy if it does not fit.

        Args:
            data: The frame's wire bytes.
            key: Coalescing key; only the ``coalesce`` policy uses it.

        Returns:
            True if ``data`` is queued, False if it was refused.
        """
        if self.overflowed:
            self.dropped += 1
            return False
        policy = self.policy
        if policy is SendPolicy.COALESCE and key is not None:
            previous = self._by_key.get(key)
            if previous is not None and self._can_discard(previous):
                self._discard(previous)
                self.coalesced += 1
        size = len(data)
        if not self._fits(size):
            if policy is SendPolicy.DROP_NEWEST:
                self.dropped += 1
                return False
            if policy is SendPolicy.DISCONNECT or not self._make_room(size):
                self.dropped += 1
                self.overflowed = policy is SendPolicy.DISCONNECT or self.overflowed
                return False
        entry = _Entry(data, key)
        self._append(entry)
        self._messages += 1
        if key is not None and policy is SendPolicy.COALESCE:
            self._by_key[key] = entry
        self._grow(size)
        self.accepted += 1
        return True

    def push_started(self, data: bytes, written: int, key: Hashable | None = None) -> None:
        """Queue the rest of a frame whose first ``written`` bytes already left.

        Only for an empty queue. The frame is accepted whatever the bounds:
        the client has part of it, so the rest must follow.
        """
        assert not self._entries and 0 < written < len(data)
        self.sent_bytes += written
        self.accepted += 1
        entry = _Entry(data, key)
        self._append(entry)
        self._messages += 1
        self._head_offset = written
        if key is not None and self.policy is SendPolicy.COALESCE:
            self._by_key[key] = entry
        self._grow(len(data) - written)

    def push_control(self, data: bytes) -> object | None:
        """Queue bytes of the WebSocket layer (pong, close) past the policy.

        Returns:
            A ticket for :meth:`is_pending`, or None (and the queue is marked
            overflowed) if the queue is already ``CONTROL_ALLOWANCE`` bytes
            past its bound.
        """
        if self.queued_bytes + len(data) > self.max_bytes + CONTROL_ALLOWANCE:
            self.overflowed = True
            return None
        entry = _Entry(data, None, control=True)
        self._append(entry)
        self._grow(len(data))
        return entry

    @staticmethod
    def is_pending(ticket: object) -> bool:
        """True while the bytes behind a :meth:`push_control` ticket are not all written."""
        assert isinstance(ticket, _Entry)
        return ticket.data is not None

    def _append(self, entry: _Entry) -> None:
        entries = self._entries
        if isinstance(entries, tuple):
            entries = self._entries = deque()
        entries.append(entry)

    def _fits(self, size: int) -> bool:
        return self.queued_bytes + size <= self.max_bytes and self._messages < self.max_messages

    def _can_discard(self, entry: _Entry) -> bool:
        # A frame that started going out must finish, or the stream breaks.
        return not (self._head_offset and self._entries and self._entries[0] is entry)

    def _make_room(self, size: int) -> bool:
        """Discard the oldest data frames until ``size`` bytes fit."""
        if size > self.max_bytes:
            return False
        for entry in list(self._entries):
            if self._fits(size):
                return True
            if entry.data is None or entry.control or not self._can_discard(entry):
                continue
            self._discard(entry)
            self.dropped += 1
        return self._fits(size)

    def _discard(self, entry: _Entry) -> None:
        assert entry.data is not None
        self.queued_bytes -= len(entry.data)
        self._messages -= 1
        entry.data = None
        if entry.key is not None and self._by_key.get(entry.key) is entry:
            del self._by_key[entry.key]

    def _grow(self, size: int) -> None:
        self.queued_bytes += size
        if self.queued_bytes > self.peak_bytes:
            self.peak_bytes = self.queued_bytes

    # -- writing ---------------------------------------------------------

    def buffers(self, limit: int = 64) -> list[memoryview]:
        """Return up to ``limit`` pending byte ranges, oldest first."""
        result: list[memoryview] = []
        offset = self._head_offset
        for entry in self._entries:
            if entry.data is None:
                continue
            result.append(memoryview(entry.data)[offset:])
            offset = 0
            if len(result) >= limit:
                break
        return result

    def consumed(self, count: int) -> None:
        """Record that the first ``count`` pending bytes were written."""
        self.sent_bytes += count
        self.queued_bytes -= count
        entries = self._entries
        assert isinstance(entries, deque)
        while count:
            entry = entries[0]
            if entry.data is None:
                entries.popleft()
                continue
            remaining = len(entry.data) - self._head_offset
            if count < remaining:
                self._head_offset += count
                return
            count -= remaining
            self._pop_head()
        while entries and entries[0].data is None:
            entries.popleft()
        if not entries:
            self._entries = ()

    def _pop_head(self) -> None:
        entries = self._entries
        assert isinstance(entries, deque)
        entry = entries.popleft()
        entry.data = None
        self._head_offset = 0
        if entry.control:
            return
        self._messages -= 1
        if entry.key is not None and self._by_key.get(entry.key) is entry:
            del self._by_key[entry.key]

    def discard_pending(self) -> int:
        """Drop every frame not yet started (on disconnect); return how many."""
        count = 0
        for entry in list(self._entries):
            if entry.data is not None and self._can_discard(entry):
                if entry.control:
                    self.queued_bytes -= len(entry.data)
                    entry.data = None
                else:
                    self._discard(entry)
                count += 1
        return count

    @property
    def depth(self) -> int:
        """Data frames waiting (not counting control frames)."""
        return self._messages

    def __bool__(self) -> bool:
        return self.queued_bytes > 0
