"""Connection lifecycle: timeouts, terminate exactly once, shutdown, cleanup."""

from __future__ import annotations

import pytest
import trio
from trio_websocket import ConnectionClosed

from actorsock import (
    App,
    Crash,
    ErrorReason,
    Handler,
    Normal,
    Reject,
    Remote,
    Shutdown,
    StopReason,
    Text,
    Timeout,
    registry,
    send,
)
from actorsock.testing import open_test_server

from .helpers import RawClient, lifecycle_handler, reasons, upgrade_request, wait_for


async def test_idle_timeout_fires_terminate_timeout(autojump_clock):
    handler, events = lifecycle_handler()
    async with open_test_server(
        App(routes={"/ws": handler}), websocket__idle_timeout=60.0
    ) as server:
        async with server.connect("/ws") as ws:
            start = trio.current_time()
            await trio.sleep(59)
            await ws.send_message("still alive")  # resets the idle timer
            assert await ws.get_message() == "still alive"
            with pytest.raises(ConnectionClosed) as caught:
                await ws.get_message()
            assert caught.value.reason.code == 1000
            assert caught.value.reason.reason == "idle timeout"
            assert trio.current_time() - start == pytest.approx(119, abs=0.5)
        await wait_for(lambda: reasons(events))
    assert reasons(events) == [Timeout()]


async def test_set_options_changes_idle_timeout_at_run_time(autojump_clock):
    handler, events = lifecycle_handler(idle_timeout=600.0)
    async with (
        open_test_server(App(routes={"/ws": handler})) as server,
        server.connect("/ws") as ws,
    ):
        await ws.send_message("idle:5")
        start = trio.current_time()
        with pytest.raises(ConnectionClosed):
            await ws.get_message()
        assert trio.current_time() - start == pytest.approx(5, abs=0.5)
    assert reasons(events) == [Timeout()]


async def test_server_pings_keep_a_quiet_client_alive(autojump_clock):
    handler, events = lifecycle_handler(idle_timeout=30.0, ping_interval=10.0)
    async with (
        open_test_server(App(routes={"/ws": handler})) as server,
        server.connect("/ws") as ws,
    ):
        await trio.sleep(300)  # trio-websocket's client answers the pings
        assert ws.closed is None
        pongs = [v for n, v in events if n == "handle"]
        assert 25 <= len(pongs) <= 31
    assert isinstance(reasons(events)[0], Remote)


async def test_a_client_that_does_not_answer_pings_times_out(autojump_clock):
    handler, events = lifecycle_handler(idle_timeout=30.0, ping_interval=10.0)
    async with open_test_server(App(routes={"/ws": handler})) as server:
        client = await RawClient.connect(server.port, "/ws")
        pings = 0
        with trio.fail_after(100):
            while True:
                opcode, _ = await client.read_frame()
                if opcode == 0x9:
                    pings += 1
                elif opcode == 0x8:
                    break
        assert pings >= 2
        await client.aclose()
        await wait_for(lambda: reasons(events))
    assert reasons(events) == [Timeout()]


class Scenario:
    """Drives one connection down one path to its end."""

    @staticmethod
    async def client_close(server, ws):
        await ws.aclose(4000, "client leaves")

    @staticmethod
    async def stop(server, ws):
        await ws.send_message("stop")
        with pytest.raises(ConnectionClosed):
            await ws.get_message()

    @staticmethod
    async def crash(server, ws):
        await ws.send_message("crash")
        with pytest.raises(ConnectionClosed):
            await ws.get_message()

    @staticmethod
    async def timeout(server, ws):
        with pytest.raises(ConnectionClosed):
            await ws.get_message()

    @staticmethod
    async def shutdown(server, ws):
        await server.app.shutdown()
        with pytest.raises(ConnectionClosed) as caught:
            await ws.get_message()
        assert caught.value.reason.code == 1001

    @staticmethod
    async def tcp_lost(server, ws):
        await trio.aclose_forcefully(ws._stream)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("client_close", Remote(4000, "client leaves")),
        ("stop", StopReason()),
        ("crash", Crash),
        ("timeout", Timeout()),
        ("shutdown", Shutdown()),
        ("tcp_lost", ErrorReason("closed", 1006)),
    ],
)
async def test_terminate_runs_exactly_once_on_every_path(autojump_clock, path, expected):
    handler, events = lifecycle_handler(idle_timeout=30.0)
    app = App(routes={"/ws": handler})
    async with open_test_server(app) as server:
        async with server.connect("/ws") as ws:
            await getattr(Scenario, path)(server, ws)
        await wait_for(lambda: reasons(events))
        await trio.sleep(120)  # nothing more may arrive, even much later
    got = reasons(events)
    assert len(got) == 1
    if isinstance(expected, type):
        assert isinstance(got[0], expected)
    else:
        assert got[0] == expected
    assert [name for name, _ in events].count("terminate") == 1
    assert events[-1][0] == "terminate"


async def test_rejected_in_init_terminates_normal(autojump_clock):
    events = []

    class Gate(Handler):
        async def init(self, request):
            return Reject(403, "no")

        async def terminate(self, reason):
            events.append(reason)

    async with open_test_server(App(routes={"/ws": Gate})) as server:
        reply = await server.request(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        assert reply.status == 403 and reply.body == b"no"
    assert events == [Normal()]


async def test_graceful_shutdown_closes_everyone_with_1001(autojump_clock):
    handler, events = lifecycle_handler()
    app = App(routes={"/ws": handler})
    codes = []
    async with open_test_server(app) as server:
        async with trio.open_nursery() as nursery:

            async def client():
                async with server.connect("/ws") as ws:
                    await ws.send_message("register:everyone")
                    await ws.get_message()
                    try:
                        await ws.get_message()
                    except ConnectionClosed as closed:
                        codes.append(closed.reason.code)

            for _ in range(5):
                nursery.start_soon(client)
            await wait_for(lambda: registry.count("everyone") == 5)
            assert len(app.connections()) == 5
            await app.shutdown()
        with pytest.raises(OSError):  # the listener is closed too
            await trio.open_tcp_stream("127.0.0.1", server.port)
    assert codes == [1001] * 5
    assert reasons(events) == [Shutdown()] * 5
    assert registry.count("everyone") == 0


async def test_drain_timeout_cuts_off_stuck_handlers(autojump_clock):
    terminated = []

    class Stuck(Handler):
        async def websocket_handle(self, frame):
            await trio.sleep_forever()

        async def terminate(self, reason):
            terminated.append((reason, trio.current_time()))

    app = App(routes={"/ws": Stuck})
    async with (
        open_test_server(app, server__drain_timeout=3.0) as server,
        server.connect("/ws") as ws,
    ):
        await ws.send_message("block the handler")
        await trio.sleep(1)
        start = trio.current_time()
        await app.shutdown()
        assert trio.current_time() - start == pytest.approx(3.0, abs=0.1)
    assert [r for r, _ in terminated] == [Shutdown()]


async def test_upgrades_arriving_during_shutdown_get_503(autojump_clock):
    class Slow(Handler):
        async def terminate(self, reason):
            await trio.sleep(2)  # keeps the drain busy

    app = App(routes={"/ws": Slow})
    async with (
        open_test_server(app) as server,
        server.connect("/ws"),
        trio.open_nursery() as nursery,
    ):
        late = await trio.open_tcp_stream("127.0.0.1", server.port)  # accepted, no request yet
        await trio.sleep(0.1)
        nursery.start_soon(app.shutdown)
        await trio.sleep(0.5)
        await late.send_all(upgrade_request("/ws"))
        reply = await late.receive_some(4096)
        assert reply.startswith(b"HTTP/1.1 503 ")
        await late.aclose()


async def test_registry_entries_vanish_when_connections_end(autojump_clock):
    handler, _events = lifecycle_handler()
    async with open_test_server(App(routes={"/ws": handler})) as server:
        async with server.connect("/ws") as a, server.connect("/ws") as b:
            for ws in (a, b):
                await ws.send_message("register:room")
                await ws.get_message()
            assert registry.count("room") == 2
            await a.send_message("crash")
            await wait_for(lambda: registry.count("room") == 1)
        await wait_for(lambda: registry.count("room") == 0)
    assert registry.lookup("room") == []


async def test_mailbox_overflow_disconnects_the_slow_connection(autojump_clock):
    class SlowConsumer(Handler):
        mailbox_size = 8

        async def websocket_init(self):
            registry.register("slow")

        async def websocket_info(self, message):
            await trio.sleep(1)  # a handler much slower than its producer
            return Text(str(message))

    app = App(routes={"/ws": SlowConsumer})
    async with open_test_server(app) as server, server.connect("/ws") as ws:
        await wait_for(lambda: registry.count("slow") == 1)
        ((pid, _),) = registry.lookup("slow")
        accepted = [send(pid, i) for i in range(20)]
        assert accepted == [True] * 8 + [False] * 12  # a burst: the handler has not run yet
        codes = []
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed as closed:
            codes.append((closed.reason.code, closed.reason.reason))
        assert codes == [(1013, "mailbox overflow")]
    assert app.statistics().overflows == 1
