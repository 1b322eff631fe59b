"""The bookkeeping of a long-poll session: its numbered outbox and its polls.

A long-poll session outlives the HTTP requests that attach to it. It is
found by an unguessable token; a *poll* (a GET) is held open until messages
wait for it or the poll timeout passes; messages from the client arrive as
POSTs. Wire formats (Phoenix LongPoll, Engine.IO polling, the plain JSON one
of :mod:`actorsock.transports.long_poll`) sit on top of this module, which
knows neither trio nor HTTP and is unit-tested on a hand-driven clock.

Hand-over without loss or repetition
------------------------------------
Every message gets the next sequence number when it enters the
:class:`Outbox`. A poll says which it already has (``after``: the highest
number it received; the wire carries it back, as ``Last-Event-ID`` does for
SSE): those are dropped, and the poll gets every message after it. A
message leaves the outbox only once a later poll has confirmed it (or, for a
wire that cannot carry ``after``, once the response that carried it was
written whole: :meth:`Outbox.confirm` with the batch's last number). So a
client killed between polls, or a response lost on the way, costs nothing:
the next poll asks again from where the client stands, and gets each message
exactly once.

Polls, as a transition table (:class:`Polls`)::

    phase      event                          next       effect
    ---------  -----------------------------  ---------  ------------------------------------
    idle       a poll arrives                 polling    the expiry clock stops
    polling    messages wait                  polling    the poll is answered with them
    polling    poll timeout                   idle       answered empty; expiry clock restarts
    polling    the poll ends (answered)       idle       expiry clock restarts
    polling    a second poll arrives          polling    the first is answered empty
                                                         ("replaced"); the second holds
    idle       no poll for session_timeout    expired    the session ends (Timeout)
    idle/poll  the session closes             closed     a held poll is answered "closed"
    closed/    a poll arrives                 (same)     answered "gone" at once
    expired

The rule for concurrent polls is *the newest wins*: a client that opens a
new poll (a reload, a retry after a timeout it saw before the server did)
must not wait behind a request nobody reads any more. Nothing is lost by
the replaced poll: it gets no message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .send_queue import SendPolicy

__all__ = ["Outbox", "Phase", "PollTicket", "Polls", "Sequenced"]


@dataclass(frozen=True, slots=True)
class Sequenced:
    """One outbound message and its number in the session.

    Attributes:
        seq: 1 for the session's first message, then one more each.
        item: The message (a frame, or a broadcast's prepared frame).
        size: Its size in bytes, as counted against the bound.
        key: Coalescing key, or None.
    """

    seq: int
    item: Any
    size: int
    key: Hashable | None = None


class Outbox:
    """Numbered outbound messages, kept until the client confirms them.

    Bounded like a send queue, with the same :class:`SendPolicy`: messages
    handed to a poll but not yet confirmed count too, since they may be
    sent again.

    Args:
        max_bytes: Most bytes held (at least 1).
        max_messages: Most messages held (at least 1).
        policy: What a full outbox does with a new message.

    Attributes:
        last_seq: The number of the newest message (0 before the first).
        dropped: Messages refused or discarded by the policy.
        coalesced: Messages replaced by a newer one with the same key.
        overflowed: True once the policy asked for the session to end.
    """

    def __init__(self, max_bytes: int, max_messages: int, policy: SendPolicy | str) -> None:
        self.max_bytes = max(1, max_bytes)
        self.max_messages = max(1, max_messages)
        self.policy = SendPolicy(policy)
        self._held: deque[Sequenced] = deque()
        self.held_bytes = 0
        self.last_seq = 0
        self.dropped = 0
        self.coalesced = 0
        self.overflowed = False

    def push(self, item: Any, size: int, key: Hashable | None = None) -> bool:
        """Add a message under the policy; False if it was refused."""
        if self.overflowed:
            return False
        if key is not None and self.policy is SendPolicy.COALESCE:
            for index, held in enumerate(self._held):
                if held.key == key:
                    # The newer value takes the older one's place (and a new
                    # number: a client that had the old one gets the new one).
                    del self._held[index]
                    self.held_bytes -= held.size
                    self.coalesced += 1
                    break
        if not self._fits(size):
            if self.policy is SendPolicy.DISCONNECT:
                self.overflowed = True
                self.dropped += 1
                return False
            if self.policy is SendPolicy.DROP_NEWEST:
                self.dropped += 1
                return False
            while self._held and not self._fits(size):  # drop_oldest, coalesce
                self.held_bytes -= self._held.popleft().size
                self.dropped += 1
            if not self._fits(size):
                self.dropped += 1
                return False
        self.last_seq += 1
        self._held.append(Sequenced(self.last_seq, item, size, key))
        self.held_bytes += size
        return True

    def _fits(self, size: int) -> bool:
        return len(self._held) < self.max_messages and (
            self.held_bytes + size <= self.max_bytes or not self._held
        )

    def confirm(self, upto: int) -> int:
        """Forget the messages numbered ``upto`` or less; how many went."""
        gone = 0
        held = self._held
        while held and held[0].seq <= upto:
            self.held_bytes -= held.popleft().size
            gone += 1
        return gone

    def after(self, seq: int, limit: int | None = None) -> list[Sequenced]:
        """The messages numbered above ``seq``, oldest first (at most ``limit``)."""
        found = [held for held in self._held if held.seq > seq]
        return found if limit is None else found[:limit]

    def has_after(self, seq: int) -> bool:
        """True if some message is numbered above ``seq``."""
        return bool(self._held) and self._held[-1].seq > seq

    def discard(self) -> int:
        """Drop everything held (the session ends); how many went."""
        count = len(self._held)
        self._held.clear()
        self.held_bytes = 0
        return count

    def __len__(self) -> int:
        return len(self._held)


class Phase(StrEnum):
    """Where a long-poll session stands (see the module's table)."""

    IDLE = "idle"
    POLLING = "polling"
    CLOSED = "closed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class PollTicket:
    """One poll's claim on the session.

    Attributes:
        number: Which poll of the session it is (1, 2, ...).
        replaced: The number of the poll it replaced (answer that one
            empty, at once), or None.
    """

    number: int
    replaced: int | None = None


class Polls:
    """The poll side of a long-poll session: who is attached, and expiry.

    Args:
        session_timeout: Seconds the session lives without a poll attached.
        now: The clock's time at creation (the expiry clock starts).
    """

    def __init__(self, session_timeout: float, now: float) -> None:
        self.session_timeout = session_timeout
        self.phase = Phase.IDLE
        self.current: int | None = None
        self._count = 0
        self.idle_since = now

    @property
    def expires_at(self) -> float | None:
        """When the session expires if no poll comes; None while one is attached."""
        if self.phase is not Phase.IDLE:
            return None
        return self.idle_since + self.session_timeout

    @property
    def ended(self) -> bool:
        """True once closed or expired: polls get "gone"."""
        return self.phase in (Phase.CLOSED, Phase.EXPIRED)

    def arrive(self) -> PollTicket | None:
        """A poll arrives; its ticket, or None if the session has ended."""
        if self.ended:
            return None
        self._count += 1
        replaced = self.current
        self.current = self._count
        self.phase = Phase.POLLING
        return PollTicket(self._count, replaced)

    def leave(self, ticket: PollTicket, now: float) -> None:
        """The poll ``ticket`` was answered (with messages, empty, or replaced)."""
        if self.current == ticket.number:
            self.current = None
            if self.phase is Phase.POLLING:
                self.phase = Phase.IDLE
                self.idle_since = now

    def is_current(self, ticket: PollTicket) -> bool:
        """False once a newer poll replaced ``ticket``."""
        return self.current == ticket.number

    def check_expiry(self, now: float) -> bool:
        """Expire the session if it has been idle too long; True if it has expired."""
        expires_at = self.expires_at
        if expires_at is not None and now >= expires_at:
            self.phase = Phase.EXPIRED
        return self.phase is Phase.EXPIRED

    def close(self) -> None:
        """The session closed (server side, or the client said goodbye)."""
        if not self.ended:
            self.phase = Phase.CLOSED
