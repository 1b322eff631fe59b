"""Long-poll sessions over real HTTP requests, made by httpx (the plain JSON wire).

Timeouts (the poll timeout, the session timeout) run on virtual time.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio

from actorsock import (
    App,
    Binary,
    Handler,
    Reject,
    Remote,
    Shutdown,
    Stop,
    StopReason,
    Text,
    Timeout,
    broadcast_frame,
    send,
    subscribe,
)
from actorsock.testing import open_test_server

from .helpers import wait_for

ended: list[Any] = []
received: list[Any] = []


class Chat(Handler):
    """Echoes what it is posted, numbered; "bye" stops it after a last word."""

    async def init(self, request: Any) -> Reject | None:
        if request.query.get("deny"):
            return Reject(403, "not today\n")
        return None

    async def websocket_init(self) -> Text:
        subscribe("lobby")
        return Text("welcome")

    async def websocket_handle(self, frame: Any) -> Any:
        received.append(frame)
        if frame == Text("bye"):
            return [Text("last word"), Stop()]
        return frame

    async def websocket_info(self, message: Any) -> Any:
        return Text(message)

    async def terminate(self, reason: Any) -> None:
        ended.append(reason)


@pytest.fixture(autouse=True)
def clear():
    ended.clear()
    received.clear()


def make_app() -> App:
    return App(long_poll_routes={"/poll": Chat})


class Poller:
    """A client of the JSON wire: its token and the highest number it has."""

    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        self.client = client
        self.base = base
        self.token = ""
        self.after = 0

    async def open(self, query: str = "") -> httpx.Response:
        response = await self.client.post(f"{self.base}/poll{query}")
        if response.status_code == 201:
            self.token = response.json()["token"]
        return response

    async def poll(self, after: int | None = None) -> dict[str, Any]:
        response = await self.client.get(
            f"{self.base}/poll/{self.token}",
            params={"after": self.after if after is None else after},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if body["messages"]:
            self.after = body["messages"][-1]["seq"]
        return body

    async def post(self, content: bytes, content_type: str = "text/plain") -> int:
        response = await self.client.post(
            f"{self.base}/poll/{self.token}",
            content=content,
            headers={"content-type": content_type},
        )
        return response.status_code


def texts(body: dict[str, Any]) -> list[str]:
    return [message.get("text", message.get("binary")) for message in body["messages"]]


async def open_client(server: Any) -> tuple[httpx.AsyncClient, Poller]:
    client = httpx.AsyncClient(timeout=None)
    return client, Poller(client, server.url("", "http"))


async def test_open_poll_post_in_order_and_goodbye():
    async with open_test_server(make_app()) as server:
        client, poller = await open_client(server)
        async with client:
            opened = await poller.open()
            assert opened.status_code == 201 and len(poller.token) >= 40  # unguessable
            assert texts(await poller.poll()) == ["welcome"]
            for n in range(5):
                assert await poller.post(f"m{n}".encode()) == 204
            assert await poller.post(b"\x00\x01", "application/octet-stream") == 204
            await wait_for(lambda: len(received) == 6)
            assert received == [*(Text(f"m{n}") for n in range(5)), Binary(b"\x00\x01")]
            body = await poller.poll()
            assert texts(body) == ["m0", "m1", "m2", "m3", "m4", "AAE="]
            assert [m["seq"] for m in body["messages"]] == [2, 3, 4, 5, 6, 7]
            assert (await client.delete(f"{poller.base}/poll/{poller.token}")).status_code == 204
            await wait_for(lambda: ended == [Remote()])
            gone = await client.get(f"{poller.base}/poll/{poller.token}")
            assert gone.status_code == 410
            assert await poller.post(b"late") == 410


async def test_a_poll_is_held_until_a_message_comes(autojump_clock):
    async with open_test_server(make_app()) as server:
        client, poller = await open_client(server)
        async with client:
            await poller.open()
            await poller.poll()  # the welcome
            started = trio.current_time()
            async with trio.open_nursery() as nursery:
                answers: list[dict[str, Any]] = []

                async def hold() -> None:
                    answers.append(await poller.poll())

                nursery.start_soon(hold)
                await trio.sleep(7)
                assert answers == []  # still held
                broadcast_frame("lobby", "news")
            assert texts(answers[0]) == ['"news"']
            assert round(trio.current_time() - started) == 7


async def test_a_poll_with_nothing_to_say_is_answered_empty_after_the_poll_timeout(
    autojump_clock,
):
    async with open_test_server(make_app(), long_poll__poll_timeout=20.0) as server:
        client, poller = await open_client(server)
        async with client:
            await poller.open()
            await poller.poll()
            started = trio.current_time()
            body = await poller.poll()
            assert body == {"messages": [], "closed": False}
            assert round(trio.current_time() - started) == 20
            assert ended == []  # polls keep the session alive


async def test_a_session_without_polls_ends_after_the_session_timeout(autojump_clock):
    async with open_test_server(make_app(), long_poll__session_timeout=30.0) as server:
        client, poller = await open_client(server)
        async with client:
            await poller.open()
            await poller.poll()
            left = trio.current_time()
            await wait_for(lambda: ended == [Timeout()], timeout=100)
            assert round(trio.current_time() - left) == 30
            gone = await client.get(f"{poller.base}/poll/{poller.token}")
            assert gone.status_code == 410
            assert server.app.statistics().connections == 0


async def test_no_message_is_lost_or_repeated_when_the_client_dies_between_polls():
    app = make_app()
    async with open_test_server(app) as server:
        client, poller = await open_client(server)
        async with client:
            await poller.open()
            seen = texts(await poller.poll())
            (pid,) = app.connections()
            for n in range(3):
                send(pid, f"a{n}")
            await wait_for(lambda: app.connection_statistics()[0].messages_out == 4)
            # This answer is lost: the client dies before it reads it.
            lost = await poller.client.get(
                f"{poller.base}/poll/{poller.token}", params={"after": poller.after}
            )
            assert [m["text"] for m in lost.json()["messages"]] == ["a0", "a1", "a2"]
            for n in range(3, 5):
                send(pid, f"a{n}")
            # A new client process with the same token and the last number it
            # had on disk (the welcome's) asks again, and again after that.
            async with httpx.AsyncClient(timeout=None) as again:
                revived = Poller(again, poller.base)
                revived.token, revived.after = poller.token, poller.after
                await wait_for(lambda: app.connection_statistics()[0].messages_out == 6)
                seen += texts(await revived.poll())
                send(pid, "a5")
                seen += texts(await revived.poll())
                assert await revived.post(b"bye") == 204
                final = await revived.poll()
                seen += texts(final)
    assert seen == ["welcome", "a0", "a1", "a2", "a3", "a4", "a5", "last word"]
    assert final["closed"] is True
    assert ended == [StopReason()]


async def test_a_second_poll_replaces_the_first():
    async with open_test_server(make_app()) as server:
        client, poller = await open_client(server)
        async with client:
            await poller.open()
            await poller.poll()
            answers: list[dict[str, Any]] = []
            async with trio.open_nursery() as nursery:

                async def first() -> None:
                    answers.append(await poller.poll())

                nursery.start_soon(first)
                await trio.sleep(0.2)  # the first is held
                async with httpx.AsyncClient(timeout=None) as other:
                    second = Poller(other, poller.base)
                    second.token, second.after = poller.token, poller.after
                    async with trio.open_nursery() as inner:
                        results: list[dict[str, Any]] = []

                        async def hold() -> None:
                            results.append(await second.poll())

                        inner.start_soon(hold)
                        await wait_for(lambda: len(answers) == 1)
                        assert answers[0] == {"messages": [], "closed": False, "replaced": True}
                        broadcast_frame("lobby", "for the newest")
            assert texts(results[0]) == ['"for the newest"']


async def test_the_last_words_of_a_stopping_session_reach_the_next_poll():
    async with open_test_server(make_app()) as server:
        client, poller = await open_client(server)
        async with client:
            await poller.open()
            await poller.poll()
            assert await poller.post(b"bye") == 204
            await trio.sleep(0.1)  # nobody polls while the session stops
            body = await poller.poll()
            assert texts(body) == ["last word"] and body["closed"] is True
            await wait_for(lambda: ended == [StopReason()])


async def test_init_can_refuse_and_sessions_count_against_max_connections():
    # Unread welcomes make a closing session wait for a poll: not for long here.
    options = {"server__max_connections": 2, "websocket__close_timeout": 0.2}
    async with open_test_server(make_app(), **options) as server:
        client, poller = await open_client(server)
        async with client:
            refused = await poller.open("?deny=1")
            assert refused.status_code == 403 and refused.text == "not today\n"
            assert (await Poller(client, poller.base).open()).status_code == 201
            assert (await Poller(client, poller.base).open()).status_code == 201
            full = await Poller(client, poller.base).open()
            assert full.status_code == 503
            bad = await client.get(f"{poller.base}/poll/not-a-token?after=0")
            assert bad.status_code == 410
            assert (await client.get(f"{poller.base}/poll/x?after=-1")).status_code == 400


async def test_server_shutdown_ends_long_poll_sessions():
    app = make_app()
    async with open_test_server(app) as server:
        client, poller = await open_client(server)
        async with client:
            await poller.open()
            await poller.poll()
            async with trio.open_nursery() as nursery:
                answers: list[dict[str, Any]] = []

                async def hold() -> None:
                    answers.append(await poller.poll())

                nursery.start_soon(hold)
                await trio.sleep(0.1)
                nursery.start_soon(app.shutdown)
            assert answers == [{"messages": [], "closed": True}]
    assert ended == [Shutdown()]
