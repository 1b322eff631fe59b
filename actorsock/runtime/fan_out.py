"""The fan-out: how a broadcast's frames reach every recipient, in one function.

:func:`fan_out_frames` is the only place a broadcast hands frames to pids.
Per recipient, the fastest way that keeps its output in order:

* a connection parked on an empty mailbox with nothing queued has its lane
  open (:attr:`~actorsock.core.process.Pid.direct_fd`): the frames' bytes, in
  the wire format of that socket (WebSocket frames, or SSE events encoded
  once for all the SSE recipients), are written to it here, with one
  ``write`` (``writev`` for several) and nothing else looked at; the writes
  taken whole are counted in :data:`TALLY` after the loop;
* any other parked connection gets them through its sink
  (:class:`~actorsock.core.process.FrameSink`), which encodes them for its
  wire format (once per format, see
  :meth:`~actorsock.core.wire.PreparedFrame.encoded`) and queues or writes
  them;
* a busy connection gets them in its mailbox, behind what was sent to it
  before; its session sends them when their turn comes;
* a process without a sink (an actor) gets the plain frames as messages.

The loop runs once per recipient of every broadcast: each object it touches
there costs a cache miss, because the kernel's work on the previous sockets
has evicted it (bench/README.md, "Design figures"). No trio here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..core.process import Pid, deliver_messages
from ..core.sent_tally import SentTally
from ..core.wire import WEBSOCKET, PreparedFrame, WireFormat

__all__ = ["TALLY", "fan_out_frames"]

# Frames one writev of the lane takes; a longer run goes through the sinks.
WRITEV_BATCH = 64

_UNSEEN: Any = object()

TALLY = SentTally()
"""Frames and bytes broadcasts wrote straight to sockets, per descriptor (process-wide)."""


def fan_out_frames(pids: list[Pid], frames: list[PreparedFrame]) -> int:
    """Hand a broadcast's data frames, in order, to each of ``pids``.

    Call it on the pids' loop's thread (:func:`~actorsock.core.process.send`
    hops there for other threads).

    Args:
        pids: The recipients; dead ones are skipped.
        frames: The frames, each shared by every recipient.

    Returns:
        How many frames were written or queued, summed over ``pids``.
    """
    if len(frames) > WRITEV_BATCH:
        return _through_sinks(pids, frames)
    single = len(frames) == 1
    write: Callable[[int, Any], int] = os.write if single else os.writev
    data, size = _bytes_of(frames, WEBSOCKET, single)
    whole: list[int] = []  # descriptors that took the WebSocket bytes whole
    # Other wire formats (SSE events): encoded for the first recipient on
    # each, then [bytes, size, descriptors that took them whole]; None for a
    # format that cannot carry the frames (their sinks say so).
    others: dict[WireFormat | None, list[Any] | None] = {}
    taken = 0
    for pid in pids:
        fd = pid.direct_fd
        if fd < 0:
            taken += _through_sinks([pid], frames)
            continue
        wire = pid.direct_wire
        if wire is WEBSOCKET:
            payload, length, took = data, size, whole
        else:
            lane = others.get(wire, _UNSEEN)
            if lane is _UNSEEN:
                lane = _lane_for(others, frames, wire, single)
            if lane is None:
                pid.direct_fd = -1
                taken += _through_sinks([pid], frames)
                continue
            payload, length, took = lane
        try:
            written = write(fd, payload)
        except OSError:  # full (or broken: the stream finds out and says so)
            written = 0
        if written == length:
            took.append(fd)
            continue
        pid.direct_fd = -1
        sink = pid.frame_sink
        assert sink is not None
        taken += sink.take_written(frames, written)
    count = len(frames)
    if whole:
        TALLY.add(whole, count, size)
    for lane in others.values():
        if lane is not None and lane[2]:
            TALLY.add(lane[2], count, lane[1])
            taken += len(lane[2]) * count
    return taken + len(whole) * count


def _lane_for(
    lanes: dict[WireFormat | None, list[Any] | None],
    frames: list[PreparedFrame],
    wire: WireFormat | None,
    single: bool,
) -> list[Any] | None:
    """Encode ``frames`` for the lanes of ``wire`` (once per broadcast), or None."""
    assert wire is not None
    try:
        payload, length = _bytes_of(frames, wire, single)
    except ValueError:
        lane = None
    else:
        lane = [payload, length, []]
    lanes[wire] = lane
    return lane


def _bytes_of(frames: list[PreparedFrame], wire: WireFormat, single: bool) -> tuple[Any, int]:
    """What one write of ``frames`` in ``wire`` takes: the bytes (a list for writev), their size."""
    if single:
        data = frames[0].encoded(wire)
        return data, len(data)
    buffers = [prepared.encoded(wire) for prepared in frames]
    return buffers, sum(map(len, buffers))


def _through_sinks(pids: list[Pid], frames: list[PreparedFrame]) -> int:
    """The frames for pids whose lane is closed: their sink, mailbox or plain messages."""
    taken = 0
    for pid in pids:
        if not pid.alive:
            continue
        sink = pid.frame_sink
        if sink is None:
            taken += deliver_messages(pid, [prepared.frame for prepared in frames])
        elif sink.gate.waiting:
            taken += sink.offer_frames(frames)
        else:
            taken += deliver_messages(pid, frames)
    return taken
