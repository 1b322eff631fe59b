"""The ``actorsock`` command: run an app, run the demo, print the version."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from ._version import __version__
from .app import App
from .config import Config, load_config
from .errors import ConfigError, ListenError

__all__ = ["main"]

EXIT_USAGE = 2


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (server.host; default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help="TCP port, 0 for any free one (server.port; default 8080)"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML config file (default: $ACTORSOCK_CONFIG, else none); "
        "see config/actorsock.toml for every option",
    )
    parser.add_argument(
        "--log-format",
        choices=["auto", "console", "json"],
        help="log.format (default auto: console on a terminal, else JSON)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="log.level (default info)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actorsock",
        description="Actor-style WebSocket servers on trio. Settings come from built-in "
        "defaults, then --config FILE, then ACTORSOCK_<SECTION>_<KEY> "
        "environment variables, then these flags.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    run = commands.add_parser(
        "run",
        help="serve an application: actorsock run MODULE:APP",
        description="Import MODULE (from the current directory or "
        "sys.path) and serve its App object APP.",
    )
    run.add_argument("target", metavar="MODULE:APP", help="e.g. examples.broadcast:app")
    _add_server_flags(run)
    demo = commands.add_parser(
        "demo",
        help="serve the built-in demo (echo, rooms, dashboard)",
        description="Serve the demo app; open http://HOST:PORT/ in a browser.",
    )
    _add_server_flags(demo)
    commands.add_parser("version", help="print the version")
    parser.add_argument("--version", action="version", version=f"actorsock {__version__}")
    return parser


def _load_app(target: str) -> App:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected MODULE:APP, got {target!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        app = getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(app, App):
        raise ValueError(f"{target} is {type(app).__name__}, not an actorsock App")
    return app


def _config(args: argparse.Namespace) -> Config:
    overrides: dict[str, Any] = {
        "server.host": args.host,
        "server.port": args.port,
        "log.format": args.log_format,
        "log.level": args.log_level,
    }
    return load_config(args.config, overrides=overrides, warn=_warn)


def _warn(message: str) -> None:
    print(f"actorsock: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"actorsock {__version__}")
        return 0
    try:
        config = _config(args)
        if args.command == "demo":
            from .demo import app
        else:
            app = _load_app(args.target)
    except ConfigError as exc:
        print(f"actorsock: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ImportError, ValueError) as exc:
        print(f"actorsock: cannot load the app: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        app.run(config)
    except ConfigError as exc:
        print(f"actorsock: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ListenError as exc:
        print(f"actorsock: {exc}", file=sys.stderr)
        return 1
    return 0
