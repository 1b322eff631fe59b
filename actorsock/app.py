"""The application: services assembled into the supervision tree that serves them.

The tree an :class:`App` runs (children start top to bottom, stop bottom up)::

    app (one_for_one)
    ├── workers (one_for_one)       your children: Actors, tasks, supervisors
    ├── pubsub (transient)          the pubsub adapter's own life (Adapter.serve)
    ├── connections                 one temporary process per client session
    ├── listener:main               accepts TCP (or TLS) for the App's own routes
    └── listener:<name> ...         one per extra Listener, with its own routes

So the adapter is connected before anything listens; on shutdown the
listeners stop accepting first, then sessions close (1001 for WebSocket)
within ``drain_timeout``, then the adapter and your workers stop. The loop's
timers (``send_after``/``send_interval``) run for the whole trio run.

Using it::

    app = App(routes={"/echo": Echo, "/rooms/{room}": Room},
              children=[Ticker],
              listeners=[Listener("admin", port=9100, http_routes={"/stats": stats})])
    app.run(load_config(overrides={"server.port": 8080}))  # blocks; SIGINT/SIGTERM stop it
"""

from __future__ import annotations

import functools
import json
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import trio

from .collector import tune_collector
from .config import Config
from .core.admission import Admission, AdmissionStatistics
from .core.budget import ByteBudget
from .core.handler import Actor, Handler
from .core.process import Pid
from .core.request import Request, Response
from .errors import ConfigError, ListenError
from .listeners import Listener, ListenerRoutes
from .logging import configure_logging, get_logger
from .pubsub import PubSub, default_pubsub
from .runtime.connections import (
    DESCRIPTOR_RESERVE,
    ConnectionSupervisor,
    descriptor_limit,
    max_connections_for,
)
from .runtime.loop import current_loop
from .runtime.session import SessionServices
from .runtime.stats import ConnectionStatistics, Counters, ServerStatistics
from .runtime.supervisor import ChildSpec, Supervisor
from .transports.endpoints import Endpoints, HttpTarget
from .transports.event_stream import serve_event_stream
from .transports.front import Front
from .transports.listener import bound_ports, make_ssl_context, open_listeners, serve_listeners
from .transports.long_poll import LongPollSessions
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
        listeners: More listening addresses, each with its own routes (see
            :class:`~actorsock.listeners.Listener`); the arguments above make
            the ``main`` one, on ``server.host`` and ``server.port``.
        children: Workers to supervise: Actor subclasses, ChildSpecs or
            Supervisors, started before the listeners.
        pubsub: The topics this App supervises the adapter of (the default
            ``actorsock.default_pubsub``).
        name: For logs.

    Raises:
        TypeError: If a route's target is not a Handler subclass.
        RouteError: For a malformed or duplicate route (an SSE route and an
            HTTP route on one pattern included).
        ValueError: For two listeners of one name.
    """

    def __init__(
        self,
        routes: Mapping[str, type[Handler]] | None = None,
        *,
        http_routes: Mapping[str, HttpTarget] | None = None,
        sse_routes: Mapping[str, type[Handler]] | None = None,
        long_poll_routes: Mapping[str, type[Handler]] | None = None,
        listeners: Sequence[Listener] = (),
        children: Sequence[ChildSpec | type[Actor] | Supervisor] = (),
        pubsub: PubSub | None = None,
        name: str = "actorsock",
    ) -> None:
        self.name = name
        main = Listener(
            "main",
            routes=routes or {},
            http_routes=http_routes or {},
            sse_routes=sse_routes or {},
            long_poll_routes=long_poll_routes or {},
        )
        self.listeners = [main, *listeners]
        names = [listener.name for listener in self.listeners]
        if len(set(names)) != len(names):
            raise ValueError(f"listener names must be unique, got {names}")
        self._routes = [
            ListenerRoutes(
                listener,
                healthz=self._healthz,
                event_stream=self._serve_event_stream,
                long_poll_hub=self._long_poll_hub,
            )
            for listener in self.listeners
        ]
        self.children = list(children)
        self.pubsub = pubsub if pubsub is not None else default_pubsub
        self.ports: list[int] = []
        self.listener_ports: dict[str, list[int]] = {}
        self._counters = Counters()
        self._connections: ConnectionSupervisor | None = None
        self._incomplete_budget: ByteBudget | None = None
        self._root: Supervisor | None = None
        self._event_stream_entry: Any = None  # set by serve(), with the config
        self._long_polls: LongPollSessions | None = None  # likewise
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
        services = SessionServices(
            options=ws,  # the [websocket] section is the connection defaults
            counters=self._counters,
            incomplete_budget=budget,
            log=self._log,
            on_start=connections.started,
            on_end=connections.ended,
        )
        # A partial, not a wrapper coroutine: one frame less held per connection.
        on_websocket = functools.partial(
            serve_websocket, services=services, handshake_timeout=server.handshake_timeout
        )
        self._event_stream_entry = functools.partial(
            serve_event_stream, services=services, sse=config.sse
        )
        self._long_polls = LongPollSessions(
            services=services, long_poll=config.long_poll, admission=admission
        )

        endpoints_options = {
            "max_body_size": server.max_body_size,
            "body_timeout": server.handshake_timeout,
            "log": self._log,
        }
        fronts = [
            Front(
                ws_routes=routes.websocket,
                http_routes=Endpoints(routes.http, **endpoints_options),
                on_websocket=on_websocket,
                admission=admission,
                allowed_origins=server.allowed_origins,
                handshake_timeout=server.handshake_timeout,
                keep_alive_timeout=server.keep_alive_timeout,
                max_head_size=server.max_head_size,
                log=self._log,
            )
            for routes in self._routes
        ]
        # Every address is bound before the tree starts, so that a taken port
        # is one clear error (ListenError) rather than a listener child
        # failing in a loop.
        listening: list[tuple[str, list[trio.abc.Listener[trio.abc.Stream]]]] = []
        try:
            for listener in self.listeners:
                host = listener.host if listener.host is not None else server.host
                port = listener.port if listener.port is not None else server.port
                sockets = await _open_listeners(host, port, ssl_context)
                self.listener_ports[listener.name] = bound_ports(sockets)
                listening.append((host, sockets))
        except ListenError:
            for _, sockets in listening:  # the addresses bound before this one
                for bound in sockets:
                    await trio.aclose_forcefully(bound)
            raise
        self.ports = self.listener_ports["main"]

        workers = Supervisor(self.children, name="workers")
        root = Supervisor(
            [
                ChildSpec.supervisor(workers, id="workers"),
                ChildSpec("pubsub", self._run_pubsub, restart="transient", shutdown=5.0),
                ChildSpec(
                    "connections",
                    connections.run,
                    shutdown=server.drain_timeout + ws.close_timeout + 1.0,
                    stop=lambda _: connections.request_shutdown(),
                ),
                *(
                    ChildSpec(
                        f"listener:{listener.name}",
                        self._listen_child(front, host, sockets, listener.name, ssl_context),
                        shutdown=0.0,
                    )
                    for listener, front, (host, sockets) in zip(
                        self.listeners, fronts, listening, strict=True
                    )
                ),
            ],
            name=self.name,
        )
        self._root = root
        secure = ssl_context is not None

        def started(_: object = None) -> None:
            for listener, routes, (host, _sockets) in zip(
                self.listeners, self._routes, listening, strict=True
            ):
                base = _base_url(host, self.listener_ports[listener.name][0], secure)
                self._log.info(
                    "listening",
                    listener=listener.name,
                    url=f"{base}/",
                    ports=self.listener_ports[listener.name],
                    **routes.urls(base),
                    max_connections=max_connections,
                    descriptor_limit=fd_limit,
                )
            task_status.started(self.ports)

        await root.run(task_status=_OnStarted(started))

    def _listen_child(
        self,
        front: Front,
        host: str,
        sockets: list[trio.abc.Listener[trio.abc.Stream]],
        name: str,
        ssl_context: Any,
    ) -> Callable[..., Awaitable[None]]:
        """The start function of one listener's child in the tree."""
        opened = sockets
        port = self.listener_ports[name][0]  # a restarted listener keeps the port it got

        async def listen(
            task_status: trio.TaskStatus[list[int]] = trio.TASK_STATUS_IGNORED,
        ) -> None:
            nonlocal opened
            listeners, opened = opened or await _open_listeners(host, port, ssl_context), []
            task_status.started(self.listener_ports[name])
            assert self._connections is not None
            await serve_listeners(
                front.handle, listeners, handler_nursery=self._connections.nursery, log=self._log
            )

        return listen

    async def _run_pubsub(
        self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The pubsub adapter's life (connecting to its peers...), supervised."""
        self.pubsub.bind(current_loop())
        await self.pubsub.serve(task_status.started)

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

        Blocks until shut down. A second signal cuts the drain short. The
        process is this server's: its garbage collector is set up for many
        long-lived connections (``server.gc_full_collection_threshold``, see
        :mod:`actorsock.collector`).

        Raises:
            ListenError: If the address cannot be listened on.
            ConfigError: If the TLS certificate or key cannot be loaded.
        """
        config = config or Config()
        configure_logging(config.log.format, config.log.level)
        tune_collector(config.server.gc_full_collection_threshold)
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
        main = self._routes[0]
        routes: Mapping[str, Any] = {
            "ws": main.websocket.patterns(),
            "sse": list(main.sse),
            "long_poll": list(main.long_poll),
            "http": main.plain_http,
        }
        others = [listener.name for listener in self.listeners[1:]]
        return f"<App {self.name} {routes}{f' listeners={others}' if others else ''}>"


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
