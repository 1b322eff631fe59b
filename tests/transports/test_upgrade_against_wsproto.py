"""actorsock's answer to an upgrade, checked against wsproto's (hypothesis).

The server answers an upgrade with the h11 parser that read it and the
headers of :func:`~actorsock.core.handshake.switching_headers`, not with
wsproto's handshake. Random opening handshakes written by wsproto's client
(random keys, offered subprotocols, extra headers, first frames behind the
head) are answered both ways: the bytes must be the same, and wsproto's
client must accept them with the subprotocol the server chose.
"""

from __future__ import annotations

from typing import Any

import h11
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType
from wsproto.events import AcceptConnection, Request
from wsproto.handshake import H11Handshake

from actorsock.core.handshake import check_upgrade, switching_headers
from actorsock.transports.http import switching_protocols, to_request

tokens = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=12)
values = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)


@st.composite
def upgrades(draw: Any) -> tuple[H11Handshake, bytes, str | None, list[tuple[str, str]], bytes]:
    """A wsproto client that sent its head, the head, a choice, headers, first frames."""
    offered = draw(st.lists(tokens, max_size=4, unique=True))
    host = draw(st.sampled_from(["localhost", "example.com:8080"]))
    client = H11Handshake(ConnectionType.CLIENT)
    head = client.send(Request(host=host, target="/ws", subprotocols=offered))
    chosen = draw(st.sampled_from([None, *offered]))
    names = st.sampled_from(["x-a", "x-server", "set-cookie"])
    extra = draw(st.lists(st.tuples(names, values), max_size=3))
    early = draw(st.binary(max_size=40))
    return client, head, chosen, extra, early


@settings(max_examples=200, deadline=None, derandomize=True)
@given(upgrades())
def test_the_101_is_the_bytes_wsproto_would_send(upgrade):
    client, head, chosen, extra, early = upgrade

    parser = h11.Connection(h11.SERVER)
    parser.receive_data(head + early)
    event = parser.next_event()
    assert isinstance(event, h11.Request)
    request = to_request(event, None)
    assert request is not None and check_upgrade(request) is None
    ours = switching_protocols(parser, switching_headers(request, chosen, extra))
    assert parser.trailing_data[0] == early  # the client's first frames, kept

    server = H11Handshake(ConnectionType.SERVER)
    server.receive_data(head)
    list(server.events())
    extra_bytes = [(name.encode(), value.encode()) for name, value in extra]
    assert ours == server.send(AcceptConnection(subprotocol=chosen, extra_headers=extra_bytes))

    client.receive_data(ours)
    (accepted,) = client.events()
    assert isinstance(accepted, AcceptConnection)
    assert accepted.subprotocol == chosen
