"""Drain benchmark: SIGTERM with N idle WebSocket clients connected.

Starts ``examples/broadcast.py`` (JSON logs to a file), connects N clients
through ``bench/loadgen`` (idle mode), sends SIGTERM and reports, from the
signal on: when the last client got its close frame (the last ``close`` log
line), and when the process exited. The goal: every client closed within
``server.drain_timeout`` (10 s) and the exit right after the last close.

Usage::

    python bench/drain.py                  # 10,000 clients
    python bench/drain.py --clients 3000
    python bench/drain.py --check          # exit 1 unless every client got its
                                           # close, the exit came within 1 s of
                                           # the last close and within the
                                           # drain timeout (.ci/run does this)

Bounded: the load generator's own timeout, and a kill 60 s after SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BUILD, Running, Server, build_loadgen, idle_clients

DRAIN_TIMEOUT = 10.0  # server.drain_timeout's default

ACTORSOCK = Server(
    "actorsock",
    [sys.executable, "-m", "actorsock", "run", "examples.broadcast:app", "--log-format", "json"],
)


def _timestamp(line: dict[str, object]) -> float:
    return datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00")).timestamp()


def drain(clients: int, timeout: float) -> dict[str, object]:
    """Measure one drain of ``clients`` connections; returns the figures (seconds)."""
    build_loadgen()
    with Running(ACTORSOCK) as running:
        load, ready = idle_clients(running.port, clients, timeout)
        time.sleep(1.0)
        signalled = time.time()
        running.process.send_signal(signal.SIGTERM)
        try:
            running.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()
        exited = time.time()
        load.kill()
        load.communicate()
        log_path = running.log_path
    lines = []
    for raw in log_path.read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    closes = [_timestamp(line) for line in lines if line.get("event") == "close"]
    stopped = [_timestamp(line) for line in lines if line.get("event") == "stopped"]
    last_close = max(closes) - signalled if closes else None
    return {
        "clients": ready,
        "closed": len(closes),
        "last_close_s": None if last_close is None else round(last_close, 2),
        "stopped_log_s": round(stopped[0] - signalled, 2) if stopped else None,
        "exit_s": round(exited - signalled, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--check", action="store_true", help="fail unless the goals are met")
    args = parser.parse_args(argv)
    BUILD.mkdir(parents=True, exist_ok=True)
    result = drain(args.clients, args.timeout)
    print(json.dumps(result))
    problems = []
    if result["clients"] != args.clients or result["closed"] != args.clients:
        problems.append(f"{result['closed']} of {args.clients} clients closed")
    exit_s, last_close = float(result["exit_s"]), result["last_close_s"]
    if last_close is not None and exit_s - float(last_close) > 1.0:
        lag = exit_s - float(last_close)
        problems.append(f"exit {exit_s} s came {lag:.2f} s after the last close")
    if exit_s > DRAIN_TIMEOUT:
        problems.append(f"exit {exit_s} s is past the drain timeout ({DRAIN_TIMEOUT} s)")
    for problem in problems:
        print(f"drain: {problem}", file=sys.stderr)
    return 1 if args.check and problems else 0


if __name__ == "__main__":
    sys.exit(main())
