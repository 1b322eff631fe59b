"""The behaviour every PubSub adapter must show, as a reusable test suite.

An adapter's tests subclass :class:`AdapterContract` (pytest collects a
class named ``Test...``) and provide two coroutines: ``make_nodes(count)``,
returning that many PubSub instances that are separate nodes of one cluster
(running whatever the adapter runs: connections to a broker...), and
``settle()``, which returns once publications made so far have reached every
node (nothing to wait for with in-process adapters; a broker round trip for
others). The tests are ``async def``: run them with pytest-trio
(``trio_mode = true``)::

    from actorsock.pubsub import LocalAdapter, LocalBus, PubSub
    from actorsock.testing import AdapterContract

    class TestLocalAdapter(AdapterContract):
        async def make_nodes(self, count):
            bus = LocalBus()
            return [PubSub(f"n{i}", LocalAdapter(bus), node=f"n{i}") for i in range(count)]

Subscribers are processes of the test's trio run without a socket: what a
broadcast gives them lands in their mailbox.
"""

from __future__ import annotations

import threading
from typing import Any

import trio
import trio.testing

from ..core.frames import Text
from ..core.mailbox import Mailbox
from ..core.process import Pid, exit_process
from ..core.reasons import Normal
from ..pubsub import PubSub
from ..runtime.loop import current_loop

__all__ = ["AdapterContract"]


def spawn(capacity: int = 8) -> Pid:
    """A process of the current trio run with nothing behind its mailbox."""
    return current_loop().spawn(Mailbox(capacity), lambda: None)


def drain(pid: Pid) -> list[Any]:
    """Everything in ``pid``'s mailbox, taken out."""
    out = []
    while pid.mailbox:
        out.append(pid.mailbox.pop())
    return out


class AdapterContract:
    """The shared tests; subclass it and give :meth:`make_nodes` (and :meth:`settle`)."""

    async def make_nodes(self, count: int) -> list[PubSub]:
        """``count`` PubSub instances, separate nodes of one cluster."""
        raise NotImplementedError

    async def settle(self) -> None:
        """Return once publications made so far have reached every node."""
        await trio.testing.wait_all_tasks_blocked()

    async def test_broadcast_reaches_subscribers_on_every_node_once(self) -> None:
        a, b = await self.make_nodes(2)
        pa, pb, other = spawn(), spawn(), spawn()
        a.subscribe("t", pa)
        b.subscribe("t", pb)
        b.subscribe("elsewhere", other)
        assert a.broadcast("t", "hello") == 1
        await self.settle()
        assert drain(pa) == ["hello"]
        assert drain(pb) == ["hello"]
        assert drain(other) == []
        assert a.statistics().received == 0 and b.statistics().received == 1

    async def test_local_broadcast_stays_on_its_node(self) -> None:
        a, b = await self.make_nodes(2)
        pa, pb = spawn(), spawn()
        a.subscribe("t", pa)
        b.subscribe("t", pb)
        a.local_broadcast("t", "mine")
        await self.settle()
        assert drain(pa) == ["mine"] and drain(pb) == []

    async def test_broadcast_from_skips_only_the_sender(self) -> None:
        a, b = await self.make_nodes(2)
        sender, peer, remote = spawn(), spawn(), spawn()
        a.subscribe("room", sender)
        a.subscribe("room", peer)
        b.subscribe("room", remote)
        a.broadcast_from(sender, "room", "hi")
        await self.settle()
        assert drain(sender) == [] and drain(peer) == ["hi"] and drain(remote) == ["hi"]

    async def test_direct_frames_cross_nodes(self) -> None:
        a, b = await self.make_nodes(2)
        pb = spawn()
        b.subscribe("t", pb)
        a.broadcast_frame("t", Text("x"))
        await self.settle()
        assert drain(pb) == [Text("x")]  # a process without a socket gets the frame

    async def test_order_is_kept_per_publisher(self) -> None:
        a, b = await self.make_nodes(2)
        pb = spawn(capacity=64)
        b.subscribe("t", pb)
        for i in range(20):
            a.broadcast("t", i)
        await self.settle()
        assert drain(pb) == list(range(20))

    async def test_publications_from_a_thread_reach_every_node(self) -> None:
        a, b = await self.make_nodes(2)
        pa, pb = spawn(), spawn()
        a.subscribe("t", pa)
        b.subscribe("t", pb)
        await trio.to_thread.run_sync(a.broadcast, "t", "from a thread")
        await self.settle()
        assert drain(pa) == ["from a thread"] and drain(pb) == ["from a thread"]
        assert threading.current_thread() is threading.main_thread()

    async def test_ended_subscribers_and_closed_nodes_receive_nothing(self) -> None:
        a, b, c = await self.make_nodes(3)
        pb, pc = spawn(), spawn()
        b.subscribe("t", pb)
        c.subscribe("t", pc)
        exit_process(pb, Normal())
        c.close()
        a.broadcast("t", "late")
        await self.settle()
        assert b.subscriber_count("t") == 0
        assert drain(pc) == []
