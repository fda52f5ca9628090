"""One location's broadcasts in their total order, sans-I/O: the subscriber's arrivals and
the history's answers go in, decisions come out (deliver, read history, report a loss).

Redis names each message by (epoch, seq): seq counts 1, 2, 3... within an epoch, and the
epoch changes when Redis may hand a seq out again (geows.cluster.link's script says
when). Its history is a Stream whose entry IDs are `number-seq`, `number` being the
epoch's place in the sequence of epochs, so that an epoch's entries can be read by range.

`Order` delivers each message once, in seq order: a message seen before (by its seq, or
by its id when a publish whose outcome was unknown was made again) is dropped; a seq
past the next one, a new epoch, or a reconnection asks for the history in between first;
what history no longer holds is reported as lost. The messages of an old epoch that the
history holds past the last one delivered are delivered before the new epoch's."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entry:
    """One message of the location, as published or as read from history."""

    epoch: str
    number: int  # the epoch's number, the first part of its history entries' IDs
    seq: int
    id: str  # unique per message: the sender's host, pid and counter
    message: Any = None  # what the driver delivers; Order does not look at it


@dataclass(frozen=True)
class Position:
    """Where Redis stands for the location: its current epoch and last seq."""

    epoch: str
    number: int
    seq: int


@dataclass(frozen=True)
class Deliver:
    entry: Entry
    repaired: bool  # read from history to fill a gap


@dataclass(frozen=True)
class Fetch:
    """Read the history entries of `epoch` (number) from seq `first` to `last` (None: to
    its end), then hand them to Order.fetched, in the order of the Fetches."""

    epoch: str
    number: int
    first: int
    last: int | None


@dataclass(frozen=True)
class Lost:
    """Messages `first` to `last` of `epoch` were published but neither arrived nor are
    in history any more."""

    epoch: str
    first: int
    last: int


@dataclass(frozen=True)
class NewEpoch:
    """The order moved to a new epoch; `old` ended, for this process, at seq `old_last`."""

    old: str | None
    old_last: int
    new: str


Decision = Deliver | Fetch | Lost | NewEpoch


class Order:
    """One location's place in its order: the last (epoch, seq) delivered."""

    def __init__(self, remember: int):
        """`remember`: how many delivered message ids are kept to drop a message published
        again (the history's length: what could be read again)."""
        self.epoch: str | None = None
        self.number = 0
        self.last = 0
        self._fetches: deque[Fetch] = deque()  # asked for, not yet answered
        self._pending: list[Entry] = []  # arrivals held while history is read
        self._ids: deque[str] = deque(maxlen=remember)
        self._id_set: set[str] = set()

    def start(self, position: Position | None) -> None:
        """Deliver what is published from `position` on (Redis' position just after the
        first subscription; None: Redis holds no message yet)."""
        if position is not None:
            self.epoch, self.number, self.last = position.epoch, position.number, position.seq

    def resume(self, position: Position | None) -> list[Decision]:
        """After subscribing again (the link was lost), with Redis' position read after
        the subscription: read whatever was published meanwhile. What was asked of history
        or held before is dropped: this reading covers it."""
        self._fetches.clear()
        self._pending.clear()
        if position is None:
            return []  # Redis lost everything and nothing was published since
        fetches = self._fetches_to(position.epoch, position.number, position.seq)
        self._fetches.extend(fetches)
        return list(fetches)

    def arrived(self, entry: Entry) -> list[Decision]:
        """A message from the subscription."""
        if self._fetches:
            self._pending.append(entry)
            return []
        fetches = self._fetches_to(entry.epoch, entry.number, entry.seq - 1)
        if not fetches:
            return self._take(entry, repaired=False)
        self._pending.append(entry)
        self._fetches.extend(fetches)
        return list(fetches)

    def fetched(self, entries: list[Entry]) -> list[Decision]:
        """The history's answer to the first Fetch not yet answered: its entries (any
        order; entries of another epoch with the same number are ignored)."""
        fetch = self._fetches.popleft()
        decisions: list[Decision] = []
        for entry in sorted(entries, key=lambda entry: entry.seq):
            if entry.epoch == fetch.epoch and entry.seq >= fetch.first and (
                    fetch.last is None or entry.seq <= fetch.last):
                decisions += self._take(entry, repaired=True)
        if fetch.last is not None:
            decisions += self._reach(fetch.epoch, fetch.number, fetch.last)
        if not self._fetches:
            pending, self._pending = self._pending, []
            for entry in pending:
                decisions += self.arrived(entry)
        return decisions

    def _fetches_to(self, epoch: str, number: int, seq: int) -> list[Fetch]:
        """What to read to have every message up to (epoch, seq): in a new epoch, the old
        one's rest if Redis kept it, then the new one's from its start (even when that is
        nothing to read: its answer moves the order to the new epoch)."""
        if epoch == self.epoch:
            return [Fetch(epoch, number, self.last + 1, seq)] if seq > self.last else []
        if self.epoch is None:  # the first epoch this process sees
            return [Fetch(epoch, number, 1, seq)] if seq > 0 else []
        return [Fetch(self.epoch, self.number, self.last + 1, None),
                Fetch(epoch, number, 1, seq)]

    def _take(self, entry: Entry, repaired: bool) -> list[Decision]:
        if entry.epoch == self.epoch and entry.seq <= self.last:
            return []  # delivered already
        decisions = self._reach(entry.epoch, entry.number, entry.seq - 1)
        self.last = entry.seq
        if entry.id in self._id_set:
            return decisions  # published again after an unknown outcome: delivered already
        if len(self._ids) == self._ids.maxlen:
            self._id_set.discard(self._ids[0])
        self._ids.append(entry.id)
        self._id_set.add(entry.id)
        return [*decisions, Deliver(entry, repaired)]

    def _reach(self, epoch: str, number: int, seq: int) -> list[Decision]:
        """Account for every message of `epoch` up to `seq`: the ones not delivered are
        lost."""
        decisions: list[Decision] = []
        if epoch != self.epoch:
            decisions.append(NewEpoch(self.epoch, self.last, epoch))
            self.epoch, self.number, self.last = epoch, number, 0
        if seq > self.last:
            decisions.append(Lost(epoch, self.last + 1, seq))
            self.last = seq
        return decisions
