"""A small run of the benchmark harness, so it cannot rot: it checks counts, never timings.

Builds bench/loadgen.c with gcc, then runs every scenario with 200 clients on
actorsock, on one peer (trio-websocket, installed with actorsock) and on the C
floor server (built with gcc).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_run_counts_every_delivery(tmp_path):
    assert shutil.which("gcc") or shutil.which("cc"), "the bench needs gcc to build its loadgen"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--servers",
            "actorsock,trio-websocket,C floor",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| actorsock |" in done.stdout
    report = json.loads((tmp_path / "latest.json").read_text())
    plan = report["plan"]
    for server in ("actorsock", "trio-websocket (natural)", "C floor (epoll, no library)"):
        results = report["results"][server]
        idle = results["idle"]
        assert idle["ready"] == plan["idle_clients"] and idle["failed"] == 0
        assert idle["received_check"] == plan["idle_clients"]
        assert idle["rss_per_conn_kb"] > 0

        broadcast = results["broadcast"]
        assert broadcast["connected"] == plan["broadcast_clients"]
        assert broadcast["rounds_complete"] == plan["rounds"]
        assert broadcast["deliveries"] == plan["broadcast_clients"] * plan["rounds"]

        throughput = results["throughput"]
        assert throughput["messages_complete"] == plan["tp_messages"]
        assert throughput["deliveries"] == plan["tp_clients"] * plan["tp_messages"]

        echo = results["echo"]
        assert echo["echo_rtts"] == plan["echo_clients"] * plan["echo_rounds"]

        echo_tp = results["echo_tp"]
        assert echo_tp["echo_rtts"] == plan["echo_clients"] * plan["echo_rounds"]
        assert echo_tp["echo_per_s"] > 0

        accept = results["accept"]
        assert accept["connected"] == plan["idle_clients"] and accept["failed"] == 0
        assert accept["max_pending"] == 500 and accept["connect_s"] > 0

        slow = results["slow"]
        # The slow client connects afresh for each of its blocks, every
        # other block, the warm-up included.
        blocks = slow["rounds"] // slow["slow_period"]
        assert blocks == plan["slow_blocks"] + slow["warmup_rounds"] // slow["slow_period"]
        assert slow["connected"] == plan["broadcast_clients"] + blocks // 2
        assert slow["rounds_complete"] == slow["rounds"]
        assert not slow["stalled"]

    # Only actorsock serves the broadcasts as Server-Sent Events: every
    # client but the WebSocket sender reads them as events.
    sse = report["results"]["actorsock"]["sse"]
    assert sse["connected"] == plan["broadcast_clients"]
    assert sse["rounds_complete"] == plan["rounds"]
    assert sse["deliveries"] == plan["broadcast_clients"] * plan["rounds"]
    assert report["results"]["C floor (epoll, no library)"]["sse"] == {
        "skipped": "no Server-Sent Events route"
    }
