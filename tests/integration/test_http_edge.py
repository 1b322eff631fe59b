"""The HTTP edge over real sockets, with clients nobody here wrote (httpx, curl) and raw bytes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import httpx
import pytest
import trio

from actorsock import App, Request, Response, StreamingResponse
from actorsock.testing import open_test_server
from actorsock.transports.front import LINGER_TIMEOUT

from .helpers import Echo, status_of

stream_state = {"finished": False, "sent": 0}


async def echo_body(request: Request) -> Response:
    return Response(
        200,
        json.dumps(
            {"method": request.method, "size": len(request.body), "port": request.remote[1]}
        ),
        content_type="application/json",
    )


async def add_item(request: Request) -> Response:
    return Response(201, request.body, content_type="application/octet-stream")


async def counting(request: Request) -> StreamingResponse:
    async def pieces():
        try:
            for n in range(int(request.query.get("n", "5"))):
                stream_state["sent"] = n + 1
                yield f"piece {n}\n"
                await trio.sleep(float(request.query.get("gap", "0")))
        finally:
            stream_state["finished"] = True

    return StreamingResponse(pieces())


async def plain(request: Request) -> Response:
    return Response(200, "the same text for GET and HEAD\n")


def make_app() -> App:
    return App(
        routes={"/ws": Echo},
        http_routes={
            "/echo": {"GET": echo_body, "POST": echo_body, "PUT": echo_body},
            "/items": {"POST": add_item},
            "/count": counting,
            "/plain": plain,
        },
    )


async def in_thread(fn):
    return await trio.to_thread.run_sync(fn)


async def test_keep_alive_carries_several_requests_on_one_connection():
    async with open_test_server(make_app(), server__max_body_size=1000) as server:

        def talk():
            with httpx.Client(base_url=server.url("", "http")) as client:
                return [client.get("/echo").json()["port"] for _ in range(5)] + [
                    client.post("/echo", content=b"x" * 10).json()["port"]
                ]

        ports = await in_thread(talk)
        assert len(set(ports)) == 1  # one TCP connection for all six


async def test_bodies_at_and_past_the_limit():
    async with open_test_server(make_app(), server__max_body_size=1000) as server:

        def talk():
            with httpx.Client(base_url=server.url("", "http")) as client:
                at = client.post("/echo", content=b"a" * 1000)
                past = client.post("/echo", content=b"a" * 1001)
                return at.status_code, at.json()["size"], past.status_code

        assert await in_thread(talk) == (200, 1000, 413)


async def test_chunked_request_bodies_are_read_whole_and_bounded():
    async with open_test_server(make_app(), server__max_body_size=1000) as server:

        def talk():
            with httpx.Client(base_url=server.url("", "http")) as client:
                small = client.post("/echo", content=iter([b"ab", b"cd", b"e" * 96]))
                large = client.post("/echo", content=iter([b"x" * 600, b"y" * 600]))
                return small.json()["size"], large.status_code

        assert await in_thread(talk) == (100, 413)


async def test_every_method_is_routed_and_the_others_get_405_with_allow():
    async with open_test_server(make_app()) as server:

        def talk():
            with httpx.Client(base_url=server.url("", "http")) as client:
                put = client.put("/echo", content=b"12")
                delete = client.delete("/echo")
                options = client.options("/items")
                get_items = client.get("/items")
                created = client.post("/items", content=b"new")
                head = client.head("/plain")
                get = client.get("/plain")
                return put, delete, options, get_items, created, head, get

        put, delete, options, get_items, created, head, get = await in_thread(talk)
    assert put.json()["method"] == "PUT" and put.json()["size"] == 2
    assert delete.status_code == 405 and delete.headers["allow"] == "GET, HEAD, OPTIONS, POST, PUT"
    assert options.status_code == 204 and options.headers["allow"] == "OPTIONS, POST"
    assert "content-length" not in options.headers  # RFC 9110 section 8.6
    assert get_items.status_code == 405 and get_items.headers["allow"] == "OPTIONS, POST"
    assert created.status_code == 201 and created.content == b"new"
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))


async def test_expect_100_continue_is_answered_before_the_body():
    async with open_test_server(make_app(), server__max_body_size=1000) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await stream.send_all(
                b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            with trio.fail_after(5):
                interim = await stream.receive_some(1000)
            assert interim.startswith(b"HTTP/1.1 100 ")
            await stream.send_all(b"hello")
            with trio.fail_after(5):
                final = await stream.receive_some(1000)
            assert final.startswith(b"HTTP/1.1 200 ") and b'"size": 5' in final
        # Refused before its body: no 100, the refusal at once.
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await stream.send_all(
                b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            with trio.fail_after(5):
                assert status_of(await stream.receive_some(1000)) == 413


async def test_curl_posts_a_large_body_with_expect_100_continue():
    if shutil.which("curl") is None:
        if os.environ.get("CI"):
            pytest.fail("curl is missing: .ci/run installs it")
        pytest.skip("curl is not installed")
    async with open_test_server(make_app(), server__max_body_size=1 << 20) as server:

        def post():
            # curl sends Expect: 100-continue itself for bodies over 1 KiB.
            done = subprocess.run(
                ["curl", "-sS", "--data-binary", "@-", server.url("/echo", "http")],
                input=b"z" * 200_000,
                capture_output=True,
                timeout=30,
                check=True,
            )
            return json.loads(done.stdout)

        assert (await in_thread(post))["size"] == 200_000


async def _read_to_end(stream: trio.SocketStream) -> bytes:
    reply = b""
    while data := await stream.receive_some(65536):
        reply += data
    return reply


async def _exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection; everything the server sends until it closes."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        with trio.fail_after(10):
            return await _read_to_end(stream)


async def test_pipelined_requests_are_answered_in_order():
    async with open_test_server(make_app()) as server:
        data = await _exchange(
            server.port,
            b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nA"
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nBB"
            b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    replies = [
        json.loads(part.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1")[0])
        for part in data.split(b"HTTP/1.1 200 OK")[1:]
    ]
    assert [(r["method"], r["size"]) for r in replies] == [("PUT", 1), ("POST", 2), ("GET", 0)]


async def test_a_client_that_vanishes_mid_body_touches_nobody_else():
    async with open_test_server(make_app()) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        await stream.send_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly this"
        )
        await stream.aclose()
        assert (await server.get("/healthz")).status == 200
        async with server.connect("/ws") as ws:
            await ws.send_message("fine")
            assert await ws.get_message() == "fine"


async def test_a_slowloris_body_gets_408(autojump_clock):
    async with open_test_server(make_app(), server__handshake_timeout=10.0) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
            start = trio.current_time()
            reply = b""
            with trio.fail_after(60):
                while len(reply) < 12:
                    await stream.send_all(b"x")  # one byte a second, never enough
                    with trio.move_on_after(1):
                        reply += await stream.receive_some(1000)
            assert status_of(reply) == 408
            assert 10.0 <= trio.current_time() - start < 12.0


async def test_a_client_refused_mid_body_can_send_it_whole_and_then_read_the_answer():
    # Most clients write their whole body before they read. Closed at once,
    # the server's socket would reset the connection under the client's
    # writes (RFC 9112 section 9.6): the 413 would be lost.
    async with open_test_server(make_app(), server__max_body_size=1000) as server:
        for head in (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800000\r\n",
        ):
            stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            async with stream:
                with trio.fail_after(30):
                    await stream.send_all(head)
                    for _ in range(128):
                        await stream.send_all(b"b" * 65536)  # 8 MiB, none of it read
                    reply = await _read_to_end(stream)
            assert status_of(reply) == 413
            assert b"connection: close" in reply.lower()


async def test_a_malformed_head_is_answered_400_while_the_client_goes_on_sending():
    async with open_test_server(make_app()) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            with trio.fail_after(30):
                await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
                for _ in range(64):
                    await stream.send_all(b"garbage " * 8192)
                reply = await _read_to_end(stream)
        assert status_of(reply) == 400


async def test_a_refused_client_that_keeps_sending_is_closed_after_the_linger_time(
    autojump_clock,
):
    async with open_test_server(make_app(), server__max_body_size=1000) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        async with stream:
            await stream.send_all(
                b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
            )
            start = trio.current_time()
            # The answer, then the server's end of its side; it still reads.
            assert status_of(await _read_to_end(stream)) == 413
            with trio.fail_after(60), pytest.raises(trio.BrokenResourceError):
                while True:
                    await stream.send_all(b"x" * 100)  # a trickle that never ends
                    await trio.sleep(0.5)
            assert LINGER_TIMEOUT <= trio.current_time() - start < LINGER_TIMEOUT + 2


async def test_a_request_framed_two_ways_is_refused_and_what_it_hid_is_never_served():
    # Content-Length says the body is "0\r\n\r\n"; chunked says it ends
    # there and a second request follows. A server that picks one framing
    # and keeps the connection serves a request a proxy in front never saw.
    async with open_test_server(make_app()) as server:
        reply = await _exchange(
            server.port,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        assert status_of(reply) == 400
        assert reply.count(b"HTTP/1.1 ") == 1 and b"the same text" not in reply


async def test_options_asterisk_is_the_servers_own_and_keeps_the_connection():
    async with open_test_server(make_app()) as server:
        reply = await _exchange(
            server.port,
            b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        first, second = reply.split(b"\r\n\r\n", 1)
        assert status_of(first) == 204 and b"content-length" not in first.lower()
        assert status_of(second) == 200 and second.endswith(b"the same text for GET and HEAD\n")


async def test_a_major_version_other_than_1_gets_505():
    async with open_test_server(make_app()) as server:
        reply = await _exchange(server.port, b"GET /plain HTTP/2.0\r\nHost: x\r\n\r\n")
    assert status_of(reply) == 505


async def test_an_endpoint_answering_204_or_304_sends_no_content():
    async def no_content(request: Request) -> Response:
        status = int(request.query["status"])
        return Response(status, "ignored", headers=(("etag", '"1"'),))

    async def streamed_no_content(request: Request) -> StreamingResponse:
        async def pieces():
            yield "ignored"

        return StreamingResponse(
            pieces(), status=int(request.query["status"]), headers=(("etag", '"1"'),)
        )

    app = App(http_routes={"/nothing": no_content, "/streamed": streamed_no_content})
    async with open_test_server(app) as server:

        def talk():
            with httpx.Client(base_url=server.url("", "http")) as client:
                return [
                    client.get(path, params={"status": s})
                    for path in ("/nothing", "/streamed")
                    for s in (204, 304, 204)
                ]

        for reply in await in_thread(talk):
            assert reply.status_code in (204, 304) and reply.content == b""
            assert reply.headers["etag"] == '"1"'


async def test_a_streaming_response_arrives_piece_by_piece_in_order():
    async with open_test_server(make_app()) as server:

        def read():
            with (
                httpx.Client(base_url=server.url("", "http")) as client,
                client.stream("GET", "/count?n=5") as reply,
            ):
                assert reply.headers["transfer-encoding"] == "chunked"
                return list(reply.iter_lines())

        assert await in_thread(read) == [f"piece {n}" for n in range(5)]


async def test_a_streaming_response_ends_cleanly_when_the_client_goes_away():
    stream_state.update(finished=False, sent=0)
    async with open_test_server(make_app()) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        await stream.send_all(b"GET /count?n=100000&gap=0.001 HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        with trio.fail_after(5):
            while b"piece 0" not in received:
                received += await stream.receive_some(65536)
        await stream.aclose()
        with trio.fail_after(5):
            while not stream_state["finished"]:  # noqa: ASYNC110 - the generator's finally
                await trio.sleep(0.01)
        assert stream_state["sent"] < 100000  # stopped, not run to its end
        assert (await server.get("/healthz")).status == 200


async def test_head_of_a_stream_sends_no_body():
    async with open_test_server(make_app()) as server:
        reply = await server.request(
            b"HEAD /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    assert reply.status == 200 and reply.body == b""


async def test_an_upgrade_can_follow_plain_requests_on_a_kept_alive_connection():
    from .helpers import RawClient, frame, upgrade_request

    async with open_test_server(make_app()) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        client = RawClient(stream)
        await stream.send_all(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
        with trio.fail_after(5):
            head = await client._read_until(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")
            await client._read_exactly(len(b"the same text for GET and HEAD\n"))
            await stream.send_all(upgrade_request("/ws") + frame(0x1, b"over the same socket"))
            assert (await client._read_until(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
            assert await client.read_frame() == (0x1, b"over the same socket")
        await stream.aclose()


async def test_a_crash_inside_the_exchange_is_answered_500_and_ends_that_stream_only(
    monkeypatch,
):
    import actorsock.transports.endpoints as endpoints_module

    def broken(request):
        raise RuntimeError("a bug before any byte was sent")

    monkeypatch.setattr(endpoints_module, "_declared_length", broken)
    async with open_test_server(make_app()) as server:
        reply = await server.request(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reply.status == 500
        async with server.connect("/ws") as ws:
            await ws.send_message("fine")
            assert await ws.get_message() == "fine"
