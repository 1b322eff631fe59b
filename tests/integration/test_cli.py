"""The command line, run as a user would: subprocesses, real ports, signals."""

from __future__ import annotations

import itertools
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "actorsock"]


@contextmanager
def served(*args: str, env: dict | None = None, descriptors: int | None = None):
    """Start ``actorsock ARGS --port 0 --log-format json``; yield (process, port, log lines).

    Args:
        env: Extra environment variables.
        descriptors: A file-descriptor limit (RLIMIT_NOFILE) for the server.
    """

    def limit() -> None:
        if descriptors is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (descriptors, descriptors))

    process = subprocess.Popen(
        [*CLI, *args, "--port", "0", "--log-format", "json"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=limit if descriptors is not None else None,
    )
    lines: list[dict] = []
    ready = threading.Event()

    def read_log():
        for line in process.stderr:
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append({"raw": line})
            if lines[-1].get("event") == "listening":
                ready.set()
        ready.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        assert ready.wait(20), "server did not start"
        listening = [line for line in lines if line.get("event") == "listening"]
        assert listening, lines
        yield process, listening[0]["ports"][0], lines
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        reader.join(5)
        process.stderr.close()


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def test_version_and_help():
    assert run("version").stdout.strip().startswith("actorsock 0.")
    help_text = run("--help").stdout
    assert "run" in help_text and "demo" in help_text and "version" in help_text
    assert "--config" in run("run", "--help").stdout


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["demo", "--config", "{bad}"], {}, "server.port"),
        (["demo", "--config", "{unknown}"], {}, "server.colour"),
        (["demo"], {"ACTORSOCK_WEBSOCKET_OVERFLOW": "explode"}, "ACTORSOCK_WEBSOCKET_OVERFLOW"),
        (["demo", "--config", "/no/such/file.toml"], {}, "/no/such/file.toml"),
        (["run", "no_such_module:app"], {}, "no_such_module"),
        (["run", "examples.broadcast:nothing"], {}, "nothing"),
    ],
)
def test_configuration_mistakes_exit_2_naming_key_and_file(tmp_path, args, env, needle):
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nport = "eighty"\n')
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[server]\ncolour = "blue"\n')
    args = [a.replace("{bad}", str(bad)).replace("{unknown}", str(unknown)) for a in args]
    result = run(*args, env=env)
    assert result.returncode == 2, result
    assert needle in result.stderr
    if "{bad}" in " ".join(args) or ("--config" in args and "bad" in args[-1]):
        assert str(bad) in result.stderr


def test_demo_serves_echo_rooms_and_dashboard():
    with served("demo") as (process, port, lines):
        base = f"ws://127.0.0.1:{port}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as page:
            html = page.read()
        assert b"actorsock demo" in html
        assert b'name="viewport"' in html  # readable on a phone
        assert html.count(b'<svg class="chart"') == 2  # the last minute, drawn
        assert b"http://" not in html.replace(b"http://www.w3.org", b"")  # nothing fetched
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico") as icon:
            assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
        with connect(f"{base}/echo") as ws:
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
        with connect(f"{base}/rooms/tea") as alice:
            welcome = json.loads(alice.recv(timeout=5))  # which pid is mine
            assert welcome["event"] == "welcome" and welcome["count"] == 1
            mine = {"event": "join", "who": welcome["you"], "count": 1}
            assert json.loads(alice.recv(timeout=5)) == mine
            with connect(f"{base}/rooms/tea") as bob:
                bob_welcome = json.loads(bob.recv(timeout=5))
                assert bob_welcome["event"] == "welcome" and bob_welcome["you"] != welcome["you"]
                joined = {"event": "join", "who": bob_welcome["you"], "count": 2}
                assert json.loads(bob.recv(timeout=5)) == joined
                assert json.loads(alice.recv(timeout=5)) == joined
                alice.send("hi bob")
                message = json.loads(bob.recv(timeout=5))
                assert message["event"] == "message" and message["text"] == "hi bob"
                with pytest.raises(TimeoutError):
                    alice.recv(timeout=0.3)  # the sender does not get its own message
            left = json.loads(alice.recv(timeout=5))
            assert left["event"] == "leave" and left["count"] == 1
        with connect(f"{base}/dashboard") as dash:
            ticks, stamps = [], []
            for _ in range(3):
                ticks.append(json.loads(dash.recv(timeout=5)))
                stamps.append(time.monotonic())
            assert all(t["event"] == "tick" and t["connections"] >= 1 for t in ticks)
            gaps = [b - a for a, b in itertools.pairwise(stamps)]
            assert all(0.7 < gap < 1.3 for gap in gaps), gaps
        # The same figures as Server-Sent Events, read by httpx-sse.
        with (
            httpx.Client(timeout=5) as client,
            connect_sse(client, "GET", f"http://127.0.0.1:{port}/events/dashboard") as source,
        ):
            assert source.response.headers["content-type"].startswith("text/event-stream")
            events = source.iter_sse()
            first, second = next(events), next(events)
            assert first.event == second.event == "tick"
            assert int(second.id) == int(first.id) + 1
            assert json.loads(first.data)["connections"] >= 1
        assert b'new EventSource("/events/dashboard")' in html
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
    closes = [line for line in lines if line.get("event") == "close"]
    assert closes and all("pid" in c and "route" in c and "remote" in c for c in closes)


def test_sigterm_closes_clients_with_1001_and_exits_0():
    with served("run", "examples.broadcast:app") as (process, port, lines):
        stack = ExitStack()
        clients = [stack.enter_context(connect(f"ws://127.0.0.1:{port}/ws")) for _ in range(3)]
        clients[0].send("hello all")
        assert [c.recv(timeout=5) for c in clients] == ["hello all"] * 3
        process.send_signal(signal.SIGTERM)
        for client in clients:
            with pytest.raises(ConnectionClosed) as caught:
                client.recv(timeout=10)
            assert caught.value.rcvd.code == 1001
        assert process.wait(15) == 0
        stack.close()
    reasons = [line["reason"] for line in lines if line.get("event") == "close"]
    assert reasons == ["shutdown"] * 3


def test_version_flag():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip().startswith("actorsock 0.")


def test_a_taken_port_is_one_line_naming_the_address_and_exit_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("demo", "--port", str(port))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "--port" in lines[0]
    assert "Traceback" not in result.stderr


def test_the_start_line_gives_the_url_to_open_and_the_routes():
    with served("demo", descriptors=4096) as (_, port, lines):
        start = next(line for line in lines if line.get("event") == "listening")
    assert start["url"] == f"http://127.0.0.1:{port}/"
    assert f"ws://127.0.0.1:{port}/echo" in start["websocket_routes"]
    assert "/" in start["http_routes"]
    # The default cap follows the descriptor limit, less 100 kept in reserve.
    assert (start["max_connections"], start["descriptor_limit"]) == (3996, 4096)


def test_an_unknown_actorsock_variable_warns_and_the_server_starts():
    env = {"ACTORSOCK_HOME": "/opt/app", "ACTORSOCK_SERVER_PROT": "1"}
    with served("demo", env=env) as (_, port, lines):
        assert json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").read())
    warnings = [line["raw"] for line in lines if "warning" in line.get("raw", "")]
    assert any("ACTORSOCK_HOME" in line for line in warnings), lines[:5]
    assert any("ACTORSOCK_SERVER_PORT" in line for line in warnings)  # the closest option


def test_a_missing_file_named_by_the_environment_blames_the_variable():
    result = run("demo", env={"ACTORSOCK_CONFIG": "/no/such/actorsock.toml"})
    assert result.returncode == 2
    assert "ACTORSOCK_CONFIG" in result.stderr and "--config" not in result.stderr


@pytest.mark.slow
def test_a_full_descriptor_table_is_logged_once_a_second_with_a_count():
    # A cap above what the descriptors allow, so that accept() itself fails.
    env = {"ACTORSOCK_SERVER_MAX_CONNECTIONS": "1000"}
    with served("demo", env=env, descriptors=96) as (_, port, lines), ExitStack() as held:
        for _ in range(140):
            held.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(3.0)
        failing = [line for line in lines if line.get("event", "").startswith("cannot accept")]
        assert 2 <= len(failing) <= 5, failing  # about one a second, not ten
        assert sum(line["failures"] for line in failing) > len(failing)  # the rest counted
        assert "Traceback" not in "".join(line.get("raw", "") for line in lines)
        held.close()
        deadline = time.monotonic() + 10
        while not any(line.get("event") == "accepting connections again" for line in lines):
            assert time.monotonic() < deadline, lines[-5:]
            time.sleep(0.1)
        assert json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").read())


@pytest.mark.slow
def test_silent_sockets_past_the_descriptor_limit_do_not_lock_clients_out():
    with served("demo", descriptors=256) as (_, port, lines), ExitStack() as held:
        for _ in range(400):  # more than the server can hold open
            held.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
        with connect(f"ws://127.0.0.1:{port}/echo", open_timeout=10) as ws:
            ws.send("still in")
            assert ws.recv(timeout=10) == "still in"
        assert json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").read())
        assert not any(line.get("event", "").startswith("cannot accept") for line in lines)


@pytest.mark.slow
def test_sigterm_right_after_refused_upgrades_exits_at_once():
    with served("demo") as (process, port, _):
        refused = [
            b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /echo HTTP/1.1\r\nHost: xn--zz\r\nUpgrade: websocket\r\n\r\n",
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n",
        ]
        for raw in refused:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(raw)
                assert sock.recv(12)[:9] == b"HTTP/1.1 "
        time.sleep(0.5)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        # Nothing was open: no wait for a handshake timeout (10 s) or a drain.
        assert time.monotonic() - started < 3.0
