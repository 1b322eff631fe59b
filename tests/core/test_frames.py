import pytest

from actorsock.core.frames import Binary, Close, SetOptions, Stop, Text, commands_of


def test_commands_of_normalises():
    assert commands_of(None) == ()
    assert commands_of(Text("a")) == (Text("a"),)
    assert commands_of([Text("a"), Binary(b"b"), Stop()]) == (Text("a"), Binary(b"b"), Stop())
    assert commands_of((SetOptions(idle_timeout=5),)) == (SetOptions(idle_timeout=5),)


@pytest.mark.parametrize("bad", ["text", b"bytes", 42, [Text("ok"), "nope"], {"a": 1}])
def test_commands_of_rejects_other_values(bad):
    with pytest.raises(TypeError):
        commands_of(bad)


def test_close_validates_code_and_reason():
    Close(1000), Close(4000, "custom")
    for code in (999, 1005, 1006, 1015, 2000, 5000):
        with pytest.raises(ValueError):
            Close(code)
    with pytest.raises(ValueError):
        Close(1000, "x" * 124)
