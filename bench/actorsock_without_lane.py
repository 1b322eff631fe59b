"""actorsock with the direct lane shut: every broadcast goes through each socket's sink.

A measurement aid, not a peer: ``examples/broadcast.py`` served as usual,
except that :meth:`ConnectionStream.open_lane` never opens the lane, so a
broadcast to a parked connection takes the sink path (one ``offer`` per
recipient) instead of one ``write`` per recipient straight from the fan-out
loop. ``bench/run.py --servers "actorsock"`` runs it beside actorsock.
"""

import sys

from actorsock.cli import main
from actorsock.transports.fastpath import ConnectionStream


def _never(self: ConnectionStream) -> None:
    """The lane stays shut."""


ConnectionStream.open_lane = _never  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(["run", "examples.broadcast:app", "--log-level", "warning", *sys.argv[1:]]))
