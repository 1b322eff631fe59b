"""The application: routes, workers and the supervision tree that serves them.

The tree an :class:`App` runs (children start top to bottom, stop bottom up)::

    app (one_for_one)
    ├── workers (one_for_one)       your children: Actors, tasks, supervisors
    ├── connections                 one temporary process per client connection
    └── listener                    accepts TCP (or TLS) and hands streams to the front

So on shutdown the listener stops accepting first, then connections close
with 1001 within ``drain_timeout``, then your workers stop. The loop's timers
(``send_after``/``send_interval``) run for the whole trio run.

Using it::

    app = App(routes={"/echo": Echo, "/rooms/{room}": Room},
              children=[Ticker])
    app.run(load_config(overrides={"server.port": 8080}))  # blocks; SIGINT/SIGTERM stop it
"""

from __future__ import annotations

import functools
import json
import signal
from collections.abc import Mapping, Sequence
from typing import Any

import trio

from .config import Config
from .core.admission import Admission, AdmissionStatistics
from .core.budget import ByteBudget
from .core.event_stream import CONTENT_TYPE
from .core.handler import Actor, Handler
from .core.methods import MethodTable
from .core.process import Pid
from .core.request import Request, Response
from .core.routes import Router
from .errors import ConfigError, ListenError
from .logging import configure_logging, get_logger
from .runtime.connections import (
    DESCRIPTOR_RESERVE,
    ConnectionSupervisor,
    descriptor_limit,
    max_connections_for,
)
from .runtime.stats import ConnectionStatistics, Counters, ServerStatistics
from .runtime.supervisor import ChildSpec, Supervisor
from .transports.endpoints import Endpoints, HttpEndpoint, HttpTarget, SessionRoute
from .transports.event_stream import serve_event_stream
from .transports.front import Front
from .transports.listener import bound_ports, make_ssl_context, open_listeners, serve_listeners
from .transports.long_poll import LongPollSessions, json_routes
from .transports.websocket_route import serve_websocket

__all__ = ["App"]


class _OnStarted:
    """A task status that calls a function when the supervisor reports it started."""

    def __init__(self, callback: Any) -> None:
        self.started = callback


class App:
    """A WebSocket (and small HTTP) application.

    Args:
        routes: URL patterns → :class:`~actorsock.core.handler.Handler`
            subclasses served over WebSocket, e.g. ``{"/rooms/{room}": Room}``.
        http_routes: URL patterns → ``async endpoint(request)`` returning a
            ``Response`` or ``StreamingResponse`` (a bare endpoint answers
            GET and HEAD), or → ``{"GET": show, "POST": add}``.
            ``/healthz`` is added unless given.
        sse_routes: URL patterns → Handler subclasses served over
            Server-Sent Events to a GET (see
            :mod:`actorsock.transports.event_stream`); a handler may be
            served over both.
        long_poll_routes: URL patterns → Handler subclasses served as
            long-poll sessions over the plain JSON wire of
            :func:`actorsock.transports.long_poll.json_routes` (``POST``
            the pattern to open; poll, post and close at ``pattern/{token}``).
        children: Workers to supervise: Actor subclasses, ChildSpecs or
            Supervisors, started before the listener.
        name: For logs.

    Raises:
        TypeError: If a route's target is not a Handler subclass.
        RouteError: For a malformed or duplicate route (an SSE route and an
            HTTP route on one pattern included).
    """

    def __init__(
        self,
        routes: Mapping[str, type[Handler]] | None = None,
        *,
        http_routes: Mapping[str, HttpTarget] | None = None,
        sse_routes: Mapping[str, type[Handler]] | None = None,
        long_poll_routes: Mapping[str, type[Handler]] | None = None,
        children: Sequence[ChildSpec | type[Actor] | Supervisor] = (),
        name: str = "actorsock",
    ) -> None:
        routes = _handler_routes(routes)
        self.name = name
        self.ws_routes: Router[type[Handler]] = Router(routes)
        endpoints: dict[str, HttpTarget] = dict(http_routes or {})
        endpoints.setdefault("/healthz", self._healthz)
        self.http_routes: Router[MethodTable[HttpEndpoint | SessionRoute]] = Router()
        for pattern, target in endpoints.items():
            self.http_routes.add(pattern, MethodTable[HttpEndpoint | SessionRoute](target))
        self.sse_routes = _handler_routes(sse_routes)
        for pattern, handler in self.sse_routes.items():
            route = SessionRoute(handler, self._serve_event_stream, CONTENT_TYPE)
            self.http_routes.add(pattern, MethodTable[HttpEndpoint | SessionRoute](route))
        self.children = list(children)
        self.ports: list[int] = []
        self._counters = Counters()
        self._connections: ConnectionSupervisor | None = None
        self._incomplete_budget: ByteBudget | None = None
        self._root: Supervisor | None = None
        self._event_stream_entry: Any = None  # set by serve(), with the config
        self._long_polls: LongPollSessions | None = None  # likewise
        self.long_poll_routes = _handler_routes(long_poll_routes)
        self._plain_http = set(endpoints)
        for pattern, handler in self.long_poll_routes.items():
            for wire_route, methods in json_routes(pattern, handler, self._long_poll_hub).items():
                self.http_routes.add(wire_route, MethodTable[HttpEndpoint | SessionRoute](methods))
        self._log = get_logger(app=name)

    # -- running ---------------------------------------------------------

    async def serve(
        self,
        config: Config | None = None,
        *,
        task_status: trio.TaskStatus[list[int]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the application until :meth:`shutdown` completes.

        Args:
            config: Options; built-in defaults when None.
            task_status: Receives the bound ports once listening (use
                ``await nursery.start(app.serve, config)``).

        Raises:
            SupervisorError: If a part of the tree gave up.
            ConfigError: If the TLS certificate or key cannot be loaded.
            ListenError: If the address cannot be listened on (port taken...).
        """
        config = config or Config()
        server, ws = config.server, config.websocket
        ssl_context = make_ssl_context(server.tls_cert, server.tls_key) if server.tls_cert else None
        fd_limit = descriptor_limit()
        max_connections = max_connections_for(server.max_connections, fd_limit)
        if max_connections > fd_limit - DESCRIPTOR_RESERVE:
            self._log.warning(
                "server.max_connections is above what the descriptor limit allows",
                max_connections=max_connections,
                descriptor_limit=fd_limit,
                hint="raise the limit (ulimit -n) or lower server.max_connections",
            )
        admission = Admission(max_connections, server.max_handshakes)
        connections = ConnectionSupervisor(admission, server.drain_timeout)
        self._connections = connections

        budget = self._incomplete_budget = ByteBudget(server.max_incomplete_bytes)
        # A partial, not a wrapper coroutine: one frame less held per connection.
        on_websocket = functools.partial(
            serve_websocket,
            options=ws,  # the [websocket] section is the connection defaults
            handshake_timeout=server.handshake_timeout,
            counters=self._counters,
            incomplete_budget=budget,
            log=self._log,
            on_start=connections.started,
            on_end=connections.ended,
        )

        self._event_stream_entry = functools.partial(
            serve_event_stream,
            options=ws,
            sse=config.sse,
            counters=self._counters,
            incomplete_budget=budget,
            log=self._log,
            on_start=connections.started,
            on_end=connections.ended,
        )

        self._long_polls = LongPollSessions(
            options=ws,
            long_poll=config.long_poll,
            admission=admission,
            counters=self._counters,
            incomplete_budget=budget,
            log=self._log,
            on_start=connections.started,
            on_end=connections.ended,
        )

        front = Front(
            ws_routes=self.ws_routes,
            http_routes=Endpoints(
                self.http_routes,
                max_body_size=server.max_body_size,
                body_timeout=server.handshake_timeout,
                log=self._log,
            ),
            on_websocket=on_websocket,
            admission=admission,
            allowed_origins=server.allowed_origins,
            handshake_timeout=server.handshake_timeout,
            keep_alive_timeout=server.keep_alive_timeout,
            max_head_size=server.max_head_size,
            log=self._log,
        )
        # Bound before the tree starts, so that a taken port is one clear
        # error (ListenError) rather than a listener child failing in a loop.
        opened = await _open_listeners(server.host, server.port, ssl_context)
        self.ports = bound_ports(opened)
        port = self.ports[0]  # a restarted listener keeps the port it got

        async def listen(
            task_status: trio.TaskStatus[list[int]] = trio.TASK_STATUS_IGNORED,
        ) -> None:
            nonlocal opened
            listeners, opened = opened or await _open_listeners(server.host, port, ssl_context), []
            task_status.started(self.ports)
            await serve_listeners(
                front.handle, listeners, handler_nursery=connections.nursery, log=self._log
            )

        workers = Supervisor(self.children, name="workers")
        root = Supervisor(
            [
                ChildSpec.supervisor(workers, id="workers"),
                ChildSpec(
                    "connections",
                    connections.run,
                    shutdown=server.drain_timeout + ws.close_timeout + 1.0,
                    stop=lambda _: connections.request_shutdown(),
                ),
                ChildSpec("listener", listen, shutdown=0.0),
            ],
            name=self.name,
        )
        self._root = root
        secure = ssl_context is not None

        def started(_: object = None) -> None:
            base = _base_url(server.host, self.ports[0], secure)
            self._log.info(
                "listening",
                url=f"{base}/",
                ports=self.ports,
                websocket_routes=[_ws_url(base) + route for route in self.ws_routes.patterns()],
                http_routes=sorted(self._plain_http),
                sse_routes=[f"{base}{route}" for route in self.sse_routes],
                long_poll_routes=[f"{base}{route}" for route in self.long_poll_routes],
                max_connections=max_connections,
                descriptor_limit=fd_limit,
            )
            task_status.started(self.ports)

        await root.run(task_status=_OnStarted(started))

    def _long_poll_hub(self) -> tuple[LongPollSessions, trio.Nursery]:
        if self._long_polls is None or self._connections is None:
            raise RuntimeError("the app is not serving")
        return self._long_polls, self._connections.nursery

    async def _serve_event_stream(
        self, stream: trio.abc.Stream, parser: Any, request: Request, handler: type[Handler]
    ) -> None:
        await self._event_stream_entry(stream, parser, request, handler)

    def request_shutdown(self) -> None:
        """Begin a graceful shutdown (returns at once)."""
        if self._root is not None:
            self._root.request_shutdown()

    async def shutdown(self) -> None:
        """Shut down gracefully and wait until everything has stopped."""
        if self._root is not None:
            await self._root.shutdown()

    def run(self, config: Config | None = None) -> None:
        """Configure logging, serve, and stop gracefully on SIGINT or SIGTERM.

        Blocks until shut down. A second signal cuts the drain short.

        Raises:
            ListenError: If the address cannot be listened on.
            ConfigError: If the TLS certificate or key cannot be loaded.
        """
        config = config or Config()
        configure_logging(config.log.format, config.log.level)
        try:
            trio.run(self._main, config)
        except* (ListenError, ConfigError) as group:
            # Raised before anything runs: the error itself, not its group.
            raise group.exceptions[0] from None

    async def _main(self, config: Config) -> None:
        with (
            trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
            trio.CancelScope() as everything,
        ):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_signals, signals, everything)
                await self.serve(config)
                nursery.cancel_scope.cancel()
        self._log.info("stopped")

    async def _watch_signals(self, signals: Any, everything: trio.CancelScope) -> None:
        count = 0
        async for signum in signals:
            count += 1
            if count == 1:
                self._log.info("shutting down", signal=signal.Signals(signum).name)
                self.request_shutdown()
            else:
                self._log.warning("second signal; stopping now")
                everything.cancel()

    # -- introspection ---------------------------------------------------

    def statistics(self) -> ServerStatistics:
        """Counters of this server (connections, messages and bytes, drops...)."""
        live = self._connections.statistics() if self._connections else []
        held = self._incomplete_budget.used if self._incomplete_budget else 0
        return self._counters.snapshot(live, held)

    def connection_statistics(self) -> list[ConnectionStatistics]:
        """Counters of each open connection (queue depth, bytes out, drops...)."""
        return self._connections.statistics() if self._connections else []

    def connections(self) -> list[Pid]:
        """Pids of the open connections."""
        return self._connections.pids() if self._connections else []

    async def _healthz(self, request: Request) -> Response:
        body = json.dumps({"status": "ok", "connections": self._counters.connections})
        return Response(200, body + "\n", content_type="application/json")

    def admission_statistics(self) -> AdmissionStatistics | None:
        """Connection slots, handshakes waiting, evictions and refusals (None before serving)."""
        connections = self._connections
        return connections.admission.statistics() if connections is not None else None

    def __repr__(self) -> str:
        routes: Mapping[str, Any] = {
            "ws": self.ws_routes.patterns(),
            "sse": list(self.sse_routes),
            "long_poll": list(self.long_poll_routes),
            "http": sorted(self._plain_http),
        }
        return f"<App {self.name} {routes}>"


def _handler_routes(routes: Mapping[str, type[Handler]] | None) -> dict[str, type[Handler]]:
    """``routes`` as a dict, each target checked to be a Handler subclass."""
    checked = dict(routes or {})
    for pattern, target in checked.items():
        if not (isinstance(target, type) and issubclass(target, Handler)):
            raise TypeError(f"route {pattern!r} must map to a Handler subclass, not {target!r}")
    return checked


def _base_url(host: str, port: int, secure: bool) -> str:
    """The URL a person opens for ``host:port`` (a wildcard host reads as loopback)."""
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"{'https' if secure else 'http'}://{shown}:{port}"


def _ws_url(base: str) -> str:
    return "ws" + base.removeprefix("http")


async def _open_listeners(
    host: str, port: int, ssl_context: Any
) -> list[trio.abc.Listener[trio.abc.Stream]]:
    try:
        return await open_listeners(host, port, ssl_context)
    except OSError as exc:
        raise ListenError(host, port, (exc.strerror or str(exc)).lower()) from exc
