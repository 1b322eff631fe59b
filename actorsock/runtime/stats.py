"""Server counters and their frozen snapshot, :class:`ServerStatistics`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Counters", "ServerStatistics"]


@dataclass(frozen=True, slots=True)
class ServerStatistics:
    """A snapshot of a server's counters (``App.statistics()``).

    Attributes:
        connections: WebSocket connections open now.
        connections_total: WebSocket connections opened since start.
        messages_in: Client frames handed to handlers.
        messages_out: Frames sent to clients by handlers.
        crashes: Handler callbacks that raised.
        overflows: Connections closed because their mailbox overflowed.
    """

    connections: int
    connections_total: int
    messages_in: int
    messages_out: int
    crashes: int
    overflows: int


class Counters:
    """Mutable counters updated by the connection runner."""

    __slots__ = (
        "connections",
        "connections_total",
        "crashes",
        "messages_in",
        "messages_out",
        "overflows",
    )

    def __init__(self) -> None:
        self.connections = 0
        self.connections_total = 0
        self.messages_in = 0
        self.messages_out = 0
        self.crashes = 0
        self.overflows = 0

    def opened(self) -> None:
        """Count a connection that completed its upgrade."""
        self.connections += 1
        self.connections_total += 1

    def closed(self) -> None:
        """Count the end of an upgraded connection."""
        self.connections -= 1

    def snapshot(self) -> ServerStatistics:
        """Return the current values."""
        return ServerStatistics(
            self.connections,
            self.connections_total,
            self.messages_in,
            self.messages_out,
            self.crashes,
            self.overflows,
        )
