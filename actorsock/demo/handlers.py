"""The demo's handlers; each one is also an example of a handler pattern."""

from __future__ import annotations

import json
from typing import Any

from .. import Binary, Event, Frame, Handler, Reason, Registry, Text, registry, self_pid, send
from ..runtime.stats import ServerStatistics

__all__ = ["Dashboard", "Echo", "Room", "rooms"]

#: Who is in which room: duplicate keys, one entry per connection.
rooms = Registry(keys="duplicate", name="demo.rooms")


class Echo(Handler):
    """Replies with each frame it receives (pings are answered by the server)."""

    async def websocket_handle(self, frame: Frame) -> Frame | None:
        if isinstance(frame, Text | Binary):
            return frame
        return None


class Room(Handler):
    """A chat room per path, in the style of em-websocket.

    Everyone in ``/rooms/{room}`` receives the others' messages as
    ``{"event": "message", "from": "<0.12>", "text": "..."}``; joins and
    leaves arrive as ``{"event": "join" | "leave", "who": ..., "count": n}``, and
    a newcomer first gets ``{"event": "welcome", "you": "<0.12>", "count": n}``.
    """

    ping_interval = 20.0  # browsers answer pings, which keeps idle members connected

    async def websocket_init(self) -> Text:
        self.room = self.request.path_params["room"]
        rooms.register(self.room)
        self._announce("join")
        # Tells this client which pid in the room is its own.
        return _encode({"event": "welcome", "you": str(self.pid), "count": rooms.count(self.room)})

    async def websocket_handle(self, frame: Frame) -> None:
        if isinstance(frame, Text):
            event = _encode({"event": "message", "from": str(self.pid), "text": frame.text})
            me = self.pid
            rooms.dispatch(self.room, lambda pid, _: pid is not me and send(pid, event))

    async def websocket_info(self, message: Any) -> Any:
        return message  # already an encoded Text frame

    async def terminate(self, reason: Reason) -> None:
        if hasattr(self, "room"):
            rooms.unregister(self.room)
            self._announce("leave")

    def _announce(self, event: str) -> None:
        frame = _encode({"event": event, "who": str(self_pid()), "count": rooms.count(self.room)})
        rooms.dispatch(self.room, lambda pid, _: send(pid, frame))


class Dashboard(Handler):
    """Every second, live server figures: connections and messages per second.

    Served over WebSocket (``/dashboard``: each tick a text frame of JSON)
    and over Server-Sent Events (``/events/dashboard``: each tick an event
    named ``tick``, numbered so that a reconnecting browser's
    ``Last-Event-ID`` says how many it had). One handler: an
    :class:`~actorsock.Event` is plain text over WebSocket.
    """

    ping_interval = 20.0
    statistics: Any = None  # set by the demo app: a callable returning ServerStatistics

    async def init(self, request: Any) -> None:
        last = request.header("last-event-id") or ""
        self.sequence = int(last) if last.isdigit() else 0

    async def websocket_init(self) -> None:
        registry.register("dashboards")
        self.previous: ServerStatistics | None = None
        self.send_interval(1.0, "tick")

    async def websocket_info(self, message: Any) -> Event | None:
        if message != "tick" or Dashboard.statistics is None:
            return None
        now: ServerStatistics = Dashboard.statistics()
        before = self.previous or now
        self.previous = now
        self.sequence += 1
        text = _encode(
            {
                "event": "tick",
                "connections": now.connections,
                "dashboards": registry.count("dashboards"),
                "messages_in_per_s": now.messages_in - before.messages_in,
                "messages_out_per_s": now.messages_out - before.messages_out,
                "messages_in": now.messages_in,
                "messages_out": now.messages_out,
            }
        ).text
        return Event(text, event="tick", id=str(self.sequence))


def _encode(value: dict[str, Any]) -> Text:
    return Text(json.dumps(value, separators=(",", ":")))
