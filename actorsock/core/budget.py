"""A byte budget shared by many holders: what all connections together may buffer.

One :class:`ByteBudget` is shared by every connection of a server for the
bytes of client messages that are still arriving (a large message sent in
pieces). A connection takes bytes as pieces arrive and gives them back when
its message is complete or when it ends; a piece that does not fit is
refused, and the connection that sent it is closed (1013), so that the
others keep what they hold.
"""

from __future__ import annotations

__all__ = ["ByteBudget"]


class ByteBudget:
    """Counts bytes against a limit.

    Args:
        limit: Most bytes held at once, by all holders together.

    Attributes:
        used: Bytes held now.
        refused: How many times :meth:`take` said no.
    """

    __slots__ = ("limit", "refused", "used")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a byte budget needs a limit of at least 1")
        self.limit = limit
        self.used = 0
        self.refused = 0

    def take(self, size: int) -> bool:
        """Hold ``size`` more bytes if they fit; False (nothing held) if not."""
        if self.used + size > self.limit:
            self.refused += 1
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        """Give back ``size`` bytes taken earlier."""
        self.used = max(0, self.used - size)
