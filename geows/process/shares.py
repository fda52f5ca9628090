"""MaxRequestWorkers for the whole server: the open connections of every worker process of
every generation, counted in one small shared-memory segment.

The master makes the segment (a memfd) and hands each worker it starts the segment's
descriptor and an entry of its own. The segment holds the total, then one share per
entry: a worker takes one at accept (Share.take: admitted while the total is under the
cap, whichever worker accepted) and gives it back when the connection ends; the master
gives back the whole share of a worker that died (OpenConnections.release), so a kill -9
loses no room. A POSIX record lock on the segment (fcntl.lockf: per process, released if
its holder dies) keeps each take and give whole: a few system calls per connection.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct

from geows import limits

_COUNT = struct.Struct("=q")
_SIZE = _COUNT.size * (1 + limits.SHARED_COUNT_ENTRIES)  # the total, then the shares


class OpenConnections:
    """The segment, as the master and each worker map it."""

    def __init__(self, fd: int):
        """Map the segment `fd` (OpenConnections.create's, inherited by a worker)."""
        self.fd = fd
        self.memory = mmap.mmap(fd, _SIZE)
        self._used: set[int] = set()  # the master's: entries held by live workers

    @classmethod
    def create(cls) -> OpenConnections:
        """A new segment, all zeros (the master's)."""
        fd = os.memfd_create("geows-open-connections")
        os.ftruncate(fd, _SIZE)
        return cls(fd)

    def assign(self) -> int:
        """An entry for a worker about to start. ValueError when every entry is held."""
        free = next((i for i in range(limits.SHARED_COUNT_ENTRIES) if i not in self._used),
                    None)
        if free is None:
            raise ValueError(f"{limits.SHARED_COUNT_ENTRIES} worker processes still running")
        self._used.add(free)
        return free

    def free(self) -> int:
        """How many entries are left for new workers."""
        return limits.SHARED_COUNT_ENTRIES - len(self._used)

    def release(self, entry: int) -> None:
        """A worker that ended: its share goes back (all of it, if it died), and its entry
        is free. The total is summed again, whole even if a worker died mid-take."""
        with _Locked(self.fd):
            _COUNT.pack_into(self.memory, _offset(entry), 0)
            shares = struct.unpack_from(f"={limits.SHARED_COUNT_ENTRIES}q", self.memory,
                                        _COUNT.size)
            _COUNT.pack_into(self.memory, 0, sum(shares))
        self._used.discard(entry)

    def share(self, entry: int) -> Share:
        return Share(self, entry)


class Share:
    """One worker's entry: what it takes and gives back."""

    def __init__(self, segment: OpenConnections, entry: int):
        self._fd = segment.fd
        self.memory = segment.memory
        self._offset = _offset(entry)

    def take(self, limit: int, *, whole_server: bool) -> bool:
        """One connection more, if the total (`whole_server`: MaxRequestWorkers) or this
        worker's own (the descriptor limit's cap) is under `limit`."""
        with _Locked(self._fd):
            total = _COUNT.unpack_from(self.memory, 0)[0]
            own = _COUNT.unpack_from(self.memory, self._offset)[0]
            if (total if whole_server else own) >= limit:
                return False
            _COUNT.pack_into(self.memory, 0, total + 1)
            _COUNT.pack_into(self.memory, self._offset, own + 1)
            return True

    def give(self) -> None:
        """A connection taken has ended."""
        with _Locked(self._fd):
            total = _COUNT.unpack_from(self.memory, 0)[0]
            own = _COUNT.unpack_from(self.memory, self._offset)[0]
            _COUNT.pack_into(self.memory, 0, total - 1)
            _COUNT.pack_into(self.memory, self._offset, own - 1)


class _Locked:
    """The segment's lock, held for a few reads and writes (never across a yield)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __enter__(self) -> None:
        fcntl.lockf(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.lockf(self.fd, fcntl.LOCK_UN)


def _offset(entry: int) -> int:
    return _COUNT.size * (1 + entry)
