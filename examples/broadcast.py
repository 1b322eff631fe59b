"""The broadcast contract used to measure actorsock against other servers.

    actorsock run examples.broadcast:app --port 9000

* ``/ws``: every text message received from any client is sent to every
  connected ``/ws`` client, the sender included;
* ``/echo``: every message is sent back to its sender;
* ``/events``: a Server-Sent Events stream of the same broadcasts (each
  message is one event's data), for the SSE row of the bench.

Keep this contract stable: the benchmarks in ``bench/`` rely on it.

The fan-out is one ``broadcast_frame`` call: the frame is built into wire
bytes once and written to each subscriber's socket without running its
handler. The sender gets its copy after its own callback returns, in order.
"""

from actorsock import App, Binary, Frame, Handler, Text, broadcast_frame, subscribe

TOPIC = "broadcast"


class Broadcast(Handler):
    idle_timeout = 3600.0  # load generators stay quiet between rounds

    async def websocket_init(self) -> None:
        subscribe(TOPIC)

    async def websocket_handle(self, frame: Frame) -> None:
        if isinstance(frame, Text):
            broadcast_frame(TOPIC, frame)


class Events(Handler):
    """The /ws broadcasts over Server-Sent Events (the same topic)."""

    async def websocket_init(self) -> None:
        subscribe(TOPIC)


class Echo(Handler):
    idle_timeout = 3600.0

    async def websocket_handle(self, frame: Frame) -> Frame | None:
        # Data frames only: the server answers pings with pongs by itself,
        # and a ping sent back would be a second answer the client never asked for.
        return frame if isinstance(frame, Text | Binary) else None


app = App(
    routes={"/ws": Broadcast, "/echo": Echo},
    sse_routes={"/events": Events},
    name="broadcast",
)
