"""Canaries: the trio-websocket internals the bridge relies on must still exist.

If one of these fails after upgrading trio-websocket, actorsock's transport
(actorsock/transports/websocket.py) must be revisited before release.
"""

import inspect

import trio_websocket
from trio_websocket import WebSocketConnection

from actorsock.core.frames import Binary, Ping, Pong, Text
from actorsock.core.wire import encode_frame
from actorsock.transports.fastpath import ConnectionStream
from actorsock.transports.websocket import ServerWebSocket

HOOKED = [
    "_reader_task",
    "_get_request",
    "_handle_message_event",
    "_handle_ping_event",
    "_handle_pong_event",
    "_handle_close_connection_event",
    "_send",
]


def test_hooked_private_methods_still_exist_and_are_async():
    for name in HOOKED:
        method = getattr(WebSocketConnection, name, None)
        assert method is not None, f"trio-websocket no longer has {name}"
        assert inspect.iscoroutinefunction(method), name


def test_reader_task_dispatches_through_the_methods_we_override():
    source = inspect.getsource(WebSocketConnection._reader_task)
    for name in (
        "_handle_message_event",
        "_handle_ping_event",
        "_handle_pong_event",
        "_handle_close_connection_event",
    ):
        assert f"self.{name}" in source, name
    assert "self._send_channel" in source


def test_private_attributes_used_by_the_bridge():
    init = inspect.getsource(WebSocketConnection.__init__)
    for name in ("_send_channel", "_recv_channel", "_stream", "_wsproto"):
        assert f"self.{name}" in init, name
    assert issubclass(ServerWebSocket, WebSocketConnection)
    assert issubclass(ConnectionStream, trio_websocket._impl.trio.abc.Stream)


def test_library_writes_everything_through_stream_send_all():
    # The fast path owns the socket's write side: every byte the library
    # sends must pass through ConnectionStream.send_all.
    source = inspect.getsource(WebSocketConnection._send)
    assert "self._stream.send_all(" in source
    assert "self._wsproto.send(" in source


def test_accept_negotiates_no_extension():
    # Prepared frames are shared between clients only because no extension
    # (permessage-deflate) rewrites them per connection.
    source = inspect.getsource(WebSocketConnection._accept)
    assert "extensions" not in source


def test_prepared_frames_match_what_wsproto_would_send():
    from wsproto.frame_protocol import FrameProtocol

    protocol = FrameProtocol(client=False, extensions=[])
    cases = [
        (Text("héllo"), "héllo"),
        (Text("x" * 126), "x" * 126),
        (Binary(b"\x00" * 70_000), b"\x00" * 70_000),
        (Binary(b""), b""),
    ]
    for frame, payload in cases:
        assert encode_frame(frame) == protocol.send_data(payload, fin=True), frame
    assert encode_frame(Ping(b"p")) == protocol.ping(b"p")
    assert encode_frame(Pong(b"q")) == protocol.pong(b"q")


def test_synthesized_close_event_is_still_how_wsproto_reports_bad_input():
    import wsproto.connection

    assert "yield CloseConnection(code=exc.code" in inspect.getsource(
        wsproto.connection.Connection.events
    )


def test_open_connection_only_asks_the_handshake_for_events():
    # accept_websocket swaps wsproto's finished handshake for a stub that
    # yields no events; wsproto must not use it for anything else once open.
    import wsproto

    for name in ("send", "receive_data"):
        source = inspect.getsource(getattr(wsproto.WSConnection, name))
        assert "if self.connection is None:" in source, name
    assert "self.handshake.events()" in inspect.getsource(wsproto.WSConnection.events)
    state = inspect.getsource(wsproto.WSConnection.state.fget)
    assert "if self.connection is None:" in state


def test_message_assembly_fields_the_single_frame_shortcut_relies_on():
    # ServerWebSocket queues one-frame messages itself when nothing is being
    # assembled; that must stay equivalent to the library's own handling.
    source = inspect.getsource(WebSocketConnection._handle_message_event)
    for needle in (
        "self._message_parts.append(event.data)",
        "self._max_message_size",
        "event.message_finished",
        "await self._send_channel.send(msg)",
    ):
        assert needle in source, needle
    init = inspect.getsource(WebSocketConnection.__init__)
    assert "self._message_parts" in init and "self._max_message_size" in init


def _open_server_protocols():
    """A plain wsproto server connection and the bridge's, both past the handshake."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.connection import Connection

    from actorsock.transports.websocket import _ProtocolWithFastInbound

    plain, fast = (
        WSConnection(ConnectionType.SERVER),
        _ProtocolWithFastInbound(ConnectionType.SERVER),
    )
    for protocol in (plain, fast):
        protocol.connection = Connection(ConnectionType.SERVER)
    return plain, fast


def _client_bytes(*events):
    return b"".join(_client_frames(*events))


def _client_frames(*events):
    from wsproto.connection import Connection, ConnectionType

    client = Connection(ConnectionType.CLIENT)
    return [client.send(event) for event in events]


def test_fast_inbound_reads_exactly_what_wsproto_reads(monkeypatch):
    # The same bytes, read frame by frame or cut at awkward places, must give
    # the same events through the bridge's shortcut as through wsproto alone.
    from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

    import actorsock.transports.websocket as bridge

    shortcut_reads = []

    def counting_decode(data):
        result = bridge.decode_client_messages.__wrapped__(data)
        shortcut_reads.append(result is not None)
        return result

    counting_decode.__wrapped__ = bridge.decode_client_messages  # type: ignore[attr-defined]
    monkeypatch.setattr(bridge, "decode_client_messages", counting_decode)

    frames = _client_frames(
        TextMessage("hello"),
        BytesMessage(bytes(range(200))),
        TextMessage("frag ", message_finished=False),
        TextMessage("ment"),
        Ping(b"are you there"),
        TextMessage("é" * 200),  # 400 bytes: the 16-bit length form
        TextMessage(""),
        CloseConnection(1000, "bye"),
    )
    stream = b"".join(frames)
    readings = [frames, [b"".join(frames[:2]), *frames[2:]], [stream]]
    readings += [[stream[i : i + cut] for i in range(0, len(stream), cut)] for cut in (1, 7, 64)]
    for reads in readings:
        plain, fast = _open_server_protocols()
        seen_plain, seen_fast = [], []
        for chunk in reads:
            for protocol, seen in ((plain, seen_plain), (fast, seen_fast)):
                protocol.receive_data(chunk)
                seen.extend(protocol.events())
        assert seen_fast == seen_plain, reads
    # Frame by frame, the whole one-frame messages took the shortcut; the
    # fragments, the ping and the close did not (nor was it asked while a
    # fragmented message was open).
    assert shortcut_reads[:7] == [True, True, False, False, True, True, False]


def test_fast_inbound_leaves_bad_input_to_wsproto():
    # Invalid UTF-8 in a text frame: wsproto's answer (close 1007) must be
    # what the bridge gives too.
    from wsproto.events import BytesMessage, CloseConnection

    frame = bytearray(_client_bytes(BytesMessage(b"\xff\xfe")))
    frame[0] = 0x81  # the same bytes, now claiming to be text
    results = []
    for protocol in _open_server_protocols():
        protocol.receive_data(bytes(frame))
        results.append(list(protocol.events()))
    assert results[0] == results[1]
    assert isinstance(results[0][0], CloseConnection) and results[0][0].code == 1007


def test_wsproto_state_the_fast_inbound_checks_is_still_there():
    from wsproto.connection import Connection, ConnectionType

    connection = Connection(ConnectionType.SERVER)
    assert hasattr(connection, "_events") and hasattr(connection, "_proto")
    proto = connection._proto
    decoder = proto._frame_decoder
    assert decoder.header is None and decoder.buffer.buffer == bytearray()
    assert proto._message_decoder.opcode is None and proto.extensions == []
    assert "while self._events:" in inspect.getsource(Connection.events)
