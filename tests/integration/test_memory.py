"""A closed connection's memory comes back at once, without the cycle collector."""

from __future__ import annotations

import gc
import json
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import weakref
from pathlib import Path

import pytest
import trio

from actorsock import App, Handler, Stop, Text
from actorsock.testing import open_test_server

from .helpers import KEY, RawClient, frame, wait_for

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = ("actorsock", "trio_websocket", "wsproto", "tests")
CLI = [sys.executable, "-m", "actorsock"]


class Tracked(Handler):
    """Echoes, and leaves a weak reference to itself for the test.

    "crash" raises in the callback, "stop" ends the connection from the server.
    """

    instances: list[weakref.ref] = []

    async def websocket_init(self):
        Tracked.instances.append(weakref.ref(self))

    async def websocket_handle(self, frame):
        if frame == Text("crash"):
            raise RuntimeError("handler bug")
        if frame == Text("stop"):
            return Stop()
        return frame


def reset(client: RawClient) -> None:
    """Make the client's close a TCP reset (SO_LINGER 0)."""
    client.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


ENDINGS = ["close-frame", "reset", "reset-mid-message", "crash", "stop", "idle-timeout"]


@pytest.mark.parametrize("ending", ENDINGS)
async def test_a_closed_connection_is_freed_by_reference_counting(ending, autojump_clock):
    app = App(routes={"/echo": Tracked})
    async with open_test_server(app, websocket__idle_timeout=30.0) as server:
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            Tracked.instances.clear()
            client = await RawClient.connect(server.port, "/echo")
            if ending == "reset-mid-message":
                await client.send(frame(0x1, b"x" * 300_000)[:200_000])
                await wait_for(lambda: app.statistics().incomplete_bytes > 0)
            elif ending in ("crash", "stop", "idle-timeout"):
                if ending != "idle-timeout":
                    await client.send(frame(0x1, ending.encode()))
                expected = {"crash": 1011, "stop": 1000, "idle-timeout": 1000}[ending]
                with trio.fail_after(60):
                    assert await client.read_close_code() == expected
            else:
                await client.send(frame(0x1, b"hello"))
                assert await client.read_frame() == (0x1, b"hello")
            if ending == "close-frame":
                await client.send(frame(0x8, b"\x03\xe8"))
                assert (await client.read_frame())[0] == 0x8
            elif ending in ("reset", "reset-mid-message"):
                reset(client)
            await client.aclose()
            await wait_for(lambda: not app.connections())
            await trio.testing.wait_all_tasks_blocked()
            assert [ref() for ref in Tracked.instances] == [None]  # gone, no collection ran
            assert app.statistics().incomplete_bytes == 0
            gc.collect()
            left = [o for o in gc.garbage if type(o).__module__.startswith(LIBRARIES)]
            assert left == [], sorted({type(o).__qualname__ for o in left})
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _connections(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as reply:
        return int(json.loads(reply.read())["connections"])


def _partial_message_clients(port: int, count: int) -> list[socket.socket]:
    """``count`` clients that each send 1 MiB - 1 byte of a 1 MiB message and hold it."""
    head = (
        "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    size = 1 << 20
    # Masked with a zero key, so the payload goes out as it is.
    header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", size) + b"\0\0\0\0"
    payload = b"a" * (size - 1)
    clients = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(head)
        assert sock.recv(12) == b"HTTP/1.1 101"
        sock.sendall(header + payload)
        clients.append(sock)
    return clients


@pytest.mark.slow
def test_rss_comes_back_after_rounds_of_clients_holding_partial_messages():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*CLI, "run", "examples.broadcast:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _connections(port)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        before = _rss_kib(server.pid)
        after_round = []
        for round_number in range(6):
            clients = _partial_message_clients(port, 100)
            time.sleep(0.5)  # the server reads what they sent
            if round_number == 0:  # about 100 MB held for the partial messages
                assert _rss_kib(server.pid) > before + 50 * 1024
            for sock in clients:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            deadline = time.monotonic() + 20
            while _connections(port):
                assert time.monotonic() < deadline, "connections did not end"
                time.sleep(0.05)
            time.sleep(0.2)
            after_round.append(_rss_kib(server.pid))
        first = after_round[0]
        print("RSS after each round (KiB):", after_round)
        # Each round held about 100 MB; what stays is what the first round left.
        assert max(after_round[1:]) <= first + 20 * 1024, after_round
    finally:
        server.terminate()
        server.wait(20)
