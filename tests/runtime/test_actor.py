import threading

import pytest
import trio

from actorsock import (
    Actor,
    Crash,
    Down,
    ErrorReason,
    Normal,
    Shutdown,
    Stop,
    cancel_timer,
    registry,
    send,
    send_after,
    send_interval,
    start_actor,
)


class Recorder(Actor):
    """Records every message with the virtual time it arrived."""

    def __init__(self, events=None):
        self.events = [] if events is None else events
        self.reasons = []

    async def handle_info(self, message):
        self.events.append((round(trio.current_time(), 3), message))
        if message == "stop":
            return Stop()
        if message == "boom":
            raise RuntimeError("boom")
        return None

    async def terminate(self, reason):
        self.reasons.append(reason)


async def test_send_after_and_interval_on_virtual_time(autojump_clock):
    actor = Recorder()
    async with trio.open_nursery() as nursery:
        pid = await start_actor(nursery, actor)
        start = trio.current_time()
        send_after(pid, 2.5, "later")
        tick = send_interval(pid, 1.0, "tick")
        await trio.sleep(3.2)
        assert cancel_timer(tick) is True and cancel_timer(tick) is False
        await trio.sleep(5)
        send(pid, "stop")
    times = [(round(t - start, 3), m) for t, m in actor.events]
    assert times == [(1.0, "tick"), (2.0, "tick"), (2.5, "later"), (3.0, "tick"), (8.2, "stop")]
    assert actor.reasons == [Normal()]


async def test_terminate_once_and_pid_dead_after_crash(autojump_clock):
    actor = Recorder()
    async with trio.open_nursery() as nursery:
        pid = await start_actor(nursery, actor)
        registry.register_pid(pid, "workers")
        send(pid, "boom")
        send(pid, "never handled")
    assert len(actor.reasons) == 1 and isinstance(actor.reasons[0], Crash)
    assert str(actor.reasons[0].exception) == "boom"
    assert not pid.alive and send(pid, "x") is False
    assert registry.lookup("workers") == []


async def test_cancellation_terminates_with_shutdown(autojump_clock):
    actor = Recorder()
    async with trio.open_nursery() as nursery:
        await start_actor(nursery, actor)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert actor.reasons == [Shutdown()]


async def test_monitor_receives_down(autojump_clock):
    watcher, target = Recorder(), Recorder()
    async with trio.open_nursery() as nursery:
        wpid = await start_actor(nursery, watcher)
        tpid = await start_actor(nursery, target)
        ref = watcher.monitor(tpid)
        send(tpid, "stop")
        await trio.sleep(0.1)
        send(wpid, "stop")
    downs = [m for _, m in watcher.events if isinstance(m, Down)]
    assert len(downs) == 1 and downs[0].ref is ref and downs[0].reason == Normal()


class Slow(Actor):
    mailbox_size = 4
    overflow = "disconnect"

    def __init__(self):
        self.reasons = []

    async def handle_info(self, message):
        await trio.sleep(1)

    async def terminate(self, reason):
        self.reasons.append(reason)


async def test_mailbox_overflow_disconnects(autojump_clock):
    actor = Slow()
    async with trio.open_nursery() as nursery:
        pid = await start_actor(nursery, actor)
        accepted = [send(pid, i) for i in range(10)]
    assert accepted == [True] * 4 + [False] * 6
    assert actor.reasons == [ErrorReason("mailbox_overflow")]


async def test_send_from_a_plain_thread(autojump_clock):
    actor = Recorder()
    async with trio.open_nursery() as nursery:
        pid = await start_actor(nursery, actor)

        def from_thread():
            assert all(send(pid, i) for i in range(100))
            send(pid, "stop")

        await trio.to_thread.run_sync(from_thread)
    assert [m for _, m in actor.events] == [*range(100), "stop"]


async def test_timers_refuse_other_threads(autojump_clock):
    actor = Recorder()
    async with trio.open_nursery() as nursery:
        pid = await start_actor(nursery, actor)
        with pytest.raises(RuntimeError):
            await trio.to_thread.run_sync(lambda: send_after(pid, 1, "x"))
        send(pid, "stop")
    assert threading.active_count() >= 1


async def test_init_may_stop_at_once(autojump_clock):
    class Quitter(Recorder):
        async def init(self):
            return Stop()

    actor = Quitter()
    async with trio.open_nursery() as nursery:
        pid = await start_actor(nursery, actor)
    assert not pid.alive and actor.reasons == [Normal()]
