"""Fuzzing request heads: random bytes and mutated upgrades never hurt anybody else.

The server and a crowd of echoing clients run in a trio run of their own, on
a thread; hypothesis sends each example from the test's thread over a plain
socket and reads the answer. Every answer must be a status below 500 or a
close, the server must stay up, and the crowd must never notice.
"""

from __future__ import annotations

import socket
import threading

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actorsock import App
from actorsock.testing import open_test_server, response_length

from .helpers import KEY, Echo, EchoCrowd, status_of

CROWD = 50

VALID = [
    b"GET /echo HTTP/1.1",
    b"Host: 127.0.0.1",
    b"Upgrade: websocket",
    b"Connection: Upgrade",
    b"Sec-WebSocket-Key: " + KEY.encode(),
    b"Sec-WebSocket-Version: 13",
    b"Origin: http://127.0.0.1",
    b"Sec-WebSocket-Protocol: chat, superchat",
    b"Cookie: session=abc",
]


class ServerThread:
    """An app and an echo crowd in their own trio run, on a thread."""

    def __init__(self) -> None:
        self.app = App(routes={"/echo": Echo})
        self.crowd = EchoCrowd(CROWD)
        self.port = 0
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)
        self.failure: BaseException | None = None

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        try:
            async with (
                open_test_server(self.app, server__handshake_timeout=2.0) as server,
                trio.open_nursery() as nursery,
            ):
                self.port = server.port
                nursery.start_soon(self.crowd.run, server)
                await self.crowd.wait_connected()
                self._ready.set()
                await self._stop.wait()
                self.crowd.stop()
        except BaseException as exc:  # reported by the test
            self.failure = exc
            raise
        finally:
            self._ready.set()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._ready.wait(60), "the server did not start"
        assert self.failure is None, self.failure
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._token is not None and self._stop is not None
        self._token.run_sync_soon(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the server did not stop"


@pytest.fixture(scope="module")
def server():
    with ServerThread() as running:
        yield running
    assert running.failure is None, running.failure
    running.crowd.assert_unharmed(min_rounds=5)


def exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, half-close, read the reply (up to a 101) until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close early on garbage
        reply = bytearray()
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            reply += chunk
            if reply.startswith(b"HTTP/1.1 101") or response_length(bytes(reply)) is not None:
                break  # upgraded, or one whole response (the stream may be kept)
    return bytes(reply)


def check_answer(reply: bytes) -> None:
    status = status_of(reply) if reply.startswith(b"HTTP/1.1 ") else None
    if reply and status is None:
        raise AssertionError(f"not an HTTP answer: {reply[:80]!r}")
    assert status is None or 100 < status < 500, reply[:200]


def mutations(lines: int) -> st.SearchStrategy:
    index = st.integers(0, lines - 1)
    noise = st.binary(max_size=48)
    return st.one_of(
        st.tuples(st.just("value"), index, noise),
        st.tuples(st.just("insert"), index, noise),
        st.tuples(st.just("duplicate"), index, st.none()),
        st.tuples(st.just("drop"), index, st.none()),
        st.tuples(st.just("byte"), st.integers(0, 300), st.integers(0, 255)),
    )


def mutate(steps: list[tuple[str, int, object]]) -> bytes:
    lines = list(VALID)
    for kind, where, what in steps:
        where %= len(lines) or 1
        if not lines:
            break
        if kind == "value":
            name = lines[where].split(b":", 1)[0]
            lines[where] = name + b": " + bytes(what)  # type: ignore[arg-type]
        elif kind == "insert":
            lines.insert(where, bytes(what))  # type: ignore[arg-type]
        elif kind == "duplicate":
            lines.insert(where, lines[where])
        elif kind == "drop" and len(lines) > 1:
            del lines[where]
        elif kind == "byte":
            raw = bytearray(b"\r\n".join(lines))
            raw[where % len(raw)] = int(what)  # type: ignore[call-overload]
            lines = bytes(raw).split(b"\r\n")
    return b"\r\n".join(lines) + b"\r\n\r\n"


FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples every run: the suite stays deterministic
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.slow
@FUZZ
@given(data=st.binary(max_size=600), end=st.booleans())
def test_random_bytes_get_a_4xx_or_a_close(server, data, end):
    check_answer(exchange(server.port, data + (b"\r\n\r\n" if end else b"")))


@pytest.mark.slow
@FUZZ
@given(steps=st.lists(mutations(len(VALID)), min_size=1, max_size=6), tail=st.binary(max_size=64))
def test_mutated_upgrades_get_a_status_or_a_close(server, steps, tail):
    check_answer(exchange(server.port, mutate(steps) + tail))


def test_the_server_is_still_there_for_everybody(server):
    # Runs after the fuzzing (file order): a newcomer is served too.
    assert status_of(exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
    assert server.app.statistics().connections == CROWD
