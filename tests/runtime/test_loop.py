"""The loop's timer driver on virtual time, and its delivery task's pace."""

import itertools

import trio

from actorsock.core.mailbox import Mailbox
from actorsock.core.process import fan_out_messages
from actorsock.runtime.loop import current_loop


async def test_timers_deliver_in_order_on_virtual_time(autojump_clock):
    loop = current_loop()
    pid = loop.spawn(Mailbox(8), lambda: None)
    loop.schedule_timer(pid, 2.0, "late", None)
    loop.schedule_timer(pid, 1.0, "early", None)
    await trio.sleep(1.5)
    assert [pid.mailbox.pop()] == ["early"] and not pid.mailbox
    await trio.sleep(1.0)
    assert pid.mailbox.pop() == "late"


async def test_system_timers_pass_a_full_mailbox(autojump_clock):
    # The runtime's own deadline timers must never overflow (or be dropped
    # by) a mailbox that user messages have filled.
    loop = current_loop()
    for policy in ("disconnect", "drop_newest"):
        pid = loop.spawn(Mailbox(1, policy), lambda: None)
        pid.mailbox.push("user message")
        loop.schedule_timer(pid, 1.0, "user timer", None)
        loop.schedule_timer(pid, 1.0, "deadline", None, system=True)
        await trio.sleep(2.0)
        assert [pid.mailbox.pop(), pid.mailbox.pop()] == ["user message", "deadline"]
        assert pid.mailbox.dropped == 1
        assert pid.mailbox.overflowed is (policy == "disconnect")


async def yields_until_delivered(quiet: float) -> list[int]:
    """Fan out to 40 plain processes (slice 2); note what waits after each of our yields."""
    loop = current_loop()
    deliveries = loop.deliveries
    deliveries.slice_size = 2
    deliveries.pacer.quiet = quiet
    pids = [loop.spawn(Mailbox(8), lambda: None) for _ in range(40)]
    deliveries.dispatch(pids, "m", fan_out_messages)
    waiting = []
    with trio.fail_after(5):
        while deliveries.pending:
            await trio.lowlevel.checkpoint()
            waiting.append(deliveries.pending)
    assert all(pid.mailbox.pop() == "m" for pid in pids)
    return waiting


def steps(waiting: list[int]) -> list[int]:
    """Deliveries made between two looks of ours (a batch may hold two of its turns)."""
    return [a - b for a, b in itertools.pairwise([38, *waiting])]


async def test_the_delivery_task_makes_more_slices_per_yield_while_yields_are_quiet():
    # Every yield counts as quiet: 1, 2, 4, 4... slices between yields, so the
    # 19 waiting slices take 6 yields.
    paced = await yields_until_delivered(quiet=float("inf"))
    assert len(paced) <= 8
    assert max(steps(paced)) >= 4 * 2


async def test_the_delivery_task_makes_one_slice_per_yield_while_other_tasks_run():
    # No yield counts as quiet (as when other tasks run in between): one
    # slice of 2 per yield, so at most 2 of its turns between two of ours.
    one_by_one = await yields_until_delivered(quiet=-1.0)
    assert len(one_by_one) >= 10
    assert max(steps(one_by_one)) <= 2 * 2
