"""The exceptions actorsock raises.

Every error the library raises on purpose derives from :class:`ActorsockError`::

    ActorsockError
    ├── ConfigError            a bad option: names the key and where it came from
    ├── RouteError             a route pattern that cannot be compiled
    ├── NotInActorError        an actor-only call (self_pid, register...) made elsewhere
    ├── DeadPidError           an operation that needs a live pid got a dead one
    ├── ListenError            the server cannot listen on its address (port taken...)
    ├── RegistryError
    │   └── AlreadyRegisteredError   a unique key is already held by another pid
    └── SupervisorError        a supervisor gave up (restart intensity reached)

Faults of the remote side (a malformed handshake, a protocol violation) are not
raised at users: they end the connection with the right HTTP status or close
code and show up as a typed terminate reason (see :mod:`actorsock.core.reasons`).
"""

from __future__ import annotations

from typing import Any


class ActorsockError(Exception):
    """Root of every exception raised by actorsock."""


class ConfigError(ActorsockError):
    """A configuration value is unknown or invalid.

    Attributes:
        key: The dotted option name, such as ``"server.port"``.
        source: Where the value came from: a file path, an environment
            variable name or ``"command line"``.
    """

    def __init__(self, key: str, source: str, message: str) -> None:
        super().__init__(f"{source}: {key}: {message}")
        self.key = key
        self.source = source


class RouteError(ActorsockError):
    """A route pattern is malformed (for example an unclosed ``{param``)."""


class NotInActorError(ActorsockError):
    """An operation that acts on the current actor was called outside of one."""


class DeadPidError(ActorsockError):
    """An operation that needs a live process was given a pid that has ended."""


class ListenError(ActorsockError):
    """The server could not open its listening socket.

    Attributes:
        host: The address asked for.
        port: The port asked for.
        reason: The system's words (``address already in use``...).
    """

    def __init__(self, host: str, port: int, reason: str) -> None:
        hint = " (is another server running? choose another with --port)"
        super().__init__(f"cannot listen on {host}:{port}: {reason}{hint}")
        self.host = host
        self.port = port
        self.reason = reason


class RegistryError(ActorsockError):
    """Base class for registry errors."""


class AlreadyRegisteredError(RegistryError):
    """A unique registry key is already held by another live pid.

    Attributes:
        key: The key that was asked for.
        holder: The pid that holds it.
    """

    def __init__(self, key: Any, holder: Any) -> None:
        super().__init__(f"key {key!r} is already registered by {holder!r}")
        self.key = key
        self.holder = holder


class SupervisorError(ActorsockError):
    """A supervisor exceeded its restart intensity and gave up.

    The supervisor stops its remaining children and raises this to its parent,
    as an Elixir supervisor exits with ``:shutdown`` after too many restarts.
    """
