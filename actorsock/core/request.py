"""The HTTP request a handler's ``init`` sees, and what ``init`` may answer.

``init(request)`` runs before the WebSocket upgrade. It returns ``None`` (or
:class:`Accept`) to go on, :class:`Accept` with a subprotocol or extra
response headers, or :class:`Reject` to answer with a plain HTTP response and
never upgrade (the connection then ends with reason ``Normal``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "HTTP_TOKEN",
    "Accept",
    "Reject",
    "Request",
    "Response",
    "StreamingResponse",
    "check_headers",
    "split_target",
]

#: RFC 9110 section 5.6.2: ``token = 1*tchar`` (a header name, a list item).
HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# RFC 9110 section 5.5, in ASCII: visible characters with spaces and tabs
# inside, none at either end (the HTTP engine refuses them there).
_FIELD_VALUE = re.compile(r"(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?\Z")


def check_headers(headers: Iterable[tuple[str, str]], owner: str) -> None:
    """Refuse response headers HTTP cannot carry, where the handler made them.

    Checked when an :class:`Accept`, :class:`Reject`, :class:`Response` or
    :class:`StreamingResponse` is made, so the error names the handler's
    own line, not a write long after (a line break in a value would
    otherwise be a header injected into the response).

    Raises:
        ValueError: For a name that is not a token, or a value with a
            control character, a line break, a non-ASCII character, or a
            space at either end.
    """
    for name, value in headers:
        if not isinstance(name, str) or HTTP_TOKEN.match(name) is None:
            raise ValueError(f"{owner}: header name {name!r} is not an HTTP token")
        if not isinstance(value, str) or _FIELD_VALUE.match(value) is None:
            raise ValueError(
                f"{owner}: the value of header {name!r} cannot be sent ({value!r}): "
                "printable ASCII only, no line break, no space at either end"
            )


def split_target(target: str) -> tuple[str, str] | None:
    """Split a request target into ``(path, query_string)``.

    Accepts the origin form (``/rooms/1?x=2``) and the absolute form
    (``http://host:port/rooms/1?x=2``, which RFC 9112 section 3.2.2 says a
    server must accept); an absolute URI without a path means ``/``.

    Returns:
        None for any other form (``*``, ``host:port``), which no route serves.
    """
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return path, query
    if "://" not in target:
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https", "ws", "wss") or not parts.netloc:
        return None
    return parts.path or "/", parts.query


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request head, as parsed by the server's front.

    Attributes:
        method: ``"GET"``, ``"POST"``...
        path: The path without the query string, as sent (not decoded).
        query_string: The raw query string, without ``?``.
        headers: ``(name, value)`` pairs in order; names are lower-case.
        remote: ``(host, port)`` of the client, when known.
        path_params: Decoded values of the route's ``{name}`` segments.
        route: The route pattern that matched, such as ``"/rooms/{room}"``.
        http_version: ``"1.1"`` or ``"1.0"``.
        body: The request body, read whole before an HTTP endpoint runs
            (bounded by ``server.max_body_size``); empty for WebSocket upgrades.
    """

    method: str
    path: str
    query_string: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    remote: tuple[str, int] | None = None
    path_params: Mapping[str, str] = field(default_factory=dict)
    route: str = ""
    http_version: str = "1.1"
    body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of header ``name`` (case-insensitive)."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def header_all(self, name: str) -> list[str]:
        """Return every value of header ``name`` in order."""
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def query(self) -> dict[str, str]:
        """Query parameters, decoded; for a repeated name the last value wins."""
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies from the ``Cookie`` headers; malformed ones are ignored."""
        jar: SimpleCookie = SimpleCookie()
        for value in self.header_all("cookie"):
            try:
                jar.load(value)
            except CookieError:
                continue
        return {name: morsel.value for name, morsel in jar.items()}

    @property
    def subprotocols(self) -> tuple[str, ...]:
        """The subprotocols the client offered, in its order of preference."""
        offered: list[str] = []
        for value in self.header_all("sec-websocket-protocol"):
            offered.extend(token.strip() for token in value.split(",") if token.strip())
        return tuple(offered)

    @property
    def origin(self) -> str | None:
        """The ``Origin`` header, if the client sent one."""
        return self.header("origin")


@dataclass(frozen=True, slots=True)
class Accept:
    """Go on with the upgrade.

    Attributes:
        subprotocol: One of ``request.subprotocols`` to confirm, or None.
        headers: Extra ``(name, value)`` response headers for the 101 reply.
    """

    subprotocol: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_headers(self.headers, "Accept")


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the upgrade with a plain HTTP response.

    Attributes:
        status: An HTTP status code from 400 to 599.
        body: Response body (``str`` is sent as UTF-8 text).
        headers: Extra ``(name, value)`` response headers.
    """

    status: int = 403
    body: str | bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"a rejection needs a 4xx or 5xx status, not {self.status}")
        check_headers(self.headers, "Reject")


@dataclass(frozen=True, slots=True)
class Response:
    """A plain HTTP response, returned by HTTP endpoints (``App(http_routes=...)``).

    Attributes:
        status: The status code.
        body: The body (``str`` is sent as UTF-8).
        content_type: The ``Content-Type`` header.
        headers: Extra ``(name, value)`` headers.
    """

    status: int = 200
    body: str | bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_headers((("content-type", self.content_type), *self.headers), "Response")


@dataclass(frozen=True, slots=True)
class StreamingResponse:
    """An HTTP response whose body is written while it is produced.

    The server sends the head at once, then each item of ``body`` as it comes
    (``str`` as UTF-8), chunked on HTTP/1.1, waiting for the client to take
    each one (backpressure). If the client goes away the iteration stops and
    ``body`` is closed (``aclose()``, so an async generator's ``finally``
    runs). A ``HEAD`` request gets the head only.

    Attributes:
        body: What to send, piece by piece.
        status: The status code.
        content_type: The ``Content-Type`` header.
        headers: Extra ``(name, value)`` headers.
    """

    body: AsyncIterable[bytes | str]
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_headers((("content-type", self.content_type), *self.headers), "StreamingResponse")
