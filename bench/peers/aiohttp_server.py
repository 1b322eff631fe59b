"""Peer server: aiohttp, fan-out with a loop of ``send_str``.

Same contract as examples/broadcast.py: /ws relays every text message to all
/ws clients including the sender; /echo echoes.
"""

import argparse

from aiohttp import WSMsgType, web

CLIENTS: set = set()


async def broadcast_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, autoping=True)
    await ws.prepare(request)
    CLIENTS.add(ws)
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                for client in tuple(CLIENTS):
                    if not client.closed:
                        await client.send_str(message.data)
    finally:
        CLIENTS.discard(ws)
    return ws


async def echo_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    app = web.Application()
    app.add_routes([web.get("/ws", broadcast_handler), web.get("/echo", echo_handler)])
    print("listening", flush=True)
    web.run_app(app, host="127.0.0.1", port=parser.parse_args().port, backlog=4096, print=None)
