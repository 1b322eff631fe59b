"""Server and connection counters, and their frozen snapshots."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.process import Pid

__all__ = ["ConnectionStatistics", "Counters", "ServerStatistics"]


@dataclass(frozen=True, slots=True)
class ConnectionStatistics:
    """A snapshot of one connection (``App.connection_statistics()``).

    Attributes:
        pid: The connection's pid.
        route: Its route pattern.
        messages_in: Client frames handed to the handler.
        messages_out: Data frames queued for the client.
        bytes_out: Bytes written to the socket.
        queued_bytes: Bytes waiting in the send queue.
        queued_messages: Data frames waiting in the send queue.
        peak_queued_bytes: Highest ``queued_bytes`` so far.
        dropped: Frames its send policy dropped.
        coalesced: Frames replaced by newer ones with the same key.
        mailbox: Messages waiting in the mailbox.
    """

    pid: Pid
    route: str
    messages_in: int
    messages_out: int
    bytes_out: int
    queued_bytes: int
    queued_messages: int
    peak_queued_bytes: int
    dropped: int
    coalesced: int
    mailbox: int


@dataclass(frozen=True, slots=True)
class ServerStatistics:
    """A snapshot of a server's counters (``App.statistics()``).

    Attributes:
        connections: WebSocket connections open now.
        connections_total: WebSocket connections opened since start.
        messages_in: Client frames handed to handlers.
        messages_out: Data frames queued for clients (replies and broadcasts).
        bytes_out: Bytes written to clients' sockets.
        queued_bytes: Bytes waiting in all send queues now.
        dropped: Frames dropped by send policies.
        coalesced: Frames replaced by newer frames with the same key.
        crashes: Handler callbacks that raised.
        overflows: Connections closed because their mailbox overflowed.
        send_overflows: Connections closed because their send queue overflowed.
        closed_by_reason: Ended connections counted by terminate reason name.
        inbound_overflows: Connections closed because incomplete client
            messages filled ``server.max_incomplete_bytes``.
        incomplete_bytes: Bytes of client messages still arriving, held now.
    """

    connections: int
    connections_total: int
    messages_in: int
    messages_out: int
    bytes_out: int
    queued_bytes: int
    dropped: int
    coalesced: int
    crashes: int
    overflows: int
    send_overflows: int
    closed_by_reason: dict[str, int] = field(default_factory=dict)
    inbound_overflows: int = 0
    incomplete_bytes: int = 0


class Counters:
    """Mutable counters updated by the connection runner.

    Per-connection figures (bytes, drops) are folded in when a connection
    ends; :meth:`snapshot` adds those of the connections still open.
    """

    __slots__ = (
        "bytes_out",
        "closed_by_reason",
        "coalesced",
        "connections",
        "connections_total",
        "crashes",
        "dropped",
        "inbound_overflows",
        "messages_in",
        "messages_out",
        "overflows",
        "send_overflows",
    )

    def __init__(self) -> None:
        self.connections = 0
        self.connections_total = 0
        self.messages_in = 0
        self.messages_out = 0
        self.bytes_out = 0
        self.dropped = 0
        self.coalesced = 0
        self.crashes = 0
        self.overflows = 0
        self.send_overflows = 0
        self.inbound_overflows = 0
        self.closed_by_reason: Counter[str] = Counter()

    def opened(self) -> None:
        """Count a connection that completed its upgrade."""
        self.connections += 1
        self.connections_total += 1

    def closed(self, reason: str, final: ConnectionStatistics) -> None:
        """Count the end of an upgraded connection and keep its totals."""
        self.connections -= 1
        self.closed_by_reason[reason] += 1
        self.messages_out += final.messages_out
        self.bytes_out += final.bytes_out
        self.dropped += final.dropped
        self.coalesced += final.coalesced

    def snapshot(
        self, live: Sequence[ConnectionStatistics] = (), incomplete_bytes: int = 0
    ) -> ServerStatistics:
        """Return the current values, adding ``live`` connections' figures."""
        return ServerStatistics(
            connections=self.connections,
            connections_total=self.connections_total,
            messages_in=self.messages_in,
            messages_out=self.messages_out + sum(c.messages_out for c in live),
            bytes_out=self.bytes_out + sum(c.bytes_out for c in live),
            queued_bytes=sum(c.queued_bytes for c in live),
            dropped=self.dropped + sum(c.dropped for c in live),
            coalesced=self.coalesced + sum(c.coalesced for c in live),
            crashes=self.crashes,
            overflows=self.overflows,
            send_overflows=self.send_overflows,
            closed_by_reason=dict(self.closed_by_reason),
            inbound_overflows=self.inbound_overflows,
            incomplete_bytes=incomplete_bytes,
        )
