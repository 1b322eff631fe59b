"""One queue per connection, written without yielding; reads without a reader task.

An ``await stream.send_all`` per message costs scheduler passes even when
the kernel takes the bytes at once, and a broadcast to many clients pays that
per client. Here every byte a connection sends (handshake response, data
frames, pongs, close, SSE events) goes through one :class:`ConnectionStream`:

* bytes are appended to the connection's :class:`SendQueue` and, on a plain
  TCP socket, written at once with a non-blocking ``writev`` from the queue's
  head, in the calling task, without a checkpoint. Frames never interleave:
  every write starts where the last one stopped.
* what the kernel does not take waits in the queue; a short-lived flusher
  task (started only then) waits for the socket to become writable and
  writes the rest. An idle connection has no flusher task.
* a TLS stream cannot be written synchronously; there the flusher does all
  the writing through ``SSLStream.send_all``.
* broadcasts (:func:`actorsock.runtime.fan_out.fan_out_frames`) write to a
  parked WebSocket connection through its pid's *lane*
  (:attr:`~actorsock.core.process.Pid.direct_fd`), which
  :meth:`ConnectionStream.open_lane` opens only while a frame could be
  written at once and which closes as soon as anything is queued, the
  socket breaks or data closes; writes made that way are counted in
  :data:`~actorsock.runtime.fan_out.TALLY`.
* reading waits on the run's :class:`~actorsock.transports.readiness.ReadinessHub`
  rather than trio's one-shot ``wait_readable``, and only after a read
  that emptied the socket: one ``read`` per batch of client messages, no
  ``epoll_ctl`` and no failed ``recv``. A session reads in its own task,
  without waiting (:meth:`ConnectionStream.read_nowait`), when the hub says
  data came (:meth:`ConnectionStream.on_data`): no reader task per
  connection.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from typing import Literal

import trio

from ..core.process import Gate, Pid
from ..core.send_queue import SendQueue
from ..core.transport import FrameRefused
from ..core.wire import WEBSOCKET, PreparedFrame, WireFormat
from ..runtime.fan_out import TALLY
from ..runtime.fan_out import WRITEV_BATCH as _WRITEV_BATCH
from .readiness import Readable, ReadinessHub, readiness_hub

__all__ = ["ConnectionStream", "StreamBacked"]

# Bytes read at a time when the caller names no size.
_RECEIVE_SIZE = 65536


class _ClosedGate:
    """The gate of a stream that nothing broadcasts to past a mailbox."""

    waiting = False


_CLOSED = _ClosedGate()


class ConnectionStream(trio.abc.Stream):
    """The stream a server connection reads from and writes through.

    Args:
        stream: The accepted client stream.
        queue: The connection's send queue.
        on_trouble: Called (synchronously) when the queue overflows or the
            socket breaks, so the connection can react.
        gate: Open (``gate.waiting``) while broadcasts may write to this
            stream past its connection's mailbox (see
            :class:`~actorsock.core.process.FrameSink`); closed by default.
        wire: How broadcast frames are encoded for this stream (the lane
            writes them in that format too).

    Attributes:
        broken: The error that made the socket unwritable, or None.
        data_open: True while data frames may be sent: from the upgrade to
            the first close frame either way (set by the WebSocket layer).
            :meth:`offer` and :meth:`offer_frames` refuse frames otherwise.
        lane: The pid whose :attr:`~actorsock.core.process.Pid.direct_fd`
            this stream opens (:meth:`open_lane`) and closes whenever
            something would make a direct write come out of order: bytes
            queued, the socket broken, data closed, the stream closed.
    """

    # Slots: one per connection, read once per recipient of a broadcast.
    __slots__ = (
        "_closed",
        "_data_hook",
        "_data_open",
        "_drained",
        "_fd",
        "_flush_lock",
        "_flusher_running",
        "_hub",
        "_nursery",
        "_on_trouble",
        "_readable",
        "broken",
        "gate",
        "lane",
        "queue",
        "transport_stream",
        "wire",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        queue: SendQueue,
        on_trouble: Callable[[], None],
        gate: Gate = _CLOSED,
        wire: WireFormat = WEBSOCKET,
    ) -> None:
        self.transport_stream = stream
        self.wire = wire
        self._closed = False
        self.gate = gate
        self.lane: Pid | None = None
        self.queue = queue
        self.broken: BaseException | None = None
        self._data_open = False
        self._on_trouble = on_trouble
        self._fd = stream.socket.fileno() if isinstance(stream, trio.SocketStream) else -1
        if self._fd >= 0:
            TALLY.open(self._fd)
        # Made when a write first has to wait (most connections never do:
        # a lock is three objects more for the garbage collector to walk).
        self._flush_lock: trio.Lock | None = None
        self._flusher_running = False
        self._nursery: trio.Nursery | None = None
        # False after a read that emptied the socket (wait before the next).
        self._drained = False
        # The hub's wake-up for this socket (False: trio's wait_readable;
        # None: not looked up yet, on the first read).
        self._readable: Readable | Literal[False] | None = None
        self._hub: ReadinessHub | None = None
        self._data_hook: Callable[[], None] | None = None

    @property
    def data_open(self) -> bool:
        return self._data_open

    @data_open.setter
    def data_open(self, value: bool) -> None:
        if not value:
            self._close_lane()
        self._data_open = value

    @property
    def sent_frames(self) -> int:
        """Data frames accepted: queued, or written at once here or by a broadcast."""
        return self.queue.accepted + (TALLY.get(self._fd)[0] if self._fd >= 0 else 0)

    @property
    def sent_bytes(self) -> int:
        """Bytes written to the socket, here or by a broadcast."""
        return self.queue.sent_bytes + (TALLY.get(self._fd)[1] if self._fd >= 0 else 0)

    def open_lane(self) -> None:
        """Let broadcasts write to the socket past this stream (see :attr:`lane`).

        Call it only when nothing sent to the connection earlier is still
        pending anywhere (the connection is about to park on an empty
        mailbox). A no-op unless the stream could take a frame now.
        """
        lane = self.lane
        if (
            lane is not None
            and self._fd >= 0
            and self._data_open
            and self.broken is None
            and not self.queue
            and not self._flusher_running
        ):
            lane.direct_wire = self.wire
            lane.direct_fd = self._fd

    def _close_lane(self) -> None:
        lane = self.lane
        if lane is not None:
            lane.direct_fd = -1

    def attach(self, nursery: trio.Nursery) -> None:
        """Let the stream start its flusher task in ``nursery`` when needed."""
        self._nursery = nursery

    # -- reading ---------------------------------------------------------

    @property
    def reads_without_waiting(self) -> bool:
        """True if :meth:`read_nowait` works: a plain socket watched by the run's hub."""
        if self._fd < 0:
            return False
        if self._readable is None:
            self._watch(self._fd)
        return bool(self._readable)

    def on_data(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` (synchronously, in the hub's task) whenever data or
        the end of the stream reaches the socket; a task that reads with
        :meth:`read_nowait` parks until then."""
        self._data_hook = hook
        if self._readable is None and self._fd >= 0:
            self._watch(self._fd)

    def read_nowait(self, max_bytes: int = _RECEIVE_SIZE) -> bytes | None:
        """Read what the socket holds now, without waiting.

        Only when :attr:`reads_without_waiting`. A read that empties the
        socket is not followed by another until the hub says more came, so
        an idle connection costs no system call.

        Returns:
            The bytes; ``b""`` at the end of the stream; None if nothing is
            there now.

        Raises:
            trio.BrokenResourceError: If the socket failed.
            trio.ClosedResourceError: If the stream was closed.
        """
        fd = self._fd
        if fd < 0:
            raise trio.ClosedResourceError("the stream was closed")
        if self._drained:
            return None
        try:
            data = os.read(fd, max_bytes)
        except BlockingIOError:
            self._drained = not self._hung_up()
            return None
        except OSError as exc:
            raise trio.BrokenResourceError(exc) from None
        # Once the peer hung up no edge comes again: read on until the end.
        self._drained = 0 < len(data) < max_bytes and not self._hung_up()
        return data

    def _hung_up(self) -> bool:
        readable = self._readable
        return bool(readable) and readable.hung_up  # type: ignore[union-attr]

    async def wait_for_data(self) -> None:
        """Return once :meth:`read_nowait` may find something (at once if it may now)."""
        if not (self._drained and self._fd >= 0):
            await trio.lowlevel.checkpoint()
            return
        while self._drained and self._fd >= 0:  # a wake-up kept from before is no news
            await self._wait_readable(self._fd)

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        fd = self._fd
        if fd < 0:
            if self._closed:
                raise trio.ClosedResourceError("the stream was closed")
            return bytes(await self.transport_stream.receive_some(max_bytes))
        size = _RECEIVE_SIZE if max_bytes is None else max_bytes
        if self._readable is None:
            self._watch(fd)
        while True:
            if self._drained:
                await self._wait_readable(fd)
            else:
                await trio.lowlevel.checkpoint()
            data = self.read_nowait(size)
            if data is not None:
                return data

    def _watch(self, fd: int) -> None:
        hub = readiness_hub()
        if hub is None:
            self._readable = False
            return
        readable = self._readable = hub.register(fd)
        readable.notify = self._on_ready
        self._hub = hub

    async def _wait_readable(self, fd: int) -> None:
        readable = self._readable
        if readable:
            await readable.wait_readable()
            if readable.hung_up:
                self._drained = False  # read once more: the end, or an error
        else:
            await trio.lowlevel.wait_readable(fd)
            self._drained = False

    def _on_ready(self) -> None:
        """Data or a hang-up reached the socket (called in the hub's task)."""
        readable = self._readable
        assert readable
        self._drained = False
        # Only a parked reader needs waking: one that comes later finds
        # _drained clear and reads without waiting.
        if readable.waiting:
            readable.wake()
        hook = self._data_hook
        if hook is not None:
            hook()

    # -- writing data frames (synchronous) --------------------------------

    def offer(self, data: bytes, key: Hashable | None = None) -> bool:
        """Queue one data frame and write what the socket takes now.

        Never blocks and never yields. Returns False if the frame was refused
        (data closed, socket broken, or the send policy refused it).
        """
        if self.broken is not None or not self._data_open:
            return False
        queue = self.queue
        if self._fd >= 0 and not queue.queued_bytes and not self._flusher_running:
            # The common case, run once per recipient of a broadcast and
            # kept short: nothing waits, so the socket gets the frame now.
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                written = 0
            except OSError as exc:
                self._break(exc)
                return False
            if written == len(data):
                queue.sent_bytes += written  # what wrote_through() counts, inlined
                queue.accepted += 1
                return True
            if written:
                self._close_lane()
                queue.push_started(data, written, key)
                self._write_or_defer()
                return True
        return self._queue(data, key)

    def offer_frames(self, frames: Sequence[PreparedFrame]) -> int:
        """Queue data frames in order and write what the socket takes now.

        Like :meth:`offer`, with several frames written in one ``writev``.

        Returns:
            How many frames were accepted (the others were refused).
        """
        wire = self.wire
        try:
            if len(frames) == 1:
                prepared = frames[0]
                return 1 if self.offer(prepared.encoded(wire), prepared.key) else 0
            encoded = [prepared.encoded(wire) for prepared in frames]
        except ValueError as exc:  # a frame this stream's format cannot carry
            self._break(FrameRefused(str(exc)))
            return 0
        if self.broken is not None or not self._data_open:
            return 0
        written = 0
        if self._fd >= 0 and not self.queue.queued_bytes and not self._flusher_running:
            # offer()'s fast path with writev; offer() keeps its own copy
            # because it runs once per recipient of every broadcast.
            try:
                written = os.writev(self._fd, encoded[:_WRITEV_BATCH])
            except BlockingIOError:
                pass
            except OSError as exc:
                self._break(exc)
                return 0
        return self._settle(frames, written)

    def take_written(self, frames: Sequence[PreparedFrame], written: int) -> int:
        """Take frames whose first ``written`` bytes a broadcast wrote to the socket.

        For a write made through :attr:`lane` that the kernel did not take
        whole: the frames written count as sent, the one cut short goes on
        from where it stopped, the rest are queued (or written, when none
        was written at all).

        Returns:
            How many frames were accepted.
        """
        self._close_lane()
        if not written:
            return self.offer_frames(frames)
        return self._settle(frames, written)

    def _settle(self, frames: Sequence[PreparedFrame], written: int) -> int:
        """Count the frames ``written`` covers, resume the one it cut, queue the rest."""
        queue, wire = self.queue, self.wire
        taken = 0
        for prepared in frames:
            size = len(prepared.encoded(wire))
            if written < size:
                break
            written -= size
            queue.sent_bytes += size
            queue.accepted += 1
            taken += 1
        if written:
            self._close_lane()
            prepared = frames[taken]
            queue.push_started(prepared.encoded(wire), written, prepared.key)
            taken += 1
            self._write_or_defer()
        for prepared in frames[taken:]:
            if self._queue(prepared.encoded(wire), prepared.key):
                taken += 1
        return taken

    def _queue(self, data: bytes, key: Hashable | None) -> bool:
        """Queue a frame behind others through the send policy, then write what fits."""
        self._close_lane()
        accepted = self.queue.push(data, key)
        if self.queue.overflowed:
            self._on_trouble()
            return False
        if accepted:
            self._write_or_defer()
        return accepted

    def _write_or_defer(self) -> None:
        if self._fd >= 0 and not self._flusher_running:
            self._write_now()
        nursery = self._nursery
        if self.queue and self.broken is None and not self._flusher_running and nursery:
            self._flusher_running = True
            nursery.start_soon(self._flusher)

    def _write_now(self) -> None:
        """Write from the queue's head until it is empty or the kernel is full."""
        queue, fd = self.queue, self._fd
        while queue:
            buffers = queue.buffers(_WRITEV_BATCH)
            try:
                written = os.writev(fd, buffers)
            except BlockingIOError:
                return
            except OSError as exc:
                self._break(exc)
                return
            queue.consumed(written)
            if written < sum(len(buffer) for buffer in buffers):
                return

    def _break(self, exc: BaseException) -> None:
        self._close_lane()
        if self.broken is None:
            # Without its traceback, whose frames hold this stream (a cycle
            # that would keep the connection for the cycle collector).
            self.broken = exc.with_traceback(None)
            self._on_trouble()

    async def _flusher(self) -> None:
        try:
            async with self._lock():
                await self._drain(lambda: bool(self.queue))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._break(exc)
        finally:
            self._flusher_running = False
        if self.gate.waiting:
            self.open_lane()  # caught up while the connection stayed parked

    def _lock(self) -> trio.Lock:
        """The lock of whoever writes from the queue while waiting (made on first use)."""
        lock = self._flush_lock
        if lock is None:
            lock = self._flush_lock = trio.Lock()
        return lock

    async def _drain(self, pending: Callable[[], bool]) -> None:
        """Write until ``pending()`` is false; hold :meth:`_lock` while calling."""
        queue = self.queue
        while pending() and self.broken is None:
            if self._fd >= 0:
                await trio.lowlevel.wait_writable(self._fd)
                self._write_now()
            else:
                chunk = bytes(queue.buffers(1)[0])
                await self.transport_stream.send_all(chunk)
                queue.consumed(len(chunk))

    # -- trio.abc.Stream writing (heads, control frames: they wait) ----------

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` past the send policy and return once it is written.

        Raises:
            trio.BrokenResourceError: If the socket broke or the queue is far
                past its bound.
        """
        if self.broken is not None:
            raise trio.BrokenResourceError("connection broken") from self.broken
        queue = self.queue
        ticket = queue.push_control(bytes(data))
        if ticket is None:
            self._on_trouble()
            raise trio.BrokenResourceError("send queue overflow")
        if self._fd >= 0 and not self._flusher_running:
            self._write_now()
        if queue:
            self._close_lane()
        if queue.is_pending(ticket):
            async with self._lock():
                await self._drain(lambda: queue.is_pending(ticket))
        else:
            await trio.lowlevel.checkpoint()
        if self.broken is not None and queue.is_pending(ticket):
            raise trio.BrokenResourceError("connection broken") from self.broken

    def write_control(self, data: bytes) -> bool:
        """Queue control bytes (a pong, a close frame) past the send policy and
        write what the socket takes now; the flusher writes the rest.

        Returns:
            False if the socket is broken or the queue far past its bound
            (the connection is then told: ``on_trouble``).
        """
        if self.broken is not None:
            return False
        if self.queue.push_control(data) is None:
            self._on_trouble()
            return False
        self._close_lane()
        self._write_or_defer()
        return True

    async def flush(self) -> None:
        """Return once everything queued so far is written (or the socket broke)."""
        queue = self.queue
        if queue and self.broken is None:
            async with self._lock():
                await self._drain(lambda: bool(queue))
        else:
            await trio.lowlevel.checkpoint()

    async def wait_send_all_might_not_block(self) -> None:
        await self.transport_stream.wait_send_all_might_not_block()

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` has run (the transport stream is closed)."""
        return self._closed

    async def aclose(self) -> None:
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        # Forget the descriptor first: once closed, its number may be reused
        # by another connection, and the fast paths must not touch it.
        fd, self._fd = self._fd, -1
        self.data_open = False  # closes the lane too
        if fd >= 0:
            frames, sent = TALLY.close(fd)
            self.queue.accepted += frames
            self.queue.sent_bytes += sent
        if self._hub is not None and fd >= 0:
            self._hub.unregister(fd)
        # Drop what points back at the connection (its data hook, its
        # nursery, its pid) so that reference counting frees it all as soon
        # as the connection's task lets go, without the cycle collector.
        self._data_hook = None
        self._nursery = None
        self._readable = None
        self._hub = None
        self.lane = None
        await self.transport_stream.aclose()


class StreamBacked:
    """What a transport over a :class:`ConnectionStream` reports from it.

    The WebSocket and the Server-Sent Events transports share these; each
    sets ``self.stream``.
    """

    __slots__ = ()
    stream: ConnectionStream

    @property
    def data_open(self) -> bool:
        """True while data frames may be sent (kept by the stream, which a
        broadcast touches anyway: reading it there saves a cache miss per
        recipient)."""
        return self.stream.data_open

    @property
    def failed(self) -> bool:
        """True once a write to the socket failed."""
        return self.stream.broken is not None

    @property
    def sent_frames(self) -> int:
        """Data frames accepted (see :attr:`ConnectionStream.sent_frames`)."""
        return self.stream.sent_frames

    @property
    def sent_bytes(self) -> int:
        """Bytes written (see :attr:`ConnectionStream.sent_bytes`)."""
        return self.stream.sent_bytes
