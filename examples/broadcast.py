"""The broadcast contract used to measure actorsock against other servers.

    actorsock run examples.broadcast:app --port 9000

* ``/ws``: every text message received from any client is sent to every
  connected ``/ws`` client, the sender included;
* ``/echo``: every message is sent back to its sender.

Keep this contract stable: the benchmarks in ``bench/`` rely on it.
"""

from actorsock import App, Handler, Text, registry, send
from actorsock.core.frames import Frame


class Broadcast(Handler):
    idle_timeout = 3600.0  # load generators stay quiet between rounds

    async def websocket_init(self) -> None:
        registry.register("broadcast")

    async def websocket_handle(self, frame: Frame) -> None:
        if isinstance(frame, Text):
            registry.dispatch("broadcast", lambda pid, _: send(pid, frame))

    async def websocket_info(self, message: Text) -> Text:
        return message


class Echo(Handler):
    idle_timeout = 3600.0

    async def websocket_handle(self, frame: Frame) -> Frame:
        return frame


app = App(routes={"/ws": Broadcast, "/echo": Echo}, name="broadcast")
