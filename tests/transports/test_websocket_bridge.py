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
