"""The session loop over the in-memory transport, on virtual time: no sockets."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from actorsock import (
    Binary,
    Crash,
    ErrorReason,
    Handler,
    Normal,
    Ping,
    Pong,
    Remote,
    Shutdown,
    StopReason,
    Text,
    Timeout,
    send,
)
from actorsock.core.transport import TransportClosed
from actorsock.testing import open_session

from ..integration.helpers import lifecycle_handler, reasons


def recorder(**options: Any) -> tuple[type[Handler], list[tuple[str, Any]]]:
    """The integration tests' recording handler: the same commands, no sockets."""
    return lifecycle_handler(**options)


terminated = reasons


async def test_frames_and_messages_reach_their_callbacks(autojump_clock):
    handler, events = recorder()
    async with open_session(handler) as client:
        client.send(Text("hi"))
        assert await client.receive() == Text("hi")
        send(client.pid, "tick")
        assert await client.receive() == Text("info:tick")
        client.send(Text("frames"))
        assert [await client.receive() for _ in range(3)] == [
            Text("one"),
            Binary(b"two"),
            Text("three"),
        ]
        client.close(1000, "done")
        assert await client.ended() == Remote(1000, "done")
    assert terminated(events) == [Remote(1000, "done")]


async def test_close_command_sends_what_came_before_and_nothing_after(autojump_clock):
    handler, events = recorder()
    async with open_session(handler) as client:
        client.send(Text("close"))
        assert await client.receive() == Text("bye")
        assert await client.ended() == StopReason()
        assert client.closed_with == (4001, "asked to close")
        with pytest.raises(TransportClosed):
            await client.receive()  # "never sent" was not
    assert terminated(events) == [StopReason()]


async def test_stop_closes_1000(autojump_clock):
    handler, events = recorder()
    async with open_session(handler) as client:
        client.send(Text("stop"))
        assert await client.ended() == StopReason()
        assert client.closed_with == (1000, "")
    assert terminated(events) == [StopReason()]


async def test_idle_timeout_on_virtual_time(autojump_clock):
    handler, events = recorder(idle_timeout=30.0)
    async with open_session(handler) as client:
        start = trio.current_time()
        assert await client.ended() == Timeout()
        assert 30.0 <= trio.current_time() - start < 31.0
        assert client.closed_with == (1000, "idle timeout")
    assert terminated(events) == [Timeout()]


async def test_client_data_and_set_options_move_the_idle_deadline(autojump_clock):
    handler, _ = recorder(idle_timeout=30.0)
    async with open_session(handler) as client:
        start = trio.current_time()
        await trio.sleep(20)
        client.send(Text("idle:100"))  # activity at 20 s, and a longer timeout
        assert await client.ended() == Timeout()
        assert 120.0 <= trio.current_time() - start < 121.0


async def test_server_pings_after_client_silence_and_pongs_count_as_activity(autojump_clock):
    handler, _ = recorder(idle_timeout=30.0, ping_interval=10.0)
    async with open_session(handler) as client:
        for _ in range(5):  # a client that answers every ping stays
            while not client.transport.controls:
                await client.transport.changed()
            assert client.transport.controls.pop() == Ping()
            client.send(Pong())
        assert trio.current_time() >= 50.0
        assert client.reason is None
        assert await client.ended() == Timeout()  # and one that stops answering goes


async def test_a_callback_crash_closes_1011_and_terminates_once_with_the_exception(
    autojump_clock,
):
    handler, events = recorder()
    async with open_session(handler) as client:
        client.send(Text("crash"))
        reason = await client.ended()
        assert isinstance(reason, Crash) and str(reason.exception) == "handler bug"
        assert client.closed_with == (1011, "internal error")
    assert terminated(events) == [reason]


async def test_init_reject_and_init_crash_never_open(autojump_clock):
    from actorsock import Request

    handler, events = recorder()
    async with open_session(handler, Request("GET", "/reject")) as client:
        assert await client.ended() == Normal()
        assert client.refused is not None and client.refused.status == 401
    async with open_session(handler, Request("GET", "/init-crash")) as client:
        reason = await client.ended()
        assert isinstance(reason, Crash)
        assert client.refused is not None and client.refused.status == 500
    assert [type(r) for r in terminated(events)] == [Normal, Crash]


async def test_shutdown_closes_1001(autojump_clock):
    handler, events = recorder()
    async with open_session(handler) as client:
        client.send(Text("hi"))
        assert await client.receive() == Text("hi")
    assert client.reason == Shutdown()
    assert client.closed_with == (1001, "server shutting down")
    assert terminated(events) == [Shutdown()]


@pytest.mark.parametrize(
    ("policy", "received", "reason"),
    [
        ("disconnect", [], ErrorReason("send_overflow", 1013)),
        ("drop_newest", ["b0", "b1", "b2"], None),
        ("drop_oldest", ["b2", "b3", "b4"], None),
    ],
)
async def test_send_queue_policies_with_a_client_that_does_not_read(
    policy, received, reason, autojump_clock
):
    handler, events = recorder(send_queue_messages=3, send_overflow=policy)
    async with open_session(handler) as client:
        client.send(Text("burst:5"))  # five frames, room for three
        if reason is not None:
            assert await client.ended() == reason
            assert client.closed_with == (1013, "send queue full")
        else:
            await trio.sleep(1)
            assert [(await client.receive()).text for _ in received] == received
            assert client.reason is None  # still open
    assert len(terminated(events)) == 1


async def test_mailbox_overflow_disconnects_1013(autojump_clock):
    handler, events = recorder(mailbox_size=2)
    async with open_session(handler) as client:
        for n in range(5):  # sent before the session gets a turn
            send(client.pid, n)
        assert await client.ended() == ErrorReason("mailbox_overflow", 1013)
        assert client.closed_with == (1013, "mailbox overflow")
    assert terminated(events) == [ErrorReason("mailbox_overflow", 1013)]


async def test_a_client_that_vanishes_ends_with_its_reason(autojump_clock):
    handler, events = recorder()
    async with open_session(handler) as client:
        client.send(Text("hi"))
        client.close(1001, "going away")
        assert await client.ended() == Remote(1001, "going away")
    # Its last frame was still handled before the end.
    assert ("handle", Text("hi")) in events
    assert terminated(events) == [Remote(1001, "going away")]
