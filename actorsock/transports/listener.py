"""Listening sockets: TCP, optionally wrapped in TLS."""

from __future__ import annotations

import os
import ssl

import trio

from ..errors import ConfigError

__all__ = ["bound_ports", "make_ssl_context", "open_listeners"]


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
    host: str, port: int, ssl_context: ssl.SSLContext | None = None, backlog: int = 1024
) -> list[trio.abc.Listener[trio.abc.Stream]]:
    """Open TCP listeners on ``host:port`` (``port`` 0 picks a free port)."""
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
