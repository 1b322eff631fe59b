"""The fan-out: how a broadcast's frames reach every recipient, in one function.

:func:`fan_out_frames` is the only place a broadcast hands frames to pids.
Per recipient, the fastest way that keeps its output in order:

* a connection parked on an empty mailbox with nothing queued has its lane
  open (:attr:`~actorsock.core.process.Pid.direct_fd`): the frames' bytes are
  written to its socket here, with one ``write`` (``writev`` for several)
  and nothing else looked at; the writes taken whole are counted in
  :data:`TALLY` after the loop;
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
from ..core.wire import PreparedFrame

__all__ = ["TALLY", "fan_out_frames"]

# Frames one writev of the lane takes; a longer run goes through the sinks.
WRITEV_BATCH = 64

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
    if len(frames) == 1:
        data: bytes | list[bytes] = frames[0].websocket
        write: Callable[[int, Any], int] = os.write
        size = len(data)
    elif len(frames) <= WRITEV_BATCH:
        data = [prepared.websocket for prepared in frames]
        write = os.writev
        size = sum(map(len, data))
    else:
        return _through_sinks(pids, frames)
    whole: list[int] = []
    taken = 0
    for pid in pids:
        fd = pid.direct_fd
        if fd < 0:
            taken += _through_sinks([pid], frames)
            continue
        try:
            written = write(fd, data)
        except OSError:  # full (or broken: the stream finds out and says so)
            written = 0
        if written == size:
            whole.append(fd)
            continue
        pid.direct_fd = -1
        sink = pid.frame_sink
        assert sink is not None
        taken += sink.take_written(frames, written)
    if whole:
        TALLY.add(whole, len(frames), size)
    return taken + len(whole) * len(frames)


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
