"""Fan-out benchmark: actorsock against peer servers, same load, same run.

Every server implements the broadcast contract of ``examples/broadcast.py``
(``/ws`` relays each text message to every ``/ws`` client, sender included;
``/echo`` echoes). The load comes from ``bench/loadgen.c`` (built here with
the machine's gcc). The server is pinned to CPU 0 and the load generator to
CPU 1 when the machine has two or more; each scenario starts a fresh server
process.

Scenarios:

* ``idle``: hold N connections; server RSS per connection, and apart from it
  the kernel's socket objects per server socket (from ``/proc/slabinfo``,
  readable by root only; "n/a" otherwise); one broadcast checks every client
  still receives.
* ``broadcast``: N clients, R rounds of one 64-byte message; median time from
  send to the last client's receive, per-client latency p50/p99.
* ``throughput``: C clients x M messages with a bounded window in flight;
  deliveries per second.
* ``echo``: E clients doing round trips on ``/echo`` while N ``/ws`` clients
  get a broadcast every second; round-trip p50/p99 (the run with the median
  p99 of three).
* ``slow``: broadcasts of 4 KiB messages; a client that never reads joins
  for every other block of rounds; the change in median completion time
  (same process, same connections, blocks without it around; the run with
  the median change of three).
* ``sse``: the broadcast, read by every client but the sender as
  Server-Sent Events (servers that serve them).
* ``accept``: N clients connecting at once, 500 handshakes in flight; the
  median of three runs.
* ``echo_tp``: E clients ping-ponging on ``/echo``, nothing else; round
  trips per second (the median of three runs).

Usage::

    python bench/run.py                 # the full run (several minutes)
    python bench/run.py --quick         # 200 clients, 3 rounds: a smoke run

Results: a markdown table on stdout, ``bench/results/latest.json`` and
``bench/results/latest.md``. Every run is bounded in count and time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
BUILD = BENCH / "build"
LOADGEN = BUILD / "loadgen"
C_FLOOR = BUILD / "c_floor"


@dataclass
class Server:
    name: str
    command: list[str]
    needs: str = ""  # an executable or module that must exist
    env: dict[str, str] = field(default_factory=dict)
    sse_path: str = ""  # a Server-Sent Events stream of the /ws broadcasts, if served
    # Run only when asked for by this name in --servers (a measurement aid).
    on_request: str = ""
    # The checkout the server runs from (its working directory and PYTHONPATH).
    tree: Path = ROOT


def other_checkout(tree: Path) -> Server:
    """actorsock as another checkout has it (``git worktree add DIR COMMIT``),
    run beside this one: what a change did to a figure, on the same machine."""
    tree = tree.resolve()
    commit = subprocess.run(
        ["git", "-C", str(tree), "log", "-1", "--format=%h"], capture_output=True, text=True
    ).stdout.strip()
    ours = next(server for server in servers() if server.name == "actorsock")
    # The same command and routes (a checkout from before the SSE route shows
    # an error in that column).
    return Server(
        f"actorsock at {commit or tree.name}",
        ours.command,
        env=ours.env,
        sse_path=ours.sse_path,
        tree=tree,
    )


def servers() -> list[Server]:
    py = sys.executable
    peers = BENCH / "peers"
    return [
        Server(
            "actorsock",
            [py, "-m", "actorsock", "run", "examples.broadcast:app", "--log-level", "warning"],
            # The default cap (10,000) would answer 503 past it.
            env={"ACTORSOCK_SERVER_MAX_CONNECTIONS": "100000"},
            sse_path="/events",
        ),
        Server(
            "actorsock (no direct lane)",
            [py, str(BENCH / "actorsock_without_lane.py")],
            env={"ACTORSOCK_SERVER_MAX_CONNECTIONS": "100000"},
            sse_path="/events",
            on_request="no-lane",
        ),
        Server("websockets (asyncio)", [py, str(peers / "websockets_asyncio.py")], "websockets"),
        Server("websockets (trio)", [py, str(peers / "websockets_trio.py")], "websockets.trio"),
        Server("aiohttp", [py, str(peers / "aiohttp_server.py")], "aiohttp"),
        Server("trio-websocket (natural)", [py, str(peers / "trio_websocket_natural.py")]),
        Server("C floor (epoll, no library)", [str(C_FLOOR)], "gcc"),
        Server(
            "node ws",
            ["node", str(peers / "node_ws.js")],
            "node",
            {"NODE_PATH": str(BUILD / "node_modules")},
        ),
    ]


# -- preparation -------------------------------------------------------------


def build(source: Path, target: Path) -> None:
    """Compile ``source`` with the machine's gcc unless ``target`` is newer."""
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return
    BUILD.mkdir(parents=True, exist_ok=True)
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise SystemExit(f"bench: gcc is needed to build {source.relative_to(ROOT)}")
    subprocess.run([compiler, "-O2", "-o", str(target), str(source)], check=True)


def build_loadgen() -> None:
    """Compile the C load generator if it is missing or older than its source."""
    build(BENCH / "loadgen.c", LOADGEN)


def availability(server: Server) -> str | None:
    """None if ``server`` can run here, else why not."""
    if not server.needs:
        return None
    if server.needs == "gcc":
        if not (shutil.which("gcc") or shutil.which("cc")):
            return "gcc not found"
        build(BENCH / "peers" / "c_floor.c", C_FLOOR)
        return None
    if server.needs == "node":
        if shutil.which("node") is None:
            return "node not found"
        if not (BUILD / "node_modules" / "ws").exists():
            npm = shutil.which("npm")
            if npm is None:
                return "npm not found"
            done = subprocess.run(
                [npm, "install", "--prefix", str(BUILD), "--no-save", "--silent", "ws@8"],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode != 0:
                return f"npm install ws failed: {done.stderr.strip()[:200]}"
        return None
    probe = subprocess.run([sys.executable, "-c", f"import {server.needs}"], capture_output=True)
    return None if probe.returncode == 0 else f"python module {server.needs} not installed"


def pinned(command: list[str], cpu: int) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu), *command]
    return command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- one server process ----------------------------------------------------------


class Running:
    """A server process on a free port, pinned to CPU 0; stopped on exit."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.port = free_port()
        env = {**os.environ, **server.env, "PYTHONPATH": str(server.tree)}
        # A file, not a pipe: a server that logs a lot must never block on it.
        BUILD.mkdir(parents=True, exist_ok=True)
        self.log_path = BUILD / f"server-{server.name.split()[0]}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            pinned([*server.command, "--port", str(self.port)], 0),
            cwd=server.tree,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> Running:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_path.read_text()[-500:]
                raise RuntimeError(f"{self.server.name} exited: {log}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"{self.server.name} did not listen within 20 s")

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()

    @property
    def pid(self) -> int:
        """The server's own pid (taskset execs the command in place)."""
        return self.process.pid

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


def tcp_buffer_bytes() -> int:
    """Kernel memory in TCP socket buffers, all sockets of the machine (/proc/net/sockstat)."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()
            return int(fields[fields.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE")
    return 0


# Kernel objects every TCP socket holds while open: the socket itself and its
# inode. (Its file and epoll entry are a few hundred bytes more, in caches
# shared with everything else, so they are left out.)
_SOCKET_SLABS = ("TCP", "TCPv6", "sock_inode_cache")


def tcp_socket_object_bytes() -> int | None:
    """Bytes of the kernel's TCP socket objects in use (/proc/slabinfo), None if unreadable."""
    try:
        lines = Path("/proc/slabinfo").read_text().splitlines()
    except OSError:  # root only on most systems
        return None
    total = 0
    for line in lines:
        fields = line.split()
        if fields and fields[0] in _SOCKET_SLABS:
            total += int(fields[1]) * int(fields[3])  # active objects x object size
    return total


def loadgen(port: int, timeout: float, **options: Any) -> dict[str, Any]:
    """Run the load generator to completion; return its JSON result."""
    args = [str(LOADGEN), "--port", str(port), "--timeout", str(timeout)]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(
        pinned(args, 1), capture_output=True, text=True, timeout=timeout + 60, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"loadgen failed ({done.returncode}): {done.stderr[-500:]}")
    return dict(json.loads(done.stdout))


# -- scenarios -------------------------------------------------------------------


def idle_clients(port: int, clients: int, timeout: float) -> tuple[subprocess.Popen[str], int]:
    """Start ``loadgen --mode idle``; return it and how many clients it opened.

    The clients stay until a line is written to the process's stdin (then one
    broadcast checks they all still receive) or ``timeout`` passes.
    """
    args = [str(LOADGEN), "--port", str(port), "--mode", "idle"]
    args += ["--clients", str(clients), "--timeout", str(timeout)]
    process = subprocess.Popen(
        pinned(args, 1),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    ready = 0
    deadline = time.monotonic() + timeout
    for line in process.stderr:
        if line.startswith("READY"):
            ready = int(line.split()[1])
            break
        if time.monotonic() > deadline:
            break
    return process, ready


def scenario_idle(server: Server, clients: int, timeout: float) -> dict[str, Any]:
    with Running(server) as running:
        time.sleep(0.5)
        rss_before = running.rss_kib()
        buffers_before, objects_before = tcp_buffer_bytes(), tcp_socket_object_bytes()
        process, ready = idle_clients(running.port, clients, timeout)
        assert process.stdin is not None
        time.sleep(1.0)  # let the server settle after the last handshake
        rss_after = running.rss_kib()
        buffers_after, objects_after = tcp_buffer_bytes(), tcp_socket_object_bytes()
        process.stdin.write("go\n")
        process.stdin.flush()
        out, _ = process.communicate(timeout=timeout + 30)
        result = dict(json.loads(out))
    connections = max(ready, 1)
    per_conn = (rss_after - rss_before) * 1024 / connections
    # Both ends of every connection live in this one kernel: the server's
    # socket is half of the objects the connections added.
    kernel_objects = (
        None
        if objects_before is None or objects_after is None
        else round((objects_after - objects_before) / 2 / connections / 1000, 2)
    )
    result.update(
        rss_before_kib=rss_before,
        rss_after_kib=rss_after,
        rss_per_conn_kb=round(per_conn / 1000, 2),
        kernel_socket_per_conn_kb=kernel_objects,
        # Machine-wide and near zero for idle sockets: other sockets' traffic
        # moves it by more than these connections do.
        kernel_tcp_buffers_per_conn_kb=round(
            (buffers_after - buffers_before) / connections / 1000, 2
        ),
    )
    return result


def scenario(server: Server, timeout: float, **options: Any) -> dict[str, Any]:
    with Running(server) as running:
        return loadgen(running.port, timeout, **options)


@dataclass
class Plan:
    idle_clients: int
    broadcast_clients: int
    rounds: int
    tp_clients: int
    tp_messages: int
    echo_clients: int
    echo_rounds: int
    slow_rounds: int
    slow_blocks: int
    timeout: float
    # Runs of each scenario in MEDIAN_OF, per server (the median is shown).
    repeated_runs: int = 3


# Echo: 5,000 round trips per client last about ten of the once-a-second
# broadcasts, so the tail is not decided by one or two of them.
FULL = Plan(15_000, 10_000, 20, 1_000, 1_000, 100, 5_000, 10, 6, 240.0)
QUICK = Plan(200, 200, 3, 50, 20, 10, 20, 3, 2, 60.0, repeated_runs=1)

# Scenarios whose figure swings by a fifth or more from run to run on a
# shared machine (the accept time, the echo rate, the echo tail, which a few
# milliseconds of the host's own work decide, and the slow-client effect, a
# difference of two medians that one slow block of the host moves by 25
# points (2026-12-02: +27.9% once, then +0.3, +2.9 and -1.4% for the same
# code, the C floor's -7.3 to +7.0%): each runs several times, servers
# taking turns (A B A B...) so that drift lands on every server alike, and
# the run with the median of the named figure is reported.
MEDIAN_OF = {
    "accept": "connect_s",
    "echo": "echo_rtt_ms_p99",
    "echo_tp": "echo_per_s",
    "slow": "slow_effect_pct",
}


def run_scenario(name: str, server: Server, plan: Plan) -> dict[str, Any]:
    if name == "idle":
        return scenario_idle(server, plan.idle_clients, plan.timeout)
    if name == "broadcast":
        return scenario(
            server,
            plan.timeout,
            mode="broadcast",
            clients=plan.broadcast_clients,
            rounds=plan.rounds,
        )
    if name == "sse":
        if not server.sse_path:
            return {"skipped": "no Server-Sent Events route"}
        # The same broadcast; every client but the sender reads it as SSE.
        return scenario(
            server,
            plan.timeout,
            mode="broadcast",
            clients=plan.broadcast_clients,
            rounds=plan.rounds,
            sse_path=server.sse_path,
        )
    if name == "accept":
        # After a deploy or a network blip every client reconnects at once:
        # how long until all are in, with 500 handshakes in flight.
        return scenario(
            server,
            plan.timeout,
            mode="broadcast",
            clients=plan.idle_clients,
            rounds=1,
            max_pending=500,
        )
    if name == "echo_tp":
        # 100 clients ping-ponging on /echo as fast as they can, nothing else.
        return scenario(
            server,
            plan.timeout,
            mode="echo",
            clients=0,
            echo_clients=plan.echo_clients,
            echo_rounds=plan.echo_rounds,
            broadcast_interval=0,
        )
    if name == "throughput":
        return scenario(
            server,
            plan.timeout,
            mode="throughput",
            clients=plan.tp_clients,
            messages=plan.tp_messages,
        )
    if name == "echo":
        return scenario(
            server,
            plan.timeout,
            mode="echo",
            clients=plan.broadcast_clients,
            echo_clients=plan.echo_clients,
            echo_rounds=plan.echo_rounds,
            broadcast_interval=1.0,
        )
    if name == "slow":
        # One process, one set of /ws connections; the slow client is away
        # for a block of rounds, then present for a block (connecting
        # afresh), and so on: A B A B A B. Interleaving puts the machine's
        # drift during the run on both sides. The first rounds of each block
        # are left out: the slow client's kernel buffers filling up, or the
        # server closing it after it left. The figure is the median, over the
        # blocks with the client, of the change against the blocks around.
        # Two more blocks come first (without, then with the slow client),
        # run but not counted: on fresh connections the first 15 or so 4 KiB
        # rounds run 25-30% slower on the fast servers, the C floor included
        # (a lasting step near round 15 in three runs of 2026-11-23), which
        # says more about the kernel or the load generator than the server.
        period, blocks, warmup = plan.slow_rounds, plan.slow_blocks, 2
        settle = min(2, period - 1)
        result = scenario(
            server,
            plan.timeout,
            mode="broadcast",
            clients=plan.broadcast_clients,
            rounds=period * (warmup + blocks),
            size=4096,
            slow=1,
            slow_period=period,
        )
        times = result["completion_ms"][period * warmup :]
        settled = [times[b * period + settle : (b + 1) * period] for b in range(blocks)]
        with_slow_all = [t for b in range(1, blocks, 2) for t in settled[b]]
        after = [t for t in with_slow_all if t >= 0]
        # Each block with the slow client against the blocks around it: a
        # lasting change of the machine's speed mid-run then touches one
        # pair, not every comparison.
        effects = []
        for b in range(1, blocks, 2):
            around = [t for k in (b - 1, b + 1) if k < blocks for t in settled[k] if t >= 0]
            inside = [t for t in settled[b] if t >= 0]
            if around and inside:
                effects.append(statistics.median(inside) / statistics.median(around) - 1)
        return {
            **result,
            "slow_period": period,
            "warmup_rounds": period * warmup,
            "block_effects_pct": [round(e * 100, 1) for e in effects],
            "stalled": len(after) < len(with_slow_all),
            "rounds_after": len(with_slow_all),
            "rounds_after_complete": len(after),
            "slow_effect_pct": round(statistics.median(effects) * 100, 1) if effects else None,
        }
    raise ValueError(name)


# -- report -----------------------------------------------------------------------


def cell(results: dict[str, Any], scenario_name: str, render: Any) -> str:
    value = results.get(scenario_name)
    if value is None:
        return "—"
    if "error" in value:
        return "error"
    if "skipped" in value:
        return "n/a"
    try:
        return str(render(value))
    except (KeyError, TypeError):
        return "—"


def slow_cell(result: dict[str, Any]) -> str:
    if result["stalled"]:
        done, rounds = result["rounds_after_complete"], result["rounds_after"]
        return f"stalled ({done}/{rounds} rounds after it joined)"
    return f"{result['slow_effect_pct']:+.1f}%"


def _median_label(plan: Plan) -> str:
    return f", median of {plan.repeated_runs}" if plan.repeated_runs > 1 else ""


def table(all_results: dict[str, dict[str, Any]], plan: Plan) -> str:
    header = (
        f"| server | RSS per idle conn ({plan.idle_clients:,} conns) "
        f"| {plan.broadcast_clients:,}-client broadcast, last receive (median of {plan.rounds}) "
        f"| broadcast latency p50 / p99 "
        f"| {plan.tp_clients:,} clients x {plan.tp_messages:,} msgs, deliveries/s "
        f"| echo RTT p50 / p99 / max ({plan.echo_clients} clients, "
        f"{plan.broadcast_clients:,} on /ws{_median_label(plan)}) "
        f"| slow client effect on broadcast{_median_label(plan)} "
        f"| broadcast over SSE, last receive "
        f"| accept {plan.idle_clients:,} clients{_median_label(plan)} "
        f"| echo msgs/s ({plan.echo_clients} clients{_median_label(plan)}) | loadgen CPU s |"
    )
    lines = [header, "|" + "---|" * 11]
    for name, results in all_results.items():
        if "skipped" in results:
            lines.append(f"| {name} | skipped: {results['skipped']} |" + " |" * 9)
            continue
        cpu = sum(
            float(value.get("loadgen_cpu_s", 0))
            for value in results.values()
            if isinstance(value, dict)
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    name,
                    cell(
                        results,
                        "idle",
                        lambda r: (
                            f"{r['rss_per_conn_kb']} KB (kernel socket "
                            + (
                                "n/a"
                                if r["kernel_socket_per_conn_kb"] is None
                                else f"{r['kernel_socket_per_conn_kb']:.2f} KB"
                            )
                            + ")"
                        ),
                    ),
                    cell(results, "broadcast", lambda r: f"{r['completion_ms_median']:.1f} ms"),
                    cell(
                        results,
                        "broadcast",
                        lambda r: f"{r['latency_ms_p50']:.1f} / {r['latency_ms_p99']:.1f} ms",
                    ),
                    cell(results, "throughput", lambda r: f"{r['deliveries_per_s']:,.0f}"),
                    cell(
                        results,
                        "echo",
                        lambda r: (
                            f"{r['echo_rtt_ms_p50']:.2f} / {r['echo_rtt_ms_p99']:.2f}"
                            f" / {r['echo_rtt_ms_max']:.1f} ms"
                        ),
                    ),
                    cell(results, "slow", slow_cell),
                    cell(results, "sse", lambda r: f"{r['completion_ms_median']:.1f} ms"),
                    cell(results, "accept", lambda r: f"{r['connect_s']:.2f} s"),
                    cell(results, "echo_tp", lambda r: f"{r['echo_per_s']:,.0f}"),
                    f"{cpu:.1f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def ratios(all_results: dict[str, dict[str, Any]]) -> list[str]:
    """The issue's goals as ratios taken in this run."""
    ours = all_results.get("actorsock", {})
    peer = all_results.get("websockets (asyncio)", {})
    notes = []
    try:
        b = ours["broadcast"]["completion_ms_median"] / peer["broadcast"]["completion_ms_median"]
        notes.append(f"broadcast time vs websockets (asyncio): {b:.2f}x (goal <= 0.85)")
        t = ours["throughput"]["deliveries_per_s"] / peer["throughput"]["deliveries_per_s"]
        notes.append(f"deliveries/s vs websockets (asyncio): {t:.2f}x (goal >= 1.1)")
    except (KeyError, TypeError, ZeroDivisionError):
        pass
    for label, compute, goal in (
        (
            "SSE broadcast vs WebSocket broadcast (actorsock)",
            lambda: ours["sse"]["completion_ms_median"] / ours["broadcast"]["completion_ms_median"],
            "<= 1.2",
        ),
        (
            "accept time vs websockets (asyncio)",
            lambda: ours["accept"]["connect_s"] / peer["accept"]["connect_s"],
            "<= 1.0",
        ),
        (
            "echo msgs/s vs websockets (asyncio)",
            lambda: ours["echo_tp"]["echo_per_s"] / peer["echo_tp"]["echo_per_s"],
            ">= 1.0",
        ),
    ):
        with contextlib.suppress(KeyError, TypeError, ZeroDivisionError):
            notes.append(f"{label}: {compute():.2f}x (goal {goal})")
    try:
        echo = ours["echo"]
        notes.append(
            f"echo RTT p99 / p99.9 under broadcast load: {echo['echo_rtt_ms_p99']:.2f} / "
            f"{echo['echo_rtt_ms_p999']:.2f} ms (goal: p99 <= 5 ms)"
        )
        slow = ours["slow"]
        notes.append(
            f"slow client effect: {slow['slow_effect_pct']:+.1f}% "
            f"(per block {slow['block_effects_pct']}; goal within 10%)"
        )
    except (KeyError, TypeError):
        pass
    return notes


def _wanted(server: Server, wanted: list[str]) -> bool:
    """Whether ``--servers`` picks ``server`` (name prefixes; on-request ones by their key)."""
    if server.on_request:
        return server.on_request in wanted
    return not wanted or any(server.name.startswith(w) for w in wanted)


def _median_run(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The run whose ``key`` is the median (the first error if any run failed),
    with every run's ``key`` beside it."""
    if len(runs) == 1:
        return runs[0]
    # A failed run, or one with no figure (a slow client that stalled the
    # broadcast), is the result to show.
    failed = [run for run in runs if "error" in run or run.get(key) is None or run.get("stalled")]
    if failed:
        return failed[0]
    ordered = sorted(runs, key=lambda run: float(run[key]))
    return {**ordered[len(ordered) // 2], f"{key}_runs": [run[key] for run in runs]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--servers", help="comma-separated names (default: all)")
    parser.add_argument(
        "--scenarios",
        default="idle,accept,broadcast,sse,throughput,echo,echo_tp,slow",
        help="comma-separated",
    )
    parser.add_argument(
        "--checkout",
        type=Path,
        action="append",
        default=[],
        help="also run actorsock from this other checkout (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="results folder")
    sizes = (
        "idle_clients",
        "broadcast_clients",
        "rounds",
        "tp_clients",
        "tp_messages",
        "echo_rounds",
    )
    for name in sizes:
        parser.add_argument("--" + name.replace("_", "-"), type=int)
    args = parser.parse_args(argv)

    plan = QUICK if args.quick else FULL
    overrides = {name: getattr(args, name) for name in sizes if getattr(args, name) is not None}
    plan = Plan(**{**asdict(plan), **overrides})
    build_loadgen()
    chosen = servers()
    wanted = [name.strip() for name in (args.servers or "").split(",") if name.strip()]
    chosen = [s for s in chosen if _wanted(s, wanted)]
    chosen += [other_checkout(tree) for tree in args.checkout]
    all_results: dict[str, dict[str, Any]] = {}
    for server in chosen:
        reason = availability(server)
        all_results[server.name] = {"skipped": reason} if reason else {}
    started = time.time()
    for name in args.scenarios.split(","):
        runs = plan.repeated_runs if name in MEDIAN_OF else 1
        attempts: dict[str, list[dict[str, Any]]] = {server.name: [] for server in chosen}
        for _ in range(runs):
            for server in chosen:
                if "skipped" in all_results[server.name]:
                    continue
                print(f"bench: {name} on {server.name}...", file=sys.stderr, flush=True)
                try:
                    attempts[server.name].append(run_scenario(name, server, plan))
                except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
                    attempts[server.name].append({"error": str(exc)[:500]})
        for server_name, done in attempts.items():
            if done:
                all_results[server_name][name] = _median_run(done, MEDIAN_OF.get(name, ""))

    report = table(all_results, plan)
    notes = ratios(all_results)
    print(report)
    for note in notes:
        print(f"- {note}")
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {
        "plan": asdict(plan),
        "started": started,
        "duration_s": round(time.time() - started, 1),
        "cpus": os.cpu_count(),
        "pinned": (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None,
        "results": all_results,
    }
    (args.out / "latest.json").write_text(json.dumps(payload, indent=2))
    (args.out / "latest.md").write_text(report + "\n" + "".join(f"- {n}\n" for n in notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
