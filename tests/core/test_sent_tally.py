from actorsock.core.sent_tally import SentTally


def test_counts_start_at_zero_and_add_per_descriptor():
    tally = SentTally()
    tally.open(3)
    tally.open(5000)  # grows to hold it
    tally.add([3, 5000, 3], frames=1, size=10)
    tally.add([5000], frames=2, size=30)
    assert tally.get(3) == (2, 20)
    assert tally.get(5000) == (3, 40)


def test_close_hands_the_counts_back_and_a_reopened_descriptor_starts_afresh():
    tally = SentTally()
    tally.open(7)
    tally.add([7], frames=4, size=100)
    assert tally.close(7) == (4, 100)
    assert tally.get(7) == (0, 0)
    tally.add([7], frames=1, size=1)  # a stale count between close and reopen...
    tally.open(7)  # ...is not inherited by the next connection on that descriptor
    assert tally.get(7) == (0, 0)
