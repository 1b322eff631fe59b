"""structlog set-up: human-readable lines on a terminal, JSON lines otherwise.

Every connection logs with its ``pid``, ``route`` and ``remote`` address
(a :class:`ContextLogger`), so its lines can be grepped out of a busy
server's log.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import structlog

__all__ = ["ContextLogger", "configure_logging", "get_logger"]

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure_logging(fmt: str = "auto", level: str = "info", stream: Any = None) -> None:
    """Configure structlog for actorsock and the application.

    Args:
        fmt: ``"console"`` (coloured, for people), ``"json"`` (one object per
            line, for machines) or ``"auto"`` (console when ``stream`` is a
            terminal, JSON otherwise).
        level: ``"debug"``, ``"info"``, ``"warning"`` or ``"error"``.
        stream: Where lines go; standard error by default.
    """
    stream = stream if stream is not None else sys.stderr
    if fmt == "auto":
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer()
        exc_processor: list[Any] = []
    else:
        renderer = structlog.processors.JSONRenderer()
        exc_processor = [structlog.processors.dict_tracebacks]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *exc_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        # One printer for every logger: a lazy logger (not cached, so
        # reconfiguring and structlog.testing.capture_logs reach loggers made
        # before) builds its logger on each call, and a new printer each
        # time would be most of what a filtered-out line costs.
        logger_factory=_shared(structlog.PrintLogger(file=stream)),
        cache_logger_on_first_use=False,
    )


def _shared(printer: structlog.PrintLogger) -> Callable[..., structlog.PrintLogger]:
    return lambda *_args: printer


def get_logger(**context: Any) -> Any:
    """Return a structlog logger carrying ``context``.

    The logger stays lazy until its first use, so loggers made at import time
    follow a :func:`configure_logging` call made later.
    """
    return structlog.get_logger("actorsock", **context)


class ContextLogger:
    """Adds fixed key-value pairs to every line, sent through a shared logger.

    A structlog ``bind()`` per connection would keep a bound logger, a
    ``PrintLogger`` and two bound methods for as long as the connection lives
    (several hundred bytes, and objects the garbage collector walks), for
    thousands of connections that each write two lines. This keeps the
    pairs only; values are rendered when a line is written.

    Args:
        log: The structlog logger lines go through.
        **context: Pairs added to every line (a pair given with the line wins).
    """

    __slots__ = ("_context", "_log")

    def __init__(self, log: Any, **context: Any) -> None:
        self._log = log
        self._context = context

    def debug(self, event: str, **pairs: Any) -> Any:
        return self._log.debug(event, **{**self._context, **pairs})

    def info(self, event: str, **pairs: Any) -> Any:
        return self._log.info(event, **{**self._context, **pairs})

    def warning(self, event: str, **pairs: Any) -> Any:
        return self._log.warning(event, **{**self._context, **pairs})

    def error(self, event: str, **pairs: Any) -> Any:
        return self._log.error(event, **{**self._context, **pairs})

    def exception(self, event: str, **pairs: Any) -> Any:
        return self._log.exception(event, **{**self._context, **pairs})
