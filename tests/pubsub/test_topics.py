import threading

import pytest

from actorsock.codecs import JSON, MSGPACK
from actorsock.core.frames import Binary, Text
from actorsock.core.process import exit_process, send, set_current_pid
from actorsock.core.reasons import Normal
from actorsock.errors import NotInActorError
from actorsock.pubsub import PubSub

from .adapter_contract import drain


@pytest.fixture
def ps():
    return PubSub("test")


def test_subscribe_unsubscribe_and_counts(ps, node):
    a, b = node.spawn(), node.spawn()
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


def test_subscribe_defaults_to_the_current_process(ps, node):
    pid = node.spawn()
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


def test_subscriptions_end_with_the_process(ps, node):
    pid = node.spawn()
    ps.subscribe("a", pid)
    ps.subscribe("b", pid)
    exit_process(pid, Normal())
    assert ps.topics() == []
    assert ps.broadcast("a", "x") == 0


def test_broadcast_and_broadcast_from(ps, node):
    a, b, c = node.spawn(), node.spawn(), node.spawn()
    for pid in (a, b, c):
        ps.subscribe("t", pid)
    assert ps.broadcast("t", "all") == 3
    assert ps.broadcast_from(a, "t", "others") == 2
    assert drain(a) == ["all"]
    assert drain(b) == ["all", "others"]
    assert drain(c) == ["all", "others"]
    assert node.wakes[b] == 2


def test_direct_frames_go_to_the_sink_and_are_encoded_once_per_codec(ps, node):
    sinks: dict = {}
    pids = []
    for i in range(6):
        pid = node.spawn()
        sinks[pid] = received = []
        pid.frame_sink = lambda frames, received=received: received.extend(frames) or len(frames)
        ps.subscribe("metrics", pid, codec=MSGPACK if i % 2 else None)
        pids.append(pid)
    assert ps.broadcast_frame("metrics", {"cpu": 3}) == 6
    frames = [sinks[pid][0] for pid in pids]
    assert ps.statistics().encodings == 2
    assert frames[0] is frames[2] is frames[4]  # the same bytes object for every JSON client
    assert frames[0].frame == JSON.encode({"cpu": 3})
    assert frames[1].frame == MSGPACK.encode({"cpu": 3})
    assert frames[1].data.startswith(b"\x82")  # FIN + binary opcode
    assert frames[0].key == "metrics"


def test_a_ready_frame_is_built_once_whatever_the_codecs(ps, node):
    seen = []
    for codec in (JSON, MSGPACK, None):
        pid = node.spawn()
        pid.frame_sink = lambda frames: seen.extend(frames) or len(frames)
        ps.subscribe("t", pid, codec=codec)
    assert ps.broadcast_frame("t", Binary(b"\x00\x01"), key="k") == 3
    assert ps.statistics().encodings == 1
    assert len({id(p) for p in seen}) == 1 and seen[0].key == "k"


def test_direct_frames_reach_plain_processes_as_messages(ps, node):
    pid = node.spawn()
    ps.subscribe("t", pid)
    ps.broadcast_frame("t", Text("hi"))
    ps.broadcast_frame("t", [1, 2])
    assert drain(pid) == [Text("hi"), Text("[1,2]")]


def test_broadcast_frame_excludes_the_sender(ps, node):
    a, b = node.spawn(), node.spawn()
    ps.subscribe("t", a)
    ps.subscribe("t", b)
    assert ps.broadcast_frame("t", Text("x"), exclude=a) == 1
    assert drain(a) == [] and drain(b) == [Text("x")]


def test_broadcast_from_another_thread_hops_to_the_loop_once(ps, node):
    pids = [node.spawn() for _ in range(3)]
    for pid in pids:
        ps.subscribe("t", pid)
    result = []
    thread = threading.Thread(target=lambda: result.append(ps.broadcast("t", "from thread")))
    thread.start()
    thread.join()
    assert result == [3]
    assert len(node.hops) == 1 and all(not pid.mailbox for pid in pids)
    node.run_hops()
    assert all(drain(pid) == ["from thread"] for pid in pids)


def test_full_mailboxes_are_not_counted_as_deliveries(ps, node):
    pid = node.spawn(capacity=1, policy="drop_newest")
    ps.subscribe("t", pid)
    assert ps.broadcast("t", 1) == 1
    assert ps.broadcast("t", 2) == 0
    assert ps.statistics().deliveries == 1


def test_a_large_fan_out_is_delivered_a_slice_at_a_time_in_order(ps, node):
    node.deliveries.slice_size = 2
    pids = [node.spawn() for _ in range(5)]
    for pid in pids:
        ps.subscribe("t", pid)
    assert ps.broadcast("t", "first") == 5
    assert [drain(pid) for pid in pids] == [["first"], ["first"], [], [], []]
    assert (ps.statistics().waiting, ps.statistics().deferred) == (3, 3)
    # What is sent meanwhile, by broadcast or send, queues behind the rest.
    ps.broadcast_frame("t", Text("second"), exclude=pids[4])
    send(pids[0], "direct")
    assert all(not pid.mailbox for pid in pids)
    assert node.deliveries.run() == 2
    assert [drain(pid) for pid in pids] == [[], [], ["first"], ["first"], []]
    while node.deliveries.run():
        pass
    assert [drain(pid) for pid in pids] == [
        [Text("second"), "direct"],
        [Text("second")],
        [Text("second")],
        [Text("second")],
        ["first"],
    ]
    assert ps.statistics().deliveries == 9


def test_deferred_subscribers_are_those_of_the_moment_of_publication(ps, node):
    node.deliveries.slice_size = 1
    late, gone, codecs = node.spawn(), node.spawn(), node.spawn()
    ps.subscribe("t", codecs)
    ps.subscribe("t", gone, codec=MSGPACK)
    ps.broadcast_frame("t", {"v": 1})
    ps.unsubscribe("t", gone)  # after publication: still gets it, in its own codec
    ps.subscribe("t", late)  # after publication: does not
    while node.deliveries.run():
        pass
    assert drain(codecs) == [Text('{"v":1}')]
    assert drain(gone) == [MSGPACK.encode({"v": 1})]
    assert drain(late) == []
