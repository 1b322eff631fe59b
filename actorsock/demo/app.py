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


# The page's icon, drawn here (nothing is fetched from elsewhere).
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<circle cx="8" cy="8" r="7" fill="#1f77b4"/>'
    '<path d="M4 8h8M8 4v8" stroke="#fff" stroke-width="2"/></svg>'
)


async def favicon(request: Request) -> Response:
    """Serve the icon browsers ask for (without it, a 404 on every load)."""
    return Response(
        200, ICON, content_type="image/svg+xml", headers=(("cache-control", "max-age=86400"),)
    )


app = App(
    routes={"/echo": Echo, "/rooms/{room}": Room, "/dashboard": Dashboard},
    http_routes={"/": index, "/favicon.ico": favicon},
    sse_routes={"/events/dashboard": Dashboard},
    name="demo",
)
Dashboard.statistics = app.statistics
