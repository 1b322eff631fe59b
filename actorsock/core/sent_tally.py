"""Frames and bytes written straight to sockets, counted per file descriptor.

A broadcast writes to thousands of sockets in one loop. Counting each write
on the connection's own objects (two attribute updates on two separate
Python ints) costs cache misses per recipient, a noticeable share of the
loop (bench/README.md, "Design figures"): by then the kernel's work on the
previous sockets has evicted those objects from the cache. A
:class:`SentTally` keeps the counts in two flat arrays indexed by
descriptor instead, and the writer adds a whole run of writes at once,
right after making them (see
:func:`actorsock.runtime.fan_out.fan_out_frames`).

Descriptors are unique among open files of a process, so one tally serves
every connection of the process; a descriptor's counts belong to the
connection that holds it from :meth:`SentTally.open` to
:meth:`SentTally.close`, which hands them back to be kept with the
connection's other counters. No I/O here.
"""

from __future__ import annotations

from array import array

__all__ = ["SentTally"]


class SentTally:
    """Counts of data frames and bytes written, per open file descriptor."""

    __slots__ = ("_bytes", "_frames")

    def __init__(self) -> None:
        self._frames = array("q")
        self._bytes = array("q")

    def open(self, fd: int) -> None:
        """Start counting for ``fd`` from zero (a new connection took it)."""
        if fd >= len(self._frames):
            zeros = array(
                "q", bytes(8 * (max(fd + 1, 2 * len(self._frames), 1024) - len(self._frames)))
            )
            self._frames.extend(zeros)
            self._bytes.extend(zeros)
        self._frames[fd] = 0
        self._bytes[fd] = 0

    def add(self, fds: list[int], frames: int, size: int) -> None:
        """Count ``frames`` frames of ``size`` bytes in all for each of ``fds``."""
        counted, sent = self._frames, self._bytes
        for fd in fds:
            counted[fd] += frames
            sent[fd] += size

    def get(self, fd: int) -> tuple[int, int]:
        """Frames and bytes counted for ``fd`` since it was opened."""
        return self._frames[fd], self._bytes[fd]

    def close(self, fd: int) -> tuple[int, int]:
        """Stop counting for ``fd``; return its frames and bytes."""
        counts = self.get(fd)
        self._frames[fd] = 0
        self._bytes[fd] = 0
        return counts

    def __repr__(self) -> str:
        return f"<SentTally descriptors={len(self._frames)}>"
