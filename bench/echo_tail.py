"""Where the echo scenario's slow round trips fall: next to a broadcast, or anywhere.

Reads the file of ``loadgen --mode echo --rtt-dump FILE`` and prints the round-trip
percentiles of the whole run, of the round trips that ended within ``--window`` ms after a
broadcast was sent and of the others, how many of the slowest 1% ended in such a window
(against the share of all round trips that did), and p50 / p99 per second of the run::

    python bench/echo_tail.py /tmp/rtts.txt --window 100

If the broadcasts made the tail, the slowest 1% would crowd into the windows after them;
if the whole distribution is wide, they fall there no more often than any round trip.
"""

from __future__ import annotations

import argparse
import bisect
from pathlib import Path


def percentile_us(values: list[int], fraction: float) -> int:
    """The ``fraction`` percentile of sorted, non-empty ``values`` (µs)."""
    return values[min(len(values) - 1, int(len(values) * fraction))]


def percentile(values: list[int], fraction: float) -> float:
    """The ``fraction`` percentile of sorted ``values`` in milliseconds (0 if empty)."""
    return percentile_us(values, fraction) / 1000 if values else 0.0


def read_dump(path: Path) -> tuple[list[tuple[int, int]], list[int]]:
    """The round trips as (ended µs, rtt µs), and the broadcasts' send times (µs)."""
    trips: list[tuple[int, int]] = []
    broadcasts: list[int] = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields[0] == "B":
            broadcasts.append(int(fields[1]))
        else:
            trips.append((int(fields[0]), int(fields[1])))
    return trips, sorted(broadcasts)


def after_broadcast(ended: int, broadcasts: list[int], window_us: int) -> bool:
    index = bisect.bisect_right(broadcasts, ended) - 1
    return index >= 0 and ended - broadcasts[index] < window_us


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dump", type=Path, help="the file of loadgen --rtt-dump")
    parser.add_argument("--window", type=float, default=100.0, help="ms after each broadcast")
    args = parser.parse_args(argv)
    trips, broadcasts = read_dump(args.dump)
    if not trips:
        raise SystemExit(f"{args.dump}: no round trips")
    window_us = int(args.window * 1000)
    # Whether each round trip ended in a window after a broadcast, decided once.
    marked = [(rtt, after_broadcast(ended, broadcasts, window_us)) for ended, rtt in trips]
    everything = sorted(rtt for rtt, _ in marked)
    near = sorted(rtt for rtt, in_window in marked if in_window)
    far = sorted(rtt for rtt, in_window in marked if not in_window)
    slowest = percentile_us(everything, 0.99)
    tail = [in_window for rtt, in_window in marked if rtt >= slowest]
    tail_near = sum(tail)
    print(f"{len(trips):,} round trips, {len(broadcasts)} broadcasts")
    for name, values in (
        ("all", everything),
        (f"ending <{args.window:g} ms after a broadcast", near),
        ("the others", far),
    ):
        print(
            f"  {name}: {len(values):,}, p50 {percentile(values, 0.5):.2f} ms, "
            f"p99 {percentile(values, 0.99):.2f} ms"
        )
    print(
        f"  slowest 1%: {tail_near / len(tail):.1%} ended in those windows, "
        f"which hold {len(near) / len(trips):.1%} of all round trips"
    )
    seconds: dict[int, list[int]] = {}
    for ended, rtt in trips:
        seconds.setdefault(ended // 1_000_000, []).append(rtt)
    print("  per second, p50 / p99 ms:")
    for second, values in sorted(seconds.items()):
        values.sort()
        print(f"    {second:3d}: {percentile(values, 0.5):.2f} / {percentile(values, 0.99):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
