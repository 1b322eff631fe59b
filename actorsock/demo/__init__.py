"""The demo served by ``actorsock demo``: echo, chat rooms and a live dashboard.

Routes:

* ``/`` — an HTML page that opens the three sockets below and shows them;
* ``/echo`` — replies with every frame it receives;
* ``/rooms/{room}`` — a message goes to everyone else in the same room (not
  back to the sender); joins and leaves are announced with the room's count;
* ``/dashboard`` — a tick with live server figures every second;
* ``/healthz`` — the health check every App has.
"""

from .app import app
from .handlers import Dashboard, Echo, Room, rooms

__all__ = ["Dashboard", "Echo", "Room", "app", "rooms"]
