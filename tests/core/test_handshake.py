import pytest

from actorsock.core.handshake import (
    accept_token,
    check_request,
    check_upgrade,
    origin_allowed,
    switching_headers,
    valid_host,
)
from actorsock.core.request import Reject, Request, split_target

GOOD = (
    ("host", "example.com"),
    ("upgrade", "websocket"),
    ("connection", "keep-alive, Upgrade"),
    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("sec-websocket-version", "13"),
)


def request(method="GET", version="1.1", drop=(), extra=(), **replace):
    headers = [(k, replace.get(k.replace("-", "_"), v)) for k, v in GOOD if k not in drop]
    headers += list(extra)
    return Request(method=method, path="/ws", headers=tuple(headers), http_version=version)


def test_valid_handshake():
    assert check_upgrade(request()) is None


@pytest.mark.parametrize(
    ("req", "status"),
    [
        (request(method="POST"), 405),
        (request(version="1.0"), 400),
        (request(drop=("upgrade",)), 426),
        (request(connection="keep-alive"), 400),
        (request(drop=("sec-websocket-key",)), 400),
        (request(sec_websocket_key="not base64!"), 400),
        (request(sec_websocket_key="c2hvcnQ="), 400),
        (request(sec_websocket_version="8"), 426),
        (request(drop=("sec-websocket-version",)), 426),
        (request(extra=[("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA==")]), 400),
        (request(extra=[("sec-websocket-version", "13")]), 400),
        (request(upgrade="web socket"), 400),
        (request(upgrade="websocket/\xe9"), 400),
        (request(connection="Upgrade\xe9"), 400),
        (request(extra=[("sec-websocket-protocol", "chat, caf\xe9")]), 400),
        (request(extra=[("sec-websocket-protocol", "a b")]), 400),
        (request(extra=[("sec-websocket-extensions", "permessage-deflate\xff")]), 400),
        (request(extra=[("content-length", "5")]), 400),
        (request(extra=[("transfer-encoding", "chunked")]), 400),
    ],
    ids=[
        "post",
        "http-1.0",
        "no-upgrade",
        "no-connection-upgrade",
        "no-key",
        "key-not-base64",
        "key-too-short",
        "version-8",
        "no-version",
        "two-keys",
        "two-versions",
        "upgrade-not-a-token",
        "upgrade-non-ascii",
        "connection-non-ascii",
        "protocol-non-ascii",
        "protocol-not-a-token",
        "extensions-non-ascii",
        "body",
        "chunked-body",
    ],
)
def test_broken_handshakes(req, status):
    error = check_upgrade(req)
    assert error is not None and error.status == status
    if req.header("sec-websocket-version") == "8":
        assert ("sec-websocket-version", "13") in error.headers


@pytest.mark.parametrize(
    ("origin", "allowed", "ok"),
    [
        (None, (), True),
        ("http://example.com", (), True),  # same host as the Host header
        ("http://evil.test", (), False),
        ("http://evil.test", ("http://evil.test",), True),
        ("http://evil.test", ("*",), True),
        ("https://example.com:8443", (), False),
    ],
)
def test_origin_rules(origin, allowed, ok):
    headers = (("host", "example.com"),) + ((("origin", origin),) if origin else ())
    assert origin_allowed(Request("GET", "/", headers=headers), allowed) is ok


def test_request_accessors():
    req = Request(
        "GET",
        "/x",
        query_string="a=1&b=two%20words&a=3",
        headers=(("cookie", "sid=abc; theme=dark"), ("sec-websocket-protocol", "chat, superchat")),
    )
    assert req.query == {"a": "3", "b": "two words"}
    assert req.cookies == {"sid": "abc", "theme": "dark"}
    assert req.subprotocols == ("chat", "superchat")
    with pytest.raises(ValueError):
        Reject(200)


@pytest.mark.parametrize(
    "req",
    [
        request(upgrade="foo, websocket"),  # RFC 9110 7.8: a list of protocols
        request(upgrade="h2c, WebSocket"),
        request(connection="keep-alive", extra=[("connection", "upgrade")]),  # two field lines
        request(extra=[("sec-websocket-protocol", "chat, v2.json")]),
        request(extra=[("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")]),
        request(extra=[("content-length", "0")]),
    ],
    ids=[
        "upgrade-list",
        "upgrade-case",
        "connection-split",
        "protocols",
        "extensions",
        "empty-body",
    ],
)
def test_valid_variants_of_the_handshake(req):
    assert check_upgrade(req) is None


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("example.com", True),
        ("127.0.0.1:8080", True),
        ("[::1]:8080", True),
        ("[::1]", True),
        ("xn--bcher-kva.example", True),  # a valid IDNA label
        ("xn--zz", False),  # an invalid one
        ("caf\xe9.example", False),  # a latin-1 byte
        ("exa mple.com", False),
        ("example.com:99999", False),
        ("example.com:http", False),
        ("[::1", False),
        ("[::1]x", False),
    ],
)
def test_host_values(host, ok):
    assert valid_host(host) is ok
    req = Request("GET", "/", headers=(("host", host),))
    assert (check_request(req) is None) is ok


@pytest.mark.parametrize(
    ("version", "headers", "status"),
    [
        ("1.1", (("content-length", "3"),), None),
        ("1.1", (("transfer-encoding", "chunked"),), None),
        ("1.0", (), None),
        # Two framings of one body: where it ends depends on who reads it.
        ("1.1", (("content-length", "3"), ("transfer-encoding", "chunked")), 400),
        ("1.1", (("transfer-encoding", "chunked"), ("content-length", "0")), 400),
        ("2.0", (), 505),
        ("0.9", (), 505),
    ],
)
def test_every_request_has_one_framing_and_http_1(version, headers, status):
    req = Request("POST", "/", headers=(("host", "x"), *headers), http_version=version)
    error = check_request(req)
    assert (error.status if error else None) == status


def test_accept_token_is_rfc_6455s_example():
    # RFC 6455 section 1.3, the worked example.
    assert accept_token("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert accept_token("  dGhlIHNhbXBsZSBub25jZQ== ") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_switching_headers_confirm_only_an_offered_subprotocol():
    req = request(extra=[("sec-websocket-protocol", "chat, superchat")])
    headers = switching_headers(req, "superchat", [("x-server", "actorsock")])
    assert headers == [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ("Sec-WebSocket-Protocol", "superchat"),
        ("x-server", "actorsock"),
    ]
    assert ("Sec-WebSocket-Protocol", "chat") not in switching_headers(req, None)
    with pytest.raises(ValueError, match="did not offer"):
        switching_headers(req, "other")


@pytest.mark.parametrize(
    ("target", "split"),
    [
        ("/echo", ("/echo", "")),
        ("/rooms/1?x=2&y", ("/rooms/1", "x=2&y")),
        ("http://127.0.0.1:9000/echo?a=1", ("/echo", "a=1")),
        ("HTTP://example.com", ("/", "")),
        ("ws://example.com/chat", ("/chat", "")),
        ("*", None),
        ("example.com:443", None),
        ("ftp://example.com/x", None),
        ("http:///nohost", None),
    ],
)
def test_request_targets(target, split):
    assert split_target(target) == split
