"""The connection supervisor: a dynamic supervisor of temporary connection processes.

Every accepted stream runs as a task in this supervisor's nursery, from the
first byte of its request to the end of its WebSocket. Connections are never
restarted (a client reconnects by itself). The supervisor owns the
:class:`~actorsock.core.admission.Admission` that caps how many WebSocket
connections may be open (``max_connections``; the front answers 503 beyond
it) and how many streams may wait for their request head
(``max_handshakes``), and drains the connections on shutdown:

1. stop admitting (new upgrades get 503);
2. ask every connection to stop: each closes with 1001 and its handler's
   ``terminate`` gets ``Shutdown()``;
3. wait up to ``drain_timeout`` for them to finish, then cancel what is left
   (those still get ``terminate(Shutdown())``).
"""

from __future__ import annotations

import resource
from typing import Protocol

import trio

from ..core.admission import Admission
from ..core.process import Pid
from ..core.reasons import Shutdown
from .stats import ConnectionStatistics

__all__ = [
    "DESCRIPTOR_RESERVE",
    "ConnectionSupervisor",
    "Observed",
    "descriptor_limit",
    "max_connections_for",
]


class Observed(Protocol):
    """A running connection as the supervisor sees it (a session)."""

    @property
    def pid(self) -> Pid: ...

    def statistics(self) -> ConnectionStatistics: ...


DESCRIPTOR_RESERVE = 100
"""Descriptors kept free of connections: listeners, logs, epoll, files a
handler opens, and the handshakes that still get an answer when full."""

# Where the process may open any number of files, a ceiling for the default.
_UNLIMITED_CEILING = 1 << 20


def descriptor_limit() -> int:
    """The process's soft limit on open file descriptors (``RLIMIT_NOFILE``)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return _UNLIMITED_CEILING if soft == resource.RLIM_INFINITY else int(soft)


def max_connections_for(configured: int, limit: int) -> int:
    """The connection cap in force: ``configured``, or when 0 the descriptor
    ``limit`` less :data:`DESCRIPTOR_RESERVE` (at least 1)."""
    if configured:
        return configured
    return max(1, min(limit, _UNLIMITED_CEILING) - DESCRIPTOR_RESERVE)


class ConnectionSupervisor:
    """Owns the tasks of client connections.

    Args:
        admission: Connection slots and handshakes; stops admitting at shutdown.
        drain_timeout: Seconds connections get to close at shutdown.
    """

    def __init__(self, admission: Admission, drain_timeout: float) -> None:
        self.admission = admission
        self.drain_timeout = drain_timeout
        self._pids: dict[Pid, Observed] = {}
        self._nursery: trio.Nursery | None = None
        self._shutdown = trio.Event()
        self._all_ended = trio.Event()

    @property
    def nursery(self) -> trio.Nursery:
        """The nursery connection tasks run in (available once running)."""
        if self._nursery is None:
            raise RuntimeError("the connection supervisor is not running")
        return self._nursery

    async def run(
        self, *, task_status: trio.TaskStatus[ConnectionSupervisor] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Supervise connections until :meth:`request_shutdown`, then drain them."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started(self)
            await self._shutdown.wait()
            await self._drain()
            nursery.cancel_scope.cancel()

    def started(self, connection: Observed) -> None:
        """Record a connection process (it holds a slot of the admission).

        Args:
            connection: Its pid, and a snapshot of its counters on demand.
        """
        pid = connection.pid
        self._pids[pid] = connection
        if self._shutdown.is_set():
            pid.request_stop(Shutdown())

    def ended(self, pid: Pid) -> None:
        """Forget a connection process (the front gives its slot back)."""
        self._pids.pop(pid, None)
        if not self._pids:
            self._all_ended.set()

    def pids(self) -> list[Pid]:
        """The pids of the connections running now."""
        return sorted(self._pids)

    def statistics(self) -> list[ConnectionStatistics]:
        """A snapshot of every running connection's counters."""
        return [connection.statistics() for connection in self._pids.values()]

    def __len__(self) -> int:
        return len(self._pids)

    def request_shutdown(self) -> None:
        """Stop admitting and start draining (returns at once)."""
        self.admission.accepting = False
        self._shutdown.set()

    async def _drain(self) -> None:
        if not self._pids:
            return
        self._all_ended = trio.Event()
        for pid in list(self._pids):
            pid.request_stop(Shutdown())
        with trio.move_on_after(self.drain_timeout):
            await self._all_ended.wait()
