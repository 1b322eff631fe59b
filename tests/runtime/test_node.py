"""The node's timer driver on virtual time."""

import trio

from actorsock.core.mailbox import Mailbox
from actorsock.runtime.node import current_node


async def test_timers_deliver_in_order_on_virtual_time(autojump_clock):
    node = current_node()
    pid = node.spawn(Mailbox(8), lambda: None)
    node.schedule_timer(pid, 2.0, "late", None)
    node.schedule_timer(pid, 1.0, "early", None)
    await trio.sleep(1.5)
    assert [pid.mailbox.pop()] == ["early"] and not pid.mailbox
    await trio.sleep(1.0)
    assert pid.mailbox.pop() == "late"


async def test_system_timers_pass_a_full_mailbox(autojump_clock):
    # The runtime's own deadline timers must never overflow (or be dropped
    # by) a mailbox that user messages have filled.
    node = current_node()
    for policy in ("disconnect", "drop_newest"):
        pid = node.spawn(Mailbox(1, policy), lambda: None)
        pid.mailbox.push("user message")
        node.schedule_timer(pid, 1.0, "user timer", None)
        node.schedule_timer(pid, 1.0, "deadline", None, system=True)
        await trio.sleep(2.0)
        assert [pid.mailbox.pop(), pid.mailbox.pop()] == ["user message", "deadline"]
        assert pid.mailbox.dropped == 1
        assert pid.mailbox.overflowed is (policy == "disconnect")
