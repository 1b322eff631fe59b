"""Checks on an HTTP request head and a WebSocket opening handshake, free of I/O.

The server's front parses every request head once (with h11) and runs these
checks before anything else reads it. An accepted upgrade is answered by
the same h11 parser with the headers of :func:`switching_headers` (RFC 6455
section 4.2.2); the WebSocket engine that reads frames afterwards never sees
the head.

Any request (RFC 9112 section 3.2, RFC 9110 section 7.2):

====================================================  ======  ==================
request                                                status  extra header
====================================================  ======  ==================
``Host`` not ``host[:port]`` in ASCII, or a bad IDNA   400
====================================================  ======  ==================

A request to a WebSocket route (RFC 6455 section 4.2.1, RFC 9110 section 7.8):

====================================================  ======  ==================
request                                                status  extra header
====================================================  ======  ==================
method other than GET                                  405     Allow: GET
HTTP/1.0                                               400
a body (``Content-Length`` > 0, ``Transfer-Encoding``)  400
no ``websocket`` in ``Upgrade`` (a plain request)      426     Upgrade: websocket
``Upgrade`` or ``Connection`` not a token list         400
``Connection`` without ``upgrade``                     400
no ``Sec-WebSocket-Key``, two, or not 16 base64 bytes  400
two ``Sec-WebSocket-Version`` fields                   400
Sec-WebSocket-Version other than 13                    426     Sec-WebSocket-Version: 13
``Sec-WebSocket-Protocol`` not a token list            400
``Sec-WebSocket-Extensions`` not printable ASCII       400
====================================================  ======  ==================
"""

from __future__ import annotations

import binascii
import hashlib
import re
from base64 import b64decode, b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from .request import HTTP_TOKEN, Request

__all__ = [
    "HttpError",
    "accept_token",
    "check_request",
    "check_upgrade",
    "origin_allowed",
    "switching_headers",
    "valid_host",
    "wants_upgrade",
]

# RFC 3986 3.2.2 reg-name (unreserved / pct-encoded / sub-delims), and IPv4.
_REG_NAME = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*\Z")
# RFC 3986 IP-literal: IPv6 or IPvFuture, checked loosely for the characters.
_IP_LITERAL = re.compile(r"\[[0-9A-Za-z:.\-_~!$&'()*+,;=]+\]\Z")
_PORT = re.compile(r"[0-9]{0,5}\Z")
_PRINTABLE_ASCII = re.compile(r"[\t\x20-\x7e]*\Z")


@dataclass(frozen=True, slots=True)
class HttpError:
    """An HTTP error answer: status, a short text, extra headers."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def _list_items(request: Request, name: str) -> list[str]:
    """The elements of a comma-separated header across all its field lines."""
    return [
        item.strip()
        for value in request.header_all(name)
        for item in value.split(",")
        if item.strip()
    ]


def _is_token(value: str) -> bool:
    return HTTP_TOKEN.match(value) is not None


def _tokens(request: Request, name: str) -> set[str]:
    return {item.lower() for item in _list_items(request, name)}


def valid_host(value: str) -> bool:
    """True if ``value`` is a ``Host`` field value: ``host[:port]`` in ASCII.

    Labels in IDNA's ASCII form (``xn--...``) must decode: an invalid one is
    not a name any client could have meant.
    """
    if not value.isascii():
        return False
    if value.startswith("["):
        host, closed, rest = value.partition("]")
        if not closed:
            return False
        host += "]"
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:]
        if _IP_LITERAL.match(host) is None:
            return False
    else:
        host, _, port = value.rpartition(":") if ":" in value else (value, "", "")
        if _REG_NAME.match(host) is None:
            return False
    if _PORT.match(port) is None or (port and int(port) > 65535):
        return False
    for label in host.lower().split("."):
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                return False
    return True


def check_request(request: Request) -> HttpError | None:
    """Checks every request must pass, whatever its route.

    h11 already refuses a missing ``Host`` in HTTP/1.1 and a repeated one.
    Refused here: a major version other than 1 (505), and a request framed
    both by ``Content-Length`` and ``Transfer-Encoding`` (400): two readers
    of the stream could disagree on where it ends, the opening of request
    smuggling (RFC 9112 section 6.1 lets a server refuse it, and asks it to
    close the connection whatever it does; the refusal closes it).

    Returns:
        None if the head is acceptable, else the error to answer with.
    """
    if not request.http_version.startswith("1."):
        return HttpError(505, f"HTTP/{request.http_version} is not supported; use HTTP/1.1")
    framings = ("transfer-encoding", "content-length")
    if all(request.header(name) is not None for name in framings):
        return HttpError(400, "both Content-Length and Transfer-Encoding frame this request")
    host = request.header("host")
    if host is not None and host.strip() and not valid_host(host.strip()):
        return HttpError(400, "invalid Host header")
    return None


def wants_upgrade(request: Request) -> bool:
    """True when the request asks for a WebSocket upgrade."""
    return "websocket" in _tokens(request, "upgrade")


def check_upgrade(request: Request) -> HttpError | None:
    """Validate a request sent to a WebSocket route.

    Returns:
        None for a valid opening handshake, else the error to answer with.
    """
    if request.method != "GET":
        return HttpError(405, "a WebSocket handshake must use GET", (("allow", "GET"),))
    if request.http_version != "1.1":
        return HttpError(400, "a WebSocket handshake needs HTTP/1.1")
    length = request.header("content-length")
    if request.header("transfer-encoding") is not None or (length and length.strip() != "0"):
        # Its bytes would be taken for the client's first frames.
        return HttpError(400, "a WebSocket handshake carries no body")
    upgrade = _list_items(request, "upgrade")
    if not all(_is_token(part) for item in upgrade for part in item.split("/", 1)):
        return HttpError(400, "malformed Upgrade header")
    if "websocket" not in {item.lower() for item in upgrade}:
        return HttpError(
            426,
            "this route speaks WebSocket only; send an upgrade request",
            (("upgrade", "websocket"), ("connection", "upgrade")),
        )
    connection = _list_items(request, "connection")
    if not all(_is_token(item) for item in connection):
        return HttpError(400, "malformed Connection header")
    if "upgrade" not in {item.lower() for item in connection}:
        return HttpError(400, "missing 'Connection: Upgrade'")
    keys = request.header_all("sec-websocket-key")
    if not keys:
        return HttpError(400, "missing Sec-WebSocket-Key")
    if len(keys) > 1:
        return HttpError(400, "more than one Sec-WebSocket-Key")
    try:
        raw_key = b64decode(keys[0].strip().encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        raw_key = b""
    if len(raw_key) != 16:
        return HttpError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    versions = request.header_all("sec-websocket-version")
    if len(versions) > 1:
        return HttpError(400, "more than one Sec-WebSocket-Version")
    if not versions or versions[0].strip() != "13":
        return HttpError(
            426,
            "unsupported Sec-WebSocket-Version; this server speaks 13",
            (("sec-websocket-version", "13"),),
        )
    if not all(_is_token(item) for item in _list_items(request, "sec-websocket-protocol")):
        return HttpError(400, "malformed Sec-WebSocket-Protocol header")
    if not all(
        _PRINTABLE_ASCII.match(value) for value in request.header_all("sec-websocket-extensions")
    ):
        return HttpError(400, "malformed Sec-WebSocket-Extensions header")
    return None


# RFC 6455 section 1.3: appended to the client's key before hashing.
_WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_token(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``.

    RFC 6455 section 4.2.2: base64 of the SHA-1 of the key (as sent,
    surrounding whitespace removed) followed by the protocol's GUID.
    """
    digest = hashlib.sha1(key.strip().encode("ascii") + _WEBSOCKET_GUID).digest()
    return b64encode(digest).decode("ascii")


def switching_headers(
    request: Request, subprotocol: str | None, extra: Sequence[tuple[str, str]] = ()
) -> list[tuple[str, str]]:
    """The headers of the 101 answering an upgrade :func:`check_upgrade` accepted.

    No extension is negotiated (none is confirmed, so the client may use
    none). ``extra`` follows as given (:class:`~actorsock.core.request.Accept`
    refused any field HTTP cannot carry when it was made).

    Args:
        request: The checked upgrade request.
        subprotocol: One of ``request.subprotocols`` to confirm, or None.
        extra: The handler's own ``(name, value)`` headers.

    Raises:
        ValueError: If ``subprotocol`` is not one the client offered.
    """
    if subprotocol is not None and subprotocol not in request.subprotocols:
        raise ValueError(f"the client did not offer the subprotocol {subprotocol!r}")
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_token(request.header("sec-websocket-key") or "")),
    ]
    if subprotocol is not None:
        headers.append(("Sec-WebSocket-Protocol", subprotocol))
    return headers + list(extra)


def origin_allowed(request: Request, allowed: Sequence[str]) -> bool:
    """Decide whether a browser's cross-site WebSocket may connect.

    Args:
        request: The handshake request.
        allowed: Allowed origins such as ``"https://example.com"``; ``"*"``
            allows every origin.

    Returns:
        True when the request has no ``Origin`` (not a browser), when the
        origin's host and port equal the ``Host`` header (same site), or when
        the origin is listed.
    """
    origin = request.origin
    if origin is None or "*" in allowed:
        return True
    if origin.rstrip("/").lower() in {entry.rstrip("/").lower() for entry in allowed}:
        return True
    host = request.header("host")
    if host is None:
        return False
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        return False
    return netloc == host.strip().lower()
