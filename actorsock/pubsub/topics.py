"""Topics: publish/subscribe between processes, built on a duplicate-key registry.

As Phoenix.PubSub is built on Elixir's Registry, a :class:`PubSub` keeps its
subscriptions in a :class:`~actorsock.core.registry.Registry` with duplicate
keys: the topic is the key, the subscriber's codec the value. Subscriptions
vanish when the subscriber ends.

Two ways to reach subscribers
-----------------------------
* :meth:`PubSub.broadcast` puts the message in each subscriber's mailbox; a
  connection's ``websocket_info`` decides what to send.
* :meth:`PubSub.broadcast_frame` sends a frame straight to each subscribed
  connection's socket without running its handler (Phoenix's fastlane).
  A :class:`~actorsock.core.frames.Text` or ``Binary`` frame is built into
  wire bytes once for all subscribers; any other value is encoded once per
  codec in use among the subscribers (JSON text, MessagePack binary), never
  once per subscriber. A subscriber that is not a connection gets the frame,
  or the value, in its mailbox.

Both paths keep per-connection order: a connection gets things in the order
they were sent to it, whichever path they took.

Large fan-outs
--------------
A publication to more subscribers than the loop's delivery slice (16)
reaches the first slice at once and the rest a slice at a time, with other
tasks running in between (see :mod:`actorsock.core.deliveries`), so one
broadcast to 10,000 sockets does not stall every other client for its whole
duration. Order is kept: what is sent afterwards, by broadcast or ``send``,
queues behind it.

From other threads
------------------
Broadcasts may be called from any thread; the publication then hops once
to the subscribers' trio loop, where the adapter is handed it and the
deliveries are made (so an adapter is only ever called on that thread).
Subscribing happens on the loop.

No I/O here; :mod:`actorsock.pubsub.adapter` carries publications to other
nodes.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..codecs import JSON
from ..codecs.base import Codec
from ..core.frames import Binary, Text
from ..core.process import Loop, Pid, fan_out_messages, self_pid
from ..core.registry import Keys, Registry
from ..core.wire import PreparedFrame
from .adapter import Adapter, Envelope, LocalAdapter

__all__ = ["PubSub", "PubSubStatistics"]

_node_names = itertools.count(1)


@dataclass(frozen=True, slots=True)
class PubSubStatistics:
    """A snapshot of a :class:`PubSub`.

    Attributes:
        subscribers: Subscriber count per topic (topics with none are absent).
        broadcasts: Publications made on this node (both paths).
        deliveries: Messages and frames handed to local subscribers.
        encodings: Frames built (at most one per codec per publication).
        received: Publications received from other nodes.
        waiting: Deliveries of large fan-outs not made yet (the loop's queue,
            shared by every topic and ``send``).
        deferred: Deliveries that have waited in that queue since start.
        batched: Publications that joined one waiting in that queue with the
            same subscribers, so that each got both in one write.
    """

    subscribers: dict[Hashable, int]
    broadcasts: int
    deliveries: int
    encodings: int
    received: int
    waiting: int = 0
    deferred: int = 0
    batched: int = 0


class _EncodedPerCodec:
    """A value published as frames: encoded once per codec, when first needed."""

    __slots__ = ("_codecs", "_frames", "_prepare", "key", "payload")

    def __init__(
        self,
        payload: Any,
        key: Hashable | None,
        codecs: Mapping[Pid, Sequence[Codec | None]],
        prepare: Callable[[Any, Codec | None, Hashable | None], PreparedFrame],
    ) -> None:
        self.payload = payload
        self.key = key
        self._codecs = codecs
        self._prepare = prepare
        self._frames: dict[Codec | None, PreparedFrame] = {}

    def frame_for(self, pid: Pid) -> PreparedFrame:
        """The frame in ``pid``'s codec as it was at publication."""
        codec = self._codecs[pid][0]
        frame = self._frames.get(codec)
        if frame is None:
            frame = self._frames[codec] = self._prepare(self.payload, codec, self.key)
        return frame


class PubSub:
    """Topic-based publish/subscribe for the processes of one node.

    Args:
        name: Label of the registry and, unless ``node`` is given, of the node.
        adapter: Carries publications to other nodes; :class:`LocalAdapter`
            (single node) by default.
        node: This node's name among the adapter's nodes.
    """

    def __init__(
        self, name: str = "pubsub", adapter: Adapter | None = None, node: str | None = None
    ) -> None:
        self.registry = Registry(Keys.DUPLICATE, name=name)
        self.adapter: Adapter = adapter or LocalAdapter()
        self.node = node or f"{name}-{next(_node_names)}"
        self._loop: Loop | None = None
        self.broadcasts = 0
        self.deliveries = 0
        self.encodings = 0
        self.received = 0
        self.adapter.attach(self.node, self._receive)

    # -- lifecycle -----------------------------------------------------------

    def bind(self, loop: Loop) -> None:
        """Tell the PubSub its loop: publications from other threads hop there.

        The App binds it when it starts; otherwise the first subscription does.
        """
        self._loop = loop

    async def serve(self, started: Callable[[], None]) -> None:
        """Run the adapter (see :meth:`Adapter.serve`); the App supervises this."""
        await self.adapter.serve(started)

    # -- subscriptions (on the loop) -------------------------------------

    def subscribe(
        self, topic: Hashable, pid: Pid | None = None, codec: Codec | None = None
    ) -> None:
        """Subscribe a process to ``topic``; subscribing twice does nothing.

        Args:
            topic: Any hashable value.
            pid: The subscriber; the current process by default.
            codec: How values sent with :meth:`broadcast_frame` are encoded for
                it; by default the ``codec`` attribute of its handler or
                actor class, else JSON.

        Raises:
            NotInActorError: Without ``pid`` outside of a process.
            DeadPidError: If ``pid`` has ended.
        """
        pid = pid if pid is not None else self_pid()
        if self.registry.values(topic, pid):
            return
        self._loop = pid.loop
        self.registry.register_pid(pid, topic, codec if codec is not None else pid.codec)

    def unsubscribe(self, topic: Hashable, pid: Pid | None = None) -> None:
        """Remove a subscription (no error if there is none)."""
        pid = pid if pid is not None else self_pid()
        self.registry.unregister_pid(pid, topic)

    def subscribers(self, topic: Hashable) -> list[Pid]:
        """The pids subscribed to ``topic`` on this node."""
        return [pid for pid, _ in self.registry.lookup(topic)]

    def subscriber_count(self, topic: Hashable) -> int:
        """How many processes on this node are subscribed to ``topic``."""
        return self.registry.count(topic)

    def topics(self, pid: Pid | None = None) -> list[Hashable]:
        """Topics with subscribers, or the topics ``pid`` is subscribed to."""
        return self.registry.all_keys() if pid is None else self.registry.keys(pid)

    # -- publishing (any task, any thread) --------------------------------

    def broadcast(self, topic: Hashable, message: Any) -> int:
        """Send ``message`` to every subscriber's mailbox, on every node.

        Returns:
            The number of local subscribers it was handed to (delivered now,
            or queued to be delivered shortly behind a large fan-out).
        """
        return self._publish(topic, message, direct=False, key=None, exclude=None, local=False)

    def broadcast_from(self, sender: Pid, topic: Hashable, message: Any) -> int:
        """Like :meth:`broadcast`, but not to ``sender``."""
        return self._publish(topic, message, direct=False, key=None, exclude=sender, local=False)

    def local_broadcast(self, topic: Hashable, message: Any) -> int:
        """Like :meth:`broadcast`, but only to this node's subscribers."""
        return self._publish(topic, message, direct=False, key=None, exclude=None, local=True)

    def broadcast_frame(
        self,
        topic: Hashable,
        payload: Any,
        *,
        exclude: Pid | None = None,
        key: Hashable | None = None,
        local: bool = False,
    ) -> int:
        """Send a frame straight to each subscribed connection's socket.

        Args:
            topic: The topic.
            payload: A ``Text`` or ``Binary`` frame, sent as is; or any value,
                encoded once per subscriber codec.
            exclude: A subscriber to skip (the sender).
            key: Coalescing key for connections with the ``coalesce`` send
                policy; defaults to the topic.
            local: Only this node's subscribers.

        Returns:
            The number of local subscribers it was handed to (delivered now,
            or queued to be delivered shortly behind a large fan-out).
        """
        key = topic if key is None else key
        return self._publish(topic, payload, direct=True, key=key, exclude=exclude, local=local)

    def _publish(
        self,
        topic: Hashable,
        payload: Any,
        *,
        direct: bool,
        key: Hashable | None,
        exclude: Pid | None,
        local: bool,
    ) -> int:
        loop = self._loop
        if loop is not None and threading.get_ident() != loop.thread_id:
            # The adapter and the deliveries run on the loop's thread only.
            count = self.registry.count(topic)
            loop.call_soon_threadsafe(
                self._publish_here, topic, payload, direct, key, exclude, local
            )
            return count
        return self._publish_here(topic, payload, direct, key, exclude, local)

    def _publish_here(
        self,
        topic: Hashable,
        payload: Any,
        direct: bool,
        key: Hashable | None,
        exclude: Pid | None,
        local: bool,
    ) -> int:
        self.broadcasts += 1
        if not local:
            self.adapter.publish(Envelope(topic, payload, direct, key, self.node))
        return self._deliver(topic, payload, direct, key, exclude)

    def _receive(self, envelope: Envelope) -> None:
        """Deliver a publication that came from another node."""
        self.received += 1
        self._deliver(envelope.topic, envelope.payload, envelope.direct, envelope.key, None)

    def _deliver(
        self, topic: Hashable, payload: Any, direct: bool, key: Hashable | None, exclude: Pid | None
    ) -> int:
        loop = self._loop
        if loop is None:  # nobody has ever subscribed here
            return 0
        deliveries = loop.deliveries
        # The live mapping: the queue lists the subscribers of now before it
        # delivers to any of them (one list; no object per subscriber, which
        # would feed the garbage collector).
        holders = self.registry.holders(topic)
        if not holders:
            return 0
        targets: Iterable[Pid] = holders
        if exclude is not None:
            targets = (pid for pid in holders if pid is not exclude)
        if not direct:
            return deliveries.dispatch(targets, payload, self._to_mailboxes)
        if isinstance(payload, Text | Binary):
            self.encodings += 1
            return deliveries.dispatch(targets, PreparedFrame(payload, key), self._to_sockets)
        codecs: Mapping[Pid, Sequence[Codec | None]] = holders
        if deliveries.deferring or len(holders) > deliveries.slice_size:
            # Part of it is encoded later: with the codecs of now. (A copy of
            # the registry's own dict, made in C; the mapping proxy's
            # item-by-item copy took milliseconds for 10,000 subscribers.)
            codecs = holders.copy()
        value = _EncodedPerCodec(payload, key, codecs, self._prepare)
        return deliveries.dispatch(targets, value, self._encoded_to_sockets)

    # Deliveries for a run of subscribers (see DeliveryQueue): several items
    # when publications queued behind a large fan-out were batched.

    def _to_mailboxes(self, pids: list[Pid], messages: list[Any]) -> int:
        taken = fan_out_messages(pids, messages)
        self.deliveries += taken
        return taken

    def _to_sockets(self, pids: list[Pid], frames: list[PreparedFrame]) -> int:
        assert self._loop is not None
        taken = self._loop.fan_out_frames(pids, frames)
        self.deliveries += taken
        return taken

    def _encoded_to_sockets(self, pids: list[Pid], values: list[_EncodedPerCodec]) -> int:
        assert self._loop is not None
        fan_out, taken = self._loop.fan_out_frames, 0
        for pid in pids:
            taken += fan_out([pid], [value.frame_for(pid) for value in values])
        self.deliveries += taken
        return taken

    def _prepare(self, payload: Any, codec: Codec | None, key: Hashable | None) -> PreparedFrame:
        self.encodings += 1
        frame = (codec or JSON).encode(payload)
        assert isinstance(frame, Text | Binary)
        return PreparedFrame(frame, key)

    # -- introspection ------------------------------------------------------

    def statistics(self) -> PubSubStatistics:
        """Subscriber counts per topic and publication totals."""
        queue = self._loop.deliveries if self._loop is not None else None
        return PubSubStatistics(
            subscribers={topic: self.registry.count(topic) for topic in self.registry.all_keys()},
            broadcasts=self.broadcasts,
            deliveries=self.deliveries,
            encodings=self.encodings,
            received=self.received,
            waiting=queue.pending if queue is not None else 0,
            deferred=queue.deferred if queue is not None else 0,
            batched=queue.batched if queue is not None else 0,
        )

    def close(self) -> None:
        """Detach from the adapter (other nodes stop reaching this one)."""
        self.adapter.detach()

    def __repr__(self) -> str:
        return f"<PubSub {self.node} via {type(self.adapter).__name__}>"
