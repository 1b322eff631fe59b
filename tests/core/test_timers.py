import pytest

from actorsock.core.process import exit_process
from actorsock.core.reasons import Normal
from actorsock.core.timers import TimerHeap


def test_one_shot_timers_fire_in_deadline_order(loop):
    heap, pid = TimerHeap(), loop.spawn()
    heap.schedule(0.0, 2.0, pid, "b")
    heap.schedule(0.0, 1.0, pid, "a")
    assert heap.next_deadline() == 1.0
    assert heap.pop_due(0.5) == []
    assert [r.message for r in heap.pop_due(2.0)] == ["a", "b"]
    assert len(heap) == 0 and heap.next_deadline() is None


def test_interval_does_not_drift_and_skips_missed_ticks(loop):
    heap, pid = TimerHeap(), loop.spawn()
    ref = heap.schedule(0.0, 1.0, pid, "tick", interval=1.0)
    assert len(heap.pop_due(1.05)) == 1 and ref.deadline == 2.0
    assert len(heap.pop_due(2.0)) == 1 and ref.deadline == 3.0
    # The driver stalled for 5 s: one tick, then back on the 1 s grid from now.
    assert len(heap.pop_due(8.5)) == 1 and ref.deadline == 9.5


def test_cancel(loop):
    heap, pid = TimerHeap(), loop.spawn()
    ref = heap.schedule(0.0, 1.0, pid, "x")
    assert heap.cancel(ref) is True and heap.cancel(ref) is False
    assert heap.pop_due(5.0) == [] and len(heap) == 0


def test_cancelled_timers_do_not_pile_up(loop):
    heap, pid = TimerHeap(), loop.spawn()
    refs = [heap.schedule(0.0, 100.0 + i, pid, i) for i in range(1000)]
    for ref in refs[:990]:
        heap.cancel(ref)
    assert len(heap) == 10 and len(heap._heap) < 200


def test_timers_of_dead_pids_are_dropped(loop):
    heap, pid = TimerHeap(), loop.spawn()
    heap.schedule(0.0, 1.0, pid, "tick", interval=1.0)
    exit_process(pid, Normal())
    assert heap.pop_due(1.0) == [] and len(heap) == 0


def test_bad_arguments(loop):
    heap, pid = TimerHeap(), loop.spawn()
    with pytest.raises(ValueError):
        heap.schedule(0.0, -1.0, pid, "x")
    with pytest.raises(ValueError):
        heap.schedule(0.0, 1.0, pid, "x", interval=0)
