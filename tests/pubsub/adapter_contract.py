"""The behaviour every PubSub adapter must show, as a reusable test suite.

An adapter's test module subclasses :class:`AdapterContract` and provides
``make_nodes(count)``, returning that many PubSub instances that are
separate nodes of one cluster, plus ``settle()``, which waits until
publications made so far have reached every node (nothing for in-process
adapters). The pids come from the ``loop`` fixture (a FakeLoop).
"""

from __future__ import annotations

from typing import Any

from actorsock.core.frames import Text
from actorsock.core.process import exit_process
from actorsock.core.reasons import Normal
from actorsock.pubsub import PubSub


def drain(pid) -> list[Any]:
    out = []
    while pid.mailbox:
        out.append(pid.mailbox.pop())
    return out


class AdapterContract:
    def make_nodes(self, count: int) -> list[PubSub]:
        raise NotImplementedError

    def settle(self) -> None:
        """Wait for publications in flight (in-process adapters: nothing)."""

    def test_broadcast_reaches_subscribers_on_every_node_once(self, loop):
        a, b = self.make_nodes(2)
        pa, pb, other = loop.spawn(), loop.spawn(), loop.spawn()
        a.subscribe("t", pa)
        b.subscribe("t", pb)
        b.subscribe("elsewhere", other)
        assert a.broadcast("t", "hello") == 1
        self.settle()
        assert drain(pa) == ["hello"]
        assert drain(pb) == ["hello"]
        assert drain(other) == []
        assert a.statistics().received == 0 and b.statistics().received == 1

    def test_local_broadcast_stays_on_its_node(self, loop):
        a, b = self.make_nodes(2)
        pa, pb = loop.spawn(), loop.spawn()
        a.subscribe("t", pa)
        b.subscribe("t", pb)
        a.local_broadcast("t", "mine")
        self.settle()
        assert drain(pa) == ["mine"] and drain(pb) == []

    def test_broadcast_from_skips_only_the_sender(self, loop):
        a, b = self.make_nodes(2)
        sender, peer, remote = loop.spawn(), loop.spawn(), loop.spawn()
        a.subscribe("room", sender)
        a.subscribe("room", peer)
        b.subscribe("room", remote)
        a.broadcast_from(sender, "room", "hi")
        self.settle()
        assert drain(sender) == [] and drain(peer) == ["hi"] and drain(remote) == ["hi"]

    def test_direct_frames_cross_nodes(self, loop):
        a, b = self.make_nodes(2)
        pb = loop.spawn()
        b.subscribe("t", pb)
        a.broadcast_frame("t", Text("x"))
        self.settle()
        assert drain(pb) == [Text("x")]  # a process without a socket gets the frame

    def test_order_is_kept_per_publisher(self, loop):
        a, b = self.make_nodes(2)
        pb = loop.spawn(capacity=64)
        b.subscribe("t", pb)
        for i in range(20):
            a.broadcast("t", i)
        self.settle()
        assert drain(pb) == list(range(20))

    def test_ended_subscribers_and_closed_nodes_receive_nothing(self, loop):
        a, b, c = self.make_nodes(3)
        pb, pc = loop.spawn(), loop.spawn()
        b.subscribe("t", pb)
        c.subscribe("t", pc)
        exit_process(pb, Normal())
        c.close()
        a.broadcast("t", "late")
        self.settle()
        assert b.subscriber_count("t") == 0
        assert drain(pc) == []
