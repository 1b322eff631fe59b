"""A small run of the benchmark harness, so it cannot rot: it checks counts, never timings.

Builds bench/loadgen.c with gcc, then runs every scenario with 200 clients on
actorsock, on one peer (trio-websocket, installed with actorsock) and on the C
floor server (built with gcc).
"""

from __future__ import annotations

import importlib.util
import itertools
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


def _bench_harness():
    """bench/run.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_rtt_dump_records_every_round_trip_and_broadcast(tmp_path):
    bench = _bench_harness()
    bench.build_loadgen()
    ours = next(server for server in bench.servers() if server.name == "actorsock")
    dump = tmp_path / "rtts.txt"
    clients, rounds = 5, 200
    with bench.Running(ours) as running:
        result = bench.loadgen(
            running.port,
            60.0,
            mode="echo",
            clients=20,
            echo_clients=clients,
            echo_rounds=rounds,
            broadcast_interval=0.01,
            rtt_dump=dump,
        )
    lines = [line.split() for line in dump.read_text().splitlines()]
    trips = [fields for fields in lines if fields[0] != "B"]
    broadcasts = [int(fields[1]) for fields in lines if fields[0] == "B"]
    assert len(trips) == result["echo_rtts"] == clients * rounds
    assert len(broadcasts) == result["broadcasts"] > 0
    assert broadcasts == sorted(broadcasts)
    # Each client's round trips, in the order they ended: one in flight at a
    # time, so each began after the one before it ended.
    by_client: dict[str, list[tuple[int, int]]] = {}
    for ended, rtt, client in trips:
        by_client.setdefault(client, []).append((int(ended), int(rtt)))
    assert sorted(map(len, by_client.values())) == [rounds] * clients
    for own in by_client.values():
        for (ended_before, _), (ended, rtt) in itertools.pairwise(own):
            assert ended - rtt >= ended_before - 1  # microseconds, rounded down
    report = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "echo_tail.py"), str(dump)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert f"{clients * rounds:,} round trips, {len(broadcasts)} broadcasts" in report
    assert "slowest 1%:" in report
