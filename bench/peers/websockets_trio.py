"""Peer server: the websockets library's trio implementation, with its ``broadcast()``.

Same contract as examples/broadcast.py: /ws relays every text message to all
/ws clients including the sender; /echo echoes.
"""

import argparse

import trio
from websockets.trio.server import broadcast, serve

CLIENTS: set = set()


async def handler(ws):
    if ws.request.path == "/ws":
        CLIENTS.add(ws)
        try:
            async for message in ws:
                if isinstance(message, str):
                    await broadcast(CLIENTS, message)
        finally:
            CLIENTS.discard(ws)
    else:
        async for message in ws:
            await ws.send(message)


async def main(port: int) -> None:
    print("listening", flush=True)
    await serve(handler, port, host="127.0.0.1", compression=None, backlog=4096, max_queue=64)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    trio.run(main, parser.parse_args().port)
