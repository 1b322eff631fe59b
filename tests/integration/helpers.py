"""Handlers and raw-socket helpers shared by the integration tests."""

from __future__ import annotations

import base64
import os
import struct
from typing import Any

import trio

from actorsock import Binary, Close, Handler, Ping, Pong, Reject, SetOptions, Stop, Text, registry
from actorsock.testing import response_length

from ..client_frames import client_frame

KEY = base64.b64encode(os.urandom(16)).decode()


class Echo(Handler):
    async def websocket_handle(self, frame):
        if isinstance(frame, Text | Binary):
            return frame
        return None


def lifecycle_handler(**options: Any) -> tuple[type[Handler], list[tuple[str, Any]]]:
    """A handler class that records its callbacks; returns (class, events).

    Text commands from the client: "stop", "close", "crash", "frames",
    "idle:<seconds>", "register:<key>", "burst:<n>" (n frames at once);
    anything else is echoed. ``init`` refuses the path "/reject" (401) and
    raises for "/init-crash".
    """
    events: list[tuple[str, Any]] = []

    class Recorder(Handler):
        async def init(self, request):
            events.append(("init", request))
            if request.path == "/reject":
                return Reject(401, "who are you")
            if request.path == "/init-crash":
                raise RuntimeError("init bug")
            return None

        async def websocket_init(self):
            events.append(("websocket_init", self.pid))

        async def websocket_handle(self, frame):
            events.append(("handle", frame))
            if isinstance(frame, Ping | Pong):
                return None
            text = frame.text if isinstance(frame, Text) else ""
            if text == "stop":
                return Stop()
            if text == "close":
                return [Text("bye"), Close(4001, "asked to close"), Text("never sent")]
            if text == "crash":
                raise RuntimeError("handler bug")
            if text == "frames":
                return [Text("one"), Binary(b"two"), Text("three")]
            if text.startswith("idle:"):
                return SetOptions(idle_timeout=float(text[5:]))
            if text.startswith("register:"):
                registry.register(text[9:], "v")
                return Text("registered")
            if text.startswith("burst:"):
                return [Text(f"b{i}") for i in range(int(text[6:]))]
            return frame

        async def websocket_info(self, message):
            events.append(("info", message))
            return Text(f"info:{message}")

        async def terminate(self, reason):
            events.append(("terminate", reason))

    for name, value in options.items():
        setattr(Recorder, name, value)
    return Recorder, events


def reasons(events: list[tuple[str, Any]]) -> list[Any]:
    return [value for name, value in events if name == "terminate"]


async def wait_for(predicate, timeout: float = 5.0, step: float = 0.01) -> None:
    """Poll ``predicate`` (checkpoints in between) until true, or fail."""
    with trio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - polling state owned by the server
            await trio.sleep(step)


def upgrade_request(path: str, host: str = "127.0.0.1", **headers: str) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True) -> bytes:
    """Encode one client frame by hand, with a random mask (so tests can break the rules)."""
    return client_frame(opcode, payload, fin=fin, masked=masked)


class RawClient:
    """A hand-driven WebSocket client over a trio TCP stream."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def connect(cls, port: int, path: str, *, receive_buffer: int = 0) -> RawClient:
        """Open a connection and complete the upgrade.

        Args:
            receive_buffer: If set, the socket's SO_RCVBUF (before connecting),
                so a client that stops reading fills up quickly.
        """
        sock = trio.socket.socket()
        if receive_buffer:
            sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, receive_buffer)
        await sock.connect(("127.0.0.1", port))
        client = cls(trio.SocketStream(sock))
        await client.stream.send_all(upgrade_request(path))
        head = await client._read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return client

    async def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise EOFError(self.buffer)
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    async def _read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise EOFError(self.buffer)
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    async def read_frame(self) -> tuple[int, bytes]:
        b0, b1 = await self._read_exactly(2)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self._read_exactly(8))
        return b0 & 0x0F, await self._read_exactly(length)

    async def read_close_code(self) -> int:
        """Read frames until a close frame; return its code."""
        while True:
            opcode, payload = await self.read_frame()
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0] if payload else 1005

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def aclose(self) -> None:
        await self.stream.aclose()


class EchoCrowd:
    """Clients that keep echoing while a test does something else, and say if they noticed.

    Attributes:
        rounds: Round trips completed, per client.
        problems: ``(client, exception)`` for every client that saw an error.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.rounds = [0] * count
        self.problems: list[tuple[int, BaseException]] = []
        self.connected = 0
        self._all_connected = trio.Event()
        self._stop = trio.Event()

    async def run(self, server: Any, *, pace: float = 0.05) -> None:
        """Connect every client and echo until :meth:`stop` (run it in a nursery)."""
        async with trio.open_nursery() as nursery:
            for index in range(self.count):
                nursery.start_soon(self._client, server, index, pace)

    async def wait_connected(self, timeout: float = 30.0) -> None:
        with trio.fail_after(timeout):
            await self._all_connected.wait()

    def stop(self) -> None:
        self._stop.set()

    async def _client(self, server: Any, index: int, pace: float) -> None:
        try:
            async with server.connect("/echo") as ws:
                self.connected += 1
                if self.connected == self.count:
                    self._all_connected.set()
                while not self._stop.is_set():
                    text = f"{index}:{self.rounds[index]}"
                    await ws.send_message(text)
                    with trio.fail_after(10):
                        reply = await ws.get_message()
                    if reply != text:
                        raise AssertionError(f"sent {text!r}, got {reply!r}")
                    self.rounds[index] += 1
                    await trio.sleep(pace)
        except Exception as exc:
            self.problems.append((index, exc))
            self._all_connected.set()  # do not keep the test waiting

    def assert_unharmed(self, min_rounds: int = 1) -> None:
        assert self.problems == [], self.problems[:5]
        assert min(self.rounds) >= min_rounds, sorted(self.rounds)[:5]


async def read_reply(port: int, raw: bytes, timeout: float = 10.0) -> bytes:
    """Send ``raw`` on a new connection, half-close, and read until the server closes."""
    with trio.fail_after(timeout):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(raw)
            data = bytearray()
            while True:
                try:
                    chunk = await stream.receive_some(65536)
                except trio.BrokenResourceError:
                    break
                if not chunk:
                    break
                data += chunk
                if data.startswith(b"HTTP/1.1 101"):
                    break  # upgraded: the server waits for frames now
                if response_length(bytes(data)) is not None:
                    break  # whole; the server may keep the connection for more
    return bytes(data)


def status_of(reply: bytes) -> int | None:
    """The status code of an HTTP reply, or None when the server just closed."""
    if not reply:
        return None
    line = reply.split(b"\r\n", 1)[0].split(b" ")
    assert line[0] == b"HTTP/1.1", reply[:80]
    return int(line[1])
