"""Checks on a WebSocket opening handshake (RFC 6455 section 4.2.1), free of I/O.

The server's front runs these before handing a request to the WebSocket
layer, so a broken upgrade gets a precise HTTP answer:

====================================================  ======  ==================
request                                                status  extra header
====================================================  ======  ==================
method other than GET                                  405     Allow: GET
HTTP/1.0                                               400
no ``Upgrade: websocket`` (a plain request)            426     Upgrade: websocket
``Connection`` without ``upgrade``                     400
missing, or not 16 base64 bytes, Sec-WebSocket-Key     400
Sec-WebSocket-Version other than 13                    426     Sec-WebSocket-Version: 13
====================================================  ======  ==================
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from .request import Request

__all__ = ["HttpError", "check_upgrade", "origin_allowed", "wants_upgrade"]


@dataclass(frozen=True, slots=True)
class HttpError:
    """An HTTP error answer: status, a short text, extra headers."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def _tokens(request: Request, name: str) -> set[str]:
    return {
        token.strip().lower() for value in request.header_all(name) for token in value.split(",")
    }


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
    if not wants_upgrade(request):
        return HttpError(
            426,
            "this route speaks WebSocket only; send an upgrade request",
            (("upgrade", "websocket"), ("connection", "Upgrade")),
        )
    if "upgrade" not in _tokens(request, "connection"):
        return HttpError(400, "missing 'Connection: Upgrade'")
    key = request.header("sec-websocket-key")
    if key is None:
        return HttpError(400, "missing Sec-WebSocket-Key")
    try:
        raw_key = b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw_key = b""
    if len(raw_key) != 16:
        return HttpError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    if (request.header("sec-websocket-version") or "").strip() != "13":
        return HttpError(
            426,
            "unsupported Sec-WebSocket-Version; this server speaks 13",
            (("sec-websocket-version", "13"),),
        )
    return None


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
