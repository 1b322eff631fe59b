import pytest

from actorsock.core.routes import Router
from actorsock.errors import RouteError


def test_literal_and_parameter_routes():
    router = Router({"/echo": "echo", "/rooms/{room}": "room", "/a/{x}/b/{y}": "ab"})
    assert router.match("/echo").target == "echo"
    found = router.match("/rooms/la%20b")
    assert found.target == "room" and found.params == {"room": "la b"}
    assert found.pattern == "/rooms/{room}"
    assert router.match("/a/1/b/2").params == {"x": "1", "y": "2"}


@pytest.mark.parametrize("path", ["/rooms/", "/rooms/a/b", "/echo/", "/ECHO", "/"])
def test_non_matches(path):
    assert Router({"/echo": 1, "/rooms/{room}": 2}).match(path) is None


def test_literal_beats_parameter():
    router = Router([("/rooms/{room}", "any"), ("/rooms/admin", "admin")])
    assert router.match("/rooms/admin").target == "admin"
    assert router.match("/rooms/x").target == "any"


@pytest.mark.parametrize("pattern", ["rooms", "/rooms/{room", "/rooms/{}", "/a/{x}/{x}", "/a/{1x}"])
def test_malformed_patterns(pattern):
    with pytest.raises(RouteError):
        Router({pattern: 1})


def test_duplicates_rejected():
    router = Router({"/a/{x}": 1})
    with pytest.raises(RouteError):
        router.add("/a/{x}", 2)
