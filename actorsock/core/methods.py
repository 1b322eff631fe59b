"""Which endpoint of an HTTP route answers which method, free of I/O.

An HTTP route maps methods to endpoints: ``{"GET": show, "POST": add}``. A
bare endpoint is ``{"GET": endpoint}``. ``HEAD`` is answered by the ``GET``
endpoint without its body unless the route names it; ``OPTIONS`` is answered
with the ``Allow`` list unless the route names it. Any other method gets 405
with that ``Allow`` list (RFC 9110 section 15.5.6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["MethodTable", "Pick"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pick(Generic[T]):
    """What serves one request.

    Attributes:
        endpoint: The endpoint, or None for an automatic ``OPTIONS``.
        head_only: Send the response without its body (``HEAD``).
    """

    endpoint: T | None
    head_only: bool = False


class MethodTable(Generic[T]):
    """The endpoints of one HTTP route, by method.

    Args:
        target: An endpoint (``GET``), or a mapping of methods to endpoints.

    Raises:
        ValueError: For an empty mapping or a method name that is not a token
            in capitals (``"get"``, ``"GET "``).
    """

    def __init__(self, target: T | Mapping[str, T]) -> None:
        table = dict(target) if isinstance(target, Mapping) else {"GET": target}
        if not table:
            raise ValueError("an HTTP route needs at least one method")
        for method in table:
            if not (method.isascii() and method.isalpha() and method.isupper()):
                raise ValueError(f"{method!r} is not an HTTP method name (use capitals)")
        self.endpoints = table

    @property
    def allow(self) -> str:
        """The ``Allow`` header: every method served, automatic ones included."""
        methods = set(self.endpoints) | {"OPTIONS"}
        if "GET" in methods:
            methods.add("HEAD")
        return ", ".join(sorted(methods))

    def pick(self, method: str) -> Pick[T] | None:
        """The endpoint for ``method``; None means 405."""
        endpoint = self.endpoints.get(method)
        if endpoint is not None:
            return Pick(endpoint, head_only=method == "HEAD")
        if method == "HEAD" and "GET" in self.endpoints:
            return Pick(self.endpoints["GET"], head_only=True)
        if method == "OPTIONS":
            return Pick(None)
        return None
