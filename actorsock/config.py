"""Configuration: built-in defaults < config file < environment < command line.

Every option has a dotted name, ``section.key``. The file is TOML
(``config/actorsock.toml`` documents every option with its default); an
environment variable is ``ACTORSOCK_<SECTION>_<KEY>`` in capitals (for example
``ACTORSOCK_SERVER_PORT=9000``); the command line passes explicit values.

A value of the wrong type, out of range, or an unknown key in a file raises
:class:`~actorsock.errors.ConfigError` naming the key and its source; the CLI
prints it and exits with status 2. An environment variable that starts with
``ACTORSOCK_`` but names no option is only warned about (once, with the
closest option): deployments set such variables for their own scripts.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core.mailbox import Overflow
from .core.options import ConnectionOptions, EventStreamOptions, LongPollOptions
from .core.send_queue import SendPolicy
from .errors import ConfigError

__all__ = [
    "Config",
    "ConfigWarning",
    "LogConfig",
    "LongPollConfig",
    "ServerConfig",
    "SseConfig",
    "WebSocketConfig",
    "load_config",
]

ENV_PREFIX = "ACTORSOCK_"
ENV_CONFIG_FILE = "ACTORSOCK_CONFIG"


class ConfigWarning(UserWarning):
    """A configuration source says something actorsock ignores (see :func:`load_config`)."""


@dataclass(frozen=True)
class ServerConfig:
    """The ``[server]`` section; see ``config/actorsock.toml``."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_connections: int = 0
    max_handshakes: int = 0
    max_incomplete_bytes: int = 256 << 20
    handshake_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_body_size: int = 1 << 20
    drain_timeout: float = 10.0
    max_head_size: int = 16384
    allowed_origins: tuple[str, ...] = ()
    tls_cert: str = ""
    tls_key: str = ""
    gc_full_collection_threshold: int = 50


#: The ``[websocket]`` section (see ``config/actorsock.toml``): the connection
#: defaults, defined once in :mod:`actorsock.core.options`.
WebSocketConfig = ConnectionOptions


#: The ``[sse]`` section (see ``config/actorsock.toml``): Server-Sent Events streams.
SseConfig = EventStreamOptions

#: The ``[long_poll]`` section (see ``config/actorsock.toml``): long-poll sessions.
LongPollConfig = LongPollOptions


@dataclass(frozen=True)
class LogConfig:
    """The ``[log]`` section; see ``config/actorsock.toml``."""

    format: str = "auto"
    level: str = "info"


@dataclass(frozen=True)
class Config:
    """All options. ``Config()`` holds the built-in defaults."""

    server: ServerConfig = field(default_factory=ServerConfig)
    websocket: WebSocketConfig = field(default_factory=WebSocketConfig)
    sse: SseConfig = field(default_factory=SseConfig)
    long_poll: LongPollConfig = field(default_factory=LongPollConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def replace(self, **dotted: Any) -> Config:
        """Return a copy with options changed, given as ``server__port=0`` keywords."""
        values = {key.replace("__", "."): value for key, value in dotted.items()}
        return _apply(self, values, "code")


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "must be between 0 and 65535"


def _choice(*choices: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _not_negative(value: float) -> str | None:
    return None if value >= 0 else "must be 0 or more"


# Extra checks beyond the type of each option.
_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "server.port": _port,
    "server.max_connections": _not_negative,
    "server.max_handshakes": _not_negative,
    "server.max_incomplete_bytes": _positive,
    "server.handshake_timeout": _positive,
    "server.keep_alive_timeout": _positive,
    "server.max_body_size": _positive,
    "server.drain_timeout": _not_negative,
    "server.max_head_size": _positive,
    "server.gc_full_collection_threshold": _not_negative,
    "websocket.idle_timeout": _positive,
    "websocket.ping_interval": _not_negative,
    "websocket.max_message_size": _positive,
    "websocket.mailbox_size": _positive,
    "websocket.overflow": _choice(*Overflow),
    "websocket.close_timeout": _positive,
    "websocket.send_queue_bytes": _positive,
    "websocket.send_queue_messages": _positive,
    "websocket.send_overflow": _choice(*SendPolicy),
    "sse.heartbeat_interval": _not_negative,
    "long_poll.poll_timeout": _positive,
    "long_poll.session_timeout": _positive,
    "log.format": _choice("auto", "console", "json"),
    "log.level": _choice("debug", "info", "warning", "error"),
}


def _option_types(config: Config) -> dict[str, type]:
    types: dict[str, type] = {}
    for section in dataclasses.fields(config):
        for option in dataclasses.fields(getattr(config, section.name)):
            default = getattr(getattr(config, section.name), option.name)
            types[f"{section.name}.{option.name}"] = type(default)
    return types


def _coerce(key: str, kind: type, value: Any, source: str, from_text: bool) -> Any:
    """Check ``value`` against the option's type, converting environment text."""
    try:
        if from_text:
            if kind is tuple:
                value = tuple(item.strip() for item in value.split(",") if item.strip())
            elif kind is bool:
                value = {"1": True, "true": True, "0": False, "false": False}[value.lower()]
            else:
                value = kind(value)
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif kind is tuple and isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise TypeError
            value = tuple(value)
        if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
            raise TypeError
    except (TypeError, ValueError, KeyError):
        expected = {
            tuple: "a list of strings",
            int: "an integer",
            float: "a number",
            str: "a string",
            bool: "true or false",
        }.get(kind, kind.__name__)
        raise ConfigError(key, source, f"expected {expected}, got {value!r}") from None
    problem = _CHECKS.get(key, lambda _: None)(value)
    if problem:
        raise ConfigError(key, source, f"{problem} (got {value!r})")
    return value


def _apply(
    config: Config, values: Mapping[str, Any], source: str, from_text: bool = False
) -> Config:
    types = _option_types(config)
    sections: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if key not in types:
            raise ConfigError(key, source, f"unknown option (known: {', '.join(sorted(types))})")
        section, option = key.split(".", 1)
        sections.setdefault(section, {})[option] = _coerce(
            key, types[key], value, source, from_text
        )
    changes = {
        name: dataclasses.replace(getattr(config, name), **options)
        for name, options in sections.items()
    }
    return dataclasses.replace(config, **changes)


def _read_file(path: Path, named_by: str) -> dict[str, Any]:
    source = str(path)
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(named_by, source, "file not found") from None
    except OSError as exc:
        raise ConfigError(named_by, source, f"cannot read the file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(syntax)", source, str(exc)) from None
    flat: dict[str, Any] = {}
    for section, options in document.items():
        if not isinstance(options, dict):
            raise ConfigError(section, source, "expected a [section] table")
        for option, value in options.items():
            flat[f"{section}.{option}"] = value
    return flat


def _env_name(key: str) -> str:
    return ENV_PREFIX + key.replace(".", "_").upper()


def _read_env(
    env: Mapping[str, str], types: Mapping[str, type], warn: Callable[[str], None]
) -> dict[str, str]:
    by_name = {_env_name(key): key for key in types}
    values: dict[str, str] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_FILE:
            continue
        if name not in by_name:
            closest = difflib.get_close_matches(name, [*by_name, ENV_CONFIG_FILE], n=1)
            hint = f"; did you mean {closest[0]}?" if closest else ""
            warn(f"ignoring environment variable {name}: it is not an actorsock option{hint}")
            continue
        values[by_name[name]] = value
    return values


def _warn(message: str) -> None:
    warnings.warn(message, ConfigWarning, stacklevel=3)


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    warn: Callable[[str], None] = _warn,
) -> Config:
    """Build the configuration from every source, in precedence order.

    Args:
        path: A TOML file; defaults to ``$ACTORSOCK_CONFIG`` when set, else none.
        env: The environment (``os.environ`` by default).
        overrides: Dotted keys from the command line, such as ``{"server.port": 0}``;
            None values are ignored.
        warn: Told, once each, about what is ignored (an ``ACTORSOCK_``
            variable that is no option); by default a :class:`ConfigWarning`.

    Raises:
        ConfigError: Naming the key and where it came from (for a missing
            file: ``--config`` or ``ACTORSOCK_CONFIG``, whichever named it).
    """
    env = os.environ if env is None else env
    config = Config()
    if path is not None:
        file, named_by = path, "--config"
    else:
        file, named_by = env.get(ENV_CONFIG_FILE, ""), ENV_CONFIG_FILE
    if file:
        config = _apply(config, _read_file(Path(file), named_by), str(file))
    types = _option_types(config)
    for key, value in _read_env(env, types, warn).items():
        config = _apply(config, {key: value}, f"environment {_env_name(key)}", from_text=True)
    if overrides:
        given = {key: value for key, value in overrides.items() if value is not None}
        config = _apply(config, given, "command line")
    return config
