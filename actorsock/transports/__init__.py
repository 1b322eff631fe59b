"""The trio edge for clients: listeners, the HTTP front (h11) that routes each
request, and the transports: WebSocket (wsproto), Server-Sent Events, long-poll."""
