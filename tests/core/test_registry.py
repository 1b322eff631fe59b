import threading
from contextlib import contextmanager

import pytest

from actorsock.core.process import exit_process, reset_current_pid, send, set_current_pid
from actorsock.core.reasons import Crash, Normal
from actorsock.core.registry import Registry
from actorsock.errors import (
    AlreadyRegisteredError,
    DeadPidError,
    NotInActorError,
    RegistryError,
)


@contextmanager
def acting_as(pid):
    token = set_current_pid(pid)
    try:
        yield pid
    finally:
        reset_current_pid(token)


def test_duplicate_keys_hold_many_pids(loop):
    reg = Registry("duplicate")
    a, b = loop.spawn(), loop.spawn()
    with acting_as(a):
        reg.register("room", "alice")
    with acting_as(b):
        reg.register("room", "bob")
    assert reg.lookup("room") == [(a, "alice"), (b, "bob")]
    assert reg.count("room") == 2 and reg.count() == 2
    assert reg.keys(a) == ["room"] and reg.values("room", b) == ["bob"]


def test_same_pid_may_register_a_duplicate_key_twice(loop):
    reg = Registry()
    a = loop.spawn()
    with acting_as(a):
        reg.register("t", 1)
        reg.register("t", 2)
    assert reg.lookup("t") == [(a, 1), (a, 2)]
    with acting_as(a):
        reg.unregister("t")
    assert reg.lookup("t") == [] and reg.keys(a) == []


def test_unique_keys_refuse_a_second_holder(loop):
    reg = Registry("unique")
    a, b = loop.spawn(), loop.spawn()
    with acting_as(a):
        reg.register("alice")
    with acting_as(b), pytest.raises(AlreadyRegisteredError) as caught:
        reg.register("alice")
    assert caught.value.holder is a
    with acting_as(a), pytest.raises(AlreadyRegisteredError):
        reg.register("alice")


def test_dispatch_calls_each_entry_and_sends(loop):
    reg = Registry()
    pids = [loop.spawn() for _ in range(3)]
    for pid in pids:
        with acting_as(pid):
            reg.register("dashboards", str(pid))
    seen = []
    n = reg.dispatch("dashboards", lambda pid, value: seen.append(value) or send(pid, "tick"))
    assert n == 3 and seen == [str(p) for p in pids]
    assert all(p.mailbox.pop() == "tick" for p in pids)
    assert reg.dispatch("nobody", lambda *_: None) == 0


def test_dispatch_tolerates_changes_made_by_the_callback(loop):
    reg = Registry()
    pids = [loop.spawn() for _ in range(4)]
    for pid in pids:
        with acting_as(pid):
            reg.register("k")
    assert reg.dispatch("k", lambda pid, _: exit_process(pid, Normal())) == 4
    assert reg.lookup("k") == []


@pytest.mark.parametrize("reason", [Normal(), Crash(RuntimeError("boom"))])
def test_entries_vanish_when_the_pid_ends(loop, reason):
    reg, names = Registry(), Registry("unique")
    a, b = loop.spawn(), loop.spawn()
    with acting_as(a):
        reg.register("x")
        reg.register("y")
        names.register("a")
    with acting_as(b):
        reg.register("x")
    exit_process(a, reason)
    assert reg.lookup("x") == [(b, None)] and reg.lookup("y") == []
    assert names.lookup("a") == [] and reg.keys(a) == [] and reg.count() == 1
    assert reg.all_keys() == ["x"]


def test_unregister_removes_the_exit_hook(loop):
    reg = Registry()
    a = loop.spawn()
    with acting_as(a):
        reg.register("x")
        reg.unregister("x")
        reg.unregister("never-registered")
    assert not a._exit_hooks


def test_match_update_value_and_unregister_match(loop):
    reg, uniq = Registry(), Registry("unique")
    a = loop.spawn()
    with acting_as(a):
        reg.register("scores", 1)
        reg.register("scores", 5)
        uniq.register("me", {"n": 1})
        assert reg.match("scores", lambda v: v > 2) == [(a, 5)]
        assert reg.unregister_match("scores", lambda v: v > 2) == 1
        assert reg.values("scores", a) == [1]
        assert uniq.update_value("me", lambda v: {"n": v["n"] + 1}) == ({"n": 2}, {"n": 1})
        with pytest.raises(RegistryError):
            reg.update_value("scores", lambda v: v)
        with pytest.raises(RegistryError):
            uniq.update_value("not-mine", lambda v: v)


def test_register_outside_a_process_or_for_a_dead_pid(loop):
    reg = Registry()
    with pytest.raises(NotInActorError):
        reg.register("x")
    dead = loop.spawn()
    exit_process(dead, Normal())
    with pytest.raises(DeadPidError):
        reg.register_pid(dead, "x")


def test_reads_from_another_thread_see_a_consistent_snapshot(loop):
    reg = Registry()
    pids = [loop.spawn() for _ in range(200)]
    for pid in pids:
        with acting_as(pid):
            reg.register("k")
    counts = []

    def reader():
        for _ in range(200):
            counts.append(reg.dispatch("k", lambda *_: None))

    thread = threading.Thread(target=reader)
    thread.start()
    for pid in pids[:100]:
        exit_process(pid, Normal())
    thread.join()
    assert all(100 <= c <= 200 for c in counts) and reg.count("k") == 100
