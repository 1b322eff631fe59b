import pytest

from actorsock.core.mailbox import Mailbox, Overflow


def test_fifo_within_capacity():
    box = Mailbox(3)
    assert all(box.push(i) for i in range(3))
    assert [box.pop() for _ in range(3)] == [0, 1, 2]
    assert not box and box.dropped == 0


def test_disconnect_refuses_and_marks_overflow():
    box = Mailbox(2, "disconnect")
    box.push(1), box.push(2)
    assert box.push(3) is False
    assert box.overflowed and box.dropped == 1
    assert [box.pop(), box.pop()] == [1, 2]


def test_drop_oldest_keeps_the_newest():
    box = Mailbox(2, Overflow.DROP_OLDEST)
    for i in range(5):
        assert box.push(i)
    assert [box.pop(), box.pop()] == [3, 4]
    assert box.dropped == 3 and not box.overflowed


def test_drop_newest_keeps_the_oldest():
    box = Mailbox(2, "drop_newest")
    results = [box.push(i) for i in range(5)]
    assert results == [True, True, False, False, False]
    assert [box.pop(), box.pop()] == [0, 1]
    assert box.dropped == 3 and not box.overflowed


def test_system_messages_ignore_the_bound():
    box = Mailbox(1)
    box.push("user")
    box.push_system("down")
    assert len(box) == 2 and not box.overflowed


def test_bad_arguments():
    with pytest.raises(ValueError):
        Mailbox(0)
    with pytest.raises(ValueError):
        Mailbox(1, "explode")
