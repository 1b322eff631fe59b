"""The trio edge for clients: listeners, the HTTP front (h11) that routes each
request, and the WebSocket transport (trio-websocket)."""
