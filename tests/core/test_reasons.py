import pytest

from actorsock import ErrorKind, ErrorReason


def test_error_kinds_are_an_enum_that_compares_with_its_words():
    assert ErrorReason("send_overflow", 1013).kind is ErrorKind.SEND_OVERFLOW
    assert ErrorReason("closed", 1006) == ErrorReason(ErrorKind.CLOSED, 1006)
    assert ErrorReason(ErrorKind.BADSIZE, 1009).kind == "badsize"
    with pytest.raises(ValueError):
        ErrorReason("send_queue_overflow")  # the docs once named a kind the code never used


def test_the_stop_reason_is_named_apart_from_the_stop_command():
    import actorsock.core.frames as frames
    import actorsock.core.reasons as reasons

    assert not hasattr(reasons, "Stop")  # one name, one thing
    assert frames.Stop is not reasons.StopReason
    assert reasons.StopReason().name == "stop"  # logs and counters as before


def test_the_old_name_of_the_error_reason_still_imports_with_a_warning():
    import actorsock
    from actorsock.core import reasons

    with pytest.warns(DeprecationWarning, match="ErrorReason"):
        assert actorsock.Error is ErrorReason
    with pytest.warns(DeprecationWarning):
        assert reasons.Error is ErrorReason
    assert "Error" not in actorsock.__all__
    assert ErrorReason("closed").name == "error"
