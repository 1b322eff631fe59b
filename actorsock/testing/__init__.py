"""Test your handlers the way actorsock tests itself: a real server on port 0, real clients.

Using with pytest-trio::

    from actorsock.testing import open_test_server

    async def test_echo():
        async with open_test_server(App(routes={"/echo": Echo})) as server:
            async with server.connect("/echo") as ws:
                await ws.send_message("hi")
                assert await ws.get_message() == "hi"

Without a server, :func:`open_session` runs a handler's session over an
in-memory transport (see :mod:`actorsock.testing.memory`).

Timers and idle timeouts run on trio's clock, so a test with
``trio.testing.MockClock(autojump_threshold=0)`` (pytest-trio:
``@pytest.mark.trio(clock=...)`` or a ``mock_clock`` fixture) skips the waiting,
as long as the clients are trio tasks in the same run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio
from trio_websocket import WebSocketConnection, wrap_client_stream
from wsproto.utilities import LocalProtocolError

from ..app import App
from ..config import Config
from .adapter_contract import AdapterContract
from .memory import MemoryTransport, SessionClient, open_session

__all__ = [
    "AdapterContract",
    "HttpReply",
    "MemoryTransport",
    "SessionClient",
    "TestServer",
    "http_request",
    "open_session",
    "open_test_server",
    "response_length",
]


@dataclass(frozen=True)
class HttpReply:
    """A parsed HTTP response: status, lower-case headers, body."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class TestServer:
    """A running app, as handed out by :func:`open_test_server`."""

    __test__ = False  # not a pytest test class

    app: App
    host: str
    port: int

    def url(self, path: str, scheme: str = "ws") -> str:
        """Return the URL of ``path`` on this server."""
        return f"{scheme}://{self.host}:{self.port}{path}"

    @asynccontextmanager
    async def connect(self, path: str, **options: Any) -> AsyncIterator[WebSocketConnection]:
        """Open a trio-websocket client connection to ``path`` for the block.

        Keyword options go to ``trio_websocket.wrap_client_stream`` (for
        example ``subprotocols``, ``extra_headers``, ``message_queue_size``).
        The TCP stream is the test's own, and closed with the block: the
        library's client leaves it open when the server closed first.
        """
        stream = await trio.open_tcp_stream(self.host, self.port)
        try:
            async with trio.open_nursery() as nursery:
                ws = await wrap_client_stream(
                    nursery, stream, f"{self.host}:{self.port}", path, **options
                )
                try:
                    yield ws
                finally:
                    with trio.move_on_after(5):
                        await ws.aclose()
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The test's own error, not wrapped in the nursery's group; and
            # the client library's answer to a ping that crossed its close
            # frame (a pong wsproto refuses to send once closing) is no error
            # of the test's.
            _, rest = group.split(LocalProtocolError)
            if rest is None:
                return
            raise rest.exceptions[0] if len(rest.exceptions) == 1 else rest from None
        finally:
            await trio.aclose_forcefully(stream)

    async def request(self, raw: bytes) -> HttpReply:
        """Send raw bytes and parse the HTTP response (see :func:`http_request`)."""
        return await http_request(self.host, self.port, raw)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> HttpReply:
        """Send a plain ``GET path`` and return the response."""
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        return await self.request(("\r\n".join(lines) + "\r\n\r\n").encode())


def response_length(data: bytes, head_only: bool = False) -> int | None:
    """The size of the first whole HTTP response in ``data`` (by ``Content-Length``).

    None while it is incomplete, or when it has no ``Content-Length`` (then
    it ends when the server closes). ``head_only``: the answer to a HEAD,
    which has no body whatever its ``Content-Length`` says.
    """
    head, found, _ = data.partition(b"\r\n\r\n")
    if not found:
        return None
    if head_only:
        return len(head) + 4
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            size = len(head) + 4 + int(value)
            return size if len(data) >= size else None
    return None


async def http_request(host: str, port: int, raw: bytes, timeout: float = 10.0) -> HttpReply:
    """Send ``raw`` over a new TCP connection and read one response.

    The response ends with its ``Content-Length`` (the server may keep the
    connection open for another request) or when the server closes.

    Raises:
        trio.TooSlowError: If no complete response arrives within ``timeout``.
        ValueError: If the reply is not HTTP.
    """
    with trio.fail_after(timeout):
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            await stream.send_all(raw)
            data = bytearray()
            head_only = raw.startswith(b"HEAD ")
            while response_length(bytes(data), head_only) is None and (
                chunk := await stream.receive_some(65536)
            ):
                data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {bytes(data[:80])!r}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return HttpReply(int(parts[1]), headers, body)


@asynccontextmanager
async def open_test_server(
    app: App, config: Config | None = None, **options: Any
) -> AsyncIterator[TestServer]:
    """Run ``app`` on 127.0.0.1 and a free port for the duration of the block.

    Args:
        app: The application.
        config: Base options (defaults when None); host and port are
            replaced by 127.0.0.1 and 0.
        **options: Option overrides as ``section__key=value``, e.g.
            ``websocket__idle_timeout=5``.

    On exit the app shuts down gracefully, as on SIGTERM.
    """
    config = (config or Config()).replace(server__host="127.0.0.1", server__port=0, **options)
    startup_error: Exception | None = None
    async with trio.open_nursery() as nursery:
        try:
            ports = await nursery.start(app.serve, config)
        except Exception as exc:
            # Re-raised below, outside the nursery, so callers see the error
            # itself (a ConfigError, say) rather than an ExceptionGroup.
            startup_error = exc
        else:
            try:
                yield TestServer(app, "127.0.0.1", ports[0])
            finally:
                with trio.CancelScope(shield=True):
                    await app.shutdown()
                nursery.cancel_scope.cancel()
    if startup_error is not None:
        raise startup_error
