"""Response headers HTTP cannot carry are refused where the handler makes them."""

import pytest

from actorsock.core.request import Accept, Reject, Response, StreamingResponse


async def _nothing():
    yield b""


MAKERS = [
    lambda headers: Accept(headers=headers),
    lambda headers: Reject(403, headers=headers),
    lambda headers: Response(200, headers=headers),
    lambda headers: StreamingResponse(_nothing(), headers=headers),
]


@pytest.mark.parametrize("make", MAKERS, ids=["Accept", "Reject", "Response", "Streaming"])
@pytest.mark.parametrize(
    "header",
    [
        ("x-injected", "a\r\nSet-Cookie: evil=1"),  # a header smuggled in
        ("x-a", "line\nbreak"),
        ("x-a", "nul\x00"),
        ("x-a", " leading"),
        ("x-a", "trailing\t"),
        ("x-a", "caf\u00e9"),  # not ASCII: the engine writes ASCII only
        ("x a", "v"),  # a space in a name
        ("x:a", "v"),
        ("", "v"),
    ],
)
def test_a_header_http_cannot_carry_is_refused_at_once(make, header):
    with pytest.raises(ValueError, match="header"):
        make((header,))


@pytest.mark.parametrize("make", MAKERS, ids=["Accept", "Reject", "Response", "Streaming"])
def test_ordinary_headers_pass(make):
    headers = (("x-server", "actorsock"), ("cache-control", "no-store, max-age=0"), ("x-e", ""))
    assert make(headers).headers == headers


def test_a_content_type_with_a_line_break_is_refused():
    with pytest.raises(ValueError, match="content-type"):
        Response(200, content_type="text/plain\r\nx-evil: 1")
