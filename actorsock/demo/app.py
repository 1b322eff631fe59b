"""The demo application object."""

from __future__ import annotations

from importlib import resources

from .. import App, Request, Response
from .handlers import Dashboard, Echo, Room

__all__ = ["app"]


async def index(request: Request) -> Response:
    """Serve the demo page."""
    page = resources.files(__package__).joinpath("index.html").read_text("utf-8")
    return Response(200, page, content_type="text/html; charset=utf-8")


app = App(
    routes={"/echo": Echo, "/rooms/{room}": Room, "/dashboard": Dashboard},
    http_routes={"/": index},
    name="demo",
)
Dashboard.statistics = app.statistics
