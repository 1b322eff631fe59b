"""Route patterns with path parameters, such as ``/rooms/{room}``.

A pattern is a path whose segments are either literal text or ``{name}``;
a parameter matches one whole non-empty segment and its percent-decoded text
becomes ``path_params[name]``. Literal routes win over parametrised ones, then
routes are tried in the order they were added.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

from ..errors import RouteError

__all__ = ["Route", "RouteMatch", "Router"]

T = TypeVar("T")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class RouteMatch(Generic[T]):
    """The result of matching a path.

    Attributes:
        target: What the route was registered with (a Handler class, an HTTP
            endpoint...).
        pattern: The matching route pattern.
        params: The decoded path parameters.
    """

    target: T
    pattern: str
    params: dict[str, str]


class Route(Generic[T]):
    """One compiled pattern.

    Raises:
        RouteError: If the pattern does not start with ``/``, has a malformed
            or repeated parameter, or contains braces outside a parameter.
    """

    def __init__(self, pattern: str, target: T) -> None:
        if not pattern.startswith("/"):
            raise RouteError(f"route {pattern!r} must start with '/'")
        names: list[str] = []
        parts: list[str] = []
        position = 0
        for found in _PARAM.finditer(pattern):
            literal = pattern[position : found.start()]
            self._check_literal(pattern, literal)
            parts.append(re.escape(literal))
            name = found.group(1)
            if name in names:
                raise RouteError(f"route {pattern!r} repeats parameter {name!r}")
            names.append(name)
            parts.append(f"(?P<{name}>[^/]+)")
            position = found.end()
        tail = pattern[position:]
        self._check_literal(pattern, tail)
        parts.append(re.escape(tail))
        self.pattern = pattern
        self.target = target
        self.names = tuple(names)
        self._regex = re.compile("".join(parts) + r"\Z")

    @staticmethod
    def _check_literal(pattern: str, literal: str) -> None:
        if "{" in literal or "}" in literal:
            raise RouteError(f"route {pattern!r} has a malformed parameter near {literal!r}")

    def match(self, path: str) -> RouteMatch[T] | None:
        """Match ``path`` (without query string); None if it does not fit."""
        if not self.names:
            return RouteMatch(self.target, self.pattern, {}) if path == self.pattern else None
        found = self._regex.match(path)
        if found is None:
            return None
        params = {name: unquote(value) for name, value in found.groupdict().items()}
        return RouteMatch(self.target, self.pattern, params)


class Router(Generic[T]):
    """An ordered set of routes.

    Args:
        routes: ``{pattern: target}`` pairs, or an iterable of them.
    """

    def __init__(self, routes: dict[str, T] | Iterable[tuple[str, T]] = ()) -> None:
        self._literal: dict[str, Route[T]] = {}
        self._dynamic: list[Route[T]] = []
        items = routes.items() if isinstance(routes, dict) else routes
        for pattern, target in items:
            self.add(pattern, target)

    def add(self, pattern: str, target: T) -> None:
        """Add a route.

        Raises:
            RouteError: For a malformed or duplicate pattern.
        """
        route = Route(pattern, target)
        if pattern in self._literal or any(r.pattern == pattern for r in self._dynamic):
            raise RouteError(f"route {pattern!r} is defined twice")
        if route.names:
            self._dynamic.append(route)
        else:
            self._literal[pattern] = route

    def match(self, path: str) -> RouteMatch[T] | None:
        """Return the first route matching ``path``, or None."""
        literal = self._literal.get(path)
        if literal is not None:
            return RouteMatch(literal.target, literal.pattern, {})
        for route in self._dynamic:
            found = route.match(path)
            if found is not None:
                return found
        return None

    def patterns(self) -> list[str]:
        """Return every pattern, literal routes first."""
        return [*self._literal, *(route.pattern for route in self._dynamic)]
