"""Peer server: trio-websocket used the natural way, a loop of ``await send_message``.

Same contract as examples/broadcast.py: /ws relays every text message to all
/ws clients including the sender; /echo echoes.
"""

import argparse

import trio
from trio_websocket import ConnectionClosed, WebSocketServer

CLIENTS: set = set()


async def handler(request):
    ws = await request.accept()
    if ws.path == "/ws":
        CLIENTS.add(ws)
        try:
            while True:
                message = await ws.get_message()
                if isinstance(message, str):
                    for client in tuple(CLIENTS):
                        try:
                            await client.send_message(message)
                        except ConnectionClosed:
                            CLIENTS.discard(client)
        except ConnectionClosed:
            pass
        finally:
            CLIENTS.discard(ws)
    else:
        try:
            while True:
                await ws.send_message(await ws.get_message())
        except ConnectionClosed:
            pass


async def main(port: int) -> None:
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1", backlog=4096)
    server = WebSocketServer(handler, listeners, message_queue_size=64)
    print("listening", flush=True)
    await server.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    trio.run(main, parser.parse_args().port)
