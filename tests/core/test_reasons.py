import pytest

from actorsock import Error, ErrorKind


def test_error_kinds_are_an_enum_that_compares_with_its_words():
    assert Error("send_overflow", 1013).kind is ErrorKind.SEND_OVERFLOW
    assert Error("closed", 1006) == Error(ErrorKind.CLOSED, 1006)
    assert Error(ErrorKind.BADSIZE, 1009).kind == "badsize"
    with pytest.raises(ValueError):
        Error("send_queue_overflow")  # the docs once named a kind the code never used


def test_the_stop_reason_is_named_apart_from_the_stop_command():
    import actorsock.core.frames as frames
    import actorsock.core.reasons as reasons

    assert not hasattr(reasons, "Stop")  # one name, one thing
    assert frames.Stop is not reasons.StopReason
    assert reasons.StopReason().name == "stop"  # logs and counters as before
