from actorsock.pubsub import LocalAdapter, LocalBus, PubSub

from .adapter_contract import AdapterContract


class TestLocalAdapter(AdapterContract):
    def make_nodes(self, count):
        bus = LocalBus()
        return [PubSub(f"n{i}", LocalAdapter(bus), node=f"n{i}") for i in range(count)]


def test_a_lone_local_pubsub_is_a_single_node(loop):
    lone = PubSub("lone")
    pid = loop.spawn()
    lone.subscribe("t", pid)
    assert lone.broadcast("t", 1) == 1
    assert pid.mailbox.pop() == 1
