import pytest

from actorsock.core.deliveries import DeliveryQueue


class Recorder:
    def __init__(self, refuse=()):
        self.seen = []
        self.refuse = set(refuse)

    def __call__(self, target):
        self.seen.append(target)
        return target not in self.refuse


def test_a_small_fan_out_is_made_at_once():
    queue, got = DeliveryQueue(slice_size=4), Recorder()
    assert queue.dispatch(range(4), got) == 4
    assert got.seen == [0, 1, 2, 3]
    assert queue.pending == 0 and queue.deferred == 0


def test_a_large_fan_out_makes_one_slice_now_and_the_rest_a_slice_at_a_time():
    wakes = []
    queue = DeliveryQueue(slice_size=3, on_pending=lambda: wakes.append(1))
    got = Recorder()
    assert queue.dispatch(iter(range(8)), got) == 8
    assert got.seen == [0, 1, 2]
    assert queue.pending == 5 and len(queue) == 5 and wakes == [1]
    assert queue.run() == 3
    assert got.seen == [0, 1, 2, 3, 4, 5]
    assert queue.run() == 2
    assert queue.run() == 0
    assert got.seen == list(range(8))
    assert queue.deferred == 5 and wakes == [1]


def test_while_deliveries_wait_everything_new_goes_behind_them():
    queue, got = DeliveryQueue(slice_size=2), Recorder()
    queue.dispatch(["a1", "a2", "a3"], got)
    queue.dispatch(["b1"], got)  # small, but must not overtake a3
    queue.add(["c1"], got)
    assert got.seen == ["a1", "a2"]
    while queue.run():
        pass
    assert got.seen == ["a1", "a2", "a3", "b1", "c1"]


def test_refused_deliveries_are_not_counted():
    queue = DeliveryQueue(slice_size=2)
    assert queue.dispatch([1, 2], Recorder(refuse={2})) == 1
    # Deliveries left for later count as handed on.
    assert queue.dispatch([1, 2, 3], Recorder(refuse={2, 3})) == 2


def test_past_high_water_the_publisher_makes_the_excess_itself():
    wakes = []
    queue = DeliveryQueue(slice_size=2, high_water=4, on_pending=lambda: wakes.append(1))
    got = Recorder()
    queue.dispatch(range(10), got)
    assert queue.pending == 4
    assert got.seen == [0, 1, 2, 3, 4, 5]
    queue.add(list(range(10, 13)), got)
    assert queue.pending == 4 and got.seen == list(range(9))
    assert wakes == [1]


def test_a_delivery_that_publishes_again_goes_behind_the_queue():
    queue = DeliveryQueue(slice_size=2)
    seen = []

    def deliver(target):
        seen.append(target)
        if target == "x2":
            queue.dispatch(["echo"], deliver)
        return True

    queue.dispatch(["x1", "x2", "x3", "x4"], deliver)
    while queue.run():
        pass
    assert seen == ["x1", "x2", "x3", "x4", "echo"]


def test_run_takes_a_limit_across_jobs():
    queue, got = DeliveryQueue(slice_size=1), Recorder()
    queue.add([1, 2], got)
    queue.add([3, 4], got)
    assert queue.run(3) == 3 and got.seen == [1, 2, 3]
    assert queue.pending == 1


@pytest.mark.parametrize(("slice_size", "high_water"), [(0, 10), (8, 4)])
def test_bad_sizes_are_refused(slice_size, high_water):
    with pytest.raises(ValueError, match="slice_size"):
        DeliveryQueue(slice_size=slice_size, high_water=high_water)
