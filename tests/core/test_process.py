import threading

import pytest

from actorsock.core.process import (
    Down,
    Pid,
    demonitor,
    exit_process,
    fan_out_messages,
    monitor,
    reset_current_pid,
    self_pid,
    send,
    set_current_pid,
)
from actorsock.core.reasons import Crash, Normal
from actorsock.errors import NotInActorError


def test_pid_is_opaque_hashable_printable(loop):
    a, b = loop.spawn(), loop.spawn()
    assert a != b and len({a, b, a}) == 2
    assert repr(a).startswith("<0.") and repr(a).endswith(">")
    with pytest.raises(TypeError):
        Pid()


def test_send_queues_and_wakes(loop):
    pid = loop.spawn()
    assert send(pid, "hi") is True
    assert pid.mailbox.pop() == "hi" and loop.wakes[pid] == 1


def test_send_to_dead_pid_returns_false(loop):
    pid = loop.spawn()
    exit_process(pid, Normal())
    assert send(pid, "hi") is False
    assert not pid.alive and pid.exit_reason == Normal()


def test_send_reports_a_full_mailbox(loop):
    pid = loop.spawn(capacity=1, policy="drop_newest")
    assert send(pid, 1) is True
    assert send(pid, 2) is False


def test_send_from_another_thread_hops_to_the_loop(loop):
    pid = loop.spawn()
    results = []
    thread = threading.Thread(target=lambda: results.append(send(pid, "from thread")))
    thread.start()
    thread.join()
    assert results == [True] and len(pid.mailbox) == 0
    loop.run_hops()
    assert pid.mailbox.pop() == "from thread"


def test_monitor_delivers_down_once(loop):
    watcher, target = loop.spawn(), loop.spawn()
    ref = monitor(target, watcher=watcher)
    exit_process(target, Crash(ValueError("x")))
    exit_process(target, Normal())  # second exit is ignored
    down = watcher.mailbox.pop()
    assert isinstance(down, Down) and down.pid is target and down.ref is ref
    assert isinstance(down.reason, Crash)
    assert not watcher.mailbox


def test_monitor_of_a_dead_pid_is_immediate(loop):
    watcher, target = loop.spawn(), loop.spawn()
    exit_process(target, Normal())
    monitor(target, watcher=watcher)
    assert watcher.mailbox.pop().reason == Normal()


def test_demonitor_and_watcher_death_clean_up(loop):
    watcher, target = loop.spawn(), loop.spawn()
    ref = monitor(target, watcher=watcher)
    assert demonitor(ref) is True and demonitor(ref) is False
    monitor(target, watcher=watcher)
    exit_process(watcher, Normal())
    assert not target._monitors
    exit_process(target, Normal())


def test_down_bypasses_a_full_mailbox(loop):
    watcher, target = loop.spawn(capacity=1), loop.spawn()
    send(watcher, "filler")
    monitor(target, watcher=watcher)
    exit_process(target, Normal())
    assert len(watcher.mailbox) == 2 and not watcher.mailbox.overflowed


def test_self_pid_inside_and_outside(loop):
    with pytest.raises(NotInActorError):
        self_pid()
    pid = loop.spawn()
    token = set_current_pid(pid)
    try:
        assert self_pid() is pid
    finally:
        reset_current_pid(token)


def test_send_queues_behind_a_fan_out_still_being_delivered(loop):
    a, b = loop.spawn(), loop.spawn()
    loop.deliveries.add([a, b], "broadcast", fan_out_messages)
    assert send(b, "after") is True
    assert not b.mailbox
    while loop.deliveries.run():
        pass
    assert [b.mailbox.pop(), b.mailbox.pop()] == ["broadcast", "after"]
    assert a.mailbox.pop() == "broadcast"
