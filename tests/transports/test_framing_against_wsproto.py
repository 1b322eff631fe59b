"""actorsock's own framing, checked against wsproto frame by frame (hypothesis).

The WebSocket transport skips wsproto in two places: it builds data frames
to the client itself, and it reads whole one-frame client messages itself
while :class:`~actorsock.core.wire.FrameBoundaries` says the stream is at a
message boundary. Here random client streams (sizes of every length form,
fragmentation, control frames between fragments, masks, invalid UTF-8,
protocol errors) are cut into random reads and fed both to wsproto alone and
to :class:`~actorsock.transports.websocket.ServerWebSocket`; both must see
the same messages, pings and pongs, and fail with the same close code.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason

from actorsock.core.budget import ByteBudget
from actorsock.core.frames import Binary, Text
from actorsock.core.frames import Ping as PingFrame
from actorsock.core.frames import Pong as PongFrame
from actorsock.core.transport import TransportClosed
from actorsock.core.wire import FrameBoundaries, encode_frame
from actorsock.transports.websocket import ServerWebSocket

from ..client_frames import client_frame

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


sizes = st.one_of(
    st.integers(0, 130),
    st.integers(0, 3000),
    st.integers(0, 130),
    st.sampled_from([125, 126, 127, 65535, 65536, 70000]),
)
masks = st.binary(min_size=4, max_size=4)


@st.composite
def messages(draw: Any) -> tuple[bytes, list[Any]]:
    """One client message as frames (perhaps fragmented, with control frames
    between fragments), and what it means."""
    text = draw(st.booleans())
    size = draw(sizes)
    if text:
        value: str | bytes = draw(
            st.text(max_size=size, alphabet=st.characters(blacklist_categories=("Cs",)))
        )
        payload = value.encode()  # type: ignore[union-attr]
    else:
        value = payload = draw(st.binary(min_size=size, max_size=size))
    pieces = draw(st.integers(1, 4))
    cuts = sorted(
        draw(st.lists(st.integers(0, len(payload)), min_size=pieces - 1, max_size=pieces - 1))
    )
    bounds = [0, *cuts, len(payload)]
    data, meaning = b"", []
    for index in range(len(bounds) - 1):
        opcode = (0x1 if text else 0x2) if index == 0 else 0x0
        last = index == len(bounds) - 2
        data += client_frame(
            opcode, payload[bounds[index] : bounds[index + 1]], fin=last, mask=draw(masks)
        )
        if not last and draw(st.booleans()):  # a control frame between fragments
            control = draw(st.binary(max_size=125))
            ping = draw(st.booleans())
            data += client_frame(0x9 if ping else 0xA, control, mask=draw(masks))
            meaning.append(("ping" if ping else "pong", control))
    meaning.append(("message", value))
    return data, meaning


@st.composite
def streams(draw: Any) -> tuple[bytes, list[Any], list[int]]:
    parts = draw(st.lists(messages(), min_size=1, max_size=8))
    data = b"".join(part for part, _ in parts)
    meaning = [item for _, items in parts for item in items]
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=6))))
    return data, meaning, cuts


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *[c for c in cuts if 0 < c < len(data)], len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


# -- wsproto alone ------------------------------------------------------------


def wsproto_reading(reads: list[bytes]) -> tuple[list[Any], int | None]:
    """What wsproto alone makes of the reads: the meaning, and the close code it fails with."""
    connection = Connection(ConnectionType.SERVER)
    seen: list[Any] = []
    parts: list[Any] = []
    for data in reads:
        connection.receive_data(data)
        for event in connection.events():
            if isinstance(event, TextMessage | BytesMessage):
                parts.append(event.data)
                if event.message_finished:
                    joined = "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
                    seen.append(("message", joined))
                    parts = []
            elif isinstance(event, Ping):
                seen.append(("ping", bytes(event.payload)))
            elif isinstance(event, Pong):
                seen.append(("pong", bytes(event.payload)))
            elif isinstance(event, CloseConnection):
                return seen, int(event.code)
    return seen, None


# -- actorsock's transport, on a stream that hands it the reads -------------------


@dataclass
class ScriptedStream:
    """Stands in for ConnectionStream: hands out the reads, records control writes."""

    reads: list[bytes]
    data_open: bool = True
    broken: Any = None
    controls: list[bytes] = field(default_factory=list)
    reads_without_waiting = True

    def read_nowait(self, max_bytes: int = 65536) -> bytes | None:
        return self.reads.pop(0) if self.reads else None

    def write_control(self, data: bytes) -> bool:
        self.controls.append(data)
        return True


def actorsock_reading(
    reads: list[bytes], max_message_size: int = 1 << 30
) -> tuple[list[Any], int | None]:
    stream = ScriptedStream(list(reads))
    ws = ServerWebSocket(
        stream,  # type: ignore[arg-type]
        max_message_size=max_message_size,
        on_inbound=lambda: None,
        incomplete_budget=ByteBudget(1 << 40),
    )
    seen: list[Any] = []
    while True:
        try:
            frame = ws.next_inbound()
        except TransportClosed:
            break
        if frame is None:
            break
        if isinstance(frame, Text):
            seen.append(("message", frame.text))
        elif isinstance(frame, Binary):
            seen.append(("message", frame.data))
        elif isinstance(frame, PingFrame):
            seen.append(("ping", frame.data))
        elif isinstance(frame, PongFrame):
            seen.append(("pong", frame.data))
    return seen, ws.sent_close_code


# -- the properties ---------------------------------------------------------------


@SETTINGS
@given(streams())
def test_valid_streams_read_the_same_as_wsproto_alone(stream):
    data, meaning, cuts = stream
    reads = chunks(data, cuts)
    assert wsproto_reading(reads) == (meaning, None)
    assert actorsock_reading(reads) == (meaning, None)


@SETTINGS
@given(streams(), st.data())
def test_a_protocol_error_anywhere_fails_with_wsproto_s_close_code(stream, data):
    good, _, cuts = stream
    bad = data.draw(
        st.sampled_from(
            [
                client_frame(0x1, b"\xff\xfe"),  # invalid UTF-8: 1007
                client_frame(0x1, "é".encode()[:1], fin=False) + client_frame(0x0, b"x"),  # 1007
                client_frame(0x2, b"x", masked=False),  # unmasked: 1002
                client_frame(0x2, b"x", rsv=0x40),  # a reserved bit: 1002
                client_frame(0x3, b"x"),  # a reserved opcode: 1002
                client_frame(0x9, bytes(126)),  # a control frame too long: 1002
                client_frame(0x9, b"x", fin=False),  # a fragmented control frame: 1002
                client_frame(0x0, b"x"),  # a continuation with nothing to continue: 1002
                client_frame(0x1, b"a", fin=False) + client_frame(0x1, b"b"),  # 1002
            ]
        )
    )
    reads = chunks(good + bad, cuts)
    expected_seen, expected_code = wsproto_reading(reads)
    assert expected_code in (CloseReason.PROTOCOL_ERROR, CloseReason.INVALID_FRAME_PAYLOAD_DATA)
    seen, code = actorsock_reading(reads)
    assert code == expected_code
    assert seen == expected_seen


@SETTINGS
@given(streams())
def test_frame_boundaries_are_idle_exactly_between_messages(stream):
    data, _, cuts = stream
    # Where each message ends, from the frames themselves.
    ends = set()
    position, fragmented = 0, False
    while position < len(data):
        head, second = data[position], data[position + 1]
        size, start = second & 0x7F, position + 2
        if size == 126:
            (size,), start = struct.unpack_from("!H", data, start), start + 2
        elif size == 127:
            (size,), start = struct.unpack_from("!Q", data, start), start + 8
        position = start + 4 + size
        opcode, fin = head & 0x0F, head & 0x80
        if opcode in (1, 2):
            fragmented = not fin
        elif opcode == 0 and fin:
            fragmented = False
        if not fragmented:
            ends.add(position)
    # Fed in the random reads, and a byte at a time around every message end.
    points = sorted({*cuts, *ends, *(end - 1 for end in ends), *(end + 1 for end in ends)})
    boundaries = FrameBoundaries()
    fed = 0
    for point in points:
        if not 0 < point <= len(data):
            continue
        boundaries.feed(data[fed:point])
        fed = point
        assert boundaries.idle is (point in ends), point


@SETTINGS
@given(st.booleans(), sizes, st.data())
def test_frames_to_the_client_are_the_bytes_wsproto_would_send(text, size, data):
    if text:
        value: str | bytes = data.draw(st.text(max_size=size))
        frame: Any = Text(value)  # type: ignore[arg-type]
    else:
        value = data.draw(st.binary(min_size=size, max_size=size))
        frame = Binary(value)  # type: ignore[arg-type]
    connection = Connection(ConnectionType.SERVER)
    assert encode_frame(frame) == connection.send(Message(data=value))
    control = data.draw(st.binary(max_size=125))
    assert encode_frame(PingFrame(control)) == connection.send(Ping(payload=control))
    assert encode_frame(PongFrame(control)) == connection.send(Pong(payload=control))


def test_a_message_over_the_size_limit_closes_with_1009():
    reads = [client_frame(0x2, bytes(100), mask=b"abcd")]
    assert actorsock_reading(reads, max_message_size=99) == ([], 1009)
    fragmented = [
        client_frame(0x1, b"x" * 60, fin=False, mask=b"abcd"),
        client_frame(0x0, b"y" * 60, mask=b"abcd"),
    ]
    assert actorsock_reading(fragmented, max_message_size=99) == ([], 1009)
    assert actorsock_reading(fragmented, max_message_size=120)[0] == [
        ("message", "x" * 60 + "y" * 60)
    ]
