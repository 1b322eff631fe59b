"""Admission: which accepted streams may hold a descriptor, and for how long.

Theory of operation
-------------------
Every accepted stream holds a file descriptor, and a process has a fixed
number of them. Two kinds of holder are counted here:

* **handshakes**: streams whose request head has not arrived yet. They cost
  the server nothing but a descriptor, which is exactly what a flood of
  silent sockets exhausts. They are bounded by the room the open
  connections leave under ``max_connections`` (and by ``max_handshakes``
  when one is set); a new stream
  over either bound evicts the *oldest* handshake (its owner is told to
  close it). A real client sends its head within a round trip, so it is
  almost never the oldest; a silent socket always ends up being.
* **connections**: WebSocket upgrades that were admitted. A slot is taken by
  :meth:`Admission.admit` just before the upgrade and given back by
  :meth:`Admission.release` when the connection's task ends, whatever way
  it ends. Every refusal happens before ``admit``, so refusing never holds
  a slot.

Lifecycle of one stream::

    accepted --begin_handshake--> handshake --end_handshake--> head read
                                      | evicted (a newer stream needed room)
                                      v
                                    closed
    head read --admit()--> connection --release()--> closed
              \\--refused (4xx, 503, plain HTTP)----> closed

While the connections fill ``max_connections``, a few handshakes may still
run (``HANDSHAKE_FLOOR``), so a health check or a refused client still gets
an answer; the process keeps descriptors in reserve for them (see
``server.max_connections``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HANDSHAKE_FLOOR", "Admission", "AdmissionStatistics"]

#: Handshakes allowed even when open connections fill ``max_connections``.
HANDSHAKE_FLOOR = 16


@dataclass(frozen=True, slots=True)
class AdmissionStatistics:
    """Counters of an :class:`Admission`.

    Attributes:
        connections: Connection slots held now.
        handshakes: Streams waiting for their request head now.
        evicted: Handshakes closed so far to make room for newer streams.
        refused: Upgrades refused so far because no slot was free.
    """

    connections: int
    handshakes: int
    evicted: int
    refused: int


class Admission:
    """Counts connection slots and handshakes in progress.

    Args:
        max_connections: Most connections admitted at once.
        max_handshakes: Most streams waiting for their request head at once;
            0 for no bound but the room under ``max_connections``.

    Attributes:
        accepting: False once shutting down: :meth:`admit` refuses.
    """

    def __init__(self, max_connections: int, max_handshakes: int) -> None:
        if max_connections < 1 or max_handshakes < 0:
            raise ValueError("max_connections must be at least 1, max_handshakes 0 or more")
        self.max_connections = max_connections
        self.max_handshakes = max_handshakes or max_connections + HANDSHAKE_FLOOR
        self.accepting = True
        self.connections = 0
        self.evicted = 0
        self.refused = 0
        # Insertion-ordered: the first entry is the oldest handshake.
        self._handshakes: dict[int, Callable[[], None]] = {}
        self._next_ticket = 0

    @property
    def handshakes(self) -> int:
        """Streams waiting for their request head now."""
        return len(self._handshakes)

    def handshake_room(self) -> int:
        """How many handshakes may run now, given the open connections."""
        room = max(HANDSHAKE_FLOOR, self.max_connections - self.connections)
        return min(self.max_handshakes, room)

    def begin_handshake(self, evict: Callable[[], None]) -> int:
        """Count a new stream that has not sent its request head yet.

        Evicts the oldest handshakes first while there is no room: their
        ``evict`` callbacks are called (synchronously) and they are forgotten.

        Args:
            evict: Closes this stream if a newer one needs its room; must not
                raise.

        Returns:
            A ticket for :meth:`end_handshake`.
        """
        handshakes = self._handshakes
        while handshakes and len(handshakes) >= self.handshake_room():
            oldest = next(iter(handshakes))
            handshakes.pop(oldest)()
            self.evicted += 1
        ticket = self._next_ticket
        self._next_ticket += 1
        handshakes[ticket] = evict
        return ticket

    def end_handshake(self, ticket: int) -> None:
        """The stream's head arrived, or it ended (a no-op once evicted)."""
        self._handshakes.pop(ticket, None)

    def admit(self) -> bool:
        """Take a connection slot; False when full or shutting down."""
        if not self.accepting or self.connections >= self.max_connections:
            self.refused += 1
            return False
        self.connections += 1
        return True

    def release(self) -> None:
        """Give back a slot taken by :meth:`admit`.

        Raises:
            RuntimeError: If no slot is held (a release without an admit).
        """
        if self.connections <= 0:
            raise RuntimeError("release() without a matching admit()")
        self.connections -= 1

    def statistics(self) -> AdmissionStatistics:
        """A snapshot of the counters."""
        return AdmissionStatistics(self.connections, self.handshakes, self.evicted, self.refused)
