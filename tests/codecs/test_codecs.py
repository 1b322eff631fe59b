import pytest

from actorsock.codecs import JSON, MSGPACK, DecodeError
from actorsock.core.frames import Binary, Ping, Text


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None, True]}, "héllo", [], 0])
def test_round_trips(value):
    assert isinstance(JSON.encode(value), Text) and JSON.decode(JSON.encode(value)) == value
    assert isinstance(MSGPACK.encode(value), Binary)
    assert MSGPACK.decode(MSGPACK.encode(value)) == value


def test_json_is_compact_and_keeps_unicode():
    assert JSON.encode({"k": "é", "n": [1, 2]}) == Text('{"k":"é","n":[1,2]}')


def test_msgpack_keeps_bytes_and_str_apart():
    assert MSGPACK.decode(MSGPACK.encode({"s": "x", "b": b"\x00\xff"})) == {
        "s": "x",
        "b": b"\x00\xff",
    }


@pytest.mark.parametrize(
    ("codec", "frame"),
    [
        (JSON, Text("{not json")),
        (JSON, Ping(b"")),
        (MSGPACK, Text("x")),
        (MSGPACK, Binary(b"\xc1")),
    ],
)
def test_decode_errors(codec, frame):
    with pytest.raises(DecodeError):
        codec.decode(frame)


@pytest.mark.parametrize("data", [b"\xc1", b"\x92\x01", b"\xff\xff\x00"])
def test_invalid_msgpack_always_says_why(data):
    with pytest.raises(DecodeError) as caught:
        MSGPACK.decode(Binary(data))
    why = str(caught.value).removeprefix("invalid MessagePack:").strip()
    assert why, str(caught.value)
