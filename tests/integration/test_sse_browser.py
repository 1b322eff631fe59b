"""A real browser's EventSource against an SSE route: headless Chromium.

The page counts ``tick`` events and reports them back with ``fetch``. The
server ends the stream after every third event; the browser reconnects by
itself after the ``retry`` delay the first event set, sending the id of the
last event it saw as ``Last-Event-ID``, and the handler goes on from there.
Skipped where Chromium is not installed, except in CI (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import partial
from typing import Any

import pytest
import trio

from actorsock import App, Event, Handler, Request, Response, Stop
from actorsock.testing import open_test_server

pytestmark = pytest.mark.slow

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>EventSource check</title>
<script>
const seen = [];
const source = new EventSource("/countdown");
source.addEventListener("tick", (event) => {
  seen.push([event.lastEventId, event.data]);
  if (seen.length === 7) {
    source.close();
    fetch("/report", {method: "POST", body: JSON.stringify(seen)});
  }
});
</script>
"""

last_ids_seen: list[str | None] = []
reports: list[Any] = []
reported = trio.Event()


class Countdown(Handler):
    """Three ticks a connection, numbered on from ``Last-Event-ID``."""

    async def init(self, request: Request) -> None:
        last = request.header("last-event-id")
        last_ids_seen.append(last)
        self.next = int(last or 0) + 1

    async def websocket_init(self) -> list[Any]:
        first = self.next
        self.next += 3
        # A short reconnection delay, so that the test does not wait the
        # browser's default of about three seconds.
        events: list[Any] = [
            Event(f"tick {n}\nline two", event="tick", id=str(n), retry=100)
            for n in range(first, first + 3)
        ]
        return [*events, Stop()]


async def page(request: Request) -> Response:
    return Response(200, PAGE, content_type="text/html; charset=utf-8")


async def report(request: Request) -> Response:
    reports.append(json.loads(request.body))
    reported.set()
    return Response(204)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing: .ci/run installs it")
    pytest.skip("Chromium is not installed")


async def test_a_browser_event_source_reconnects_with_last_event_id(tmp_path):
    global reported
    reported = trio.Event()
    last_ids_seen.clear()
    reports.clear()
    browser = chromium()
    app = App(
        sse_routes={"/countdown": Countdown}, http_routes={"/": page, "/report": {"POST": report}}
    )
    async with open_test_server(app) as server:
        command = [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path}",
            server.url("/", "http"),
        ]
        async with trio.open_nursery() as nursery:
            process = await nursery.start(
                partial(
                    trio.run_process,
                    command,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
            )
            try:
                with trio.fail_after(60):
                    await reported.wait()
            finally:
                process.kill()
    (seen,) = reports
    assert seen == [[str(n), f"tick {n}\nline two"] for n in range(1, 8)]
    # The first connection had no id; each reconnection named the last event.
    assert last_ids_seen[:3] == [None, "3", "6"]
