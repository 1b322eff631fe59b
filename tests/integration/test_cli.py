"""The command line, run as a user would: subprocesses, real ports, signals."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "actorsock"]


@contextmanager
def served(*args: str):
    """Start ``actorsock ARGS --port 0 --log-format json``; yield (process, port, log lines)."""
    process = subprocess.Popen(
        [*CLI, *args, "--port", "0", "--log-format", "json"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
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
            assert b"actorsock demo" in page.read()
        with connect(f"{base}/echo") as ws:
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
        with connect(f"{base}/rooms/tea") as alice:
            assert json.loads(alice.recv(timeout=5))["count"] == 1
            with connect(f"{base}/rooms/tea") as bob:
                assert json.loads(bob.recv(timeout=5)) == {
                    "event": "join",
                    "who": json.loads(alice.recv(timeout=5))["who"],
                    "count": 2,
                }
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
