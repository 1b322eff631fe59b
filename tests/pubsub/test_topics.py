import threading

import pytest

from actorsock.codecs import JSON, MSGPACK
from actorsock.core.frames import Binary, Text
from actorsock.core.process import exit_process, send, set_current_pid
from actorsock.core.reasons import Normal
from actorsock.core.wire import PreparedFrame
from actorsock.errors import NotInActorError
from actorsock.pubsub import PubSub
from actorsock.testing.adapter_contract import drain


@pytest.fixture
def ps():
    return PubSub("test")


def test_subscribe_unsubscribe_and_counts(ps, loop):
    a, b = loop.spawn(), loop.spawn()
    ps.subscribe("room:1", a)
    ps.subscribe("room:1", a)  # idempotent
    ps.subscribe("room:1", b)
    ps.subscribe("room:2", b)
    assert ps.subscriber_count("room:1") == 2
    assert ps.subscribers("room:1") == [a, b]
    assert sorted(ps.topics(b)) == ["room:1", "room:2"]
    ps.unsubscribe("room:1", a)
    ps.unsubscribe("room:1", a)  # no error
    assert ps.subscribers("room:1") == [b]
    assert ps.statistics().subscribers == {"room:1": 1, "room:2": 1}


def test_subscribe_defaults_to_the_current_process(ps, loop):
    pid = loop.spawn()
    with pytest.raises(NotInActorError):
        ps.subscribe("t")
    set_current_pid(pid)
    try:
        ps.subscribe("t")
        assert ps.subscribers("t") == [pid]
        ps.unsubscribe("t")
        assert ps.subscribers("t") == []
    finally:
        set_current_pid(None)


def test_subscriptions_end_with_the_process(ps, loop):
    pid = loop.spawn()
    ps.subscribe("a", pid)
    ps.subscribe("b", pid)
    exit_process(pid, Normal())
    assert ps.topics() == []
    assert ps.broadcast("a", "x") == 0


def test_broadcast_and_broadcast_from(ps, loop):
    a, b, c = loop.spawn(), loop.spawn(), loop.spawn()
    for pid in (a, b, c):
        ps.subscribe("t", pid)
    assert ps.broadcast("t", "all") == 3
    assert ps.broadcast_from(a, "t", "others") == 2
    assert drain(a) == ["all"]
    assert drain(b) == ["all", "others"]
    assert drain(c) == ["all", "others"]
    assert loop.wakes[b] == 2


class Gate:
    waiting = True


class FakeSink:
    """A FrameSink that records what it is offered: (bytes, key) pairs."""

    def __init__(self, gate=None):
        self.gate = gate or Gate()
        self.offered = []

    def offer_frames(self, frames):
        self.offered.extend((prepared.websocket, prepared.key) for prepared in frames)
        return len(frames)


def test_direct_frames_go_to_the_sink_and_are_encoded_once_per_codec(ps, loop):
    sinks = []
    for i in range(6):
        pid = loop.spawn()
        pid.frame_sink = FakeSink()
        sinks.append(pid.frame_sink)
        ps.subscribe("metrics", pid, codec=MSGPACK if i % 2 else None)
    assert ps.broadcast_frame("metrics", {"cpu": 3}) == 6
    offered = [sink.offered[0] for sink in sinks]
    assert ps.statistics().encodings == 2
    assert offered[0][0] is offered[2][0] is offered[4][0]  # one bytes object for JSON clients
    assert offered[1][0] is offered[3][0] is offered[5][0]
    assert offered[0][0] == PreparedFrame(JSON.encode({"cpu": 3})).websocket
    assert offered[1][0] == PreparedFrame(MSGPACK.encode({"cpu": 3})).websocket
    assert offered[1][0].startswith(b"\x82")  # FIN + binary opcode
    assert offered[0][1] == "metrics"


def test_a_ready_frame_is_built_once_whatever_the_codecs(ps, loop):
    sinks = []
    for codec in (JSON, MSGPACK, None):
        pid = loop.spawn()
        pid.frame_sink = FakeSink()
        sinks.append(pid.frame_sink)
        ps.subscribe("t", pid, codec=codec)
    assert ps.broadcast_frame("t", Binary(b"\x00\x01"), key="k") == 3
    assert ps.statistics().encodings == 1
    seen = [sink.offered[0] for sink in sinks]
    assert len({id(data) for data, _ in seen}) == 1 and seen[0][1] == "k"


def test_a_busy_connection_gets_direct_frames_in_its_mailbox(ps, loop):
    class Shut:
        waiting = False

    busy, parked = loop.spawn(), loop.spawn()
    busy.frame_sink, parked.frame_sink = FakeSink(Shut()), FakeSink()
    for pid in (busy, parked):
        ps.subscribe("t", pid)
    assert ps.broadcast_frame("t", Text("hi")) == 2
    assert parked.frame_sink.offered == [(PreparedFrame(Text("hi")).websocket, "t")]
    assert busy.frame_sink.offered == []
    assert [prepared.frame for prepared in drain(busy)] == [Text("hi")]


def test_direct_frames_reach_plain_processes_as_messages(ps, loop):
    pid = loop.spawn()
    ps.subscribe("t", pid)
    ps.broadcast_frame("t", Text("hi"))
    ps.broadcast_frame("t", [1, 2])
    assert drain(pid) == [Text("hi"), Text("[1,2]")]


def test_broadcast_frame_excludes_the_sender(ps, loop):
    a, b = loop.spawn(), loop.spawn()
    ps.subscribe("t", a)
    ps.subscribe("t", b)
    assert ps.broadcast_frame("t", Text("x"), exclude=a) == 1
    assert drain(a) == [] and drain(b) == [Text("x")]


def test_broadcast_from_another_thread_hops_to_the_loop_once(ps, loop):
    pids = [loop.spawn() for _ in range(3)]
    for pid in pids:
        ps.subscribe("t", pid)
    result = []
    thread = threading.Thread(target=lambda: result.append(ps.broadcast("t", "from thread")))
    thread.start()
    thread.join()
    assert result == [3]
    assert len(loop.hops) == 1 and all(not pid.mailbox for pid in pids)
    loop.run_hops()
    assert all(drain(pid) == ["from thread"] for pid in pids)


def test_full_mailboxes_are_not_counted_as_deliveries(ps, loop):
    pid = loop.spawn(capacity=1, policy="drop_newest")
    ps.subscribe("t", pid)
    assert ps.broadcast("t", 1) == 1
    assert ps.broadcast("t", 2) == 0
    assert ps.statistics().deliveries == 1


def test_a_large_fan_out_is_delivered_a_slice_at_a_time_in_order(ps, loop):
    loop.deliveries.slice_size = 2
    pids = [loop.spawn() for _ in range(5)]
    for pid in pids:
        ps.subscribe("t", pid)
    assert ps.broadcast("t", "first") == 5
    assert [drain(pid) for pid in pids] == [["first"], ["first"], [], [], []]
    assert (ps.statistics().waiting, ps.statistics().deferred) == (3, 3)
    # What is sent meanwhile, by broadcast or send, queues behind the rest.
    ps.broadcast_frame("t", Text("second"), exclude=pids[4])
    send(pids[0], "direct")
    assert all(not pid.mailbox for pid in pids)
    assert loop.deliveries.run() == 2
    assert [drain(pid) for pid in pids] == [[], [], ["first"], ["first"], []]
    while loop.deliveries.run():
        pass
    assert [drain(pid) for pid in pids] == [
        [Text("second"), "direct"],
        [Text("second")],
        [Text("second")],
        [Text("second")],
        ["first"],
    ]
    assert ps.statistics().deliveries == 9


def test_deferred_subscribers_are_those_of_the_moment_of_publication(ps, loop):
    loop.deliveries.slice_size = 1
    late, gone, codecs = loop.spawn(), loop.spawn(), loop.spawn()
    ps.subscribe("t", codecs)
    ps.subscribe("t", gone, codec=MSGPACK)
    ps.broadcast_frame("t", {"v": 1})
    ps.unsubscribe("t", gone)  # after publication: still gets it, in its own codec
    ps.subscribe("t", late)  # after publication: does not
    while loop.deliveries.run():
        pass
    assert drain(codecs) == [Text('{"v":1}')]
    assert drain(gone) == [MSGPACK.encode({"v": 1})]
    assert drain(late) == []
