"""Read readiness for many sockets from one edge-triggered epoll set.

``trio.lowlevel.wait_readable`` registers the socket with trio's epoll in
one-shot mode, so every wait costs an ``epoll_ctl`` system call: one per
client message on a busy server, about a sixth of the time an echo takes
here. A :class:`ReadinessHub` registers each connection socket once, edge
triggered, in an epoll set of its own; one task waits for that set to become
readable and tells the stream of each socket that got data (which wakes
the task that reads it: a session, or a stream's reader). The system calls
are then shared by every socket that became readable at the same time.

Edge triggering reports new data, not data still unread: a reader must wait
only after a read that emptied the socket (a short read), and a wake-up that
came while nobody waited is kept (the stream marks itself readable again;
without a stream's callback, :class:`~actorsock.runtime.waker.Waker` keeps
it), so no data is ever left unannounced. The end of the stream is
not data: once the peer has hung up, :meth:`Readable.wait` no longer waits.

On systems without epoll, :func:`readiness_hub` returns None and streams use
``trio.lowlevel.wait_readable``.
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import Callable

import trio

from ..runtime.waker import Waker

__all__ = ["Readable", "ReadinessHub", "readiness_hub"]

# Events taken from the kernel per system call.
_EVENTS_PER_POLL = 1024

_HAS_EPOLL = hasattr(select, "epoll")
_HANG_UP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR if _HAS_EPOLL else 0


class Readable(Waker):
    """What one socket's reader waits on; :meth:`wake` wakes it.

    Attributes:
        hung_up: Set once the peer has closed its side or the socket failed.
        notify: What the hub calls when the socket becomes readable (or
            hangs up) instead of :meth:`wake`; None until the stream
            installs its own.
    """

    __slots__ = ("hung_up", "notify")

    def __init__(self) -> None:
        super().__init__()
        self.hung_up = False
        self.notify: Callable[[], None] | None = None

    async def wait_readable(self) -> None:
        """Return once data may have arrived since the last read (a checkpoint)."""
        if self.hung_up:
            await trio.lowlevel.checkpoint()
        else:
            await self.wait()


class ReadinessHub:
    """Wakes registered readers when their sockets receive data.

    Lifecycle: made by :func:`readiness_hub` with its task, one per trio run;
    sockets are registered when a connection starts and unregistered before
    they are closed.
    """

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._watched: dict[int, Readable] = {}

    def register(self, fd: int) -> Readable:
        """Watch ``fd`` until :meth:`unregister`.

        Raises:
            OSError: If the descriptor cannot be watched.
        """
        readable = Readable()
        self._epoll.register(fd, select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET)
        self._watched[fd] = readable
        return readable

    def unregister(self, fd: int) -> None:
        """Stop watching ``fd`` (before it is closed) and wake its reader."""
        readable = self._watched.pop(fd, None)
        if readable is None:
            return
        # Already closed: the kernel has dropped it from the set.
        with contextlib.suppress(OSError):
            self._epoll.unregister(fd)
        readable.hung_up = True
        readable.notify = None  # drop the stream's callback (a cycle)
        readable.wake()

    def __len__(self) -> int:
        return len(self._watched)

    async def run(self) -> None:
        """Wake readers forever (a system task of the run)."""
        epoll = self._epoll
        try:
            while True:
                await trio.lowlevel.wait_readable(epoll.fileno())
                self._notify_ready()
        finally:
            epoll.close()

    def _notify_ready(self) -> None:
        # A function of its own so that no loop variable outlives the batch:
        # held across the wait above, the last socket's Readable (and through
        # its callback, that whole connection) would stay alive after the
        # connection closed, until the next wake-up of the hub.
        watched = self._watched
        for fd, flags in self._epoll.poll(0, _EVENTS_PER_POLL):
            readable = watched.get(fd)
            if readable is not None:
                if flags & _HANG_UP:
                    readable.hung_up = True
                notify = readable.notify
                if notify is None:
                    readable.wake()
                else:
                    notify()


_HUB: trio.lowlevel.RunVar[ReadinessHub | None] = trio.lowlevel.RunVar("actorsock_readiness")


def readiness_hub() -> ReadinessHub | None:
    """The hub of the current trio run (started on first use), or None without epoll."""
    try:
        return _HUB.get()
    except LookupError:
        hub = ReadinessHub() if _HAS_EPOLL else None
        _HUB.set(hub)
        if hub is not None:
            trio.lowlevel.spawn_system_task(hub.run, name="actorsock-readiness")
        return hub
