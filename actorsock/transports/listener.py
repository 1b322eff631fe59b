"""Listening sockets (TCP, optionally wrapped in TLS) and the loop that accepts on them."""

from __future__ import annotations

import errno
import os
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from ..errors import ConfigError

__all__ = ["bound_ports", "make_ssl_context", "open_listeners", "serve_listeners"]

# accept() errors that mean "out of descriptors or memory for now": the loop
# waits and tries again (trio.serve_listeners does the same).
_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
ACCEPT_RETRY_DELAY = 0.1
"""Seconds the accept loop waits after a capacity error before trying again."""
CAPACITY_LOG_INTERVAL = 1.0
"""Seconds between two log lines about capacity errors (the rest are counted)."""


def make_ssl_context(cert: str, key: str, source: str = "configuration") -> ssl.SSLContext:
    """Build a server TLS context from PEM certificate and key files.

    Raises:
        ConfigError: If a file is missing or the pair does not load.
    """
    for option, path in (("server.tls_cert", cert), ("server.tls_key", key)):
        if path and not os.path.isfile(path):
            raise ConfigError(option, source, f"no such file: {path}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key or None)
    except ssl.SSLError as exc:
        raise ConfigError(
            "server.tls_cert", source, f"cannot load certificate/key: {exc}"
        ) from None
    # WebSocket runs over HTTP/1.1; do not offer h2 through ALPN.
    context.set_alpn_protocols(["http/1.1"])
    return context


async def open_listeners(
    host: str, port: int, ssl_context: ssl.SSLContext | None = None, backlog: int | None = None
) -> list[trio.abc.Listener[trio.abc.Stream]]:
    """Open TCP listeners on ``host:port`` (``port`` 0 picks a free port).

    The accept backlog is the largest the system allows unless given: after a
    deploy every client reconnects at once, and a short queue drops them.
    """
    tcp = await trio.open_tcp_listeners(port, host=host or None, backlog=backlog)
    if ssl_context is None:
        return list(tcp)
    return [trio.SSLListener(listener, ssl_context, https_compatible=True) for listener in tcp]


def bound_ports(listeners: list[trio.abc.Listener[trio.abc.Stream]]) -> list[int]:
    """Return the port each listener is bound to."""
    ports = []
    for listener in listeners:
        tcp = listener.transport_listener if isinstance(listener, trio.SSLListener) else listener
        assert isinstance(tcp, trio.SocketListener)
        ports.append(tcp.socket.getsockname()[1])
    return ports


class _CapacityLog:
    """Logs accept() capacity errors once per interval, with a count."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.failures = 0  # since the last line
        self.last_line = -float("inf")

    def failed(self, exc: OSError, now: float) -> None:
        self.failures += 1
        if now - self.last_line >= CAPACITY_LOG_INTERVAL:
            self.log.error(
                "cannot accept connections; retrying",
                error=errno.errorcode.get(exc.errno or 0, str(exc.errno)),
                detail=exc.strerror,
                failures=self.failures,
                retry_every=ACCEPT_RETRY_DELAY,
            )
            self.failures = 0
            self.last_line = now

    def accepted(self) -> None:
        if self.last_line > -float("inf"):
            self.log.info("accepting connections again", failures_since_last_line=self.failures)
            self.failures = 0
            self.last_line = -float("inf")


async def serve_listeners(
    handle: Callable[[trio.abc.Stream], Awaitable[object]],
    listeners: list[trio.abc.Listener[trio.abc.Stream]],
    *,
    handler_nursery: trio.Nursery,
    log: Any,
) -> None:
    """Accept on every listener forever; run ``handle(stream)`` in ``handler_nursery``.

    Like :func:`trio.serve_listeners`, but a full descriptor table
    (``EMFILE`` and kin) is logged once per :data:`CAPACITY_LOG_INTERVAL`
    with a count instead of a traceback per retry. ``handle`` owns the
    stream and must not raise.
    """
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(_accept_loop, listener, handle, handler_nursery, log)


async def _accept_loop(
    listener: trio.abc.Listener[trio.abc.Stream],
    handle: Callable[[trio.abc.Stream], Awaitable[object]],
    handler_nursery: trio.Nursery,
    log: Any,
) -> None:
    capacity = _CapacityLog(log)
    async with listener:
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                if exc.errno not in _CAPACITY_ERRNOS:
                    raise
                capacity.failed(exc, trio.current_time())
                await trio.sleep(ACCEPT_RETRY_DELAY)
                continue
            capacity.accepted()
            handler_nursery.start_soon(handle, stream)
