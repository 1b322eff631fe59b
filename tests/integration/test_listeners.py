"""An App made of services: several listeners, each with its own routes, host and port."""

from __future__ import annotations

import socket

import httpx
import pytest
import trio

from actorsock import App, Listener, ListenError, Request, Response
from actorsock.testing import open_test_server

from .helpers import Echo


async def stats(request: Request) -> Response:
    return Response(200, "admin only\n")


def make_app() -> App:
    return App(
        routes={"/echo": Echo},
        listeners=[Listener("admin", port=0, http_routes={"/stats": stats}, healthz=False)],
    )


async def test_each_listener_serves_its_own_routes_on_its_own_port():
    app = make_app()
    async with open_test_server(app) as server:
        main, admin = app.listener_ports["main"][0], app.listener_ports["admin"][0]
        assert main == server.port and admin != main
        async with server.connect("/echo") as ws:
            await ws.send_message("hi")
            assert await ws.get_message() == "hi"
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{admin}/stats")).text == "admin only\n"
            assert (await client.get(f"http://127.0.0.1:{main}/stats")).status_code == 404
            assert (await client.get(f"http://127.0.0.1:{main}/healthz")).status_code == 200
            assert (await client.get(f"http://127.0.0.1:{admin}/healthz")).status_code == 404
            upgrade = await client.get(
                f"http://127.0.0.1:{admin}/echo",
                headers={"upgrade": "websocket", "connection": "upgrade"},
            )
            assert upgrade.status_code == 404  # no WebSocket route there
    # After shutdown both ports are closed.
    for port in (main, admin):
        with pytest.raises(OSError):
            await trio.open_tcp_stream("127.0.0.1", port)


async def test_a_listener_whose_port_is_taken_stops_the_start_with_a_clear_error():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        app = App(listeners=[Listener("metrics", port=port)])
        with pytest.raises(ListenError, match=str(port)):
            async with open_test_server(app):
                pass
    finally:
        taken.close()


def test_listener_names_are_unique():
    with pytest.raises(ValueError, match="unique"):
        App(listeners=[Listener("main", port=0)])
    with pytest.raises(ValueError, match="unique"):
        App(listeners=[Listener("a", port=0), Listener("a", port=0)])
