"""MessagePack in binary frames, as the em-websocket seed speaks.

    actorsock run examples.msgpack_frames:app --port 8080

A client sends ``{"op": "add", "args": [1, 2]}`` packed with MessagePack in a
binary frame and receives ``{"ok": true, "result": 3}``, packed the same way.
A frame that is not valid MessagePack gets ``{"ok": false, "error": ...}``.
"""

from actorsock import MSGPACK, App, Binary, DecodeError, Frame, Handler

OPERATIONS = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b}


class Calculator(Handler):
    async def websocket_handle(self, frame: Frame) -> Frame | None:
        if not isinstance(frame, Binary):
            return None
        try:
            request = MSGPACK.decode(frame)
            result = OPERATIONS[request["op"]](*request["args"])
        except (DecodeError, KeyError, TypeError) as exc:
            return MSGPACK.encode({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return MSGPACK.encode({"ok": True, "result": result})


app = App(routes={"/calc": Calculator}, name="msgpack")
