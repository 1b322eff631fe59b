"""The long-poll bookkeeping, without trio: the outbox and the polls' transition table."""

from __future__ import annotations

import pytest

from actorsock.core.long_poll import Outbox, Phase, Polls, PollTicket

# -- the outbox ------------------------------------------------------------------


def test_messages_are_numbered_and_kept_until_confirmed():
    box = Outbox(1000, 10, "disconnect")
    for text in ("a", "b", "c"):
        assert box.push(text, 1)
    assert [(m.seq, m.item) for m in box.after(0)] == [(1, "a"), (2, "b"), (3, "c")]
    # Handed to a poll, but not confirmed: a poll asking from 0 again gets them again.
    assert [m.seq for m in box.after(0)] == [1, 2, 3]
    assert box.confirm(2) == 2
    assert [m.item for m in box.after(0)] == ["c"]
    assert box.after(3) == [] and not box.has_after(3) and box.has_after(2)
    assert box.push("d", 1) and box.last_seq == 4


def test_a_client_killed_between_polls_loses_nothing_and_sees_nothing_twice():
    box = Outbox(1000, 10, "disconnect")
    received: list[str] = []
    box.push("one", 3)
    box.push("two", 3)
    answer = box.after(0)  # a poll's answer, lost with the client that asked
    assert [m.item for m in answer] == ["one", "two"]
    box.push("three", 5)
    # A new client knows nothing: it asks from 0 and gets everything, once.
    answer = box.after(0)
    received += [m.item for m in answer]
    after = answer[-1].seq
    box.confirm(after)
    box.push("four", 4)
    received += [m.item for m in box.after(after)]
    assert received == ["one", "two", "three", "four"]


@pytest.mark.parametrize(
    ("policy", "kept", "accepted", "overflowed"),
    [
        ("disconnect", ["a", "b"], False, True),
        ("drop_newest", ["a", "b"], False, False),
        ("drop_oldest", ["b", "c"], True, False),
        ("coalesce", ["b", "c"], True, False),
    ],
)
def test_a_full_outbox_meets_the_send_policy(policy, kept, accepted, overflowed):
    box = Outbox(1000, 2, policy)
    box.push("a", 1)
    box.push("b", 1)
    assert box.push("c", 1) is accepted
    assert [m.item for m in box.after(0)] == kept
    assert box.overflowed is overflowed
    assert box.dropped == 1


def test_the_byte_bound_counts_unconfirmed_messages():
    box = Outbox(10, 100, "drop_newest")
    assert box.push("x", 6)
    assert not box.push("y", 6)  # 12 > 10
    box.confirm(1)
    assert box.push("y", 6)


def test_coalesce_replaces_the_message_with_the_same_key_under_a_new_number():
    box = Outbox(1000, 10, "coalesce")
    box.push("price 1", 7, key="price")
    box.push("news", 4, key="news")
    box.push("price 2", 7, key="price")
    assert [(m.seq, m.item) for m in box.after(0)] == [(2, "news"), (3, "price 2")]
    assert box.coalesced == 1 and box.held_bytes == 11


def test_discard_empties_the_outbox():
    box = Outbox(1000, 10, "disconnect")
    box.push("a", 1)
    assert box.discard() == 1 and len(box) == 0 and box.held_bytes == 0


# -- the polls, as a transition table ----------------------------------------------


def polls_in(phase: Phase) -> Polls:
    polls = Polls(session_timeout=30.0, now=0.0)
    if phase is Phase.POLLING:
        polls.arrive()
    elif phase is Phase.CLOSED:
        polls.close()
    elif phase is Phase.EXPIRED:
        polls.check_expiry(30.0)
    assert polls.phase is phase
    return polls


def arrive(polls: Polls) -> object:
    return polls.arrive()


def answer(polls: Polls) -> object:
    polls.leave(PollTicket(polls.current or 0), now=10.0)
    return None


def expire(polls: Polls) -> object:
    return polls.check_expiry(now=100.0)


def close(polls: Polls) -> object:
    polls.close()
    return None


TABLE = [
    # phase, event, next phase, what the event returned
    (Phase.IDLE, arrive, Phase.POLLING, PollTicket(1)),
    (Phase.IDLE, expire, Phase.EXPIRED, True),
    (Phase.IDLE, close, Phase.CLOSED, None),
    (Phase.POLLING, answer, Phase.IDLE, None),
    (Phase.POLLING, arrive, Phase.POLLING, PollTicket(2, replaced=1)),
    (Phase.POLLING, expire, Phase.POLLING, False),  # a poll attached: no expiry
    (Phase.POLLING, close, Phase.CLOSED, None),
    (Phase.CLOSED, arrive, Phase.CLOSED, None),  # gone
    (Phase.CLOSED, expire, Phase.CLOSED, False),
    (Phase.EXPIRED, arrive, Phase.EXPIRED, None),
    (Phase.EXPIRED, close, Phase.EXPIRED, None),
]


@pytest.mark.parametrize(
    ("phase", "event", "after", "returned"),
    TABLE,
    ids=[f"{phase}-{event.__name__}" for phase, event, _, _ in TABLE],
)
def test_transition(phase, event, after, returned):
    polls = polls_in(phase)
    assert event(polls) == returned
    assert polls.phase is after


def test_the_expiry_clock_runs_only_while_no_poll_is_attached():
    polls = Polls(session_timeout=30.0, now=0.0)
    assert polls.expires_at == 30.0
    ticket = polls.arrive()
    assert ticket is not None and polls.expires_at is None
    assert not polls.check_expiry(1000.0)  # held polls keep the session
    polls.leave(ticket, now=1000.0)
    assert polls.expires_at == 1030.0
    assert not polls.check_expiry(1029.9)
    assert polls.check_expiry(1030.0) and polls.ended


def test_a_replaced_poll_leaving_does_not_detach_the_newer_one():
    polls = Polls(session_timeout=30.0, now=0.0)
    first = polls.arrive()
    second = polls.arrive()
    assert first is not None and second is not None
    assert not polls.is_current(first) and polls.is_current(second)
    polls.leave(first, now=5.0)  # the replaced poll answers
    assert polls.phase is Phase.POLLING and polls.expires_at is None
    polls.leave(second, now=6.0)
    assert polls.phase is Phase.IDLE and polls.expires_at == 36.0
