"""Memory per idle WebSocket connection, and proof the connections are alive.

Starts ``actorsock run examples.broadcast:app`` in a subprocess, opens N
WebSocket connections to ``/ws`` from this process (a lean hand-written
client, spread over 127.0.0.x source addresses), then reports:

* server RSS before and after, and the difference per connection
  (the handler object, its task, mailbox and the trio-websocket connection);
* kernel TCP memory from /proc/net/sockstat, reported apart;
* how many clients receive one broadcast sent by one of them (all must).

Every loop is bounded in count and time; only loopback is used.

    python bench/idle_connections.py --connections 5000
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[1]
REQUEST = (
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def tcp_mem_pages() -> int:
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()
            return int(fields[fields.index("mem") + 1])
    return 0


def start_server() -> tuple[subprocess.Popen[str], int]:
    """Start the broadcast example on a free port; a thread keeps draining its log."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "actorsock",
            "run",
            "examples.broadcast:app",
            "--port",
            "0",
            "--log-format",
            "json",
            "--log-level",
            "info",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ACTORSOCK_SERVER_MAX_CONNECTIONS": "100000"},
    )
    ports: list[int] = []
    ready = threading.Event()

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if not ports and '"listening"' in line:
                ports.append(json.loads(line)["ports"][0])
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(20) or not ports:
        process.kill()
        raise RuntimeError("the server did not start")
    return process, ports[0]


async def open_client(port: int, source: str) -> trio.SocketStream:
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    stream = trio.SocketStream(sock)
    key = base64.b64encode(os.urandom(16)).decode()
    await stream.send_all(REQUEST.format(key=key).encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = await stream.receive_some(4096)
        if not chunk:
            raise ConnectionError("closed during handshake")
        reply += chunk
    if not reply.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(reply[:40])
    return stream


def masked_text(payload: bytes) -> bytes:
    mask = os.urandom(4)
    return (
        bytes([0x81, 0x80 | len(payload)])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    )


async def main(count: int, settle: float) -> dict[str, float]:
    process, port = start_server()
    try:
        await trio.sleep(1.0)
        rss_before, tcp_before = rss_kib(process.pid), tcp_mem_pages()
        streams: list[trio.SocketStream] = []
        with trio.fail_after(120):
            limiter = trio.CapacityLimiter(200)

            async def one(i: int) -> None:
                async with limiter:
                    streams.append(await open_client(port, f"127.0.0.{2 + i % 50}"))

            async with trio.open_nursery() as nursery:
                for i in range(count):
                    nursery.start_soon(one, i)
        await trio.sleep(settle)
        rss_after, tcp_after = rss_kib(process.pid), tcp_mem_pages()
        payload = b"hello everyone"
        await streams[0].send_all(masked_text(payload))
        received = 0
        with trio.move_on_after(30):
            for stream in streams:
                data = b""
                while len(data) < 2 + len(payload):
                    data += await stream.receive_some(4096)
                received += payload in data
        for stream in streams:
            await trio.aclose_forcefully(stream)
        return {
            "connections": count,
            "server_rss_before_mib": round(rss_before / 1024, 1),
            "server_rss_after_mib": round(rss_after / 1024, 1),
            "rss_per_connection_kib": round((rss_after - rss_before) / count, 2),
            "kernel_tcp_mem_per_connection_kib": round(
                (tcp_after - tcp_before) * 4 / (2 * count), 2
            ),
            "broadcast_received": received,
        }
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds to wait before reading RSS"
    )
    args = parser.parse_args()
    result = trio.run(main, args.connections, args.settle)
    print(json.dumps(result, indent=2))
    print(
        f"\n| connections | RSS before | RSS after | RSS / conn | kernel TCP / socket "
        f"| got broadcast |\n|---|---|---|---|---|---|\n"
        f"| {result['connections']} | {result['server_rss_before_mib']} MiB "
        f"| {result['server_rss_after_mib']} MiB | {result['rss_per_connection_kib']} KiB "
        f"| {result['kernel_tcp_mem_per_connection_kib']} KiB "
        f"| {result['broadcast_received']}/{result['connections']} |"
    )
