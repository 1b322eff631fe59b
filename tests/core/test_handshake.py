import pytest

from actorsock.core.handshake import check_upgrade, origin_allowed
from actorsock.core.request import Reject, Request

GOOD = (
    ("host", "example.com"),
    ("upgrade", "websocket"),
    ("connection", "keep-alive, Upgrade"),
    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("sec-websocket-version", "13"),
)


def request(method="GET", version="1.1", drop=(), **replace):
    headers = [(k, replace.get(k.replace("-", "_"), v)) for k, v in GOOD if k not in drop]
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
