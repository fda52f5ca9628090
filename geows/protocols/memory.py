"""The bytes a worker's incomplete messages hold, under one cap (WebSocketMessageMemory).

A message is held while it arrives: its fragments, and what a compressed frame has
inflated so far. Each protocol says how much its incomplete message holds as it grows;
past the cap, the connections holding the oldest incomplete messages are evicted to make
room, and a message that alone would pass the cap is refused. The accounting only: the
protocols close what is evicted or refused, and the server, told by `take_closed`,
writes their close frames and logs why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Holder(Protocol):
    def evict(self) -> None:
        """Drop the incomplete message and close (RFC 6455: 1013, Try Again Later)."""


@dataclass(frozen=True)
class Closed:
    """A connection closed for the cap: evicted (another needed room) or refused."""

    holder: Holder
    held: int        # what its incomplete message held (refused: would have held)
    evicted: bool    # True: the oldest when `by` needed room; False: alone over the cap
    by: Holder | None = None


class MessageMemory:
    """One worker's incomplete messages, oldest first, and the bytes they hold."""

    def __init__(self, limit: int):
        self.limit = limit
        self.total = 0
        self._held: dict[Holder, int] = {}  # insertion order: the oldest message first
        self.closed: list[Closed] = []      # since the last take_closed()

    def hold(self, holder: Holder, size: int) -> bool:
        """`holder`'s incomplete message now holds `size` bytes. Makes room by evicting the
        oldest others; False when the message alone is over the cap (it then holds nothing
        here, and the holder must refuse it)."""
        if size > self.limit:
            self.release(holder)
            self.closed.append(Closed(holder, size, evicted=False))
            return False
        growth = size - self._held.get(holder, 0)
        if self.total + growth > self.limit:
            for other in list(self._held):
                if other is not holder:
                    self.closed.append(Closed(other, self.release(other), evicted=True,
                                              by=holder))
                    other.evict()
                    if self.total + growth <= self.limit:
                        break
        self.total += growth
        self._held[holder] = size  # a holder already held keeps its place in the order
        return True

    def take_closed(self) -> list[Closed]:
        closed, self.closed = self.closed, []
        return closed

    def release(self, holder: Holder) -> int:
        """`holder`'s incomplete message ended (or was dropped): what it held."""
        held = self._held.pop(holder, 0)
        self.total -= held
        return held
