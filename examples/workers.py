"""Pushing to registered clients from a supervised worker and from a plain thread.

    actorsock run examples.workers:app --port 8080

Clients connect to ``/feed`` and receive:

* ``{"source": "clock", ...}`` every second from ``Clock``, an Actor the
  app's supervision tree runs (and restarts if it crashes);
* ``{"source": "thread", ...}`` every two seconds from a plain Python thread
  (think: a blocking SDK callback), which uses the same ``registry.dispatch``
  and ``send``: both are safe to call from other threads.
"""

import json
import threading
import time

import trio

from actorsock import Actor, App, ChildSpec, Handler, Text, registry, send


def push(event: dict) -> int:
    """Send one JSON frame to every ``/feed`` client; returns how many got it."""
    frame = Text(json.dumps(event))
    return registry.dispatch("feed", lambda pid, _: send(pid, frame))


class Feed(Handler):
    async def websocket_init(self) -> None:
        registry.register("feed")

    async def websocket_info(self, message: Text) -> Text:
        return message


class Clock(Actor):
    """A supervised worker: ticks every second and pushes the time."""

    async def init(self) -> None:
        self.ticks = 0
        self.send_interval(1.0, "tick")

    async def handle_info(self, message: object) -> None:
        if message == "tick":
            self.ticks += 1
            push({"source": "clock", "tick": self.ticks, "time": time.time()})


def thread_producer(stop: threading.Event, period: float = 2.0) -> None:
    """Runs in its own thread, as blocking library code would."""
    n = 0
    while not stop.wait(period):
        n += 1
        push({"source": "thread", "n": n, "thread": threading.current_thread().name})


async def run_thread_producer() -> None:
    """Supervised task owning the thread: the thread stops when the task is cancelled."""
    stop = threading.Event()
    try:
        await trio.to_thread.run_sync(thread_producer, stop, abandon_on_cancel=True)
    finally:
        stop.set()


app = App(
    routes={"/feed": Feed},
    children=[Clock, ChildSpec.task(run_thread_producer, id="thread-producer")],
    name="workers",
)
