import pytest

from actorsock.core.reasons import Crash, ErrorReason, Normal, Remote, Shutdown, StopReason, Timeout
from actorsock.core.supervision import RestartIntensity, affected_children, should_restart

CRASH = Crash(RuntimeError("x"))


@pytest.mark.parametrize(
    ("restart", "reason", "expected"),
    [
        ("permanent", Normal(), True),
        ("permanent", CRASH, True),
        ("transient", Normal(), False),
        ("transient", Shutdown(), False),
        ("transient", CRASH, True),
        ("transient", ErrorReason("closed"), True),
        ("temporary", CRASH, False),
        ("temporary", Normal(), False),
    ],
)
def test_should_restart(restart, reason, expected):
    assert should_restart(restart, reason) is expected


def test_only_crash_and_error_are_abnormal():
    assert [r.abnormal for r in (Normal(), Remote(1000), StopReason(), Timeout(), Shutdown())] == [
        False
    ] * 5
    assert CRASH.abnormal and ErrorReason("badframe", 1002).abnormal


def test_strategies():
    kids = ["a", "b", "c", "d"]
    assert affected_children("one_for_one", kids, "b") == ["b"]
    assert affected_children("one_for_all", kids, "b") == kids
    assert affected_children("rest_for_one", kids, "b") == ["b", "c", "d"]
    assert affected_children("rest_for_one", kids, "d") == ["d"]


def test_intensity_default_is_three_in_five_seconds():
    intensity = RestartIntensity()
    assert [intensity.allow(t) for t in (0.0, 1.0, 2.0)] == [True] * 3
    assert intensity.allow(3.0) is False


def test_intensity_window_slides():
    intensity = RestartIntensity(3, 5.0)
    assert all(intensity.allow(t) for t in (0.0, 1.0, 2.0))
    assert intensity.allow(5.5) is True  # the restart at 0.0 has left the window
    assert intensity.allow(5.9) is False


def test_zero_restarts_allowed():
    assert RestartIntensity(0, 5.0).allow(0.0) is False
    with pytest.raises(ValueError):
        RestartIntensity(-1, 5.0)
