"""Peer server: the websockets library (asyncio), fan-out with ``websockets.broadcast()``.

Same contract as examples/broadcast.py: /ws relays every text message to all
/ws clients including the sender; /echo echoes.
"""

import argparse
import asyncio

from websockets.asyncio.server import broadcast, serve

CLIENTS: set = set()


async def handler(ws):
    if ws.request.path == "/ws":
        CLIENTS.add(ws)
        try:
            async for message in ws:
                if isinstance(message, str):
                    broadcast(CLIENTS, message)
        finally:
            CLIENTS.discard(ws)
    else:
        async for message in ws:
            await ws.send(message)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, backlog=4096, max_queue=64):
        print("listening", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
