"""How topic messages travel between nodes: the adapter interface and the local adapter.

A :class:`~actorsock.pubsub.topics.PubSub` always delivers to its own
subscribers itself. Its adapter only carries each publication to the *other*
nodes (processes) sharing the topics, which deliver it to theirs, as
Phoenix.PubSub's adapters do. An adapter must:

* take an :class:`Envelope` in :meth:`Adapter.publish` without blocking and
  without raising for an unreachable peer (it may queue and retry);
* hand every envelope published by another node, once, to the ``receive``
  callback given to :meth:`Adapter.attach`, on that node's trio loop;
* never hand a node its own publications back.

Lifecycle: the App runs :meth:`Adapter.serve` as a supervised child of its
tree (``pubsub``, restarted if it crashes) before it starts listening; an
adapter connects to its peers there and calls ``started()`` once it can
carry publications, and stops when cancelled. An adapter with nothing to
run (the local one) calls ``started()`` and returns.

Threads: :class:`~actorsock.pubsub.topics.PubSub` calls :meth:`Adapter.publish`
on its loop's thread only (publications made on other threads hop there
first, once the PubSub knows its loop: from the App's start, or the first
subscription), so an adapter needs no lock of its own.

:class:`LocalAdapter` is the default and the reference: with no bus it is a
single node; PubSub instances sharing a :class:`LocalBus` act as separate
nodes inside one process (that is how the shared adapter tests run).
:class:`actorsock.testing.AdapterContract` is the suite every adapter must pass.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Adapter", "Envelope", "LocalAdapter", "LocalBus"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """One publication as it travels between nodes.

    Attributes:
        topic: The topic.
        payload: The message (mailbox path) or the frame or value to encode
            (direct-frame path).
        direct: True for ``broadcast_frame``, False for ``broadcast``.
        key: Coalescing key of a direct frame.
        origin: Name of the publishing node.
    """

    topic: Hashable
    payload: Any
    direct: bool
    key: Hashable | None
    origin: str


class Adapter(Protocol):
    """What a PubSub needs to reach other nodes."""

    async def serve(self, started: Callable[[], None]) -> None:
        """Run what the adapter needs (connections, readers) until cancelled.

        Call ``started()`` once publications can be carried; return at once
        (after ``started()``) if there is nothing to run.
        """
        ...

    def attach(self, node: str, receive: Callable[[Envelope], None]) -> None:
        """Start delivering other nodes' envelopes to ``receive``."""
        ...

    def publish(self, envelope: Envelope) -> None:
        """Send ``envelope`` to every other node; never blocks."""
        ...

    def detach(self) -> None:
        """Stop receiving; later publications are not sent."""
        ...


class LocalBus:
    """Connects the local adapters of several PubSub instances in one process."""

    def __init__(self) -> None:
        self.members: dict[str, Callable[[Envelope], None]] = {}


class LocalAdapter:
    """The in-process adapter: a single node, or several on a shared :class:`LocalBus`.

    Args:
        bus: The bus to join; None (default) means this node is alone.
    """

    name = "local"

    def __init__(self, bus: LocalBus | None = None) -> None:
        self.bus = bus
        self.node: str | None = None

    async def serve(self, started: Callable[[], None]) -> None:
        started()  # nothing to connect to: the bus is in this process

    def attach(self, node: str, receive: Callable[[Envelope], None]) -> None:
        self.node = node
        if self.bus is not None:
            self.bus.members[node] = receive

    def publish(self, envelope: Envelope) -> None:
        if self.bus is None:
            return
        for node, receive in tuple(self.bus.members.items()):
            if node != envelope.origin:
                receive(envelope)

    def detach(self) -> None:
        if self.bus is not None and self.node is not None:
            self.bus.members.pop(self.node, None)
