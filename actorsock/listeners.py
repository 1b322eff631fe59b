"""Listeners: an address and the routes served there, as an App assembles them.

An :class:`~actorsock.app.App` has a main listener, made of the routes it
is given and ``server.host``/``server.port``, and any number of others
(``App(listeners=[Listener("admin", port=9100, http_routes=...)])``), each a
service of its own in the App's supervision tree, with its own routes, host
and port. Every listener shares the App's connection slots, connection
supervisor, options and counters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .core.event_stream import CONTENT_TYPE
from .core.handler import Handler
from .core.methods import MethodTable
from .core.routes import Router
from .transports.endpoints import HttpEndpoint, HttpTarget, SessionEntry, SessionRoute
from .transports.long_poll import LongPollSessions, json_routes

__all__ = ["Listener", "ListenerRoutes"]

HubFinder = Callable[[], tuple[LongPollSessions, Any]]


@dataclass(frozen=True)
class Listener:
    """A listening address and what it serves.

    Attributes:
        name: Unique among the App's listeners (``"main"`` is the App's own).
        host: The address to bind; None takes ``server.host``.
        port: The port; None takes ``server.port`` (give each extra listener
            its own; 0 picks a free one).
        routes: URL patterns → Handler subclasses served over WebSocket.
        http_routes: URL patterns → HTTP endpoints or method tables.
        sse_routes: URL patterns → Handler subclasses served over Server-Sent Events.
        long_poll_routes: URL patterns → Handler subclasses served as long-poll sessions.
        healthz: Answer ``GET /healthz`` (unless ``http_routes`` has it).
    """

    name: str
    host: str | None = None
    port: int | None = None
    routes: Mapping[str, type[Handler]] = field(default_factory=dict)
    http_routes: Mapping[str, HttpTarget] = field(default_factory=dict)
    sse_routes: Mapping[str, type[Handler]] = field(default_factory=dict)
    long_poll_routes: Mapping[str, type[Handler]] = field(default_factory=dict)
    healthz: bool = True


class ListenerRoutes:
    """A listener's routes, checked and compiled.

    Args:
        listener: The declaration.
        healthz: The ``/healthz`` endpoint to add.
        event_stream: What serves a GET on an SSE route.
        long_poll_hub: Returns the App's long-poll sessions and their nursery.

    Raises:
        TypeError: If a route's target is not a Handler subclass.
        RouteError: For a malformed or duplicate route.
    """

    def __init__(
        self,
        listener: Listener,
        *,
        healthz: HttpEndpoint,
        event_stream: SessionEntry,
        long_poll_hub: HubFinder,
    ) -> None:
        self.listener = listener
        self.websocket: Router[type[Handler]] = Router(handler_routes(listener.routes))
        endpoints: dict[str, HttpTarget] = dict(listener.http_routes)
        if listener.healthz:
            endpoints.setdefault("/healthz", healthz)
        self.plain_http = sorted(endpoints)
        self.sse = handler_routes(listener.sse_routes)
        self.long_poll = handler_routes(listener.long_poll_routes)
        http: Router[MethodTable[HttpEndpoint | SessionRoute]] = Router()
        for pattern, target in endpoints.items():
            http.add(pattern, MethodTable[HttpEndpoint | SessionRoute](target))
        for pattern, handler in self.sse.items():
            route = SessionRoute(handler, event_stream, CONTENT_TYPE)
            http.add(pattern, MethodTable[HttpEndpoint | SessionRoute](route))
        for pattern, handler in self.long_poll.items():
            for wire_route, methods in json_routes(pattern, handler, long_poll_hub).items():
                http.add(wire_route, MethodTable[HttpEndpoint | SessionRoute](methods))
        self.http = http

    def urls(self, base: str) -> dict[str, list[str]]:
        """Every route as a URL under ``base`` (``http://host:port``), for the start line."""
        ws_base = "ws" + base.removeprefix("http")
        return {
            "websocket_routes": [ws_base + route for route in self.websocket.patterns()],
            "http_routes": self.plain_http,
            "sse_routes": [base + route for route in self.sse],
            "long_poll_routes": [base + route for route in self.long_poll],
        }


def handler_routes(routes: Mapping[str, type[Handler]] | None) -> dict[str, type[Handler]]:
    """``routes`` as a dict, each target checked to be a Handler subclass.

    Raises:
        TypeError: For a target that is not a Handler subclass.
    """
    checked = dict(routes or {})
    for pattern, target in checked.items():
        if not (isinstance(target, type) and issubclass(target, Handler)):
            raise TypeError(f"route {pattern!r} must map to a Handler subclass, not {target!r}")
    return checked
