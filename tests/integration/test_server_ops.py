"""Connection cap, TLS, health check and the demo page."""

from __future__ import annotations

import ssl
import subprocess

import pytest
import trio
from trio_websocket import open_websocket_url
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as sync_connect

from actorsock import App, ConfigError
from actorsock.demo import app as demo_app
from actorsock.testing import open_test_server

from .helpers import Echo


async def test_connections_beyond_the_limit_get_503():
    app = App(routes={"/echo": Echo})
    async with open_test_server(app, server__max_connections=2) as server:
        async with server.connect("/echo") as a, server.connect("/echo") as b:

            def third():
                with pytest.raises(InvalidStatus) as caught:
                    sync_connect(server.url("/echo"), open_timeout=5)
                return caught.value.response.status_code

            assert await trio.to_thread.run_sync(third) == 503
            for ws in (a, b):
                await ws.send_message("ok")
                assert await ws.get_message() == "ok"
        async with server.connect("/echo") as c:  # slots are freed on close
            await c.send_message("again")
            assert await c.get_message() == "again"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls(tls_files):
    cert, key = tls_files
    app = App(routes={"/echo": Echo})
    async with open_test_server(
        app, server__tls_cert=str(cert), server__tls_key=str(key)
    ) as server:
        context = ssl.create_default_context(cafile=str(cert))
        async with open_websocket_url(server.url("/echo", "wss"), ssl_context=context) as ws:
            await ws.send_message("secret")
            assert await ws.get_message() == "secret"
            await trio.aclose_forcefully(ws._stream)

        def sync_client():
            with sync_connect(server.url("/echo", "wss"), ssl=context) as ws:
                ws.send("also secret")
                return ws.recv(timeout=5)

        assert await trio.to_thread.run_sync(sync_client) == "also secret"


async def test_bad_tls_files_name_the_key(tmp_path):
    app = App(routes={"/echo": Echo})
    with pytest.raises(ConfigError, match=r"server\.tls_cert"):
        async with open_test_server(app, server__tls_cert=str(tmp_path / "missing.pem")):
            pass


async def test_healthz_and_demo_page():
    async with open_test_server(demo_app) as server:
        health = await server.get("/healthz")
        assert health.status == 200 and b'"status": "ok"' in health.body
        page = await server.get("/")
        assert page.status == 200 and page.headers["content-type"].startswith("text/html")
        assert b"new WebSocket" in page.body and b"/dashboard" in page.body
        head = await server.request(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert head.status == 200 and head.body == b""
