import pytest

from actorsock.core.deliveries import DeliveryQueue, Pacer


class Recorder:
    """A ``deliver`` that notes each call's targets, each target's batch and what arrived."""

    def __init__(self, refuse=(), calls=None):
        self.seen = []
        self.runs = []
        self.calls = [] if calls is None else calls
        self.refuse = set(refuse)

    def __call__(self, targets, items):
        self.runs.append(list(targets))
        taken = 0
        for target in targets:
            self.calls.append((target, list(items)))
            if target in self.refuse:
                continue
            self.seen.extend(target if item == "x" else (target, item) for item in items)
            taken += len(items)
        return taken


def test_a_small_fan_out_is_made_at_once():
    queue, got = DeliveryQueue(slice_size=4), Recorder()
    assert queue.dispatch(range(4), "x", got) == 4
    assert got.seen == [0, 1, 2, 3]
    assert queue.pending == 0 and queue.deferred == 0


def test_each_slice_is_one_call_with_its_run_of_targets():
    queue, got = DeliveryQueue(slice_size=3), Recorder()
    queue.dispatch(range(7), "x", got)
    while queue.run():
        pass
    assert got.runs == [[0, 1, 2], [3, 4, 5], [6]]
    queue.add(["a", "b"], "x", got)
    queue.add(["c"], "x", got)
    assert queue.run(10) == 3 and got.runs[3:] == [["a", "b"], ["c"]]


def test_a_large_fan_out_makes_one_slice_now_and_the_rest_a_slice_at_a_time():
    wakes = []
    queue = DeliveryQueue(slice_size=3, on_pending=lambda: wakes.append(1))
    got = Recorder()
    assert queue.dispatch(iter(range(8)), "x", got) == 8
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
    queue.dispatch(["a1", "a2", "a3"], "x", got)
    queue.dispatch(["b1"], "x", got)  # small, but must not overtake a3
    queue.add(["c1"], "x", got)
    assert got.seen == ["a1", "a2"]
    while queue.run():
        pass
    assert got.seen == ["a1", "a2", "a3", "b1", "c1"]


def test_refused_deliveries_are_not_counted():
    queue = DeliveryQueue(slice_size=2)
    assert queue.dispatch([1, 2], "x", Recorder(refuse={2})) == 1
    # Deliveries left for later count as handed on.
    assert queue.dispatch([1, 2, 3], "x", Recorder(refuse={2, 3})) == 2


def test_past_high_water_the_publisher_makes_the_excess_itself():
    wakes = []
    queue = DeliveryQueue(slice_size=2, high_water=4, on_pending=lambda: wakes.append(1))
    got = Recorder()
    queue.dispatch(range(10), "x", got)
    assert queue.pending == 4
    assert got.seen == [0, 1, 2, 3, 4, 5]
    queue.add(list(range(10, 13)), "x", got)  # 7 waiting: a slice at a time until <= 4
    assert queue.pending == 3 and got.seen == list(range(10))
    assert wakes == [1]


def test_the_high_water_mark_counts_every_item_of_a_batch():
    queue = DeliveryQueue(slice_size=2, high_water=8)
    got = Recorder()
    targets = ["a", "b", "c"]
    queue.add(targets, "m1", got)
    queue.add(targets, "m2", got)
    assert queue.pending == 6 and not got.calls
    queue.add(targets, "m3", got)  # 9 deliveries waiting: a and b get all three now
    assert got.calls == [("a", ["m1", "m2", "m3"]), ("b", ["m1", "m2", "m3"])]
    assert queue.pending == 3


def test_a_delivery_that_publishes_again_goes_behind_the_queue():
    queue = DeliveryQueue(slice_size=2)
    seen = []

    def deliver(targets, items):
        for target in targets:
            seen.append(target)
            if target == "x2":
                queue.dispatch(["echo"], "x", deliver)
        return len(targets) * len(items)

    queue.dispatch(["x1", "x2", "x3", "x4"], "x", deliver)
    while queue.run():
        pass
    assert seen == ["x1", "x2", "x3", "x4", "echo"]


def test_run_takes_a_limit_across_jobs():
    queue, got = DeliveryQueue(slice_size=1), Recorder()
    queue.add([1, 2], "x", got)
    queue.add([3, 4], "x", got)
    assert queue.run(3) == 3 and got.seen == [1, 2, 3]
    assert queue.pending == 1


def test_publications_queued_for_the_same_targets_reach_each_target_in_one_call():
    queue, got = DeliveryQueue(slice_size=2), Recorder()
    targets = ["a", "b", "c"]
    queue.dispatch(targets, "m1", got)  # a, b now; c waits
    for item in ("m2", "m3", "m4"):
        queue.dispatch(targets, item, got)
    assert queue.pending == 1 + 3 * 3 and queue.batched == 2
    while queue.run():
        pass
    assert got.calls == [
        ("a", ["m1"]),
        ("b", ["m1"]),
        ("c", ["m1"]),
        ("a", ["m2", "m3", "m4"]),
        ("b", ["m2", "m3", "m4"]),
        ("c", ["m2", "m3", "m4"]),
    ]
    assert queue.pending == 0 and queue.deferred == 10


def test_a_batch_never_takes_an_item_ahead_of_what_was_queued_between():
    queue, got = DeliveryQueue(slice_size=1), Recorder()
    other = Recorder(calls=got.calls)  # one log, in the order of the calls
    queue.dispatch(["a", "b"], "m1", got)  # a now, b waits
    queue.dispatch(["a", "b"], "m2", got)
    queue.add(["a"], "direct", other)  # another kind of delivery, between
    queue.dispatch(["a", "b"], "m3", got)  # must not join m2
    queue.dispatch(["a"], "m4", got)  # other targets: must not join m3
    queue.dispatch(["a"], "m5", got)  # joins m4
    while queue.run():
        pass
    assert got.calls == [
        ("a", ["m1"]),
        ("b", ["m1"]),
        ("a", ["m2"]),
        ("b", ["m2"]),
        ("a", ["direct"]),
        ("a", ["m3"]),
        ("b", ["m3"]),
        ("a", ["m4", "m5"]),
    ]
    assert queue.batched == 1


def test_a_publication_started_is_not_joined_and_batches_are_bounded():
    queue, got = DeliveryQueue(slice_size=2, batch_limit=2), Recorder()
    targets = list(range(4))
    queue.add(targets, "m1", got)
    queue.run()  # m1 has reached 0 and 1: later items must not join it
    for item in ("m2", "m3", "m4"):
        queue.add(targets, item, got)
    while queue.run():
        pass
    batches = [items for target, items in got.calls if target == 0]
    assert batches == [["m1"], ["m2", "m3"], ["m4"]]
    assert [items for target, items in got.calls if target == 3] == batches


@pytest.mark.parametrize(
    ("slice_size", "high_water", "batch_limit"), [(0, 10, 1), (8, 4, 1), (1, 4, 0)]
)
def test_bad_sizes_are_refused(slice_size, high_water, batch_limit):
    with pytest.raises(ValueError, match=r"slice_size|batch_limit"):
        DeliveryQueue(slice_size=slice_size, high_water=high_water, batch_limit=batch_limit)


def test_the_pacer_doubles_after_quiet_yields_and_drops_back_after_a_busy_one():
    pacer = Pacer(quiet=50e-6, most=4)
    assert pacer.slices == 1
    for expected in (2, 4, 4):
        pacer.yielded(10e-6)
        assert pacer.slices == expected
    pacer.yielded(200e-6)  # another task ran meanwhile
    assert pacer.slices == 1
    pacer.yielded(0.0)
    pacer.reset()
    assert pacer.slices == 1
    with pytest.raises(ValueError, match="most"):
        Pacer(most=0)
