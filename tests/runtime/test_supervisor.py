import pytest
import trio

from actorsock import Actor, ChildSpec, Supervisor, SupervisorError, send
from actorsock.core.reasons import Crash, Normal, Shutdown


def make_worker(name, log, crash_on_start=False):
    """An actor class that logs its lifecycle into ``log``; crashes on "crash"."""

    class Worker(Actor):
        async def init(self):
            if crash_on_start:
                raise RuntimeError("cannot start")
            log.append(("start", name))

        async def handle_info(self, message):
            if message == "crash":
                raise RuntimeError(f"{name} crashed")
            if message == "exit":
                from actorsock import Stop

                return Stop()
            return None

        async def terminate(self, reason):
            log.append(("stop", name, type(reason).__name__))

    Worker.__name__ = name
    return Worker


def pid_of(sup, child_id):
    return next(value for cid, value, _ in sup.which_children() if cid == child_id)


async def run_sup(nursery, sup):
    await nursery.start(sup.run)
    return sup


@pytest.mark.parametrize(
    ("strategy", "restarted"),
    [
        ("one_for_one", ["b"]),
        ("one_for_all", ["a", "b", "c"]),
        ("rest_for_one", ["b", "c"]),
    ],
)
async def test_strategies(autojump_clock, strategy, restarted):
    log = []
    sup = Supervisor([make_worker(n, log) for n in "abc"], strategy=strategy)
    async with trio.open_nursery() as nursery:
        await run_sup(nursery, sup)
        before = {cid: pid for cid, pid, _ in sup.which_children()}
        log.clear()
        send(pid_of(sup, "b"), "crash")
        await trio.sleep(0.1)
        after = {cid: pid for cid, pid, _ in sup.which_children()}
        assert [cid for cid in "abc" if before[cid] is not after[cid]] == restarted
        assert [e[1] for e in log if e[0] == "start"] == restarted
        # siblings stop in reverse order before the restarts
        stops = [e[1] for e in log if e[0] == "stop" and e[2] == "Shutdown"]
        assert stops == [c for c in reversed(restarted) if c != "b"]
        assert [cid for cid, _, _ in sup.which_children()] == ["a", "b", "c"]
        await sup.shutdown()
    assert [e[1] for e in log[-3:]] == ["c", "b", "a"]  # shutdown in reverse order


async def test_intensity_gives_up_and_fails_upward(autojump_clock):
    log = []
    sup = Supervisor([make_worker("a", log), make_worker("b", log)], max_restarts=3, max_seconds=5)
    with pytest.raises(ExceptionGroup) as caught:
        async with trio.open_nursery() as nursery:
            await run_sup(nursery, sup)
            for _ in range(4):
                send(pid_of(sup, "a"), "crash")
                await trio.sleep(0.5)
            await trio.sleep_forever()
    assert caught.group_contains(SupervisorError, match="more than 3 restarts")
    assert ("stop", "b", "Shutdown") in log  # siblings stopped before giving up


async def test_restarts_spread_over_time_are_fine(autojump_clock):
    log = []
    sup = Supervisor([make_worker("a", log)])
    async with trio.open_nursery() as nursery:
        await run_sup(nursery, sup)
        for _ in range(10):
            send(pid_of(sup, "a"), "crash")
            await trio.sleep(2)
        assert len([e for e in log if e[0] == "start"]) == 11
        await sup.shutdown()


@pytest.mark.parametrize(
    ("restart", "message", "comes_back"),
    [
        ("permanent", "exit", True),
        ("transient", "exit", False),
        ("transient", "crash", True),
        ("temporary", "crash", False),
    ],
)
async def test_restart_types(autojump_clock, restart, message, comes_back):
    log = []
    sup = Supervisor([ChildSpec.actor(make_worker("a", log), id="a", restart=restart)])
    async with trio.open_nursery() as nursery:
        await run_sup(nursery, sup)
        send(pid_of(sup, "a"), message)
        await trio.sleep(0.1)
        assert (len(sup.which_children()) == 1) is comes_back
        await sup.shutdown()


async def test_failure_to_start_is_reported(autojump_clock):
    sup = Supervisor([make_worker("ok", []), make_worker("bad", [], crash_on_start=True)])
    with pytest.raises(SupervisorError, match="failed to start"):
        await sup.run()


async def test_shutdown_timeout_then_cancel(autojump_clock):
    stopped = []

    async def stubborn(task_status=trio.TASK_STATUS_IGNORED):
        task_status.started("value")
        try:
            await trio.sleep_forever()
        finally:
            stopped.append(trio.current_time())

    spec = ChildSpec("stubborn", stubborn, shutdown=2.0, stop=lambda value: None)
    sup = Supervisor([spec])
    async with trio.open_nursery() as nursery:
        await run_sup(nursery, sup)
        start = trio.current_time()
        await sup.shutdown()
    assert stopped and stopped[0] - start == pytest.approx(2.0)


async def test_task_children_and_dynamic_children(autojump_clock):
    runs = []

    async def poller():
        runs.append(trio.current_time())
        await trio.sleep(1)
        raise RuntimeError("poll failed")

    sup = Supervisor([ChildSpec.task(poller)], max_restarts=100)
    async with trio.open_nursery() as nursery:
        await run_sup(nursery, sup)
        await trio.sleep(3.5)
        log = []
        pid = await sup.start_child(make_worker("late", log))
        assert pid.alive and ("start", "late") in log
        with pytest.raises(ValueError):
            await sup.start_child(make_worker("late", log))
        assert await sup.terminate_child("late") is True
        assert not pid.alive and log[-1] == ("stop", "late", "Shutdown")
        await sup.shutdown()
    assert len(runs) == 4


async def test_nested_supervisor(autojump_clock):
    log = []
    inner = Supervisor([make_worker("x", log)], name="inner")
    outer = Supervisor([make_worker("a", log), inner], name="outer")
    async with trio.open_nursery() as nursery:
        await run_sup(nursery, outer)
        send(pid_of(inner, "x"), "crash")
        await trio.sleep(0.1)
        assert log.count(("start", "x")) == 2 and log.count(("start", "a")) == 1
        await outer.shutdown()
    assert log[-2:] == [("stop", "x", "Shutdown"), ("stop", "a", "Shutdown")]


def test_reasons_are_distinguished():
    assert Normal() != Shutdown() and Crash(ValueError()).abnormal
