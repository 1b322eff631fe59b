from typing import Any

import pytest

from actorsock.core.frames import Binary, Event, Text
from actorsock.core.wire import (
    WEBSOCKET,
    PreparedFrame,
    WireFormat,
    decode_client_messages,
    encode_frame,
)

from ..client_frames import client_frame as build_frame

MASK = b"\x37\xfa\x21\x3d"


def client_frame(payload: bytes, opcode: int = 0x1, **options: Any) -> bytes:
    """A masked client frame with a fixed key (see tests/client_frames.py)."""
    return build_frame(opcode, payload, mask=MASK, **options)


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 125, 126, 127, 4096, 65535])
def test_whole_messages_of_every_length_form(size):
    text = ("é" * size)[: size // 2]
    binary = bytes(i % 251 for i in range(size))
    data = client_frame(text.encode()) + client_frame(binary, 0x2)
    assert decode_client_messages(data) == ([text, binary], len(data))


def test_several_messages_in_one_read():
    data = b"".join(client_frame(f"m{i}".encode()) for i in range(50))
    assert decode_client_messages(data) == ([f"m{i}" for i in range(50)], len(data))


def test_a_limit_stops_at_a_frame_boundary():
    frames = [client_frame(f"m{i}".encode()) for i in range(10)]
    data = b"".join(frames)
    messages, position = decode_client_messages(data, 0, 4)
    assert messages == ["m0", "m1", "m2", "m3"] and position == sum(map(len, frames[:4]))
    assert decode_client_messages(data, position, 100) == (
        [f"m{i}" for i in range(4, 10)],
        len(data),
    )


@pytest.mark.parametrize(
    "data",
    [
        client_frame(b"ping", 0x9),
        client_frame(b"bye", 0x8),
        client_frame(b"part", fin=False),
        client_frame(b"rest", 0x0),
        client_frame(b"x", rsv=0x40),
        client_frame(b"unmasked", masked=False),
        client_frame(bytes(70000), 0x2),
        b"\x81\xfe\x00\x05" + MASK + b"12345",  # 16-bit length for 5 bytes
        client_frame(b"\xff\xfe"),  # not UTF-8
        client_frame(b"hello")[:-1],  # payload cut short
        client_frame(b"hello")[:4],  # header cut short
    ],
    ids=[
        "ping",
        "close",
        "fragment",
        "continuation",
        "reserved-bit",
        "unmasked",
        "64-bit-length",
        "long-form-for-short",
        "bad-utf8",
        "short-payload",
        "short-header",
    ],
)
def test_anything_else_is_left_to_the_full_parser(data):
    assert decode_client_messages(data) == ([], 0)


def test_reading_stops_at_the_first_frame_it_leaves_to_the_full_parser():
    ok = client_frame(b"ok")
    data = ok + client_frame(b"ping", 0x9) + client_frame(b"later")
    assert decode_client_messages(data) == (["ok"], len(ok))


def test_server_frames_and_prepared_frames():
    assert encode_frame(Text("hi")) == b"\x81\x02hi"
    assert encode_frame(Binary(bytes(200)))[:4] == b"\x82\x7e\x00\xc8"
    prepared = PreparedFrame(Text("x"), key="k")
    assert prepared.websocket == b"\x81\x01x" and prepared.key == "k"


def test_a_prepared_frame_encodes_once_per_wire_format_on_first_use():
    calls = []

    def upper(frame):
        calls.append(frame)
        return frame.text.upper().encode()

    shouting = WireFormat("shouting", upper)
    prepared = PreparedFrame(Text("hi"))
    assert calls == []  # nothing built until someone needs it
    first = prepared.encoded(shouting)
    assert first == b"HI" and prepared.encoded(shouting) is first
    assert calls == [Text("hi")]
    assert prepared.encoded(WEBSOCKET) is prepared.websocket == b"\x81\x02hi"


def test_a_format_that_cannot_carry_a_frame_says_so_every_time():
    def text_only(frame):
        raise ValueError("text only")

    prepared = PreparedFrame(Binary(b"\x00"))
    strict = WireFormat("strict", text_only)
    for _ in range(2):
        with pytest.raises(ValueError, match="text only"):
            prepared.encoded(strict)


def test_an_event_is_a_text_frame_of_its_data_on_websocket():
    assert encode_frame(Event("a\nb", event="tick", id="7")) == encode_frame(Text("a\nb"))
