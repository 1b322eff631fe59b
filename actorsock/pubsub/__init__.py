"""Topics and PubSub: broadcast to every process subscribed to a topic.

The functions here use the process-wide default :class:`PubSub`
(:data:`default_pubsub`); make your own instance for a separate set of topics or
another adapter::

    from actorsock import subscribe, broadcast, broadcast_frame, Text

    class Room(Handler):
        async def websocket_init(self):
            self.topic = f"room:{self.request.path_params['room']}"
            subscribe(self.topic)

        async def websocket_handle(self, frame):
            broadcast_frame(self.topic, frame, exclude=self.pid)   # others, not me

See :mod:`actorsock.pubsub.topics` for delivery and ordering rules and
:mod:`actorsock.pubsub.adapter` for adapters.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ..codecs.base import Codec
from ..core.process import Pid
from .adapter import Adapter, Envelope, LocalAdapter, LocalBus
from .topics import PubSub, PubSubStatistics

__all__ = [
    "Adapter",
    "Envelope",
    "LocalAdapter",
    "LocalBus",
    "PubSub",
    "PubSubStatistics",
    "broadcast",
    "broadcast_frame",
    "broadcast_from",
    "default_pubsub",
    "local_broadcast",
    "subscribe",
    "subscriber_count",
    "unsubscribe",
]

#: The default PubSub of this process (local adapter).
default_pubsub = PubSub("pubsub")


def subscribe(topic: Hashable, pid: Pid | None = None, codec: Codec | None = None) -> None:
    """Subscribe the current process (or ``pid``) to ``topic``; see :meth:`PubSub.subscribe`."""
    default_pubsub.subscribe(topic, pid, codec)


def unsubscribe(topic: Hashable, pid: Pid | None = None) -> None:
    """Unsubscribe the current process (or ``pid``) from ``topic``."""
    default_pubsub.unsubscribe(topic, pid)


def broadcast(topic: Hashable, message: Any) -> int:
    """Send ``message`` to every subscriber's mailbox; see :meth:`PubSub.broadcast`."""
    return default_pubsub.broadcast(topic, message)


def broadcast_from(sender: Pid, topic: Hashable, message: Any) -> int:
    """Send ``message`` to every subscriber but ``sender``."""
    return default_pubsub.broadcast_from(sender, topic, message)


def local_broadcast(topic: Hashable, message: Any) -> int:
    """Send ``message`` to this node's subscribers only."""
    return default_pubsub.local_broadcast(topic, message)


def broadcast_frame(
    topic: Hashable, payload: Any, *, exclude: Pid | None = None, key: Hashable | None = None
) -> int:
    """Send a frame straight to subscribers' sockets; see :meth:`PubSub.broadcast_frame`."""
    return default_pubsub.broadcast_frame(topic, payload, exclude=exclude, key=key)


def subscriber_count(topic: Hashable) -> int:
    """How many processes on this node are subscribed to ``topic``."""
    return default_pubsub.subscriber_count(topic)
