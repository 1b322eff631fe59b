import pytest

from actorsock.core.admission import HANDSHAKE_FLOOR, Admission
from actorsock.core.budget import ByteBudget


def test_slots_are_taken_by_admit_and_given_back_by_release():
    admission = Admission(max_connections=2, max_handshakes=10)
    assert admission.admit() and admission.admit()
    assert not admission.admit()  # full
    admission.release()
    assert admission.admit()
    assert admission.statistics().connections == 2
    assert admission.statistics().refused == 1


def test_release_without_admit_is_a_bug():
    with pytest.raises(RuntimeError):
        Admission(1, 1).release()


def test_shutting_down_refuses_new_connections():
    admission = Admission(5, 5)
    admission.accepting = False
    assert not admission.admit()
    assert admission.connections == 0


def test_the_oldest_handshake_is_evicted_for_a_newer_one():
    admission = Admission(max_connections=100, max_handshakes=3)
    evicted: list[int] = []
    tickets = [admission.begin_handshake(lambda n=n: evicted.append(n)) for n in range(3)]
    assert evicted == []
    admission.begin_handshake(lambda: evicted.append(3))
    assert evicted == [0]
    admission.end_handshake(tickets[1])  # its head arrived: not a candidate any more
    admission.begin_handshake(lambda: evicted.append(4))
    assert evicted == [0]  # room again after the end of ticket 1
    admission.begin_handshake(lambda: evicted.append(5))
    assert evicted == [0, 2]
    admission.end_handshake(tickets[0])  # already evicted: a no-op
    stats = admission.statistics()
    assert (stats.handshakes, stats.evicted) == (3, 2)


def test_open_connections_leave_less_room_for_handshakes_but_never_below_the_floor():
    admission = Admission(max_connections=HANDSHAKE_FLOOR + 4, max_handshakes=1000)
    for _ in range(HANDSHAKE_FLOOR + 4):
        assert admission.admit()
    assert admission.handshake_room() == HANDSHAKE_FLOOR
    evicted: list[int] = []
    for n in range(HANDSHAKE_FLOOR + 2):
        admission.begin_handshake(lambda n=n: evicted.append(n))
    assert evicted == [0, 1]
    assert admission.handshakes == HANDSHAKE_FLOOR


def test_byte_budget():
    budget = ByteBudget(100)
    assert budget.take(60)
    assert not budget.take(41)  # would pass the limit: nothing taken
    assert budget.used == 60 and budget.refused == 1
    assert budget.take(40)
    budget.give(100)
    assert budget.used == 0
    with pytest.raises(ValueError):
        ByteBudget(0)


def test_without_a_handshake_bound_of_their_own_handshakes_fill_the_room_of_connections():
    admission = Admission(max_connections=100, max_handshakes=0)
    evicted: list[int] = []
    for n in range(100):
        admission.begin_handshake(lambda n=n: evicted.append(n))
    assert evicted == []
    admission.begin_handshake(lambda: evicted.append(100))
    assert evicted == [0]
