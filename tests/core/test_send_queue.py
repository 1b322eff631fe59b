import pytest

from actorsock.core.send_queue import CONTROL_ALLOWANCE, SendPolicy, SendQueue


def written(queue: SendQueue) -> bytes:
    """Drain the queue as a socket that takes everything would."""
    data = b"".join(bytes(b) for b in queue.buffers(10_000))
    queue.consumed(len(data))
    return data


def test_fifo_and_partial_writes_keep_frame_boundaries():
    queue = SendQueue(max_bytes=100)
    assert queue.push(b"aaaa") and queue.push(b"bb") and queue.push(b"c")
    assert queue.queued_bytes == 7 and queue.depth == 3
    queue.consumed(3)  # kernel took part of the first frame
    assert [bytes(b) for b in queue.buffers()] == [b"a", b"bb", b"c"]
    assert queue.depth == 3
    queue.consumed(2)
    assert [bytes(b) for b in queue.buffers()] == [b"b", b"c"]
    assert queue.depth == 2
    assert written(queue) == b"bc"
    assert not queue and queue.depth == 0 and queue.sent_bytes == 7


def test_disconnect_refuses_and_marks_overflow():
    queue = SendQueue(max_bytes=10)
    assert queue.push(b"x" * 8)
    assert not queue.push(b"y" * 3)
    assert queue.overflowed and queue.dropped == 1
    assert not queue.push(b"z")  # nothing more after an overflow
    assert queue.queued_bytes == 8


def test_message_bound_counts_frames():
    queue = SendQueue(max_bytes=1000, max_messages=2, policy="drop_newest")
    assert queue.push(b"1") and queue.push(b"2")
    assert not queue.push(b"3")
    assert written(queue) == b"12" and queue.dropped == 1


def test_drop_newest_keeps_the_queue():
    queue = SendQueue(max_bytes=4, policy=SendPolicy.DROP_NEWEST)
    for chunk in (b"ab", b"cd", b"ef"):
        queue.push(chunk)
    assert written(queue) == b"abcd"
    assert queue.dropped == 1 and not queue.overflowed


def test_drop_oldest_never_drops_a_partly_written_frame():
    queue = SendQueue(max_bytes=6, policy="drop_oldest")
    queue.push(b"aaa")
    queue.push(b"bbb")
    queue.consumed(1)  # "a" is on the wire; "aa" must follow
    assert queue.push(b"ccc")
    assert queue.dropped == 1
    assert written(queue) == b"aaccc"
    assert queue.queued_bytes == 0


def test_drop_oldest_refuses_a_frame_larger_than_the_bound():
    queue = SendQueue(max_bytes=4, policy="drop_oldest")
    queue.push(b"ab")
    assert not queue.push(b"x" * 5)
    assert written(queue) == b"ab" and not queue.overflowed


def test_coalesce_replaces_the_queued_frame_with_the_same_key():
    queue = SendQueue(max_bytes=100, policy="coalesce")
    queue.push(b"cpu=1", key="cpu")
    queue.push(b"mem=1", key="mem")
    queue.push(b"cpu=2", key="cpu")
    queue.push(b"log", key=None)
    queue.push(b"cpu=3", key="cpu")
    assert queue.coalesced == 2 and queue.depth == 3
    assert written(queue) == b"mem=1logcpu=3"


def test_coalesce_keeps_a_frame_already_on_the_wire():
    queue = SendQueue(max_bytes=100, policy="coalesce")
    queue.push(b"v1", key="k")
    queue.consumed(1)
    queue.push(b"v2", key="k")
    queue.push(b"v3", key="k")
    assert written(queue) == b"1v3"
    assert queue.coalesced == 1


def test_coalesce_drops_oldest_when_keys_do_not_repeat():
    queue = SendQueue(max_bytes=4, policy="coalesce")
    queue.push(b"aa", key=1)
    queue.push(b"bb", key=2)
    queue.push(b"cc", key=3)
    assert written(queue) == b"bbcc" and queue.dropped == 1


def test_control_frames_skip_the_policy_within_an_allowance():
    queue = SendQueue(max_bytes=4, policy="drop_newest")
    queue.push(b"data")
    ticket = queue.push_control(b"pong")
    assert ticket is not None and queue.is_pending(ticket)
    assert written(queue) == b"datapong"
    assert not queue.is_pending(ticket)
    assert queue.push_control(b"x" * (4 + CONTROL_ALLOWANCE + 1)) is None
    assert queue.overflowed


def test_discard_pending_keeps_only_the_frame_in_flight():
    queue = SendQueue(max_bytes=100)
    queue.push(b"abc")
    queue.push(b"def")
    queue.push_control(b"ctl")
    queue.consumed(1)
    assert queue.discard_pending() == 2
    assert queue.queued_bytes == 2
    ticket = queue.push_control(b"close")
    assert written(queue) == b"bcclose"
    assert ticket is not None and not queue.is_pending(ticket)


def test_peak_bytes_and_bounds_validation():
    queue = SendQueue(max_bytes=10, policy="drop_oldest")
    for _ in range(50):
        queue.push(b"12345")
        assert queue.queued_bytes <= 10
    assert queue.peak_bytes == 10
    with pytest.raises(ValueError):
        SendQueue(max_bytes=0)
    with pytest.raises(ValueError):
        SendQueue(policy="sometimes")
