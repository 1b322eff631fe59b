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

:class:`LocalAdapter` is the default and the reference: with no bus it is a
single node; PubSub instances sharing a :class:`LocalBus` act as separate
nodes inside one process (that is how the shared adapter tests run).
``tests/pubsub/adapter_contract.py`` is the suite every adapter must pass.
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
